//! PostgreSQL's admin changes ([`Maintenance`]), run by a collector's writer with a batch or
//! by the CLI in a transaction of its own, both under the log's lock: tokens, the audit
//! trail, retention, erasure requests, site health, witnessing. Each does what SQLite's
//! `admin.rs` does (whose comments say why); the tests run both backends against the same
//! expectations.

use postgres::Transaction;

use super::PgError;
use crate::store::erasure::{self, ErasureTx, RequestState};
use crate::store::{Affected, AuditEntry, ErasureRequest, HealthEvent, Maintenance, StoreError};

/// Applies `op` inside `tx`. The outer `Err` aborts the transaction; the inner one is the
/// job's own answer (an erasure request that is not pending), committed with its audit entry.
pub(super) fn apply(
    tx: &mut Transaction<'_>,
    op: &Maintenance,
) -> Result<Result<Affected, StoreError>, PgError> {
    let n = match op {
        Maintenance::CreateToken(t) => tx.execute(
            "INSERT INTO admin_tokens (id, secret_sha256, sites, scope, label, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &t.id,
                &t.secret_sha256,
                &t.sites.join(","),
                &t.scope.as_str(),
                &t.label,
                &t.created_at,
                &t.expires_at,
            ],
        )?,
        Maintenance::RevokeToken { id, at } => tx.execute(
            "UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[id, at],
        )?,
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
        } => record_health(tx, site, events, at, forget_before, *max_rows)?,
        Maintenance::AdvanceWitness {
            origin,
            from,
            to,
            at,
        } => super::tree::advance(tx, origin, from.as_ref(), to, at)?,
        Maintenance::RecordCosignature {
            witness,
            size,
            root,
            line,
            at,
        } => super::tree::record_cosignature(tx, witness, *size, root, line, at)?,
    };
    Ok(Ok(n))
}

fn write_audit(tx: &mut Transaction<'_>, e: &AuditEntry) -> Result<Affected, PgError> {
    Ok(tx.execute(
        "INSERT INTO admin_audit (at, token_id, site, action, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&e.at, &e.token_id, &e.site, &e.action, &e.detail],
    )?)
}

