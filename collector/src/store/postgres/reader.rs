//! PostgreSQL's receipt reads and the audit's log source, over the read pool: the same
//! questions as SQLite's `reader.rs`, in PostgreSQL's SQL.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;

use postgres::Row;

use super::PgError;
use super::pool::Pool;
use crate::log::LogSource;
use crate::receipt::subject::IdentifierKind;
use crate::receipt::{IndexEntry, Private};
use crate::store::{ConsentStatus, Head, LogRow, ReceiptReads, ReceiptRow, StoreError};

/// Receipts the audit reads per query.
const SCAN_CHUNK: i64 = 10_000;

pub(super) const ROW_COLUMNS: &str = "seq, id, issued_at, site, kind, event, ref, policy_version, lang, form_id, kid, jws, withdraws, holder_sha256";

pub(super) fn receipt_row(r: &Row) -> Result<ReceiptRow, PgError> {
    Ok(ReceiptRow {
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        issued_at: r.try_get(2)?,
        site: r.try_get(3)?,
        kind: r.try_get(4)?,
        event: r.try_get(5)?,
        reference: r.try_get(6)?,
        policy_version: r.try_get(7)?,
        lang: r.try_get(8)?,
        form_id: r.try_get(9)?,
        kid: r.try_get(10)?,
        jws: r.try_get(11)?,
        withdraws: r.try_get(12)?,
        holder_sha256: r.try_get(13)?,
    })
}

fn rows(found: &[Row]) -> Result<Vec<ReceiptRow>, PgError> {
    found.iter().map(receipt_row).collect()
}

/// One [`ConsentStatus`] per row of `receipts r`.
const STATUS_SELECT: &str = "SELECT r.id, r.event,
     (SELECT w.issued_at FROM receipts w WHERE w.withdraws = r.id) FROM receipts r";

fn status_row(r: &Row) -> Result<ConsentStatus, PgError> {
    Ok(ConsentStatus {
        id: r.try_get(0)?,
        event: r.try_get(1)?,
        withdrawn_at: r.try_get(2)?,
    })
}

impl ReceiptReads for Pool {
    fn count(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(c.query_one("SELECT count(*) FROM receipts", &[])?
                .try_get(0)?)
        })
    }

    fn by_id(&self, id: &str) -> Result<Option<ReceiptRow>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {ROW_COLUMNS} FROM receipts WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(receipt_row)
            .transpose()
        })
    }

    fn by_ref(&self, reference: &str, sites: &[String]) -> Result<Vec<ReceiptRow>, StoreError> {
        self.with(|c| {
            rows(&c.query(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM receipts WHERE site = ANY($1) AND ref = $2 ORDER BY seq"
                ),
                &[&sites, &reference],
            )?)
        })
    }

    fn withdrawal_of(&self, id: &str) -> Result<Option<ReceiptRow>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {ROW_COLUMNS} FROM receipts WHERE withdraws = $1"),
                &[&id],
            )?
            .as_ref()
            .map(receipt_row)
            .transpose()
        })
    }

    fn status_by_id(&self, id: &str) -> Result<Option<ConsentStatus>, StoreError> {
        self.with(|c| {
            c.query_opt(&format!("{STATUS_SELECT} WHERE r.id = $1"), &[&id])?
                .as_ref()
                .map(status_row)
                .transpose()
        })
    }

    fn status_by_ref(
        &self,
        reference: &str,
        sites: &[String],
    ) -> Result<Vec<ConsentStatus>, StoreError> {
        self.with(|c| {
            c.query(
                &format!("{STATUS_SELECT} WHERE r.site = ANY($1) AND r.ref = $2 ORDER BY r.seq"),
                &[&sites, &reference],
            )?
            .iter()
            .map(status_row)
            .collect()
        })
    }

    fn list(&self, site: Option<&str>, limit: u32) -> Result<Vec<ReceiptRow>, StoreError> {
        self.with(|c| {
            rows(&c.query(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM receipts WHERE ($1::text IS NULL OR site = $1)
                     ORDER BY seq DESC LIMIT $2"
                ),
                &[&site, &i64::from(limit)],
            )?)
        })
    }

    fn by_subject_hmac(&self, hmac: &str) -> Result<Vec<ReceiptRow>, StoreError> {
        self.with(|c| {
            rows(&c.query(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM receipts
                     WHERE seq IN (SELECT seq FROM subject_hashes WHERE hmac = $1) ORDER BY seq"
                ),
                &[&hmac],
            )?)
        })
    }

    fn private_of(&self, seq: i64) -> Result<Private, StoreError> {
        self.with(|c| {
            let row = c.query_one(
                "SELECT browser_id, subject_salt FROM receipts WHERE seq = $1",
                &[&seq],
            )?;
            let index = c
                .query(
                    "SELECT hmac, kind FROM subject_hashes WHERE seq = $1 ORDER BY hmac",
                    &[&seq],
                )?
                .iter()
                .map(|r| {
                    let kind: String = r.try_get(1)?;
                    Ok(IndexEntry {
                        kind: if kind == "email" {
                            IdentifierKind::Email
                        } else {
                            IdentifierKind::Phone
                        },
                        hmac: r.try_get(0)?,
                    })
                })
                .collect::<Result<_, PgError>>()?;
            Ok(Private {
                browser: row.try_get(0)?,
                index,
                salt: row.try_get(1)?,
                holder_sha256: None,
            })
        })
    }

    fn proven_browsers(&self, seqs: &[i64]) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT DISTINCT browser_id FROM receipts
                 WHERE seq = ANY($1) AND length(browser_id) = 64",
                &[&seqs],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn sites(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.query("SELECT DISTINCT site FROM receipts ORDER BY site", &[])?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        })
    }

    /// The database's size as the server reports it (tables, indexes, TOAST).
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let size: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .try_get(0)?;
            Ok(u64::try_from(size).unwrap_or(0))
        })
    }
}

