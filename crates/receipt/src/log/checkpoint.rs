//! C2SP checkpoints (c2sp.org/tlog-checkpoint): a log's signed statement of size and root.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, base64>
//! [<extension line>]…
//!
//! — <origin> <base64(key ID || Ed25519 signature)>
//! [— <witness> <base64(key ID || timestamp || Ed25519 signature)>]…
//! ```

use ed25519_dalek::{Signer as _, SigningKey};

use super::note::cosigned_message;
use super::note::{KeyType, NoteSignature, NoteSigner, SignedNote, Verified, VerifierKey};
use super::{Hash, LogError};

/// The body of a checkpoint: which log, how many leaves, which root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, by convention a schema-less URL (`example.com/log`).
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extension lines, each non-empty (not recommended by the spec: monitors
    /// cannot audit them).
    pub extensions: Vec<String>,
}

/// Decimal with no leading zeros (but `0` itself), as sizes and indexes are written.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// Whether `line` can be a line of note text: non-empty, no control characters.
fn is_text_line(line: &str) -> bool {
    !line.is_empty() && !line.bytes().any(|b| b < 0x20)
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, LogError> {
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        };
        checkpoint.check()?;
        Ok(checkpoint)
    }

    fn check(&self) -> Result<(), LogError> {
        if !is_text_line(&self.origin) {
            return Err(LogError::Checkpoint {
                line: 1,
                reason: "the origin must be a non-empty line without control characters",
            });
        }
        for (i, line) in self.extensions.iter().enumerate() {
            if !is_text_line(line) {
                return Err(LogError::Checkpoint {
                    line: 4 + i,
                    reason: "an extension line must be non-empty, without control characters",
                });
            }
        }
        Ok(())
    }

    /// The note text: origin, size, root, extension lines, each ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint's note text (without the blank line and signatures).
    pub fn parse_text(text: &str) -> Result<Self, LogError> {
        let bad = |line, reason| LogError::Checkpoint { line, reason };
        let body = text.strip_suffix('\n').ok_or(bad(
            text.split('\n').count(),
            "the last line must end with a newline",
        ))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad(1, "the origin line is empty"));
        }
        let size = lines
            .next()
            .ok_or(bad(2, "the tree size line is missing"))?;
        let size = parse_decimal(size).ok_or(bad(
            2,
            "the tree size must be a decimal number without leading zeros, below 2^64",
        ))?;
        let root = lines
            .next()
            .ok_or(bad(3, "the root hash line is missing"))?;
        let root = Hash::from_base64(root, "root hash")
            .map_err(|_| bad(3, "the root hash must be 32 bytes in standard base64"))?;
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: lines.map(str::to_owned).collect(),
        };
        checkpoint.check()?;
        Ok(checkpoint)
    }

    /// Signs the checkpoint with the log's key.
    pub fn sign(&self, signer: &NoteSigner) -> Result<SignedCheckpoint, LogError> {
        let mut note = SignedNote::new(&self.to_text())?;
        signer.sign(&mut note);
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

/// A log's set of trusted keys for one origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedLog {
    /// The checkpoint origin the log uses.
    pub origin: String,
    /// The keys whose signature makes a checkpoint of this origin the log's own.
    pub keys: Vec<VerifierKey>,
}

