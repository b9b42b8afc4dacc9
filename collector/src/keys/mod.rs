//! Ed25519 signing keys, RFC 7638 key ids, compact JWS (RFC 7515/8037) and the JWKS.
//!
//! Keys live in `DIR/keys/` as private JWK files named `ed25519-NNNN.jwk` (mode 0600); the
//! highest generation is the active signing key. `keys rotate` adds a generation; older keys
//! are never deleted and stay in the JWKS, so every receipt ever issued keeps verifying.
//! The `kid` is the key's RFC 7638 thumbprint, checked against the file on every load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ops::datadir;

/// The `typ` of every receipt JWS.
pub const JWS_TYP: &str = "kelisim-receipt+jws";

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

/// Why a compact JWS does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS: {0}")]
    Malformed(String),
    #[error("unsupported algorithm `{0}`; receipts are signed with EdDSA (Ed25519)")]
    UnsupportedAlg(String),
    #[error("JWS type is `{0}`, expected `{JWS_TYP}`")]
    WrongType(String),
    #[error("JWS header has critical extensions this verifier does not understand")]
    Critical,
    #[error("JWS header has no `kid`")]
    MissingKid,
    #[error("no key with kid `{0}` in the JWKS")]
    UnknownKey(String),
    #[error(
        "signature does not match the content: the receipt was altered or signed by another key"
    )]
    BadSignature,
}

/// Public half of a key as published in the JWKS (RFC 7517, RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// `{"keys":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
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
        public_jwk(&self.key.verifying_key())
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
        let path = dir.join(format!("ed25519-{generation:04}.jwk"));
        let write_err = |source| KeyError::Write {
            path: path.display().to_string(),
            source,
        };
        datadir::create_private_dir(dir).map_err(write_err)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(KeyError::Random)?;
        let key = SigningKey::from_bytes(&seed);
        let public = public_jwk(&key.verifying_key());
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
        tracing::info!(kid = %public.kid, generation, "created signing key");
        Ok(KeyEntry {
            generation,
            kid: public.kid,
            created,
            path,
            key,
        })
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
        PublicKeys {
            keys: self
                .entries
                .iter()
                .map(|e| (e.kid.clone(), e.key.verifying_key()))
                .collect(),
        }
    }
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
    let public = public_jwk(&key.verifying_key());
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

fn public_jwk(key: &VerifyingKey) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: B64.encode(key.as_bytes()),
        kid: thumbprint(key.as_bytes()),
        alg: "EdDSA".into(),
        use_: "sig".into(),
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over the required members in
/// lexicographic order, base64url.
pub fn thumbprint(x: &[u8; 32]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(x));
    B64.encode(Sha256::digest(canonical.as_bytes()))
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
    pub fn new(key: SigningKey) -> Self {
        let kid = thumbprint(key.verifying_key().as_bytes());
        let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"{JWS_TYP}"}}"#);
        Self {
            header_b64: B64.encode(header),
            kid,
            key,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The same key as the signer of the transparency log's checkpoints (C2SP signed notes)
    /// under the key name `origin`. A note's signed text always holds a newline and a JWS
    /// signing input never does, so one signature cannot pass for the other.
    pub fn note_signer(
        &self,
        origin: &str,
    ) -> Result<kelisim_receipt::log::NoteSigner, kelisim_receipt::log::LogError> {
        kelisim_receipt::log::NoteSigner::new(origin, self.key.clone())
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

/// Verifying keys by kid.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    keys: HashMap<String, VerifyingKey>,
}

impl PublicKeys {
    /// Reads the Ed25519 keys of a JWKS document; other key types are skipped. Each key's
    /// kid must be its thumbprint, so a JWKS cannot pair a known kid with a foreign key.
    pub fn from_jwks(jwks: &serde_json::Value) -> Result<PublicKeys, String> {
        let keys = jwks
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("a JWKS has a `keys` array")?;
        let mut out = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            let field = |name: &str| key.get(name).and_then(|v| v.as_str());
            if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
                continue;
            }
            let x: [u8; 32] = field("x")
                .and_then(|x| B64.decode(x).ok())
                .and_then(|x| x.try_into().ok())
                .ok_or_else(|| format!("key {i}: `x` is not 32 base64url bytes"))?;
            let verifying = VerifyingKey::from_bytes(&x)
                .map_err(|_| format!("key {i}: `x` is not an Ed25519 point"))?;
            let kid = thumbprint(&x);
            if let Some(claimed) = field("kid")
                && claimed != kid
            {
                return Err(format!(
                    "key {i}: kid `{claimed}` is not the key's RFC 7638 thumbprint `{kid}`"
                ));
            }
            out.insert(kid, verifying);
        }
        Ok(PublicKeys { keys: out })
    }

    /// Every key as a signer of the transparency log named `origin` (its checkpoints' key
    /// name): the log key is the receipt signing key (docs/receipt.md).
    pub fn log_keys(
        &self,
        origin: &str,
    ) -> Result<Vec<kelisim_receipt::log::VerifierKey>, kelisim_receipt::log::LogError> {
        let mut keys: Vec<_> = self.keys.values().collect();
        keys.sort_by_key(|k| *k.as_bytes());
        keys.into_iter()
            .map(|key| {
                kelisim_receipt::log::VerifierKey::new(
                    origin,
                    kelisim_receipt::log::KeyType::Ed25519,
                    *key,
                )
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

/// A JWS whose signature checked out.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    pub alg: String,
    pub kid: String,
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
    let malformed = |m: &str| JwsError::Malformed(m.to_owned());
    let mut parts = jws.trim().split('.');
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
        .keys
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
    let signing_input = &jws.trim()[..h.len() + 1 + p.len()];
    key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| JwsError::BadSignature)?;
    Ok(VerifiedJws {
        alg: header.alg,
        kid,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 appendix A.1 private key.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn rfc_key() -> SigningKey {
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
        let jwks = serde_json::json!({ "keys": [public_jwk(&signer_key.verifying_key())] });
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

    #[test]
    fn jwks_refuses_a_kid_that_is_not_the_thumbprint() {
        let mut jwk = public_jwk(&rfc_key().verifying_key());
        jwk.kid = "someone-else".into();
        let err =
            PublicKeys::from_jwks(&serde_json::json!({ "keys": [jwk] })).expect_err("kid mismatch");
        assert!(err.contains("not the key's RFC 7638 thumbprint"), "{err}");
    }

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
