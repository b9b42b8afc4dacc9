//! C2SP signed notes (c2sp.org/signed-note): text, a blank line, then signature lines.
//!
//! ```text
//! <text, one or more lines, each ending in U+000A>
//!
//! — <key name> base64(key ID (4 bytes, big-endian) || signature)
//! ```
//!
//! Two signature types are supported: Ed25519 over the note text (type `0x01`, what a log
//! signs its checkpoints with) and the timestamped Ed25519 checkpoint cosignature
//! (type `0x04`, c2sp.org/tlog-cosignature, what witnesses sign with). A key is named, and
//! identified by `SHA-256(name || 0x0A || type || public key)[:4]`; a verifier key string
//! is `<name>+<key ID in 8 hex digits>+base64(type || public key)`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::LogError;

/// The largest note this crate parses, in bytes: a checkpoint with a hundred signatures is
/// under 16 KiB.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines this crate reads from one note (the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The signature line prefix: em dash (U+2014) and a space.
const DASH: &str = "\u{2014} ";

/// A signature type of c2sp.org/signed-note that this crate signs and verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 checkpoint cosignature (c2sp.org/tlog-cosignature,
    /// `cosignature/v1`).
    CosignatureV1,
}

impl KeyType {
    /// The signature type identifier byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    fn from_byte(byte: u8) -> Result<Self, LogError> {
        match byte {
            0x01 => Ok(Self::Ed25519),
            0x04 => Ok(Self::CosignatureV1),
            other => Err(LogError::UnsupportedKeyType(other)),
        }
    }
}

/// Whether `name` may name a key: non-empty, no Unicode white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_key_name(name: &str) -> Result<(), LogError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(LogError::KeyName {
            name: name.chars().take(80).collect(),
        })
    }
}

/// The key ID: `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', key_type.byte()]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A public key trusted to sign notes: its name, type and Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_type: KeyType,
    key: VerifyingKey,
    id: u32,
}

impl VerifierKey {
    /// A verifier key for `name`, `key_type` and the Ed25519 public key.
    pub fn new(name: &str, key_type: KeyType, key: VerifyingKey) -> Result<Self, LogError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_type,
            id: key_id(name, key_type, key.as_bytes()),
            key,
        })
    }

    /// Parses `<name>+<8 hex digits>+<base64(type || public key)>`, checking the key ID.
    pub fn parse(text: &str) -> Result<Self, LogError> {
        let bad = |reason| LogError::VerifierKey { reason };
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("it needs three parts separated by '+'"));
        };
        check_key_name(name)?;
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key ID must be 8 hex digits"));
        }
        let declared = u32::from_str_radix(id, 16).map_err(|_| bad("bad key ID"))?;
        let key = STANDARD
            .decode(key)
            .map_err(|_| bad("the key is not standard base64"))?;
        let (&type_byte, public) = key.split_first().ok_or(bad("the key is empty"))?;
        let key_type = KeyType::from_byte(type_byte)?;
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| bad("the public key is not a valid Ed25519 point"))?;
        let verifier = Self::new(name, key_type, key)?;
        if verifier.id != declared {
            return Err(LogError::VerifierKeyId {
                declared,
                computed: verifier.id,
            });
        }
        Ok(verifier)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The signature type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks one signature over `text`; for a cosignature, returns its timestamp.
    fn check(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, ()> {
        match self.key_type {
            KeyType::Ed25519 => {
                let signature = Signature::from_slice(signature).map_err(|_| ())?;
                self.key
                    .verify_strict(text.as_bytes(), &signature)
                    .map_err(|_| ())?;
                Ok(None)
            }
            KeyType::CosignatureV1 => {
                let (timestamp, signature) = split_cosignature(signature).map_err(|_| ())?;
                let message = cosigned_message(timestamp, text);
                self.key
                    .verify_strict(&message, &signature)
                    .map_err(|_| ())?;
                Ok(Some(timestamp))
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    /// The verifier key string, `<name>+<key ID>+<base64(type || public key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = vec![self.key_type.byte()];
        key.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, STANDARD.encode(key))
    }
}

/// The message a `cosignature/v1` signs: two header lines, then the note text.
pub(crate) fn cosigned_message(timestamp: u64, text: &str) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(text.as_bytes());
    message
}

/// Splits a `cosignature/v1` `timestamped_signature`: a big-endian u64, then 64 bytes.
pub(crate) fn split_cosignature(bytes: &[u8]) -> Result<(u64, Signature), LogError> {
    if bytes.len() != 72 {
        return Err(LogError::CosignatureLength { len: bytes.len() });
    }
    let (time, signature) = bytes.split_at(8);
    let mut be = [0u8; 8];
    be.copy_from_slice(time);
    let timestamp = u64::from_be_bytes(be);
    if timestamp > i64::MAX as u64 {
        return Err(LogError::CosignatureTimestamp(timestamp));
    }
    let signature = Signature::from_slice(signature)
        .map_err(|_| LogError::CosignatureLength { len: bytes.len() })?;
    Ok((timestamp, signature))
}