/// Removes `site`'s receipts whose last event is before `cutoff`, leaving tombstones.
fn purge(
    tx: &mut Transaction<'_>,
    site: &str,
    cutoff: &str,
    at: &str,
) -> Result<Affected, PgError> {
    let seqs: Vec<i64> = tx
        .query(
            "SELECT r.seq FROM receipts r WHERE r.site = $1 AND r.issued_at < $2
             AND NOT EXISTS (SELECT 1 FROM receipts w WHERE w.withdraws = r.id AND w.issued_at >= $2)",
            &[&site, &cutoff],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if seqs.is_empty() {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO tombstones (seq, jws_sha256, site, purged_at)
         SELECT seq, jws_sha256, site, $2 FROM receipts WHERE seq = ANY($1)
         ON CONFLICT DO NOTHING",
        &[&seqs, &at],
    )?;
    for delete in [
        "DELETE FROM subject_hashes WHERE seq = ANY($1)",
        "DELETE FROM erasures WHERE seq = ANY($1)",
        "DELETE FROM followed WHERE seq = ANY($1)",
        "DELETE FROM cookie_choices WHERE seq = ANY($1)",
    ] {
        tx.execute(delete, &[&seqs])?;
    }
    Ok(tx.execute("DELETE FROM receipts WHERE seq = ANY($1)", &[&seqs])?)
}

/// PostgreSQL's statements for the erasure flow (`store::erasure`).
struct Erasing<'t, 'c>(&'t mut Transaction<'c>);

impl ErasureTx for Erasing<'_, '_> {
    type Error = PgError;

    fn insert_request(&mut self, r: &ErasureRequest) -> Result<(), PgError> {
        // It covers the receipts stored now (this batch's included), not later consents.
        self.0.execute(
            "INSERT INTO erasure_requests (id, site, hmacs, received_at, due_at, recorded_at,
                                           recorded_by, up_to_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, greatest(
                 coalesce((SELECT max(seq) FROM receipts), 0),
                 coalesce((SELECT seq FROM chain_head WHERE id = 1), 0)))",
            &[
                &r.id,
                &r.site,
                &r.hmacs,
                &r.received_at,
                &r.due_at,
                &r.recorded_at,
                &r.recorded_by,
            ],
        )?;
        Ok(())
    }

    fn request_state(&mut self, site: &str, id: &str) -> Result<RequestState, PgError> {
        let found = self.0.query_opt(
            "SELECT done_at, done_by FROM erasure_requests WHERE id = $1 AND site = $2",
            &[&id, &site],
        )?;
        let Some(row) = found else { return Ok(None) };
        let at: Option<String> = row.try_get(0)?;
        let by: Option<String> = row.try_get(1)?;
        Ok(Some(at.map(|at| (at, by.unwrap_or_default()))))
    }

    fn carry_out(
        &mut self,
        site: &str,
        id: &str,
        at: &str,
        by: &str,
    ) -> Result<Option<Affected>, PgError> {
        let tx = &mut *self.0;
        let pending = tx.query_opt(
            "SELECT hmacs, up_to_seq FROM erasure_requests
             WHERE id = $1 AND site = $2 AND done_at IS NULL",
            &[&id, &site],
        )?;
        let Some(pending) = pending else {
            return Ok(None);
        };
        let hmacs: Vec<String> = pending.try_get(0)?;
        let up_to_seq: i64 = pending.try_get(1)?;
        let n = erase(tx, site, &hmacs, up_to_seq, at)?;
        let receipts = i64::try_from(n).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE erasure_requests SET done_at = $2, done_by = $3, receipts = $4, hmacs = NULL
             WHERE id = $1",
            &[&id, &at, &by, &receipts],
        )?;
        Ok(Some(n))
    }

    fn due(&mut self, before: &str) -> Result<Vec<(String, String, String)>, PgError> {
        self.0
            .query(
                "SELECT id, site, due_at FROM erasure_requests
                 WHERE done_at IS NULL AND due_at < $1 ORDER BY due_at",
                &[&before],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    fn audit(&mut self, entry: &AuditEntry) -> Result<(), PgError> {
        write_audit(self.0, entry).map(drop)
    }
}

/// Destroys the subject index (and commitment salt) of `site`'s receipts up to `up_to_seq`
/// found by `hmacs`, and of the withdrawals of those receipts whenever they were issued.
fn erase(
    tx: &mut Transaction<'_>,
    site: &str,
    hmacs: &[String],
    up_to_seq: i64,
    at: &str,
) -> Result<Affected, PgError> {
    let seqs: Vec<i64> = tx
        .query(
            "WITH covered AS (
                 SELECT h.seq FROM subject_hashes h JOIN receipts r ON r.seq = h.seq
                 WHERE h.hmac = ANY($1) AND r.site = $2 AND h.seq <= $3
             )
             SELECT seq FROM covered
             UNION
             SELECT w.seq FROM covered c JOIN receipts r ON r.seq = c.seq
                 JOIN receipts w ON w.withdraws = r.id
             WHERE EXISTS (SELECT 1 FROM subject_hashes h WHERE h.seq = w.seq)
             ORDER BY 1",
            &[&hmacs, &site, &up_to_seq],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if seqs.is_empty() {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO erasures (seq, erased_at) SELECT s, $2 FROM unnest($1::bigint[]) AS t(s)
         ON CONFLICT DO NOTHING",
        &[&seqs, &at],
    )?;
    tx.execute("DELETE FROM subject_hashes WHERE seq = ANY($1)", &[&seqs])?;
    tx.execute(
        "UPDATE receipts SET subject_salt = NULL WHERE seq = ANY($1)",
        &[&seqs],
    )?;
    Ok(seqs.len() as u64)
}

/// Counts a widget's findings into `site`'s health rows (see SQLite's `health.rs`).
fn record_health(
    tx: &mut Transaction<'_>,
    site: &str,
    events: &[HealthEvent],
    at: &str,
    forget_before: &str,
    max_rows: i64,
) -> Result<Affected, PgError> {
    tx.execute(
        "DELETE FROM site_health WHERE site = $1 AND last_seen < $2",
        &[&site, &forget_before],
    )?;
    let mut rows: i64 = tx
        .query_one("SELECT count(*) FROM site_health WHERE site = $1", &[&site])?
        .try_get(0)?;
    let mut counted = 0;
    for e in events {
        let count = i64::from(e.count);
        let known = tx.execute(
            "UPDATE site_health SET count = least(count + $5, 1000000000), last_seen = $6
             WHERE site = $1 AND code = $2 AND detail = $3 AND path = $4",
            &[&site, &e.code, &e.detail, &e.path, &count, &at],
        )?;
        if known == 0 && rows < max_rows {
            tx.execute(
                "INSERT INTO site_health (site, code, detail, path, count, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                &[&site, &e.code, &e.detail, &e.path, &count, &at],
            )?;
            rows += 1;
        } else if known == 0 {
            continue;
        }
        counted += 1;
    }
    Ok(counted)
}