/// A checkpoint and the signed note it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint. This checks its form only: see
    /// [`SignedCheckpoint::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Self, LogError> {
        Self::from_note(SignedNote::parse(bytes)?)
    }

    /// Reads the checkpoint in a parsed note.
    pub fn from_note(note: SignedNote) -> Result<Self, LogError> {
        Ok(Self {
            checkpoint: Checkpoint::parse_text(note.text())?,
            note,
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note, with every signature line.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    /// The encoded checkpoint with all its signatures.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }

    /// Checks that this is `log`'s checkpoint: its origin, and a valid signature by one of
    /// the log's keys. A known key whose signature fails rejects it.
    pub fn verify(&self, log: &TrustedLog) -> Result<Vec<Verified>, LogError> {
        if self.checkpoint.origin != log.origin {
            return Err(LogError::OriginMismatch {
                expected: log.origin.clone(),
                found: self.checkpoint.origin.clone(),
            });
        }
        self.note.verify(&log.keys)
    }

    /// The cosignatures among `witnesses` that verify (possibly none). A known witness
    /// whose cosignature fails rejects the checkpoint, as the signed-note rules ask.
    pub fn cosignatures(&self, witnesses: &[VerifierKey]) -> Result<Vec<Verified>, LogError> {
        self.note.verified_by(witnesses)
    }

    /// Adds a signature line (a witness's cosignature), replacing one by the same key.
    pub fn push_signature(&mut self, signature: NoteSignature) {
        self.note.push_signature(signature);
    }
}

/// A witness's cosigning key: timestamped Ed25519 checkpoint cosignatures (type `0x04`,
/// c2sp.org/tlog-cosignature `cosignature/v1`).
#[derive(Clone, Debug)]
pub struct Cosigner {
    key: SigningKey,
    verifier: VerifierKey,
}

impl Cosigner {
    /// A cosigner named `name` (by convention a schema-less URL naming the witness).
    pub fn new(name: &str, key: SigningKey) -> Result<Self, LogError> {
        let verifier = VerifierKey::new(name, KeyType::CosignatureV1, key.verifying_key())?;
        Ok(Self { key, verifier })
    }

    /// The verifier key (type `0x04`) that checks this cosigner's cosignatures.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Cosigns `checkpoint` at `timestamp` (POSIX seconds, 1 to 2^63 - 1): the signature line
    /// to add to the checkpoint's note.
    ///
    /// The signed message is `cosignature/v1\ntime <timestamp>\n` followed by the whole
    /// checkpoint text, extension lines included.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<NoteSignature, LogError> {
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(LogError::CosignatureTimestamp(timestamp));
        }
        let message = cosigned_message(timestamp, &checkpoint.to_text());
        let signature = self.key.sign(&message);
        let mut bytes = timestamp.to_be_bytes().to_vec();
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(NoteSignature {
            name: self.verifier.name().to_owned(),
            key_id: self.verifier.key_id(),
            signature: bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::leaf_hash;

    #[test]
    fn checkpoint_text_round_trips() {
        let mut checkpoint =
            Checkpoint::new("example.com/origin", 123, leaf_hash(b"hello world")).expect("valid");
        checkpoint.extensions = vec!["abc".into(), "def".into()];
        let text = checkpoint.to_text();
        // The same bytes the tlog_tiles crate's own test expects for this checkpoint.
        assert_eq!(
            text,
            "example.com/origin\n123\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\nabc\ndef\n"
        );
        assert_eq!(Checkpoint::parse_text(&text).ok(), Some(checkpoint));
    }

    #[test]
    fn malformed_checkpoints_name_their_line() {
        let root = "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=";
        let cases: &[(usize, String)] = &[
            (1, format!("\n123\n{root}\n")),
            (2, format!("o\n0123\n{root}\n")),
            (2, format!("o\n0x1f\n{root}\n")),
            (2, format!("o\n+1\n{root}\n")),
            (2, format!("o\n18446744073709551616\n{root}\n")),
            (2, "o\n".into()),
            (3, "o\n1\n".into()),
            (3, "o\n1\nAAAA\n".into()),
            (5, format!("o\n1\n{root}\nabc\n\n")),
            (4, format!("o\n1\n{root}\nabc")),
        ];
        for (line, text) in cases {
            match Checkpoint::parse_text(text) {
                Err(LogError::Checkpoint { line: got, .. }) => {
                    assert_eq!(got, *line, "{text:?}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        // Size 0 and the largest size are fine.
        assert!(Checkpoint::parse_text(&format!("o\n0\n{root}\n")).is_ok());
        assert!(Checkpoint::parse_text(&format!("o\n18446744073709551615\n{root}\n")).is_ok());
    }

    #[test]
    fn cosignatures_verify_and_carry_their_time() {
        let log = NoteSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32]))
            .expect("valid name");
        let witness = Cosigner::new("example.com/witness", SigningKey::from_bytes(&[2; 32]))
            .expect("valid name");
        let checkpoint = Checkpoint::new("example.com/log", 5, leaf_hash(b"x")).expect("valid");
        let mut signed = checkpoint.sign(&log).expect("signs");
        let line = witness.cosign(&checkpoint, 1_700_000_000).expect("cosigns");
        signed.push_signature(line);
        let parsed = SignedCheckpoint::parse(&signed.to_bytes()).expect("parses");
        let trusted = TrustedLog {
            origin: "example.com/log".into(),
            keys: vec![log.verifier_key().clone()],
        };
        parsed.verify(&trusted).expect("the log signed it");
        let cosigned = parsed
            .cosignatures(std::slice::from_ref(witness.verifier_key()))
            .expect("cosigned");
        assert_eq!(cosigned.len(), 1);
        assert_eq!(cosigned[0].timestamp, Some(1_700_000_000));
        // The log's Ed25519 key does not count as a cosigner, and the witness's key ID for
        // type 0x04 differs from an Ed25519 key of the same name and public key.
        let as_ed25519 = VerifierKey::new(
            "example.com/witness",
            KeyType::Ed25519,
            *witness.verifier_key().public_key(),
        )
        .expect("valid");
        assert_ne!(as_ed25519.key_id(), witness.verifier_key().key_id());
        assert_eq!(parsed.cosignatures(&[as_ed25519]).expect("ignored"), []);
        assert_eq!(
            witness.cosign(&checkpoint, 0).expect_err("zero").code(),
            "cosignature_timestamp"
        );
    }
}
