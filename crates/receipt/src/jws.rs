//! Compact JWS (RFC 7515) with Ed25519 (RFC 8037): signing a receipt with one key, and
//! verifying one against a [`PublicKeys`] set. Every receipt's protected header is
//! `{"alg":"EdDSA","kid":<RFC 7638 thumbprint>,"typ":"kelisim-receipt+jws"}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use serde::Deserialize;

use crate::keyset::{PublicKeys, thumbprint};
use crate::log::{LogError, NoteSigner};

/// The `typ` of every receipt JWS.
pub const JWS_TYP: &str = "kelisim-receipt+jws";

/// Why a compact JWS does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts, or a part that does not decode.
    #[error("not a compact JWS: {0}")]
    Malformed(String),
    /// `alg` is neither `EdDSA` nor `Ed25519`.
    #[error("unsupported algorithm `{0}`; receipts are signed with EdDSA (Ed25519)")]
    UnsupportedAlg(String),
    /// `typ` is not [`JWS_TYP`] (empty when absent).
    #[error("JWS type is `{0}`, expected `{JWS_TYP}`")]
    WrongType(String),
    /// The header has `crit`.
    #[error("JWS header has critical extensions this verifier does not understand")]
    Critical,
    /// The header names no key.
    #[error("JWS header has no `kid`")]
    MissingKid,
    /// The key set has no key with the header's `kid`.
    #[error("no key with kid `{0}` in the JWKS")]
    UnknownKey(String),
    /// The signature is not the named key's over the signing input.
    #[error(
        "signature does not match the content: the receipt was altered or signed by another key"
    )]
    BadSignature,
}

/// Signs compact JWS with one key; the protected header is encoded once.
#[derive(Clone)]
pub struct Signer {
    kid: String,
    key: SigningKey,
    header_b64: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// A signer for `key`, whose `kid` is the key's RFC 7638 thumbprint.
    pub fn new(key: SigningKey) -> Self {
        let kid = thumbprint(key.verifying_key().as_bytes());
        let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"{JWS_TYP}"}}"#);
        Self {
            header_b64: B64.encode(header),
            kid,
            key,
        }
    }

    /// The `kid` of the header it writes.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The same key as the signer of the transparency log's checkpoints (C2SP signed notes)
    /// under the key name `origin`. A note's signed text always holds a newline and a JWS
    /// signing input never does, so one signature cannot pass for the other.
    pub fn note_signer(&self, origin: &str) -> Result<NoteSigner, LogError> {
        NoteSigner::new(origin, self.key.clone())
    }

    /// `BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature)`.
    pub fn sign_compact(&self, payload: &[u8]) -> String {
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 90);
        out.push_str(&self.header_b64);
        out.push('.');
        B64.encode_string(payload, &mut out);
        let signature = self.key.sign(out.as_bytes());
        out.push('.');
        B64.encode_string(signature.to_bytes(), &mut out);
        out
    }
}

/// A JWS whose signature checked out.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The header's `alg`: `EdDSA` or `Ed25519`.
    pub alg: String,
    /// The key that signed it.
    pub kid: String,
    /// The decoded payload bytes, as signed.
    pub payload: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Verifies a compact JWS against `keys`. Accepts `alg` `EdDSA` (RFC 8037) and `Ed25519`
/// (RFC 9864); requires our `typ` so a token made for something else is not a receipt.
pub fn verify_compact(jws: &str, keys: &PublicKeys) -> Result<VerifiedJws, JwsError> {
    let decoded = decode(jws, keys)?;
    decoded
        .key
        .verify_strict(decoded.signing_input.as_bytes(), &decoded.signature)
        .map_err(|_| JwsError::BadSignature)?;
    Ok(decoded.verified)
}

/// Receipts checked in batches of this many: the larger the batch, the cheaper each
/// signature (ed25519-dalek switches to Pippenger's method from about 190 points). `audit`
/// of 1,000,000 receipts on 2 cores took 20.5 s with batches of 64, 18.2 s with 256, 17.3 s
/// with 1,024 (BENCHMARKS.md); a batch with a bad signature is checked again one by one,
/// which a tampered log can afford.
const BATCH: usize = 1024;

