//! Fuzzes what `verify` reads from outside: a compact JWS (or a receipt JSON holding one)
//! and a JWKS document. Properties: nothing panics; a JWS the fuzzer made up never verifies
//! against our key unless it is one we signed; anything our key signs verifies and decodes.
//! Links `kelisim-receipt` alone (no collector): what a third party's verifier runs.
#![no_main]

use kelisim_receipt::jws::{Signer, verify_compact};
use kelisim_receipt::keyset::{Jwk, PublicKeys};
use kelisim_receipt::verify::verify;
use libfuzzer_sys::fuzz_target;

/// A fixed signing key (the collector targets' too): the target checks properties, not secrecy.
fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

fuzz_target!(|data: &[u8]| {
    let jwks = serde_json::json!({ "keys": [Jwk::of(&key().verifying_key())] });
    let keys = PublicKeys::from_jwks(&jwks).expect("own JWKS");
    let signer = Signer::new(key());
    // Whatever bytes we sign verify, with the payload intact.
    let signed = signer.sign_compact(data);
    let ok = verify_compact(&signed, &keys).expect("our own signature verifies");
    assert_eq!(ok.payload, data);

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As a JWKS: parsing never panics, and it never yields a key whose kid is not its own.
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = PublicKeys::from_jwks(&doc);
        if let Some(jws) = doc.get("jws").and_then(|j| j.as_str()) {
            check_foreign(jws, &keys, &signer);
        }
    }
    check_foreign(text.trim(), &keys, &signer);
});

/// A JWS from outside verifies only if it is byte for byte what our key would sign.
fn check_foreign(jws: &str, keys: &PublicKeys, signer: &Signer) {
    if let Ok(valid) = verify(jws, keys) {
        assert_eq!(valid.kid, signer.kid());
        let ok = verify_compact(jws, keys).expect("verified once, verifies again");
        assert_eq!(
            signer.sign_compact(&ok.payload).split('.').nth(1),
            jws.split('.').nth(1),
            "verified payload is the signed one"
        );
    }
}
