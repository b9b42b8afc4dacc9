//! SQLite's read side: a small pool of `query_only` connections, and over it the receipts'
//! reads, the audit's log source and the transparency log's reads (the rows themselves are
//! `tree.rs`'s and `witness.rs`'s). Every method blocks; async callers run them in
//! `web::block`.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, OptionalExtension, params};

use super::{SCHEMA_VERSION, connect, read_head, schema_version, tree, witness};
use kelisim_receipt::log::{Hash, TreeHead};

use crate::log::LogSource;
use crate::log::tree::{Cosignature, Inclusion, StoredCheckpoint, TreeReads};
use crate::receipt::subject::IdentifierKind;
use crate::receipt::{IndexEntry, Private};
use crate::store::{ConsentStatus, Head, LogRow, ReceiptReads, ReceiptRow, StoreError};

/// A pool of read connections (`query_only`). Methods block.
pub(super) struct ReadPool {
    path: PathBuf,
    put: Sender<Connection>,
    take: Receiver<Connection>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

pub(super) const ROW_COLUMNS: &str = "seq, id, issued_at, site, kind, event, ref, policy_version, lang, form_id, kid, jws, withdraws, holder_sha256";

pub(super) fn receipt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReceiptRow> {
    Ok(ReceiptRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        issued_at: r.get(2)?,
        site: r.get(3)?,
        kind: r.get(4)?,
        event: r.get(5)?,
        reference: r.get(6)?,
        policy_version: r.get(7)?,
        lang: r.get(8)?,
        form_id: r.get(9)?,
        kid: r.get(10)?,
        jws: r.get(11)?,
        withdraws: r.get(12)?,
        holder_sha256: r.get(13)?,
    })
}

/// One [`ConsentStatus`] per row of `receipts r`; the withdrawal is a seek into the unique
/// `receipts_withdraws` index.
const STATUS_SELECT: &str = "SELECT r.id, r.event,
     (SELECT w.issued_at FROM receipts w WHERE w.withdraws = r.id) FROM receipts r";

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConsentStatus> {
    Ok(ConsentStatus {
        id: r.get(0)?,
        event: r.get(1)?,
        withdrawn_at: r.get(2)?,
    })
}

/// A connection borrowed from the pool, returned on drop.
struct Lease<'a> {
    conn: Option<Connection>,
    pool: &'a Sender<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.pool.send(conn);
        }
    }
}

