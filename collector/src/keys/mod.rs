//! Ed25519 signing keys in their files, and the JWKS made from them. Key ids, compact JWS
//! and JWKS parsing are the receipt crate's (`kelisim_receipt::{jws, keyset}`), re-exported
//! here.
//!
//! Keys live in `DIR/keys/` as private JWK files named `ed25519-NNNN.jwk` (mode 0600); the
//! highest generation is the active signing key. `keys rotate` adds a generation; older keys
//! are never deleted and stay in the JWKS, so every receipt ever issued keeps verifying.
//! The `kid` is the key's RFC 7638 thumbprint, checked against the file on every load.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
pub use kelisim_receipt::jws::{JWS_TYP, JwsError, Signer, VerifiedJws, verify_compact};
pub use kelisim_receipt::keyset::{Jwk, Jwks, JwksError, PublicKeys, thumbprint};
use serde::{Deserialize, Serialize};

use crate::ops::datadir;

/// Key files that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key directory {path}: {source}")]
    ReadDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} is not a valid Ed25519 private JWK: {reason}; restore it from backup")]
    Corrupt { path: String, reason: String },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no signing key in {path}; run `kelisim-collector keys generate` or start the collector once"
    )]
    NoKeys { path: String },
    #[error(
        "a signing key already exists in {path} (kid {kid}); use `keys rotate` to add a new active key"
    )]
    AlreadyExists { path: String, kid: String },
    #[error("no randomness available to generate a key: {0}")]
    Random(getrandom::Error),
}

/// The file format of a private key: a private JWK plus when it was made.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateJwk {
    kty: String,
    crv: String,
    x: String,
    d: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    use_: String,
    created: String,
}

/// One key of the ring.
pub struct KeyEntry {
    pub generation: u32,
    pub kid: String,
    pub created: String,
    pub path: PathBuf,
    key: SigningKey,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("generation", &self.generation)
            .field("kid", &self.kid)
            .finish()
    }
}

impl KeyEntry {
    pub fn jwk(&self) -> Jwk {
        Jwk::of(&self.key.verifying_key())
    }
}

/// Every signing key in `DIR/keys`, oldest first.
#[derive(Debug)]
pub struct Keyring {
    dir: PathBuf,
    entries: Vec<KeyEntry>,
}

impl Keyring {
    /// Loads every key file in `dir`; a missing directory is an empty ring.
    pub fn load(dir: &Path) -> Result<Keyring, KeyError> {
        let shown = || dir.display().to_string();
        let mut entries = Vec::new();
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Keyring {
                    dir: dir.to_owned(),
                    entries,
                });
            }
            Err(source) => {
                return Err(KeyError::ReadDir {
                    path: shown(),
                    source,
                });
            }
        };
        for item in listing {
            let item = item.map_err(|source| KeyError::ReadDir {
                path: shown(),
                source,
            })?;
            let name = item.file_name();
            let Some(generation) = name.to_str().and_then(parse_key_file_name) else {
                continue;
            };
            entries.push(read_key_file(&item.path(), generation)?);
        }
        entries.sort_by_key(|e| e.generation);
        Ok(Keyring {
            dir: dir.to_owned(),
            entries,
        })
    }

    /// Loads the ring, generating the first key if there is none (first start).
    pub fn load_or_create(dir: &Path) -> Result<Keyring, KeyError> {
        let ring = Keyring::load(dir)?;
        if !ring.entries.is_empty() {
            return Ok(ring);
        }
        match Keyring::add(dir, 1) {
            Ok(_) => {}
            // Another process made the first key at the same moment: use it.
            Err(KeyError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Keyring::load(dir)
    }

    /// `keys generate`: creates the first key; refuses if one exists.
    pub fn generate_first(dir: &Path) -> Result<KeyEntry, KeyError> {
        let ring = Keyring::load(dir)?;
        if let Some(active) = ring.active() {
            return Err(KeyError::AlreadyExists {
                path: dir.display().to_string(),
                kid: active.kid.clone(),
            });
        }
        Keyring::add(dir, 1)
    }

    /// `keys rotate`: adds a new key that becomes the active one; old keys are kept.
    pub fn rotate(dir: &Path) -> Result<KeyEntry, KeyError> {
        let ring = Keyring::load(dir)?;
        let next = ring.entries.last().map_or(1, |e| e.generation + 1);
        Keyring::add(dir, next)
    }

    fn add(dir: &Path, generation: u32) -> Result<KeyEntry, KeyError> {
        let entry = create_key_file(dir, &format!("ed25519-{generation:04}.jwk"), generation)?;
        tracing::info!(kid = %entry.kid, generation, "created signing key");
        Ok(entry)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// The key new receipts are signed with: the newest generation.
    pub fn active(&self) -> Option<&KeyEntry> {
        self.entries.last()
    }

    pub fn signer(&self) -> Result<Signer, KeyError> {
        let active = self.active().ok_or_else(|| KeyError::NoKeys {
            path: self.dir.display().to_string(),
        })?;
        Ok(Signer::new(active.key.clone()))
    }

    /// Every key, active first.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.entries.iter().rev().map(KeyEntry::jwk).collect(),
        }
    }

    /// Every key, `kid` first, then newest first: what a running collector publishes while
    /// it still signs with `kid` (a new key is listed before its first use).
    pub fn jwks_signing_with(&self, kid: &str) -> Jwks {
        let mut keys = self.jwks().keys;
        // Stable: the others keep their newest-first order.
        keys.sort_by_key(|k| k.kid != kid);
        Jwks { keys }
    }

    pub fn public_keys(&self) -> PublicKeys {
        // Each entry's kid was checked to be its key's thumbprint on load.
        PublicKeys::from_keys(self.entries.iter().map(|e| e.key.verifying_key()))
    }
}

