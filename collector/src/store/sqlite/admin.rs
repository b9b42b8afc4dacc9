//! SQLite's admin changes ([`Maintenance`]): tokens, the admin audit trail, and the
//! lifecycle changes (retention purge, erasure requests with their deadline).
//!
//! Changes are plain functions on a transaction, run either by the writer thread (in a
//! running collector, as [`Maintenance`] jobs) or by [`maintain_offline`] (the CLI), so both
//! paths execute the same SQL. The admin's reads are in `queries`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{connect, migrate};
use crate::store::erasure::{self, ErasureTx, RequestState};
use crate::store::{Affected, AuditEntry, ErasureRequest, Maintenance, StoreError};

/// Applies `op` inside `tx`. The outer `Err` aborts the transaction; the inner one is this
/// job's own answer (an erasure request that is not pending), and what the job wrote before
/// it (the audit entry saying so) is committed.
pub(super) fn apply(
    tx: &Transaction<'_>,
    op: &Maintenance,
) -> Result<Result<Affected, StoreError>, rusqlite::Error> {
    let n = match op {
        Maintenance::CreateToken(t) => {
            tx.execute(
                "INSERT INTO admin_tokens (id, secret_sha256, sites, scope, label, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.id,
                    t.secret_sha256,
                    t.sites.join(","),
                    t.scope.as_str(),
                    t.label,
                    t.created_at,
                    t.expires_at
                ],
            )? as u64
        }
        Maintenance::RevokeToken { id, at } => tx.execute(
            "UPDATE admin_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )? as u64,
        Maintenance::Audit(e) => write_audit(tx, e)?,
        Maintenance::Purge { site, cutoff, at } => purge(tx, site, cutoff, at)?,
        Maintenance::RequestErasure(request) => erasure::request(&mut Erasing(tx), request)?,
        Maintenance::ExecuteErasure { site, id, at, by } => {
            return erasure::execute(&mut Erasing(tx), site, id, at, by);
        }
        Maintenance::ExecuteDueErasures { before, at } => {
            erasure::execute_due(&mut Erasing(tx), before, at)?
        }
        Maintenance::RecordHealth {
            site,
            events,
            at,
            forget_before,
            max_rows,
        } => super::health::record(tx, site, events, at, forget_before, *max_rows)?,
        Maintenance::AdvanceWitness { origin, from, to, at } => {
            super::witness::advance(tx, origin, from.as_ref(), to, at)?
        }
        Maintenance::RecordCosignature {
            witness,
            size,
            root,
            line,
            at,
        } => super::witness::record_cosignature(tx, witness, *size, root, line, at)?,
    };
    Ok(Ok(n))
}

fn write_audit(tx: &Transaction<'_>, e: &AuditEntry) -> Result<Affected, rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO admin_audit (at, token_id, site, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![e.at, e.token_id, e.site, e.action, e.detail])
    .map(|n| n as u64)
}

