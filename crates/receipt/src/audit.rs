//! The audit walk: re-verifies every receipt's signature and the whole hash chain, over the
//! rows of any [`LogSource`] (the collector's `audit` command reads them from its store).
//!
//! Walking the log in `seq` order, each receipt must: carry a valid signature by a key of the
//! ring; have a payload whose `seq`, `id`, `site`, `ref`, … equal the row's columns (so an
//! edited column or a reordered row is caught); for payloads v1 and v2, link with `prev` to
//! the SHA-256 of the previous receipt's JWS (so an edited, deleted or inserted receipt breaks
//! the next link; v3 has no `prev`, its order is sealed by the signed `seq` and the log's
//! Merkle tree, which the collector's `audit` rebuilds);
//! follow its predecessor without a gap in `seq` (so deletions are named precisely); and
//! have exactly the subject index its payload implies (v1: the hashes it lists; v2: one entry
//! per commitment, and the commitments' salt). Finally the log must end where
//! `chain_head` says, which catches receipts removed from the end. The report names the
//! first broken `seq`.
//!
//! Lifecycle changes are not breaks: a receipt purged by retention left a tombstone (its
//! `seq` and JWS hash), which links the chain across the gap; a receipt whose subject index
//! was erased on request has an `erasures` row, and then must have no subject hashes and no
//! salt (so has a withdrawal of such a receipt, whose index the writer never creates).
//! Every receipt that a later receipt withdrew or may supersede must be in `followed`, the
//! index the admin queries read statuses through (schema v4).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;

use crate::chain::{GENESIS_PREV, LogRow, LogSource, link_hash};
use crate::jws::{JwsError, VerifiedJws, verify_compact_batch};
use crate::keyset::PublicKeys;
use crate::log::{Hash, receipt_leaf_hash};
use crate::payload::ReceiptPayload;

/// Findings kept; past this the report only says there were more.
const MAX_FINDINGS: usize = 1000;

/// What is wrong at one position of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Receipts `from..=to` are not in the log.
    #[allow(missing_docs)]
    Missing { from: i64, to: i64 },
    /// The JWS does not verify.
    Signature(JwsError),
    /// The signed payload is not a receipt.
    Payload(String),
    /// A column disagrees with the signed payload.
    Mismatch {
        /// The column's name.
        field: &'static str,
        /// What the column holds.
        column: String,
        /// What the signed payload says.
        signed: String,
    },
    /// `prev` is not the hash of the previous receipt in the log.
    BrokenLink,
    /// `subject_hashes` rows (or the commitments' salt) differ from the payload's identifiers.
    SubjectIndex,
    /// A later receipt withdrew or may supersede this one, but `followed` does not say so:
    /// the admin views would show it as still given.
    StatusIndex,
    /// The log ends before the recorded chain head.
    Truncated {
        /// `seq` of the last receipt read.
        last_seq: i64,
    },
    /// The last receipt is not the one the chain head records.
    HeadMismatch,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { from, to } if from == to => write!(f, "receipt {from} is missing (deleted)"),
            Self::Missing { from, to } => write!(f, "receipts {from} to {to} are missing (deleted)"),
            Self::Signature(e) => write!(f, "signature check failed: {e}"),
            Self::Payload(e) => write!(f, "signed payload is not a receipt: {e}"),
            Self::Mismatch { field, column, signed } => write!(
                f,
                "column `{field}` is `{column}` but the signed receipt says `{signed}` (row edited or reordered)"
            ),
            Self::BrokenLink => f.write_str(
                "`prev` does not match the previous receipt: a receipt before it was edited, deleted, inserted or moved",
            ),
            Self::SubjectIndex => f.write_str(
                "subject_hashes rows or the subject salt do not match the receipt's identifiers",
            ),
            Self::StatusIndex => f.write_str(
                "a later receipt withdrew or may supersede this receipt but it is missing from `followed` (row deleted)",
            ),
            Self::Truncated { last_seq } => write!(
                f,
                "the chain head records this receipt but the log ends at {last_seq}: receipts were deleted from the end"
            ),
            Self::HeadMismatch => f.write_str("the last receipt is not the one the chain head records"),
        }
    }
}

/// One problem at one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The position.
    pub seq: i64,
    /// What is wrong there.
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}: {}", self.seq, self.problem)
    }
}

/// The outcome of an audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Receipts read.
    pub receipts: u64,
    /// `seq` of the last receipt read (0 for an empty log).
    pub last_seq: i64,
    /// Problems in `seq` order.
    pub findings: Vec<Finding>,
    /// More problems were found than the report keeps (1000).
    pub truncated: bool,
}

impl AuditReport {
    /// Nothing found: every signature and link checked out.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }

