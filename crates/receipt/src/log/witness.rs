//! The witness's rule (c2sp.org/tlog-witness `add-checkpoint`): cosign only what extends
//! what it cosigned before.
//!
//! A witness keeps, per log origin, the size and root of the last checkpoint it cosigned.
//! A log sends a new checkpoint with a consistency proof from that size; the witness checks
//! the log's signature and the proof, and answers with a timestamped cosignature, or
//! refuses with a [`Refusal`] that maps to the HTTP status the spec gives. Storing the new
//! state atomically with the check is the caller's job (the spec's race: two requests
//! checked against the same old state must not both be cosigned).

use super::checkpoint::{Cosigner, SignedCheckpoint, TrustedLog, parse_decimal};
use super::note::NoteSignature;
use super::{EMPTY_ROOT, Hash, HashReader, LogError, consistency_proof, verify_consistency};

/// The most consistency proof lines a request may carry (the spec's limit).
pub const MAX_CONSISTENCY_PROOF: usize = 63;

/// An `add-checkpoint` request body: the size the log believes the witness is at, a
/// consistency proof from it, and the new signed checkpoint.
///
/// ```text
/// old <size>
/// <consistency proof, one base64 hash per line>…
///
/// <signed checkpoint>
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the last checkpoint the witness cosigned for this log (0 if none).
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size (empty from 0).
    pub proof: Vec<Hash>,
    /// The new checkpoint, signed by the log.
    pub checkpoint: SignedCheckpoint,
}

impl AddCheckpoint {
    /// The request a log sends to a witness last at `old_size` (0 if it never cosigned),
    /// with the consistency proof read from the log's stored hashes.
    pub fn new<R: HashReader + ?Sized>(
        reader: &R,
        old_size: u64,
        checkpoint: SignedCheckpoint,
    ) -> Result<Self, LogError> {
        let size = checkpoint.checkpoint().size;
        let proof = if old_size == 0 {
            Vec::new()
        } else {
            consistency_proof(reader, old_size, size)?
        };
        Ok(Self {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// Parses a request body.
    pub fn parse(bytes: &[u8]) -> Result<Self, LogError> {
        let bad = |line, reason| LogError::AddCheckpoint { line, reason };
        let text = std::str::from_utf8(bytes).map_err(|_| bad(1, "the body is not UTF-8"))?;
        let (old, mut rest) = text
            .split_once('\n')
            .ok_or(bad(1, "expected \"old <size>\" and a newline"))?;
        let old_size = old.strip_prefix("old ").and_then(parse_decimal).ok_or(bad(
            1,
            "expected \"old <decimal size without leading zeros>\"",
        ))?;
        let mut proof = Vec::new();
        let mut number = 1;
        loop {
            number += 1;
            let (line, tail) = rest.split_once('\n').ok_or(bad(
                number,
                "the blank line before the checkpoint is missing",
            ))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_CONSISTENCY_PROOF {
                return Err(bad(number, "more than 63 consistency proof lines"));
            }
            proof.push(
                Hash::from_base64(line, "consistency proof hash")
                    .map_err(|_| bad(number, "a proof line must be one base64 hash (32 bytes)"))?,
            );
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: SignedCheckpoint::parse(rest.as_bytes())?,
        })
    }

    /// The encoded request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&hash.to_base64());
            body.push('\n');
        }
        body.push('\n');
        let mut bytes = body.into_bytes();
        bytes.extend_from_slice(&self.checkpoint.to_bytes());
        bytes
    }
}

/// The size and root of a tree: what a witness remembers per log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The number of leaves.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
}