/// A receipt is past retention when it, and its withdrawal if any, were issued before
/// `cutoff`: the retention period runs from the last event of a consent.
fn purge(
    tx: &Transaction<'_>,
    site: &str,
    cutoff: &str,
    at: &str,
) -> Result<Affected, rusqlite::Error> {
    const EXPIRED: &str = "SELECT r.seq FROM receipts r WHERE r.site = ?1 AND r.issued_at < ?2
         AND NOT EXISTS (SELECT 1 FROM receipts w WHERE w.withdraws = r.id AND w.issued_at >= ?2)";
    tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS purge_seqs (seq INTEGER PRIMARY KEY)",
        [],
    )?;
    tx.execute("DELETE FROM temp.purge_seqs", [])?;
    tx.execute(
        &format!("INSERT INTO temp.purge_seqs {EXPIRED}"),
        params![site, cutoff],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO tombstones (seq, jws_sha256, site, purged_at)
         SELECT seq, jws_sha256, site, ?1 FROM receipts WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [at],
    )?;
    tx.execute(
        "DELETE FROM subject_hashes WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    tx.execute(
        "DELETE FROM erasures WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    tx.execute(
        "DELETE FROM followed WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    // A receipt's choices were only ever issued with it, so none is later than the cutoff.
    tx.execute(
        "DELETE FROM cookie_choices WHERE site = ?1 AND issued_at < ?2
                                     AND seq IN (SELECT seq FROM temp.purge_seqs)",
        params![site, cutoff],
    )?;
    let n = tx.execute(
        "DELETE FROM receipts WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    tx.execute("DELETE FROM temp.purge_seqs", [])?;
    Ok(n as u64)
}

/// SQLite's statements for the erasure flow (`store::erasure`).
struct Erasing<'t, 'c>(&'t Transaction<'c>);

impl ErasureTx for Erasing<'_, '_> {
    type Error = rusqlite::Error;

    fn insert_request(&mut self, r: &ErasureRequest) -> Result<(), rusqlite::Error> {
        // The receipts in the log now, including any this batch inserted before this job:
        // the request covers what was stored when it was made, not consents given afterwards
        // (their withdrawals aside, see `erase`).
        self.0
            .prepare_cached(
                "INSERT INTO erasure_requests (id, site, hmacs, received_at, due_at, recorded_at,
                                               recorded_by, up_to_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, max(
                     coalesce((SELECT max(seq) FROM receipts), 0),
                     coalesce((SELECT seq FROM chain_head WHERE id = 1), 0)))",
            )?
            .execute(params![
                r.id,
                r.site,
                // One bound JSON array, read back through `json_each` like the filters' lists.
                serde_json::to_string(&r.hmacs).unwrap_or_else(|_| "[]".into()),
                r.received_at,
                r.due_at,
                r.recorded_at,
                r.recorded_by
            ])?;
        Ok(())
    }

    fn request_state(&mut self, site: &str, id: &str) -> Result<RequestState, rusqlite::Error> {
        let found: Option<(Option<String>, Option<String>)> = self
            .0
            .prepare_cached(
                "SELECT done_at, done_by FROM erasure_requests WHERE id = ?1 AND site = ?2",
            )?
            .query_row(params![id, site], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        // The table's CHECK pairs `done_at` with a carried-out request; `done_by` is set with it.
        Ok(found.map(|(at, by)| at.map(|at| (at, by.unwrap_or_default()))))
    }

    fn carry_out(
        &mut self,
        site: &str,
        id: &str,
        at: &str,
        by: &str,
    ) -> Result<Option<Affected>, rusqlite::Error> {
        let tx = self.0;
        let pending: Option<(String, i64)> = tx
            .prepare_cached(
                "SELECT hmacs, up_to_seq FROM erasure_requests
                 WHERE id = ?1 AND site = ?2 AND done_at IS NULL",
            )?
            .query_row(params![id, site], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((hmacs, up_to_seq)) = pending else {
            return Ok(None);
        };
        let n = erase(tx, site, &hmacs, up_to_seq, at)?;
        tx.prepare_cached(
            "UPDATE erasure_requests SET done_at = ?2, done_by = ?3, receipts = ?4, hmacs = NULL
             WHERE id = ?1",
        )?
        .execute(params![id, at, by, n])?;
        Ok(Some(n))
    }

    fn due(&mut self, before: &str) -> Result<Vec<(String, String, String)>, rusqlite::Error> {
        self.0
            .prepare_cached(
                "SELECT id, site, due_at FROM erasure_requests
                 WHERE done_at IS NULL AND due_at < ?1 ORDER BY due_at",
            )?
            .query_map([before], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
    }

    fn audit(&mut self, entry: &AuditEntry) -> Result<(), rusqlite::Error> {
        write_audit(self.0, entry).map(drop)
    }
}

/// Destroys the subject index of `site`'s receipts up to `up_to_seq` found by `hmacs` (a
/// JSON array), and of the withdrawals of those receipts whenever they were issued: a
/// withdrawal copies the subject of the consent it withdraws, keyed hash included, so one
/// issued while the request was pending would otherwise keep the person in the index.
fn erase(
    tx: &Transaction<'_>,
    site: &str,
    hmacs: &str,
    up_to_seq: i64,
    at: &str,
) -> Result<Affected, rusqlite::Error> {
    let seqs: Vec<i64> = tx
        .prepare_cached(
            "WITH covered AS (
                 SELECT h.seq FROM subject_hashes h JOIN receipts r ON r.seq = h.seq
                 WHERE h.hmac IN (SELECT value FROM json_each(?1)) AND r.site = ?2 AND h.seq <= ?3
             )
             SELECT seq FROM covered
             UNION
             SELECT w.seq FROM covered c JOIN receipts r ON r.seq = c.seq
                 JOIN receipts w ON w.withdraws = r.id
             WHERE EXISTS (SELECT 1 FROM subject_hashes h WHERE h.seq = w.seq)
             ORDER BY 1",
        )?
        .query_map(params![hmacs, site, up_to_seq], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut mark =
        tx.prepare_cached("INSERT OR IGNORE INTO erasures (seq, erased_at) VALUES (?1, ?2)")?;
    let mut drop_index = tx.prepare_cached("DELETE FROM subject_hashes WHERE seq = ?1")?;
    // Without its salt nobody, the operator included, can open the signed commitments again.
    let mut drop_salt =
        tx.prepare_cached("UPDATE receipts SET subject_salt = NULL WHERE seq = ?1")?;
    for seq in &seqs {
        mark.execute(params![seq, at])?;
        drop_index.execute([seq])?;
        drop_salt.execute([seq])?;
    }
    Ok(seqs.len() as u64)
}

/// Applies `op` in its own transaction on a fresh connection: for the CLI, when no
/// collector's writer thread is at hand (SQLite serialises it with a running one).
pub(in crate::store) fn maintain_offline(
    path: &Path,
    op: &Maintenance,
) -> Result<Affected, StoreError> {
    let mut conn = upgraded(path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let answer = apply(&tx, op)?;
    tx.commit()?;
    answer
}

/// Brings an existing database to this binary's schema, as `serve` does when it starts.
pub(in crate::store) fn upgrade_offline(path: &Path) -> Result<(), StoreError> {
    upgraded(path).map(drop)
}

fn upgraded(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.display().to_string(),
        });
    }
    let mut conn = connect(path, false)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::super::queries::*;
    use super::super::reader::ReadPool;
    use super::super::{bulk_load, open_pool};
    use super::*;
    use crate::cli::benchgen::Rng;
    use crate::keys::Signer;
    use crate::log::LogSource;
    use crate::ops::metrics::WriterMetrics;
    use crate::receipt::{Choice, Event, Kind, PreparedReceipt};
    use crate::store::{AdminReads, ReceiptFilter};

    /// Withdrawal and supersession as the admin queries found them before schema v4: looked
    /// for on every row, with no `followed` index in between.
    const EXACT: &str = "SELECT r.seq,
         (SELECT w.id || ' ' || w.issued_at FROM receipts w WHERE w.withdraws = r.id),
         (SELECT s.id FROM receipts s WHERE s.browser_id = r.browser_id AND s.seq > r.seq
            AND s.site = r.site AND s.kind = r.kind AND s.event IN ('given', 'updated', 'refused')
            AND (r.kind = 'cookies' OR s.policy_version <> r.policy_version) ORDER BY s.seq LIMIT 1)
         FROM receipts r ORDER BY r.seq";

    type History = Vec<(i64, Option<(String, String)>, Option<String>)>;

    fn exact(reader: &ReadPool) -> History {
        reader
            .with(|c| {
                c.prepare(EXACT)?
                    .query_map([], |r| {
                        let w: Option<String> = r.get(1)?;
                        Ok((
                            r.get(0)?,
                            w.and_then(|w| {
                                w.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned()))
                            }),
                            r.get(2)?,
                        ))
                    })?
                    .collect()
            })
            .expect("exact query")
    }

    fn exported(reader: &ReadPool) -> History {
        reader
            .admin_chunk(&ReceiptFilter::default(), 0, 100_000)
            .expect("chunk")
            .into_iter()
            .map(|r| (r.row.seq, r.withdrawn_by, r.superseded_by))
            .collect()
    }

    /// A receipt from one of a few browsers: forms and cookie choices under two policy
    /// versions on two sites, or a withdrawal of an earlier consent in `open`.
    fn next_receipt(
        dice: &mut Rng,
        i: u64,
        open: &mut Vec<(String, String, Kind)>,
    ) -> PreparedReceipt {
        let withdrawal = !open.is_empty() && dice.below(6) == 0;
        let (withdraws, browser, kind) = if withdrawal {
            let (id, browser, kind) = open.remove(dice.below(open.len() as u64) as usize);
            (Some(id), browser, kind)
        } else {
            let kind = if dice.below(2) == 0 {
                Kind::Form
            } else {
                Kind::Cookies
            };
            (None, format!("{:032x}", dice.below(12)), kind)
        };
        let event = match (withdrawal, dice.below(4)) {
            (true, _) => Event::Withdrawn,
            (false, 0) => Event::Refused,
            (false, 1) if kind == Kind::Cookies => Event::Updated,
            _ => Event::Given,
        };
        let version = if dice.below(3) == 0 {
            "2025-09"
        } else {
            "2026-03"
        };
        let mut receipt = super::super::tests::receipt(&format!("{i:032x}"), false);
        receipt.site = if dice.below(5) == 0 { "other" } else { "demo" }.into();
        receipt.kind = kind;
        receipt.event = event;
        receipt.withdraws = withdraws;
        receipt.policy.version = version.into();
        receipt.purposes = Some(vec![Choice {
            id: "feedback".into(),
            granted: event != Event::Withdrawn,
        }]);
        receipt.private.browser = browser;
        receipt.private.index[0].hmac = format!("{:064x}", dice.below(40));
        receipt.context.fields = vec!["phone".into()];
        receipt.request_sha256 = format!("{i:064x}");
        receipt
    }

    #[test]
    fn a_sites_erasure_requests_are_listed_in_index_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        let mut conn = connect(&path, true).expect("connect");
        migrate(&mut conn, &path).expect("migrate");
        let plan = |sql: &str, values: &[&dyn rusqlite::ToSql]| -> Vec<String> {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain")
                .query_map(values, |r| r.get(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        let now = "2026-11-21T00:00:00.000Z";
        for lines in [
            plan(&pending_erasures_sql(), &[&now, &"demo"]),
            plan(&done_erasures_sql(), &[&now, &"demo", &100]),
        ] {
            assert!(
                lines[0].contains("USING INDEX erasure_requests_site (site=? AND done_at"),
                "{lines:?}"
            );
            // Ties of `done_at` (the same millisecond) may still be ordered by id; never
            // the whole list.
            assert!(
                lines
                    .iter()
                    .all(|l| !l.contains("TEMP B-TREE FOR ORDER BY")),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn statuses_through_followed_equal_the_exact_look_ups_across_purge_and_new_receipts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        let signer = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
        let mut dice = Rng(7);
        let mut open = Vec::new();
        // The bulk loader's path.
        bulk_load(
            &path,
            &signer,
            400,
            |i| format!("2026-01-01T00:{:02}:{:02}.000Z", i / 60, i % 60),
            |i, stamp| {
                let r = next_receipt(&mut dice, i, &mut open);
                if r.withdraws.is_none() && matches!(r.event, Event::Given | Event::Updated) {
                    open.push((stamp.id.clone(), r.private.browser.clone(), r.kind));
                }
                r
            },
        )
        .expect("bulk load");
        let reader = open_pool(&path).expect("reader");
        let first = exported(&reader);
        assert_eq!(first, exact(&reader));
        let withdrawn = first.iter().filter(|r| r.1.is_some()).count();
        let superseded = first.iter().filter(|r| r.2.is_some()).count();
        let marked: i64 = reader
            .with(|c| c.query_row("SELECT count(*) FROM followed", [], |r| r.get(0)))
            .expect("count");
        assert!(
            withdrawn > 10 && superseded > 10,
            "{withdrawn} {superseded}"
        );
        assert!(
            marked < 400,
            "the index skips receipts with nothing later: {marked}"
        );
        assert!(reader.unmarked_followed().expect("check").is_empty());

        // Retention removes receipts in between; the survivors keep their status.
        let mut conn = connect(&path, false).expect("connect");
        let tx = conn.transaction().expect("tx");
        let purged = apply(
            &tx,
            &Maintenance::Purge {
                site: "demo".into(),
                cutoff: "2026-01-01T00:03:20.000Z".into(),
                at: "2026-11-21T00:00:00.000Z".into(),
            },
        )
        .expect("purge")
        .expect("purged");
        tx.commit().expect("commit");
        drop(conn);
        assert!(purged > 50, "{purged}");
        assert_eq!(exported(&reader), exact(&reader));

        // The writer's path: more receipts from the same browsers, and withdrawals.
        drop(reader);
        let store = super::super::open(
            &path,
            signer,
            "test.example/log",
            WriterMetrics::unregistered(),
        )
        .expect("open");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        open.retain(|(id, _, _)| store.reader().by_id(id).is_ok_and(|r| r.is_some()));
        for i in 400..500 {
            let r = next_receipt(&mut dice, i, &mut open);
            let remember =
                r.withdraws.is_none() && matches!(r.event, Event::Given | Event::Updated);
            let (browser, kind) = (r.private.browser.clone(), r.kind);
            let issued = runtime.block_on(store.issue(r)).expect("issued");
            if remember {
                open.push((issued.id, browser, kind));
            }
        }
        let reader = open_pool(&path).expect("reader");
        let last = exported(&reader);
        assert_eq!(last, exact(&reader));
        assert!(reader.unmarked_followed().expect("check").is_empty());

        // Without its mark a withdrawn receipt would look current: the check finds that.
        let (seq, ..) = last
            .iter()
            .find(|r| r.1.is_some())
            .expect("a withdrawn receipt");
        store.shutdown();
        drop(reader);
        drop(store);
        let conn = Connection::open(&path).expect("open db");
        conn.execute("DELETE FROM followed WHERE seq = ?1", [seq])
            .expect("tamper");
        drop(conn);
        let reader = open_pool(&path).expect("reader");
        assert_eq!(reader.unmarked_followed().expect("check"), [*seq]);
        assert_ne!(exported(&reader), exact(&reader));
    }
}
