//! `verify`: offline check of one receipt against a JWKS file or URL.
//!
//! The receipt may be given as a compact JWS, or a file holding one — either the bare JWS or
//! the collector's `{"id","seq","jws"}` answer — or a `.tlog-proof` that carries the receipt
//! as its `extra` data, which is then also the proof to check. The JWKS is a file or an http(s) URL fetched
//! with one blocking GET. Errors distinguish an invalid receipt (exit 1) from input that
//! could not be read (exit 2).

use std::path::Path;
use std::time::Duration;

pub use kelisim_receipt::verify::Verified;

use kelisim_receipt::log::{TLOG_PROOF_HEADER, TlogProof};

use crate::keys::PublicKeys;

/// Largest JWKS document accepted from a URL.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The receipt is not genuine or not intact.
    #[error("invalid receipt: {0}")]
    Invalid(String),
    /// The inputs could not be read.
    #[error("{0}")]
    Input(String),
}

impl VerifyError {
    /// Exit code of the `verify` command: 1 invalid, 2 usage or IO.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_) => 1,
            Self::Input(_) => 2,
        }
    }
}

/// `arg` is a compact JWS or a file containing one (or a `{"jws": …}` document).
pub fn load_receipt(arg: &str) -> Result<String, VerifyError> {
    if looks_like_jws(arg) {
        return Ok(arg.trim().to_owned());
    }
    let text = std::fs::read_to_string(Path::new(arg)).map_err(|e| unreadable(arg, e))?;
    receipt_in(arg, &text)
}

fn unreadable(arg: &str, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Input(format!(
        "cannot read receipt file {arg}: {e}; pass a file or a compact JWS"
    ))
}

/// The receipt in file `arg`'s `text`: the bare JWS, or the `jws` of a JSON document.
fn receipt_in(arg: &str, text: &str) -> Result<String, VerifyError> {
    let text = text.trim();
    if text.starts_with('{') {
        let doc: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| VerifyError::Input(format!("{arg} is JSON but not readable: {e}")))?;
        return doc
            .get("jws")
            .and_then(|j| j.as_str())
            .map(str::to_owned)
            .ok_or_else(|| VerifyError::Input(format!("{arg} is JSON without a `jws` string")));
    }
    Ok(text.to_owned())
}

/// The receipt `arg` names ([`load_receipt`]), or, when `arg` is a file holding a C2SP
/// tlog-proof whose `extra` data is the receipt (`GET /v1/receipts/{id}/proof` serves it so),
/// that receipt and the proof's bytes.
pub fn load_receipt_or_proof(arg: &str) -> Result<(String, Option<Vec<u8>>), VerifyError> {
    if looks_like_jws(arg) {
        return Ok((arg.trim().to_owned(), None));
    }
    let bytes = std::fs::read(Path::new(arg)).map_err(|e| unreadable(arg, e))?;
    if !bytes.starts_with(TLOG_PROOF_HEADER.as_bytes()) {
        let text = String::from_utf8(bytes).map_err(|e| unreadable(arg, e))?;
        return receipt_in(arg, &text).map(|jws| (jws, None));
    }
    let proof = TlogProof::parse(&bytes)
        .map_err(|e| VerifyError::Input(format!("{arg} is not a readable tlog-proof: {e}")))?;
    let jws = proof
        .extra
        .and_then(|extra| String::from_utf8(extra).ok())
        .filter(|jws| looks_like_jws(jws))
        .ok_or_else(|| {
            VerifyError::Input(format!(
                "{arg} is a proof without its receipt; pass the receipt and --proof {arg}"
            ))
        })?;
    Ok((jws, Some(bytes)))
}

fn looks_like_jws(arg: &str) -> bool {
    let arg = arg.trim();
    arg.len() > 40
        && arg.matches('.').count() == 2
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `arg` is a JWKS file path or an `http://` / `https://` URL.
pub fn load_jwks(arg: &str) -> Result<PublicKeys, VerifyError> {
    let text = if arg.starts_with("http://") || arg.starts_with("https://") {
        fetch(arg)?
    } else {
        std::fs::read_to_string(arg)
            .map_err(|e| VerifyError::Input(format!("cannot read JWKS file {arg}: {e}")))?
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| VerifyError::Input(format!("JWKS {arg} is not JSON: {e}")))?;
    let keys =
        PublicKeys::from_jwks(&doc).map_err(|e| VerifyError::Input(format!("JWKS {arg}: {e}")))?;
    if keys.is_empty() {
        return Err(VerifyError::Input(format!(
            "JWKS {arg} has no Ed25519 keys"
        )));
    }
    Ok(keys)
}

fn fetch(url: &str) -> Result<String, VerifyError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| VerifyError::Input(format!("cannot fetch JWKS {url}: {e}")))?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_string()
        .map_err(|e| VerifyError::Input(format!("cannot read JWKS {url}: {e}")))
}

/// Verifies `jws` against `keys` and decodes its payload.
pub fn verify(jws: &str, keys: &PublicKeys) -> Result<Verified, VerifyError> {
    kelisim_receipt::verify::verify(jws, keys).map_err(|e| VerifyError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Keyring, Signer};

    #[test]
    fn verifies_from_files_and_reports_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = Keyring::load_or_create(&dir.path().join("keys")).expect("keys");
        let jwks_path = dir.path().join("jwks.json");
        std::fs::write(&jwks_path, serde_json::to_vec(&ring.jwks()).expect("json")).expect("write");
        let signer: Signer = ring.signer().expect("signer");
        let jws = signer.sign_compact(br#"{"v":1,"seq":7}"#);

        let receipt_path = dir.path().join("receipt.json");
        std::fs::write(
            &receipt_path,
            format!(r#"{{"id":"x","seq":7,"jws":"{jws}"}}"#),
        )
        .expect("write");
        let keys = load_jwks(jwks_path.to_str().expect("utf8")).expect("jwks");
        for arg in [jws.clone(), receipt_path.display().to_string()] {
            let loaded = load_receipt(&arg).expect("loads");
            let ok = verify(&loaded, &keys).expect("valid");
            assert_eq!(ok.payload["seq"], 7);
            assert_eq!(ok.kid, signer.kid());
        }

        let mut bad = jws.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).expect("ascii");
        let err = verify(&bad, &keys).expect_err("tampered");
        assert_eq!(err.exit_code(), 1, "{err}");

        let err = load_receipt("/nonexistent/receipt").expect_err("missing file");
        assert_eq!(err.exit_code(), 2);
        let err = load_jwks("/nonexistent/jwks.json")
            .map(|_| ())
            .expect_err("missing jwks");
        assert_eq!(err.exit_code(), 2);
    }
}