/// Why a witness refuses to cosign, with the HTTP status c2sp.org/tlog-witness gives it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The checkpoint's origin is not a log this witness follows (404).
    #[error("unknown log origin {origin:?}: this witness does not follow it")]
    UnknownOrigin {
        /// The origin in the checkpoint.
        origin: String,
    },
    /// No valid signature from the log's keys, or a known key's signature fails (403).
    #[error("checkpoint is not validly signed by the log: {0}")]
    BadSignature(#[source] LogError),
    /// The checkpoint is smaller than the tree it claims to extend (400).
    #[error("checkpoint size {size} is smaller than the old size {old_size}: a log only grows")]
    SmallerThanOld {
        /// The old size in the request.
        old_size: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size the witness last cosigned (409; the answer's body is
    /// `latest` in decimal and a newline, type `text/x.tlog.size`).
    #[error(
        "old size {old_size} is not the last size cosigned for this log, {latest}: prove consistency from {latest}"
    )]
    OldSizeMismatch {
        /// The old size in the request.
        old_size: u64,
        /// The size of the last cosigned checkpoint.
        latest: u64,
    },
    /// A checkpoint of size 0 whose root is not the empty tree's (422).
    #[error("checkpoint of size 0 must have the empty tree's root hash")]
    EmptyTreeRoot,
    /// A consistency proof where none belongs: from size 0 (422).
    #[error("a consistency proof from size 0 must be empty")]
    ProofFromEmpty,
    /// The checkpoint does not extend what the witness cosigned: a bad consistency proof,
    /// or the same size with another root (422). Evidence of a rewritten log, or a bad proof.
    #[error("checkpoint is not an extension of the last cosigned tree: {0}")]
    NotAnExtension(#[source] LogError),
    /// The witness could not cosign (a timestamp out of range; 500).
    #[error("cosigning failed: {0}")]
    Cosign(#[source] LogError),
}

impl Refusal {
    /// The HTTP status c2sp.org/tlog-witness gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownOrigin { .. } => 404,
            Self::BadSignature(_) => 403,
            Self::SmallerThanOld { .. } => 400,
            Self::OldSizeMismatch { .. } => 409,
            Self::EmptyTreeRoot | Self::ProofFromEmpty | Self::NotAnExtension(_) => 422,
            Self::Cosign(_) => 500,
        }
    }

    /// A stable identifier of the refusal, for machine-readable answers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownOrigin { .. } => "unknown_origin",
            Self::BadSignature(_) => "bad_signature",
            Self::SmallerThanOld { .. } => "smaller_than_old",
            Self::OldSizeMismatch { .. } => "old_size_mismatch",
            Self::EmptyTreeRoot => "empty_tree_root",
            Self::ProofFromEmpty => "proof_from_empty",
            Self::NotAnExtension(_) => "not_an_extension",
            Self::Cosign(_) => "cosign",
        }
    }
}

/// What a witness answers when it cosigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The log's origin.
    pub origin: String,
    /// The tree the witness now remembers for the origin: store it before answering.
    pub head: TreeHead,
    /// The cosignature line to send back (and to add to the checkpoint's note).
    pub cosignature: NoteSignature,
}

/// A witness: its cosigning key and the logs it follows.
#[derive(Clone, Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<TrustedLog>,
}

impl Witness {
    /// A witness that cosigns with `cosigner` the checkpoints of `logs`.
    pub fn new(cosigner: Cosigner, logs: Vec<TrustedLog>) -> Self {
        Self { cosigner, logs }
    }

    /// The cosigner.
    pub fn cosigner(&self) -> &Cosigner {
        &self.cosigner
    }

    /// The followed log with this origin.
    pub fn log(&self, origin: &str) -> Option<&TrustedLog> {
        self.logs.iter().find(|log| log.origin == origin)
    }

    /// Decides on `request`, given the last tree cosigned for its origin (`None` if never),
    /// and cosigns at `now` (POSIX seconds) when it extends it. Checks in the spec's order:
    /// known origin, log signature, sizes, then consistency.
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
        latest: Option<&TreeHead>,
        now: u64,
    ) -> Result<Cosigned, Refusal> {
        let checkpoint = request.checkpoint.checkpoint();
        let log = self
            .log(&checkpoint.origin)
            .ok_or_else(|| Refusal::UnknownOrigin {
                origin: checkpoint.origin.clone(),
            })?;
        request
            .checkpoint
            .verify(log)
            .map_err(Refusal::BadSignature)?;
        if request.old_size > checkpoint.size {
            return Err(Refusal::SmallerThanOld {
                old_size: request.old_size,
                size: checkpoint.size,
            });
        }
        let latest_size = latest.map_or(0, |head| head.size);
        if request.old_size != latest_size {
            return Err(Refusal::OldSizeMismatch {
                old_size: request.old_size,
                latest: latest_size,
            });
        }
        if checkpoint.size == 0 && checkpoint.root != EMPTY_ROOT {
            return Err(Refusal::EmptyTreeRoot);
        }
        match latest {
            Some(head) if head.size > 0 => verify_consistency(
                head.size,
                checkpoint.size,
                &head.root,
                &checkpoint.root,
                &request.proof,
            )
            .map_err(Refusal::NotAnExtension)?,
            _ if !request.proof.is_empty() => return Err(Refusal::ProofFromEmpty),
            _ => {}
        }
        let cosignature = self
            .cosigner
            .cosign(checkpoint, now)
            .map_err(Refusal::Cosign)?;
        Ok(Cosigned {
            origin: checkpoint.origin.clone(),
            head: TreeHead {
                size: checkpoint.size,
                root: checkpoint.root,
            },
            cosignature,
        })
    }
}