    /// The earliest position where the log is broken.
    pub fn first_broken(&self) -> Option<&Finding> {
        self.findings.first()
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first_broken() {
            None => write!(
                f,
                "audit ok: {} receipts, signatures and chain intact (last seq {})",
                self.receipts, self.last_seq
            ),
            Some(first) => {
                writeln!(f, "audit FAILED: first broken seq {}", first.seq)?;
                for finding in &self.findings {
                    writeln!(f, "  {finding}")?;
                }
                if self.truncated {
                    writeln!(f, "  … more problems not shown")?;
                }
                write!(
                    f,
                    "{} receipts read, last seq {}",
                    self.receipts, self.last_seq
                )
            }
        }
    }
}

/// Each receipt's `seq` and transparency-log leaf hash, in log order.
pub type Leaves = Vec<(i64, Hash)>;

/// One column's check: its name, whether it equals the signed value, and both as text for
/// the finding.
type Column<'a> = (
    &'static str,
    &'a dyn Fn() -> bool,
    &'a dyn Fn() -> (String, String),
);

/// Rows read before they are checked together, spread over the machine's cores.
const VERIFY_CHUNK: usize = 4096;

/// Rows one core checks at a time, their signatures as one batch
/// (`jws::verify_compact_batch`); a chunk is four of them, two for each of two cores.
const BATCH: usize = 1024;

/// Audits the whole log read through `reader` against the signing keys `keys`.
pub fn audit<S>(reader: &S, keys: &PublicKeys) -> Result<AuditReport, S::Error>
where
    S: LogSource + Sync,
    S::Error: Send,
{
    Ok(walk(reader, keys, false)?.0)
}

/// [`audit`], and each receipt's position and transparency-log leaf hash
/// ([`receipt_leaf_hash`] of its JWS) in log order: what a rebuild of the log's tree needs,
/// without reading every receipt a second time.
pub fn audit_with_leaves<S>(
    reader: &S,
    keys: &PublicKeys,
) -> Result<(AuditReport, Leaves), S::Error>
where
    S: LogSource + Sync,
    S::Error: Send,
{
    walk(reader, keys, true)
}

