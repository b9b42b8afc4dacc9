//! Checking one receipt: its signature against a key set, then its payload decoded. What the
//! collector's `verify` command and a third party's verifier do once they hold the JWS and
//! the JWKS.

use crate::jws::{JwsError, verify_compact};
use crate::keyset::PublicKeys;
use crate::payload::ReceiptPayload;

/// Why a receipt is not genuine or not intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The JWS does not verify.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The signed payload is not JSON.
    #[error("payload is not JSON: {0}")]
    NotJson(String),
}

/// A receipt that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The header's `alg`.
    pub alg: String,
    /// The key that signed it.
    pub kid: String,
    /// The decoded payload, as signed.
    pub payload: serde_json::Value,
    /// The payload as a receipt, if it has the receipt shape of this version.
    pub receipt: Option<ReceiptPayload>,
}

/// Verifies `jws` against `keys` and decodes its payload.
pub fn verify(jws: &str, keys: &PublicKeys) -> Result<Verified, VerifyError> {
    let ok = verify_compact(jws, keys)?;
    let payload: serde_json::Value =
        serde_json::from_slice(&ok.payload).map_err(|e| VerifyError::NotJson(e.to_string()))?;
    let receipt = serde_json::from_value(payload.clone()).ok();
    Ok(Verified {
        alg: ok.alg,
        kid: ok.kid,
        payload,
        receipt,
    })
}
