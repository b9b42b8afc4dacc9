//! Shared fixtures of the collector's fuzz targets: the demo site config, fixed keys.
#![allow(dead_code)] // each target uses a part of it

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use kelisim_collector::config::Config;
use kelisim_collector::keys::Signer;
use kelisim_collector::receipt::subject::SubjectKey;

/// The repository's demo directory (its config and policy texts).
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo")
}

/// The demo config, parsed once.
pub static DEMO: LazyLock<Config> = LazyLock::new(|| {
    Config::load(&demo_dir().join("kelisim.toml")).expect("the demo config is valid")
});

/// A fixed signing key: the targets check properties, not secrecy.
pub fn signer() -> Signer {
    Signer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
}

pub fn subject_key() -> SubjectKey {
    SubjectKey::from_bytes([9; 32])
}

/// The JWKS of [`signer`].
pub fn jwks() -> serde_json::Value {
    use base64::Engine;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public.as_bytes());
    serde_json::json!({"keys": [{
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": kelisim_collector::keys::thumbprint(public.as_bytes()),
        "x": x,
    }]})
}
