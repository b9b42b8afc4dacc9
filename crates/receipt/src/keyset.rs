//! The public keys receipts are checked against: the JWKS the collector publishes (RFC 7517,
//! RFC 8037), its Ed25519 keys by RFC 7638 thumbprint. Parsing only; fetching or reading the
//! document is the caller's business.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::log::{KeyType, LogError, VerifierKey};

/// Why a JWKS document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwksError(String);

/// Public half of a key as published in the JWKS (RFC 7517, RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key's RFC 7638 thumbprint.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// The published form of `key`.
    pub fn of(key: &VerifyingKey) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64.encode(key.as_bytes()),
            kid: thumbprint(key.as_bytes()),
            alg: "EdDSA".into(),
            use_: "sig".into(),
        }
    }
}

/// `{"keys":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwks {
    /// Every key, the active one first.
    pub keys: Vec<Jwk>,
}

/// RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over the required members in
/// lexicographic order, base64url.
pub fn thumbprint(x: &[u8; 32]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(x));
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// Verifying keys by kid.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    keys: HashMap<String, VerifyingKey>,
}

impl PublicKeys {
    /// The set of `keys`, each under its thumbprint.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> PublicKeys {
        PublicKeys {
            keys: keys
                .into_iter()
                .map(|k| (thumbprint(k.as_bytes()), k))
                .collect(),
        }
    }

    /// Reads the Ed25519 keys of a JWKS document; other key types are skipped. Each key's
    /// kid must be its thumbprint, so a JWKS cannot pair a known kid with a foreign key.
    pub fn from_jwks(jwks: &serde_json::Value) -> Result<PublicKeys, JwksError> {
        let keys = jwks
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| JwksError("a JWKS has a `keys` array".into()))?;
        let mut out = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            let field = |name: &str| key.get(name).and_then(|v| v.as_str());
            if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
                continue;
            }
            let x: [u8; 32] = field("x")
                .and_then(|x| B64.decode(x).ok())
                .and_then(|x| x.try_into().ok())
                .ok_or_else(|| JwksError(format!("key {i}: `x` is not 32 base64url bytes")))?;
            let verifying = VerifyingKey::from_bytes(&x)
                .map_err(|_| JwksError(format!("key {i}: `x` is not an Ed25519 point")))?;
            let kid = thumbprint(&x);
            if let Some(claimed) = field("kid")
                && claimed != kid
            {
                return Err(JwksError(format!(
                    "key {i}: kid `{claimed}` is not the key's RFC 7638 thumbprint `{kid}`"
                )));
            }
            out.insert(kid, verifying);
        }
        Ok(PublicKeys { keys: out })
    }

    /// Every key as a signer of the transparency log named `origin` (its checkpoints' key
    /// name): the log key is the receipt signing key (docs/receipt.md). Sorted by key.
    pub fn log_keys(&self, origin: &str) -> Result<Vec<VerifierKey>, LogError> {
        let mut keys: Vec<_> = self.keys.values().collect();
        keys.sort_by_key(|k| *k.as_bytes());
        keys.into_iter()
            .map(|key| VerifierKey::new(origin, KeyType::Ed25519, *key))
            .collect()
    }

    /// No key at all: nothing can verify.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Is there a key with this `kid`?
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn jwks_refuses_a_kid_that_is_not_the_thumbprint() {
        let mut jwk = Jwk::of(&SigningKey::from_bytes(&[3; 32]).verifying_key());
        jwk.kid = "someone-else".into();
        let err =
            PublicKeys::from_jwks(&serde_json::json!({ "keys": [jwk] })).expect_err("kid mismatch");
        assert!(
            err.to_string()
                .contains("not the key's RFC 7638 thumbprint"),
            "{err}"
        );
    }

    #[test]
    fn jwks_reads_ed25519_keys_by_thumbprint_and_skips_others() {
        let key = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let jwk = Jwk::of(&key);
        let doc = serde_json::json!({ "keys": [
            { "kty": "RSA", "n": "AQAB", "e": "AQAB" },
            jwk,
        ]});
        let keys = PublicKeys::from_jwks(&doc).expect("valid");
        assert!(keys.contains(&jwk.kid));
        assert_eq!(keys.get(&jwk.kid), Some(&key));
        assert!(!keys.contains("other"));
        let same = PublicKeys::from_keys([key]);
        assert!(same.contains(&jwk.kid));
        for (bad, want) in [
            (serde_json::json!({}), "a JWKS has a `keys` array"),
            (
                serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": "AA" }] }),
                "key 0: `x` is not 32 base64url bytes",
            ),
        ] {
            let err = PublicKeys::from_jwks(&bad).expect_err(want);
            assert_eq!(err.to_string(), want);
        }
    }
}
