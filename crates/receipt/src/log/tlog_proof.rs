//! C2SP offline proofs (c2sp.org/tlog-proof): an entry's index, inclusion path and checkpoint.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <leaf index, decimal>
//! <inclusion path, one base64 hash per line, from the leaf's sibling up>…
//!
//! <signed checkpoint, verbatim, with its cosignatures>
//! ```
//!
//! With the entry itself, the log's public key and (optionally) witnesses' keys, this is
//! everything needed to check, offline, that the entry is in the log the witnesses saw.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::checkpoint::{SignedCheckpoint, TrustedLog, parse_decimal};
use super::note::{Verified, VerifierKey};
use super::{Checkpoint, Hash, LogError, verify_inclusion};

/// The first line of every proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most inclusion path lines read: a tree of up to 2^64 leaves needs at most 64.
const MAX_PATH: usize = 64;

/// An offline proof that an entry is in a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque application data, not authenticated by anything in the proof.
    pub extra: Option<Vec<u8>>,
    /// The entry's leaf index.
    pub index: u64,
    /// The inclusion path in the checkpoint's tree, from the leaf's sibling up.
    pub inclusion: Vec<Hash>,
    /// The log's signed checkpoint, with whatever cosignatures it carries.
    pub checkpoint: SignedCheckpoint,
}

/// What a verified proof establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofVerified {
    /// The checkpoint that includes the entry, signed by the log.
    pub checkpoint: Checkpoint,
    /// The log's signatures that verified.
    pub signed_by: Vec<Verified>,
    /// The witnesses, among those given, whose cosignature verified (with their times).
    pub cosigned_by: Vec<Verified>,
}

impl TlogProof {
    /// Parses a proof, checking its form and the checkpoint's (not signatures or hashes:
    /// see [`TlogProof::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, LogError> {
        let text = std::str::from_utf8(bytes).map_err(|_| LogError::TlogProof {
            line: 1,
            reason: "the proof is not UTF-8",
        })?;
        let mut rest = text;
        let mut number = 0;
        // Takes the next line without its newline; every line of the head ends in one.
        let mut next_line = |reason: &'static str| {
            number += 1;
            let (line, tail) = rest.split_once('\n').ok_or(LogError::TlogProof {
                line: number,
                reason,
            })?;
            rest = tail;
            Ok::<_, LogError>((number, line))
        };

        let (_, header) = next_line("the proof is empty")?;
        if header != TLOG_PROOF_HEADER {
            return Err(LogError::TlogProof {
                line: 1,
                reason: "the first line must be c2sp.org/tlog-proof@v1",
            });
        }
        let (mut number_at, mut line) = next_line("the index line is missing")?;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(STANDARD.decode(encoded).map_err(|_| LogError::TlogProof {
                line: number_at,
                reason: "the extra data must be standard base64 with padding",
            })?);
            (number_at, line) = next_line("the index line is missing")?;
        }
        let index =
            line.strip_prefix("index ")
                .and_then(parse_decimal)
                .ok_or(LogError::TlogProof {
                    line: number_at,
                    reason: "expected \"index <decimal without leading zeros>\"",
                })?;
        let mut inclusion = Vec::new();
        loop {
            let (at, line) = next_line("the blank line before the checkpoint is missing")?;
            if line.is_empty() {
                break;
            }
            if inclusion.len() == MAX_PATH {
                return Err(LogError::TlogProof {
                    line: at,
                    reason: "more than 64 inclusion path hashes",
                });
            }
            inclusion.push(Hash::from_base64(line, "inclusion path hash").map_err(|_| {
                LogError::TlogProof {
                    line: at,
                    reason: "an inclusion path line must be one hash in standard base64 (32 bytes)",
                }
            })?);
        }
        let checkpoint = SignedCheckpoint::parse(rest.as_bytes())?;
        Ok(Self {
            extra,
            index,
            inclusion,
            checkpoint,
        })
    }

    /// The encoded proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Verifies the proof for the entry whose leaf hash is `leaf`, with the steps of
    /// c2sp.org/tlog-proof: the checkpoint is `log`'s (origin and signature), the
    /// cosignatures of the known `witnesses` verify (none is not an error: how many are
    /// enough is the caller's policy, from [`ProofVerified::cosigned_by`]), and the
    /// inclusion path leads from `leaf` at `index` to the checkpoint's root.
    pub fn verify(
        &self,
        leaf: &Hash,
        log: &TrustedLog,
        witnesses: &[VerifierKey],
    ) -> Result<ProofVerified, LogError> {
        let signed_by = self.checkpoint.verify(log)?;
        let cosigned_by = self.checkpoint.cosignatures(witnesses)?;
        let checkpoint = self.checkpoint.checkpoint();
        verify_inclusion(
            leaf,
            self.index,
            checkpoint.size,
            &self.inclusion,
            &checkpoint.root,
        )?;
        Ok(ProofVerified {
            checkpoint: checkpoint.clone(),
            signed_by,
            cosigned_by,
        })
    }
}

impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", STANDARD.encode(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.inclusion {
            writeln!(f, "{hash}")?;
        }
        writeln!(f)?;
        write!(f, "{}", self.checkpoint.note())
    }
}