/// [`verify_compact`] of each of `jws`, in order, the signatures checked together in
/// batches (ed25519-dalek's `verify_batch`: one multiscalar multiplication for the batch,
/// less than half the time per signature here; BENCHMARKS.md). A batch that fails is checked
/// one receipt at a time, so each bad one gets its own error and the good ones pass.
///
/// What a batch accepts differs from [`verify_compact`] in one corner only: a signature
/// whose `R` was shifted by a point of small order (a third party's rewrite of a genuine
/// signature, not a forgery) fails strict single verification but passes a batch with a
/// probability of up to one half. Such a rewrite changes the JWS bytes, so where the log
/// keeps a hash of each receipt (the transparency log's leaf, the chain's `prev`) the audit
/// that uses this still reports it.
pub fn verify_compact_batch(jws: &[&str], keys: &PublicKeys) -> Vec<Result<VerifiedJws, JwsError>> {
    let mut out = Vec::with_capacity(jws.len());
    for group in jws.chunks(BATCH) {
        let decoded: Vec<Result<Decoded<'_, '_>, JwsError>> =
            group.iter().map(|jws| decode(jws, keys)).collect();
        let ready: Vec<&Decoded<'_, '_>> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        let messages: Vec<&[u8]> = ready.iter().map(|d| d.signing_input.as_bytes()).collect();
        let signatures: Vec<Signature> = ready.iter().map(|d| d.signature).collect();
        let verifying: Vec<ed25519_dalek::VerifyingKey> = ready.iter().map(|d| *d.key).collect();
        let all_good = ed25519_dalek::verify_batch(&messages, &signatures, &verifying).is_ok();
        out.extend(decoded.into_iter().map(|d| {
            let d = d?;
            if !all_good {
                d.key
                    .verify_strict(d.signing_input.as_bytes(), &d.signature)
                    .map_err(|_| JwsError::BadSignature)?;
            }
            Ok(d.verified)
        }));
    }
    out
}

/// A compact JWS taken apart and its header checked: what remains is the signature check.
struct Decoded<'j, 'k> {
    signing_input: &'j str,
    signature: Signature,
    key: &'k ed25519_dalek::VerifyingKey,
    verified: VerifiedJws,
}