fn walk<S>(
    reader: &S,
    keys: &PublicKeys,
    with_leaves: bool,
) -> Result<(AuditReport, Leaves), S::Error>
where
    S: LogSource + Sync,
    S::Error: Send,
{
    let mut walk = Walk {
        report: AuditReport::default(),
        prev_hash: GENESIS_PREV.to_owned(),
        tombstones: reader.tombstones()?,
        leaves: Vec::new(),
        with_leaves,
    };
    let erased = reader.erased()?;
    // Everything about one receipt but its place in the log (signature, payload, columns,
    // subject index, hashes) is independent of the others: it runs a batch at a time on
    // every core, on a thread of its own while the next chunk of rows is read; the walk
    // then takes the results in order (gaps, links). Signatures are most of the work.
    let (scanned, unmarked) = std::thread::scope(|scope| {
        // `followed`'s check is one query over the whole log (a second of a million
        // receipts' time): it runs beside the walk.
        let unmarked = scope.spawn(|| reader.unmarked_followed());
        let (send, chunks) = std::sync::mpsc::sync_channel::<Vec<LogRow>>(1);
        let erased = &erased;
        let checker = scope.spawn(move || {
            for rows in chunks {
                let groups: Vec<&[LogRow]> = rows.chunks(BATCH).collect();
                let checked = crate::parallel::map_in_order(&groups, 2, usize::MAX, |group| {
                    check_group(group, keys, erased)
                });
                for (row, checked) in rows.iter().zip(checked.into_iter().flatten()) {
                    walk.visit(row, checked);
                }
            }
            walk
        });
        let mut chunk = Vec::with_capacity(VERIFY_CHUNK);
        let scanned = reader.scan_log(&mut |row| {
            chunk.push(row);
            if chunk.len() == VERIFY_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(VERIFY_CHUNK));
                if send.send(full).is_err() {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !chunk.is_empty() {
            let _ = send.send(chunk);
        }
        drop(send);
        let joined = checker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let unmarked = unmarked
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (scanned.map(|()| joined), unmarked)
    });
    walk = scanned?;
    for seq in unmarked? {
        walk.push(seq, Problem::StatusIndex);
    }
    let head = reader.head()?;
    if let Some(head) = &head {
        // Purged receipts at the end of the log.
        walk.cross_tombstones(head.seq + 1);
    }
    let last = walk.report.last_seq;
    match head {
        Some(head) if head.seq > last => walk.push(head.seq, Problem::Truncated { last_seq: last }),
        Some(head) if head.seq == last && head.jws_sha256 != walk.prev_hash => {
            walk.push(head.seq, Problem::HeadMismatch);
        }
        None if last > 0 => walk.push(last, Problem::HeadMismatch),
        _ => {}
    }
    let mut report = walk.report;
    report.findings.sort_by_key(|f| f.seq);
    Ok((report, walk.leaves))
}

struct Walk {
    report: AuditReport,
    /// SHA-256 of the previous row's JWS: what this row's `prev` must be.
    prev_hash: String,
    tombstones: BTreeMap<i64, String>,
    /// Each receipt's position and leaf hash, when asked for.
    leaves: Leaves,
    with_leaves: bool,
}

/// What one receipt's own checks found, before its place in the log is looked at.
struct Checked {
    /// SHA-256 of its JWS (hex): what the next receipt of a v1/v2 chain links to.
    jws_sha256: String,
    leaf: Hash,
    /// The first problem of the receipt itself, or what its place must satisfy.
    outcome: Result<Sound, Problem>,
}

/// A receipt whose signature, payload and columns checked out.
struct Sound {
    link: Link,
    /// Its subject index and salt are what its payload implies.
    indexed: bool,
}

/// What a receipt says about the one before it.
enum Link {
    /// v3: nothing (the tree orders the log).
    None,
    /// v1/v2: the SHA-256 of the JWS before it.
    To(String),
    /// A v3 payload carrying `prev`, or a v1/v2 one without it.
    Wrong,
}

impl Walk {
    fn push(&mut self, seq: i64, problem: Problem) {
        if self.report.findings.len() < MAX_FINDINGS {
            self.report.findings.push(Finding { seq, problem });
        } else {
            self.report.truncated = true;
        }
    }

    /// Steps over tombstones that follow the last position read, up to `until`
    /// (exclusive): each takes the place of its purged receipt in the chain.
    fn cross_tombstones(&mut self, until: i64) {
        while self.report.last_seq + 1 < until {
            let Some(hash) = self.tombstones.get(&(self.report.last_seq + 1)) else {
                break;
            };
            self.prev_hash = hash.clone();
            self.report.last_seq += 1;
        }
    }

    /// Takes one receipt's checks at its place in the log: gaps, its link, the stored hash.
    fn visit(&mut self, log: &LogRow, checked: Checked) {
        let row = &log.row;
        self.cross_tombstones(row.seq);
        let expected = self.report.last_seq + 1;
        if row.seq > expected {
            self.push(
                expected,
                Problem::Missing {
                    from: expected,
                    to: row.seq - 1,
                },
            );
        }
        self.report.receipts += 1;
        self.report.last_seq = row.seq;
        if self.with_leaves {
            self.leaves.push((row.seq, checked.leaf));
        }
        let prev_hash = std::mem::replace(&mut self.prev_hash, checked.jws_sha256);
        let problem = match checked.outcome {
            Err(problem) => Some(problem),
            Ok(Sound { link, indexed }) => {
                let linked = match link {
                    Link::None => true,
                    Link::To(prev) => prev == prev_hash,
                    Link::Wrong => false,
                };
                if !linked {
                    Some(Problem::BrokenLink)
                } else if !indexed {
                    Some(Problem::SubjectIndex)
                } else if log.jws_sha256 != self.prev_hash {
                    // The stored hash matters once the receipt itself is sound: the writer
                    // chains the next receipt to it after a restart.
                    Some(mismatch("jws_sha256", &log.jws_sha256, &self.prev_hash))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            self.push(row.seq, problem);
        }
    }
}

/// The checks of a few receipts that need nothing but the receipts, their signatures
/// checked as one batch.
fn check_group(rows: &[LogRow], keys: &PublicKeys, erased: &HashSet<i64>) -> Vec<Checked> {
    let jws: Vec<&str> = rows.iter().map(|r| r.row.jws.as_str()).collect();
    let verified = verify_compact_batch(&jws, keys);
    rows.iter()
        .zip(verified)
        .map(|(log, signature)| Checked {
            jws_sha256: link_hash(&log.row.jws),
            leaf: receipt_leaf_hash(&log.row.jws),
            outcome: check(log, signature, erased),
        })
        .collect()
}

/// The first thing wrong with one receipt on its own, else what its place must satisfy.
fn check(
    log: &LogRow,
    signature: Result<VerifiedJws, JwsError>,
    erased: &HashSet<i64>,
) -> Result<Sound, Problem> {
    let row = &log.row;
    let verified = signature.map_err(Problem::Signature)?;
    let payload: ReceiptPayload =
        serde_json::from_slice(&verified.payload).map_err(|e| Problem::Payload(e.to_string()))?;
    // v2 signs no browser identifier; v1's must equal its column.
    let browser = payload
        .subject
        .browser_id
        .as_deref()
        .unwrap_or(&log.browser_id);
    // Compared without copying (a million rows per audit); the texts are made only for
    // the finding. Optional columns are shown as `Some("…")`/`None`.
    let optional = |v: &Option<String>| format!("{v:?}");
    let columns: [Column<'_>; 13] = [
        ("seq", &|| row.seq == payload.seq, &|| {
            (row.seq.to_string(), payload.seq.to_string())
        }),
        ("id", &|| row.id == payload.id, &|| {
            (row.id.clone(), payload.id.clone())
        }),
        ("issued_at", &|| row.issued_at == payload.issued_at, &|| {
            (row.issued_at.clone(), payload.issued_at.clone())
        }),
        ("site", &|| row.site == payload.site, &|| {
            (row.site.clone(), payload.site.clone())
        }),
        ("ref", &|| row.reference == payload.reference, &|| {
            (row.reference.clone(), payload.reference.clone())
        }),
        ("kind", &|| row.kind == payload.kind.as_str(), &|| {
            (row.kind.clone(), payload.kind.as_str().to_owned())
        }),
        ("event", &|| row.event == payload.event.as_str(), &|| {
            (row.event.clone(), payload.event.as_str().to_owned())
        }),
        (
            "policy_version",
            &|| row.policy_version == payload.policy.version,
            &|| (row.policy_version.clone(), payload.policy.version.clone()),
        ),
        ("lang", &|| row.lang == payload.notice.lang, &|| {
            (row.lang.clone(), payload.notice.lang.clone())
        }),
        (
            "form_id",
            &|| row.form_id == payload.context.form_id,
            &|| (optional(&row.form_id), optional(&payload.context.form_id)),
        ),
        ("browser_id", &|| log.browser_id == browser, &|| {
            (log.browser_id.clone(), browser.to_owned())
        }),
        ("kid", &|| row.kid == verified.kid, &|| {
            (row.kid.clone(), verified.kid.clone())
        }),
        ("withdraws", &|| row.withdraws == payload.withdraws, &|| {
            (optional(&row.withdraws), optional(&payload.withdraws))
        }),
    ];
    for (field, same, shown) in columns {
        if !same() {
            let (column, signed) = shown();
            return Err(Problem::Mismatch {
                field,
                column,
                signed,
            });
        }
    }
    // v1 and v2 link to the JWS before them; v3 has no link (the tree orders the log,
    // `seq` is signed) and may not carry one.
    let link = match (payload.v >= 3, payload.prev) {
        (true, None) => Link::None,
        (false, Some(prev)) => Link::To(prev),
        _ => Link::Wrong,
    };
    let erased = erased.contains(&row.seq);
    let index: Vec<&str> = log.subject_hmacs.iter().map(String::as_str).collect();
    let indexed = if payload.v >= 2 {
        // The index is the site's keyed hash, the payload a commitment under the salt: one
        // entry per commitment, and the salt while the subject is not erased.
        let commitments = payload
            .subject
            .identifiers
            .iter()
            .filter(|i| i.commitment.is_some() && i.hmac.is_none())
            .count();
        let signed = payload.subject.identifiers.len();
        let expected = if erased { 0 } else { signed };
        commitments == signed
            && index.len() == expected
            && log.subject_salt.is_some() == (expected > 0)
    } else {
        let mut signed: Vec<&str> = payload
            .subject
            .identifiers
            .iter()
            .filter_map(|i| i.hmac.as_deref())
            .collect();
        signed.sort_unstable();
        signed.dedup();
        if erased {
            // Erased on request: the index must be gone, the signed hashes stay.
            signed.clear();
        }
        signed == index && log.subject_salt.is_none()
    };
    Ok(Sound { link, indexed })
}

fn mismatch(field: &'static str, column: &str, signed: &str) -> Problem {
    Problem::Mismatch {
        field,
        column: column.to_owned(),
        signed: signed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_names_the_first_broken_seq() {
        let report = AuditReport {
            receipts: 4,
            last_seq: 5,
            findings: vec![
                Finding {
                    seq: 3,
                    problem: Problem::Missing { from: 3, to: 3 },
                },
                Finding {
                    seq: 4,
                    problem: Problem::BrokenLink,
                },
            ],
            truncated: false,
        };
        expect_test::expect![[r#"
            audit FAILED: first broken seq 3
              seq 3: receipt 3 is missing (deleted)
              seq 4: `prev` does not match the previous receipt: a receipt before it was edited, deleted, inserted or moved
            4 receipts read, last seq 5"#]]
        .assert_eq(&report.to_string());
        let ok = AuditReport {
            receipts: 2,
            last_seq: 2,
            ..AuditReport::default()
        };
        assert_eq!(
            ok.to_string(),
            "audit ok: 2 receipts, signatures and chain intact (last seq 2)"
        );
    }
}