impl ReadPool {
    pub(super) fn open(path: &Path, size: usize) -> Result<ReadPool, StoreError> {
        let (put, take) = crossbeam_channel::bounded(size);
        for _ in 0..size {
            let conn = connect(path, false)?;
            conn.pragma_update(None, "query_only", "ON")?;
            let found = schema_version(&conn)?;
            let shown = path.display().to_string();
            if found > SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    path: shown,
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < SCHEMA_VERSION {
                return Err(StoreError::SchemaTooOld {
                    path: shown,
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            // The channel has room for exactly `size` connections.
            put.send(conn).map_err(|_| StoreError::WriterStopped)?;
        }
        Ok(ReadPool {
            path: path.to_owned(),
            put,
            take,
        })
    }

    /// Runs `f` on a pooled connection; the connection goes back even if `f` panics.
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let conn = self.take.recv().map_err(|_| StoreError::WriterStopped)?;
        let lease = Lease {
            conn: Some(conn),
            pool: &self.put,
        };
        let conn = lease.conn.as_ref().ok_or(StoreError::WriterStopped)?;
        Ok(f(conn)?)
    }
}

impl ReceiptReads for ReadPool {
    /// Number of receipts in the log.
    fn count(&self) -> Result<i64, StoreError> {
        self.with(|c| c.query_row("SELECT count(*) FROM receipts", [], |r| r.get(0)))
    }

    /// The receipt with this UUID.
    fn by_id(&self, id: &str) -> Result<Option<ReceiptRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM receipts WHERE id = ?1"))?
                .query_row([id], receipt_row)
                .optional()
        })
    }

    /// The withdrawal of the receipt `id`, if it was withdrawn.
    fn withdrawal_of(&self, id: &str) -> Result<Option<ReceiptRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM receipts WHERE withdraws = ?1"
            ))?
            .query_row([id], receipt_row)
            .optional()
        })
    }

    /// The status of the receipt with this UUID.
    fn status_by_id(&self, id: &str) -> Result<Option<ConsentStatus>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("{STATUS_SELECT} WHERE r.id = ?1"))?
                .query_row([id], status_row)
                .optional()
        })
    }

    /// The statuses of the receipts with this reference on any of `sites`, as [`Self::by_ref`]
    /// finds them.
    fn status_by_ref(
        &self,
        reference: &str,
        sites: &[String],
    ) -> Result<Vec<ConsentStatus>, StoreError> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached(&format!("{STATUS_SELECT} WHERE r.site = ?1 AND r.ref = ?2"))?;
            let mut rows = Vec::new();
            for site in sites {
                if let Some(row) = stmt
                    .query_row(params![site, reference], status_row)
                    .optional()?
                {
                    rows.push(row);
                }
            }
            Ok(rows)
        })
    }

    /// Bytes the database occupies on disk, with its write-ahead log.
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let wal = {
            let mut name = self.path.as_os_str().to_owned();
            name.push("-wal");
            PathBuf::from(name)
        };
        Ok([self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum())
    }

    /// Receipts with this reference (idempotency key) on any of `sites` — one index seek
    /// per site. More than one only if different sites' widgets chose the same key.
    fn by_ref(&self, reference: &str, sites: &[String]) -> Result<Vec<ReceiptRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM receipts WHERE site = ?1 AND ref = ?2"
            ))?;
            let mut rows = Vec::new();
            for site in sites {
                if let Some(row) = stmt
                    .query_row(params![site, reference], receipt_row)
                    .optional()?
                {
                    rows.push(row);
                }
            }
            rows.sort_by_key(|r| r.seq);
            Ok(rows)
        })
    }

    /// The newest `limit` receipts, newest first, optionally of one site.
    fn list(&self, site: Option<&str>, limit: u32) -> Result<Vec<ReceiptRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM receipts WHERE (?1 IS NULL OR site = ?1) ORDER BY seq DESC LIMIT ?2"
            ))?;
            stmt.query_map(params![site, limit], receipt_row)?.collect()
        })
    }

    /// What the collector keeps beside receipt `seq` (its browser pseudonym, subject index
    /// entries and commitment salt), for a withdrawal that repeats it. The holder hash is
    /// not copied: a withdrawal is not withdrawn.
    fn private_of(&self, seq: i64) -> Result<Private, StoreError> {
        self.with(|c| {
            let (browser, salt): (String, Option<String>) = c
                .prepare_cached("SELECT browser_id, subject_salt FROM receipts WHERE seq = ?1")?
                .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let index = c
                .prepare_cached(
                    "SELECT hmac, kind FROM subject_hashes WHERE seq = ?1 ORDER BY hmac",
                )?
                .query_map([seq], |r| {
                    let kind: String = r.get(1)?;
                    Ok(IndexEntry {
                        kind: if kind == "email" {
                            IdentifierKind::Email
                        } else {
                            IdentifierKind::Phone
                        },
                        hmac: r.get(0)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(Private {
                browser,
                index,
                salt,
                holder_sha256: None,
            })
        })
    }

    /// The browser pseudonyms of receipts `seqs` that a browser proved, i.e. payload v2's
    /// keyed hashes of a secret only that browser holds (64 hex digits). v1's clear ids
    /// (32 hex digits) were shown in every public receipt, so anyone could claim one.
    fn proven_browsers(&self, seqs: &[i64]) -> Result<Vec<String>, StoreError> {
        let list = serde_json::to_string(seqs).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            c.prepare_cached(
                "SELECT DISTINCT browser_id FROM receipts
                 WHERE seq IN (SELECT value FROM json_each(?1)) AND length(browser_id) = 64",
            )?
            .query_map([list], |r| r.get(0))?
            .collect()
        })
    }

    /// The sites the log has receipts of.
    fn sites(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.prepare_cached("SELECT DISTINCT site FROM receipts ORDER BY site")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }

    /// Receipts whose subject has this keyed hash (admin search by phone/e-mail).
    fn by_subject_hmac(&self, hmac: &str) -> Result<Vec<ReceiptRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM receipts WHERE seq IN (SELECT seq FROM subject_hashes WHERE hmac = ?1) ORDER BY seq"
            ))?;
            stmt.query_map([hmac], receipt_row)?.collect()
        })
    }
}

/// The audit walks the log through the read pool.
impl LogSource for ReadPool {
    type Error = StoreError;

    /// What `chain_head` records as the last committed receipt.
    fn head(&self) -> Result<Option<Head>, StoreError> {
        self.with(read_head)
    }