fn decode<'j, 'k>(jws: &'j str, keys: &'k PublicKeys) -> Result<Decoded<'j, 'k>, JwsError> {
    let malformed = |m: &str| JwsError::Malformed(m.to_owned());
    let jws = jws.trim();
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three base64url parts separated by '.'"));
    };
    let header_bytes = B64
        .decode(h)
        .map_err(|_| malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| JwsError::Malformed(format!("header: {e}")))?;
    if header.alg != "EdDSA" && header.alg != "Ed25519" {
        return Err(JwsError::UnsupportedAlg(header.alg));
    }
    if header.crit.is_some() {
        return Err(JwsError::Critical);
    }
    match header.typ {
        Some(typ) if typ.eq_ignore_ascii_case(JWS_TYP) => {}
        Some(typ) => return Err(JwsError::WrongType(typ)),
        None => return Err(JwsError::WrongType(String::new())),
    }
    let kid = header.kid.ok_or(JwsError::MissingKid)?;
    let key = keys
        .get(&kid)
        .ok_or_else(|| JwsError::UnknownKey(kid.clone()))?;
    let payload = B64
        .decode(p)
        .map_err(|_| malformed("payload is not base64url"))?;
    let sig_bytes: [u8; 64] = B64
        .decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed("signature is not 64 base64url bytes"))?;
    Ok(Decoded {
        signing_input: &jws[..h.len() + 1 + p.len()],
        signature: Signature::from_bytes(&sig_bytes),
        key,
        verified: VerifiedJws {
            alg: header.alg,
            kid,
            payload,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyset::Jwk;

    /// RFC 8037 appendix A.1 private key.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    pub(crate) fn rfc_key() -> SigningKey {
        let seed: [u8; 32] = B64
            .decode(RFC8037_D)
            .expect("b64")
            .try_into()
            .expect("32 bytes");
        SigningKey::from_bytes(&seed)
    }

    #[test]
    fn thumbprint_matches_rfc8037_a3() {
        let key = rfc_key();
        assert_eq!(B64.encode(key.verifying_key().as_bytes()), RFC8037_X);
        assert_eq!(
            thumbprint(key.verifying_key().as_bytes()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn signature_matches_rfc8037_a4() {
        // A.4 signs with header {"alg":"EdDSA"}; reproduce it with the raw key.
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = rfc_key().sign(input.as_bytes());
        assert_eq!(
            B64.encode(sig.to_bytes()),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    fn keys_of(signer_key: &SigningKey) -> PublicKeys {
        let jwks = serde_json::json!({ "keys": [Jwk::of(&signer_key.verifying_key())] });
        PublicKeys::from_jwks(&jwks).expect("valid jwks")
    }

    #[test]
    fn jws_round_trip_and_tampering() {
        let key = rfc_key();
        let signer = Signer::new(key.clone());
        let jws = signer.sign_compact(br#"{"seq":1}"#);
        let header = B64
            .decode(jws.split('.').next().expect("header"))
            .expect("b64");
        assert_eq!(
            String::from_utf8(header).expect("utf8"),
            r#"{"alg":"EdDSA","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","typ":"kelisim-receipt+jws"}"#
        );
        let keys = keys_of(&key);
        let ok = verify_compact(&jws, &keys).expect("verifies");
        assert_eq!(ok.payload, br#"{"seq":1}"#);
        assert_eq!(ok.kid, signer.kid());

        let parts: Vec<&str> = jws.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], B64.encode(br#"{"seq":2}"#), parts[2]);
        assert_eq!(
            verify_compact(&forged, &keys).map(|_| ()),
            Err(JwsError::BadSignature)
        );

        let other = SigningKey::from_bytes(&[9; 32]);
        assert!(matches!(
            verify_compact(&jws, &keys_of(&other)),
            Err(JwsError::UnknownKey(_))
        ));
        assert!(matches!(
            verify_compact("a.b", &keys),
            Err(JwsError::Malformed(_))
        ));
    }

    /// The batch check gives each receipt what the single check gives it: good ones pass in a
    /// batch with bad ones, each bad one gets its own error, across batch boundaries.
    #[test]
    fn a_batch_check_answers_each_receipt_as_the_single_check_does() {
        let key = rfc_key();
        let signer = Signer::new(key.clone());
        let keys = keys_of(&key);
        let other = Signer::new(SigningKey::from_bytes(&[9; 32]));
        let mut jws: Vec<String> = (0..2 * BATCH + 100)
            .map(|n| signer.sign_compact(format!(r#"{{"seq":{n}}}"#).as_bytes()))
            .collect();
        // A payload swapped under its signature, in the first and the third batch.
        for n in [5, 2 * BATCH + 40] {
            let parts: Vec<String> = jws[n].split('.').map(str::to_owned).collect();
            jws[n] = format!("{}.{}.{}", parts[0], B64.encode(br#"{"seq":0}"#), parts[2]);
        }
        // Another key's, a malformed one, a signature's bit flipped.
        jws[70] = other.sign_compact(br#"{"seq":70}"#);
        jws[71] = "a.b".to_owned();
        let mut flipped = jws[72].clone().into_bytes();
        let at = flipped.len() - 3;
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        jws[72] = String::from_utf8(flipped).expect("ascii");
        let refs: Vec<&str> = jws.iter().map(String::as_str).collect();
        let batch = verify_compact_batch(&refs, &keys);
        assert_eq!(batch.len(), jws.len());
        for (n, (one, text)) in batch.iter().zip(&jws).enumerate() {
            let single = verify_compact(text, &keys);
            assert_eq!(
                one.as_ref().map(|v| &v.payload),
                single.as_ref().map(|v| &v.payload),
                "receipt {n}"
            );
        }
        let bad: Vec<usize> = (0..jws.len()).filter(|n| batch[*n].is_err()).collect();
        assert_eq!(bad, [5, 70, 71, 72, 2 * BATCH + 40]);
        assert!(verify_compact_batch(&[], &keys).is_empty());
    }

    #[test]
    fn the_log_signs_with_the_receipt_key_under_its_origin() {
        let key = rfc_key();
        let origin = "collector.example.kz/log";
        let note_signer = Signer::new(key.clone())
            .note_signer(origin)
            .expect("a valid origin");
        let from_set = keys_of(&key).log_keys(origin).expect("a valid origin");
        assert_eq!(from_set, [note_signer.verifier_key().clone()]);
        assert!(Signer::new(key).note_signer("has space").is_err());
    }

    #[test]
    fn ed25519_alg_name_is_accepted_and_others_are_not() {
        let key = rfc_key();
        let keys = keys_of(&key);
        let sign_with_header = |header: &str| {
            let input = format!("{}.{}", B64.encode(header), B64.encode("{}"));
            let sig = key.sign(input.as_bytes());
            format!("{input}.{}", B64.encode(sig.to_bytes()))
        };
        let kid = thumbprint(key.verifying_key().as_bytes());
        let fully_specified = sign_with_header(&format!(
            r#"{{"alg":"Ed25519","kid":"{kid}","typ":"{JWS_TYP}"}}"#
        ));
        assert_eq!(
            verify_compact(&fully_specified, &keys)
                .expect("RFC 9864 name")
                .alg,
            "Ed25519"
        );
        let hs = sign_with_header(&format!(
            r#"{{"alg":"HS256","kid":"{kid}","typ":"{JWS_TYP}"}}"#
        ));
        assert_eq!(
            verify_compact(&hs, &keys).map(|_| ()),
            Err(JwsError::UnsupportedAlg("HS256".into()))
        );
        let jwt = sign_with_header(&format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"JWT"}}"#));
        assert_eq!(
            verify_compact(&jwt, &keys).map(|_| ()),
            Err(JwsError::WrongType("JWT".into()))
        );
    }
}