/// Writes a new random key as a private JWK file `dir/name` (0600), creating `dir`.
fn create_key_file(dir: &Path, name: &str, generation: u32) -> Result<KeyEntry, KeyError> {
    let path = dir.join(name);
    let write_err = |source| KeyError::Write {
        path: path.display().to_string(),
        source,
    };
    datadir::create_private_dir(dir).map_err(write_err)?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyError::Random)?;
    let key = SigningKey::from_bytes(&seed);
    let public = Jwk::of(&key.verifying_key());
    let created = crate::clock::format_timestamp(time::OffsetDateTime::now_utc());
    let file = PrivateJwk {
        kty: public.kty,
        crv: public.crv,
        x: public.x,
        d: B64.encode(seed),
        kid: public.kid.clone(),
        alg: public.alg,
        use_: public.use_,
        created: created.clone(),
    };
    let mut text = serde_json::to_vec_pretty(&file).unwrap_or_default();
    text.push(b'\n');
    datadir::create_private_file(&path, &text).map_err(write_err)?;
    Ok(KeyEntry {
        generation,
        kid: public.kid,
        created,
        path,
        key,
    })
}

/// The witness's cosigning key (`[witness]`): one private JWK file, `DIR/witness/cosign.jwk`
/// (0600), made the first time the collector starts as a witness. It is not in the JWKS and
/// signs no receipt; `GET /v1/witness/key` publishes it as a signed-note verifier key.
pub fn witness_key(data_root: &Path) -> Result<SigningKey, KeyError> {
    let dir = data_root.join("witness");
    let path = dir.join("cosign.jwk");
    if path.exists() {
        return read_key_file(&path, 0).map(|entry| entry.key);
    }
    let entry = create_key_file(&dir, "cosign.jwk", 0)?;
    tracing::info!(kid = %entry.kid, "created the witness's cosigning key");
    Ok(entry.key)
}

/// `ed25519-0001.jwk` → 1.
fn parse_key_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("ed25519-")?.strip_suffix(".jwk")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn read_key_file(path: &Path, generation: u32) -> Result<KeyEntry, KeyError> {
    let shown = || path.display().to_string();
    let corrupt = |reason: &str| KeyError::Corrupt {
        path: shown(),
        reason: reason.to_owned(),
    };
    let text = std::fs::read(path).map_err(|source| KeyError::Read {
        path: shown(),
        source,
    })?;
    let jwk: PrivateJwk = serde_json::from_slice(&text).map_err(|e| corrupt(&e.to_string()))?;
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        return Err(corrupt("kty must be OKP and crv Ed25519"));
    }
    let seed: [u8; 32] = B64
        .decode(&jwk.d)
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| corrupt("`d` is not 32 base64url bytes"))?;
    let key = SigningKey::from_bytes(&seed);
    let public = Jwk::of(&key.verifying_key());
    if public.x != jwk.x {
        return Err(corrupt("`x` does not belong to `d`"));
    }
    if public.kid != jwk.kid {
        return Err(corrupt("`kid` is not the key's RFC 7638 thumbprint"));
    }
    datadir::warn_if_not_private(path);
    Ok(KeyEntry {
        generation,
        kid: jwk.kid,
        created: jwk.created,
        path: path.to_owned(),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_creates_rotates_and_keeps_old_keys() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("keys");
        let first = Keyring::load_or_create(&dir).expect("first key");
        let kid1 = first.active().expect("active").kid.clone();
        assert_eq!(
            Keyring::load_or_create(&dir)
                .expect("reload")
                .active()
                .expect("active")
                .kid,
            kid1
        );
        assert!(matches!(
            Keyring::generate_first(&dir),
            Err(KeyError::AlreadyExists { .. })
        ));

        let rotated = Keyring::rotate(&dir).expect("rotate");
        assert_eq!(rotated.generation, 2);
        let ring = Keyring::load(&dir).expect("load");
        assert_eq!(ring.active().expect("active").kid, rotated.kid);
        let kids: Vec<_> = ring.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(
            kids,
            [rotated.kid.clone(), kid1.clone()],
            "active first, old key kept"
        );
        assert_eq!(ring.signer().expect("signer").kid(), rotated.kid);
        let interim: Vec<_> = ring
            .jwks_signing_with(&kid1)
            .keys
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(interim, [kid1.clone(), rotated.kid.clone()]);

        // A key file whose kid does not match its key is refused.
        let path = &ring.entries()[0].path;
        let text = std::fs::read_to_string(path)
            .expect("read")
            .replace(&kid1, "forged");
        std::fs::remove_file(path).expect("rm");
        std::fs::write(path, text).expect("write");
        let err = Keyring::load(&dir).expect_err("corrupt");
        assert!(err.to_string().contains("RFC 7638"), "{err}");
    }
}