    /// Visits every receipt in `seq` order with its subject hashes, until `visit` breaks.
    fn scan_log(&self, visit: &mut dyn FnMut(LogRow) -> ControlFlow<()>) -> Result<(), StoreError> {
        self.with(|c| {
            let mut rows_stmt = c.prepare(&format!(
                "SELECT {ROW_COLUMNS}, browser_id, jws_sha256, subject_salt FROM receipts ORDER BY seq"
            ))?;
            let mut hash_stmt =
                c.prepare("SELECT seq, hmac FROM subject_hashes ORDER BY seq, hmac")?;
            let mut hashes = hash_stmt.query([])?;
            let mut pending: Option<(i64, String)> = None;
            let mut rows = rows_stmt.query([])?;
            while let Some(r) = rows.next()? {
                let row = receipt_row(r)?;
                let browser_id: String = r.get(14)?;
                let jws_sha256: String = r.get(15)?;
                let subject_salt: Option<String> = r.get(16)?;
                // Merge the two seq-ordered scans; hashes of vanished rows are skipped.
                let mut subject_hmacs = Vec::new();
                loop {
                    if pending.is_none() {
                        pending = match hashes.next()? {
                            Some(h) => Some((h.get(0)?, h.get(1)?)),
                            None => None,
                        };
                    }
                    match &pending {
                        Some((seq, _)) if *seq < row.seq => pending = None,
                        Some((seq, _)) if *seq == row.seq => {
                            if let Some((_, hmac)) = pending.take() {
                                subject_hmacs.push(hmac);
                            }
                        }
                        _ => break,
                    }
                }
                if visit(LogRow {
                    row,
                    browser_id,
                    jws_sha256,
                    subject_hmacs,
                    subject_salt,
                })
                .is_break()
                {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Tombstones of purged receipts: `seq` → SHA-256 of the JWS that was there.
    fn tombstones(&self) -> Result<BTreeMap<i64, String>, StoreError> {
        self.with(|c| {
            c.prepare("SELECT seq, jws_sha256 FROM tombstones")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Receipts that have a later receipt of the same browser and kind, or a withdrawal,
    /// but are missing from `followed`: their status would show as `given` although a
    /// later receipt changed it. Empty unless the table was tampered with.
    fn unmarked_followed(&self) -> Result<Vec<i64>, StoreError> {
        self.with(|c| {
            c.prepare(
                "SELECT seq FROM (
                     SELECT seq, lead(seq) OVER (PARTITION BY browser_id, kind ORDER BY seq) AS later
                     FROM receipts
                 ) WHERE later IS NOT NULL AND seq NOT IN (SELECT seq FROM followed)
                 UNION
                 SELECT r.seq FROM receipts w JOIN receipts r ON r.id = w.withdraws
                 WHERE w.withdraws IS NOT NULL AND r.seq NOT IN (SELECT seq FROM followed)
                 ORDER BY 1",
            )?
            .query_map([], |r| r.get(0))?
            .collect()
        })
    }

    /// Receipts whose subject index was erased.
    fn erased(&self) -> Result<HashSet<i64>, StoreError> {
        self.with(|c| {
            c.prepare("SELECT seq FROM erasures")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }
}

/// The transparency log's rows (`tree.rs`) and the witnesses' (`witness.rs`).
impl TreeReads for ReadPool {
    type Error = StoreError;

    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.with(tree::latest)
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.with(tree::all_checkpoints)
    }

    fn inclusion(&self, id: &str) -> Result<Option<(String, Inclusion)>, StoreError> {
        self.with(|c| Ok(tree::inclusion(c, id)))?
    }

    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        self.with(|c| Ok(tree::consistency(c, from, to)))?
    }

    fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        self.with(|c| Ok(tree::leaf_hashes(c, from, to)))?
    }

    fn cosignatures(&self, size: u64, root: &Hash) -> Result<Vec<Cosignature>, StoreError> {
        self.with(|c| witness::cosignatures(c, size, root))
    }

    fn witnessed(&self) -> Result<Option<(StoredCheckpoint, Vec<Cosignature>)>, StoreError> {
        self.with(witness::witnessed)
    }

    fn last_cosigned(&self, witness: &str) -> Result<u64, StoreError> {
        self.with(|c| witness::last_cosigned(c, witness))
    }

    fn witness_head(&self, origin: &str) -> Result<Option<TreeHead>, StoreError> {
        self.with(|c| witness::head(c, origin))
    }
}