/// The audit walks the log through the read pool, in one snapshot.
impl LogSource for Pool {
    type Error = StoreError;

    fn head(&self) -> Result<Option<Head>, StoreError> {
        self.with(|c| {
            c.query_opt("SELECT seq, jws_sha256 FROM chain_head WHERE id = 1", &[])?
                .map(|r| {
                    Ok(Head {
                        seq: r.try_get(0)?,
                        jws_sha256: r.try_get(1)?,
                    })
                })
                .transpose()
        })
    }

    /// Visits every receipt in `seq` order with its subject hashes, all read in one
    /// repeatable-read snapshot (what collectors commit meanwhile is not seen). A thread of
    /// its own reads chunks of receipts and hands the rows over, so `visit` runs on the
    /// caller's thread, also inside an async runtime; a break stops the reading.
    fn scan_log(&self, visit: &mut dyn FnMut(LogRow) -> ControlFlow<()>) -> Result<(), StoreError> {
        let (send, receive) = crossbeam_channel::bounded::<LogRow>(SCAN_CHUNK as usize);
        std::thread::scope(|s| {
            let scan = s.spawn(move || self.leased(|c| scan_into(c, &send)));
            for row in receive.iter() {
                if visit(row).is_break() {
                    break;
                }
            }
            drop(receive);
            scan.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn tombstones(&self) -> Result<BTreeMap<i64, String>, StoreError> {
        self.with(|c| {
            c.query("SELECT seq, jws_sha256 FROM tombstones", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn unmarked_followed(&self) -> Result<Vec<i64>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT seq FROM (
                     SELECT seq, lead(seq) OVER (PARTITION BY browser_id, kind ORDER BY seq) AS later
                     FROM receipts
                 ) t WHERE later IS NOT NULL AND seq NOT IN (SELECT seq FROM followed)
                 UNION
                 SELECT r.seq FROM receipts w JOIN receipts r ON r.id = w.withdraws
                 WHERE w.withdraws IS NOT NULL AND r.seq NOT IN (SELECT seq FROM followed)
                 ORDER BY 1",
                &[],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn erased(&self) -> Result<HashSet<i64>, StoreError> {
        self.with(|c| {
            c.query("SELECT seq FROM erasures", &[])?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        })
    }
}

/// Sends every receipt of the log, in order, until the receiver hangs up.
fn scan_into(
    c: &mut postgres::Client,
    send: &crossbeam_channel::Sender<LogRow>,
) -> Result<(), PgError> {
    let mut tx = c
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let mut after = 0_i64;
    loop {
        let found = tx.query(
            &format!(
                "SELECT {ROW_COLUMNS}, browser_id, jws_sha256, subject_salt FROM receipts
                 WHERE seq > $1 ORDER BY seq LIMIT $2"
            ),
            &[&after, &SCAN_CHUNK],
        )?;
        let Some(last) = found.last() else {
            return Ok(());
        };
        let last: i64 = last.try_get(0)?;
        let mut hashes: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for h in tx.query(
            "SELECT seq, hmac FROM subject_hashes WHERE seq > $1 AND seq <= $2 ORDER BY seq, hmac",
            &[&after, &last],
        )? {
            hashes.entry(h.try_get(0)?).or_default().push(h.try_get(1)?);
        }
        for r in &found {
            let row = receipt_row(r)?;
            let subject_hmacs = hashes.remove(&row.seq).unwrap_or_default();
            let log_row = LogRow {
                row,
                browser_id: r.try_get(14)?,
                jws_sha256: r.try_get(15)?,
                subject_hmacs,
                subject_salt: r.try_get(16)?,
            };
            if send.send(log_row).is_err() {
                return Ok(());
            }
        }
        after = last;
    }
}