/// A log's signing key: Ed25519 signatures of type `0x01` over note text.
#[derive(Clone, Debug)]
pub struct NoteSigner {
    key: SigningKey,
    verifier: VerifierKey,
}

impl NoteSigner {
    /// A signer named `name` (for a log, its checkpoint origin).
    pub fn new(name: &str, key: SigningKey) -> Result<Self, LogError> {
        let verifier = VerifierKey::new(name, KeyType::Ed25519, key.verifying_key())?;
        Ok(Self { key, verifier })
    }

    /// The verifier key that checks this signer's signatures.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Signs `note`'s text, replacing an earlier signature by the same key.
    pub fn sign(&self, note: &mut SignedNote) {
        let signature = self.key.sign(note.text.as_bytes());
        note.push_signature(NoteSignature {
            name: self.verifier.name.clone(),
            key_id: self.verifier.id,
            signature: signature.to_bytes().to_vec(),
        });
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key's name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// The signature bytes after the key ID (for a cosignature: timestamp and signature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one line `— <name> <base64>` (with or without its final newline).
    pub fn parse_line(line: &str) -> Result<Self, LogError> {
        Self::parse_numbered(line.strip_suffix('\n').unwrap_or(line), 1)
    }

    fn parse_numbered(line: &str, number: usize) -> Result<Self, LogError> {
        let bad = |reason| LogError::SignatureLine {
            line: number,
            reason,
        };
        let rest = line
            .strip_prefix(DASH)
            .ok_or(bad("it must start with an em dash (U+2014) and a space"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or(bad("it must be \"— <key name> <base64 signature>\""))?;
        check_key_name(name).map_err(|_| bad("the key name is empty or has a space or '+'"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| bad("the signature is not standard base64 with padding"))?;
        if bytes.len() < 5 {
            return Err(bad(
                "the signature is shorter than its 4-byte key ID plus one byte",
            ));
        }
        let (id, signature) = bytes.split_at(4);
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
            signature: signature.to_vec(),
        })
    }

    /// The line, `— <name> base64(key ID || signature)` and a newline.
    pub fn to_line(&self) -> String {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        format!("{DASH}{} {}\n", self.name, STANDARD.encode(bytes))
    }
}

/// Parses signature lines alone, as a witness answers `add-checkpoint` (each line ends in a
/// newline; at least one line).
pub fn parse_signature_lines(text: &str) -> Result<Vec<NoteSignature>, LogError> {
    if text.is_empty() {
        return Err(LogError::NoteUnsigned);
    }
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    if !text.ends_with('\n') {
        return Err(LogError::SignatureLine {
            line: lines.len(),
            reason: "it must end with a newline",
        });
    }
    if lines.len() > MAX_SIGNATURES {
        return Err(LogError::TooManySignatures {
            max: MAX_SIGNATURES,
        });
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| NoteSignature::parse_numbered(line, i + 1))
        .collect()
}

/// A signature that verified with a trusted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The key's name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// For a cosignature, when the cosigner signed (POSIX seconds).
    pub timestamp: Option<u64>,
}

/// A note: its text and its signatures (verified or not; see [`SignedNote::verify`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Checks the characters of a note: UTF-8, no control characters but newline.
fn check_note_bytes(bytes: &[u8]) -> Result<&str, LogError> {
    if bytes.len() > MAX_NOTE_SIZE {
        return Err(LogError::NoteTooLarge {
            len: bytes.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| LogError::NoteNotUtf8)?;
    if let Some(offset) = bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        return Err(LogError::NoteControlCharacter {
            byte: bytes[offset],
            offset,
        });
    }
    Ok(text)
}

impl SignedNote {
    /// A note with `text` and no signatures yet (sign it before sending it anywhere).
    ///
    /// The text must end in a newline and hold no control character other than newline.
    pub fn new(text: &str) -> Result<Self, LogError> {
        check_note_bytes(text.as_bytes())?;
        if !text.ends_with('\n') {
            return Err(LogError::NoteTextUnterminated);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note. This checks its form only: see [`SignedNote::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Self, LogError> {
        let message = check_note_bytes(bytes)?;
        // The text is separated from the signatures by the last blank line.
        let split = message.rfind("\n\n").ok_or(LogError::NoteUnsigned)?;
        let (text, signatures) = (&message[..=split], &message[split + 2..]);
        if signatures.is_empty() {
            return Err(LogError::NoteUnsigned);
        }
        let signatures = parse_signature_lines(signatures)?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, ending in a newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature, replacing one by the same key (name and ID).
    pub fn push_signature(&mut self, signature: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == signature.name && s.key_id == signature.key_id));
        self.signatures.push(signature);
    }

    /// The encoded note: text, blank line, signature lines. Empty signatures make no
    /// valid note: sign it first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The signatures that verify with `keys`, with the rules of c2sp.org/signed-note:
    /// signatures by unknown keys (name and ID not both matching a key) are ignored, a
    /// signature by a known key that fails rejects the whole note, and a key's repeated
    /// signatures count once. Returns an empty list when no known key signed.
    pub fn verified_by(&self, keys: &[VerifierKey]) -> Result<Vec<Verified>, LogError> {
        let mut verified: Vec<Verified> = Vec::new();
        for signature in &self.signatures {
            let Some(key) = keys
                .iter()
                .find(|k| k.name == signature.name && k.id == signature.key_id)
            else {
                continue;
            };
            let timestamp = key.check(&self.text, &signature.signature).map_err(|()| {
                LogError::InvalidSignature {
                    name: signature.name.clone(),
                    key_id: signature.key_id,
                }
            })?;
            if !verified
                .iter()
                .any(|v| v.name == key.name && v.key_id == key.id)
            {
                verified.push(Verified {
                    name: key.name.clone(),
                    key_id: key.id,
                    timestamp,
                });
            }
        }
        Ok(verified)
    }

    /// Like [`SignedNote::verified_by`], but a note that no key in `keys` signed is an error
    /// ([`LogError::NoTrustedSignature`]): its text must then be ignored.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<Verified>, LogError> {
        let verified = self.verified_by(keys)?;
        if verified.is_empty() {
            return Err(LogError::NoTrustedSignature {
                trusted: keys
                    .iter()
                    .map(|k| format!("{}+{:08x}", k.name, k.id))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(verified)
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            f.write_str(&signature.to_line())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).expect("valid name")
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let log = signer("example.com/log", 1);
        let other = signer("example.com/other", 2);
        let mut note = SignedNote::new("hello\nworld\n").expect("valid text");
        log.sign(&mut note);
        other.sign(&mut note);
        let parsed = SignedNote::parse(&note.to_bytes()).expect("parses");
        assert_eq!(parsed, note);
        let verified = parsed
            .verify(std::slice::from_ref(log.verifier_key()))
            .expect("verifies");
        assert_eq!(verified.len(), 1);
        assert_eq!(verified[0].name, "example.com/log");
        // A key that did not sign: no trusted signature.
        let stranger = signer("example.com/stranger", 3);
        let err = parsed
            .verify(std::slice::from_ref(stranger.verifier_key()))
            .expect_err("unsigned by the stranger");
        assert_eq!(err.code(), "no_trusted_signature");
    }

    #[test]
    fn a_known_key_with_a_bad_signature_rejects_the_note() {
        let log = signer("example.com/log", 1);
        let mut note = SignedNote::new("text\n").expect("valid");
        log.sign(&mut note);
        let tampered = note.to_string().replacen("text", "texT", 1);
        let parsed = SignedNote::parse(tampered.as_bytes()).expect("well-formed");
        let err = parsed
            .verify(std::slice::from_ref(log.verifier_key()))
            .expect_err("altered text");
        assert_eq!(err.code(), "invalid_signature");
    }

    #[test]
    fn verifier_keys_round_trip_and_refuse_a_wrong_id() {
        let key = signer("example.com/log", 7).verifier_key().clone();
        let text = key.to_string();
        assert_eq!(VerifierKey::parse(&text).ok(), Some(key.clone()));
        let wrong = text.replacen(&format!("{:08x}", key.key_id()), "00000000", 1);
        assert_eq!(
            VerifierKey::parse(&wrong).expect_err("wrong id").code(),
            "verifier_key_id"
        );
    }

    #[test]
    fn malformed_notes_are_refused_with_their_reason() {
        let log = signer("example.com/log", 1);
        let mut note = SignedNote::new("a\n").expect("valid");
        log.sign(&mut note);
        let good = note.to_string();
        let line = note.signatures()[0].to_line();
        let cases: &[(&str, String)] = &[
            ("note_unsigned", "a\n".into()),
            ("note_unsigned", "a\n\n".into()),
            ("note_control_character", good.replace("a\n", "a\r\n")),
            ("signature_line", good.replace('\u{2014}', "-")),
            ("signature_line", format!("a\n\n{}", line.trim_end())),
            (
                "signature_line",
                good.replace("example.com/log", "bad+name"),
            ),
            ("signature_line", "a\n\n\u{2014} n AAAA\n".into()),
            ("note_unsigned", "a\n\u{2014} n AAAAAAA=\n".into()),
        ];
        for (code, text) in cases {
            let err = SignedNote::parse(text.as_bytes()).expect_err(text);
            assert_eq!(err.code(), *code, "{text:?}: {err}");
        }
        assert_eq!(
            SignedNote::parse(&[b'a', b'\n', b'\n', 0xff])
                .expect_err("not utf-8")
                .code(),
            "note_not_utf8"
        );
        assert_eq!(
            SignedNote::new("no newline")
                .expect_err("unterminated")
                .code(),
            "note_text_unterminated"
        );
    }
}
