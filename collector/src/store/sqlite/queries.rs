//! SQLite's answers to the admin's reads ([`AdminReads`]): filtered receipt queries with
//! keyset pages, counts and statistics, the audit trail, erasure requests, tokens.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};

use super::reader::{ReadPool, receipt_row};
use crate::store::{
    AdminReads, AdminRow, AnalyticsGroups, AnalyticsQuery, AuditEntry, Erasure, HealthRow,
    ReceiptFilter, Scope, Stats, StoreError, TokenRecord,
};

/// `filter`'s `WHERE` clause over table alias `r`, made only of constant fragments, and the
/// values bound to its parameters.
pub(super) fn filter_sql(filter: &ReceiptFilter) -> (String, Vec<Value>) {
    let mut clause = String::from("1");
    let mut values: Vec<Value> = Vec::new();
    let conditions: [(&'static str, &Option<String>); 8] = [
        (" AND r.site = ?", &filter.site),
        (" AND r.issued_at >= ?", &filter.from),
        (" AND r.issued_at < ?", &filter.to),
        (" AND r.kind = ?", &filter.kind),
        (" AND r.event = ?", &filter.event),
        (" AND r.policy_version = ?", &filter.policy_version),
        (" AND r.form_id = ?", &filter.form_id),
        (" AND r.lang = ?", &filter.lang),
    ];
    for (condition, value) in conditions {
        if let Some(v) = value {
            clause.push_str(condition);
            values.push(Value::Text(v.clone()));
        }
    }
    if let Some(hmacs) = &filter.subject_hmacs {
        // One bound JSON array, however many readings of the identifier there are.
        clause.push_str(
                " AND r.seq IN (SELECT seq FROM subject_hashes WHERE hmac IN (SELECT value FROM json_each(?)))",
            );
        values.push(Value::Text(
            serde_json::to_string(hmacs).unwrap_or_else(|_| "[]".into()),
        ));
    }
    if let Some(browsers) = &filter.browser_ids {
        clause.push_str(" AND r.browser_id IN (SELECT value FROM json_each(?))");
        values.push(Value::Text(
            serde_json::to_string(browsers).unwrap_or_else(|_| "[]".into()),
        ));
    }
    (clause, values)
}

/// Builds `head WHERE clause tail` from constant pieces.
pub(super) fn statement(head: &str, clause: &str, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + clause.len() + tail.len() + 8);
    sql.push_str(head);
    sql.push_str(" WHERE ");
    sql.push_str(clause);
    sql.push_str(tail);
    sql
}

/// The columns of an [`AdminRow`]: a receipt with its later history (withdrawal, a newer
/// choice of the same browser, erasure), over `receipts r` joined with `followed f`.
///
/// Withdrawal and supersession are looked for only when `followed` says a later receipt of
/// the same browser and kind, or a withdrawal, exists (schema v4): most receipts have none,
/// and the look-up is a random seek into the browser index, which was most of the export's
/// time. The conditions themselves are unchanged.
macro_rules! admin_columns {
    () => {
        "SELECT r.seq, r.id, r.issued_at, r.site, r.kind, r.event, r.ref, r.policy_version,
     r.lang, r.form_id, r.kid, r.jws, r.withdraws, r.holder_sha256,
     CASE WHEN f.seq IS NOT NULL THEN
       (SELECT w.id || ' ' || w.issued_at FROM receipts w WHERE w.withdraws = r.id) END,
     CASE WHEN f.seq IS NOT NULL THEN
       (SELECT s.id FROM receipts s WHERE s.browser_id = r.browser_id AND s.kind = r.kind
          AND s.seq > r.seq AND s.site = r.site AND s.event IN ('given', 'updated', 'refused')
          AND (r.kind = 'cookies' OR s.policy_version <> r.policy_version) ORDER BY s.seq LIMIT 1) END,
     EXISTS (SELECT 1 FROM erasures e WHERE e.seq = r.seq)
     FROM receipts r LEFT JOIN followed f ON f.seq = r.seq"
    };
}

pub(super) const ADMIN_SELECT: &str = admin_columns!();

/// Rows at the positions a subquery picks from the index alone; the caller appends the
/// subquery's filter, order and limit and closes it. The rows carry the JWS (~1.5 KB), and
/// a filter the index cannot order (a time range) would otherwise read every matching row
/// just to sort it.
pub(super) const PAGE_HEAD: &str = concat!(
    admin_columns!(),
    " WHERE r.seq IN (SELECT r.seq FROM receipts r"
);

pub(super) fn admin_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminRow> {
    let withdrawn: Option<String> = r.get(14)?;
    Ok(AdminRow {
        row: receipt_row(r)?,
        withdrawn_by: withdrawn.and_then(|w| {
            w.split_once(' ')
                .map(|(id, at)| (id.to_owned(), at.to_owned()))
        }),
        superseded_by: r.get(15)?,
        erased: r.get(16)?,
    })
}

impl AdminReads for ReadPool {
    /// One page of matching receipts, newest first, strictly before `before` (a `seq`).
    fn admin_page(
        &self,
        filter: &ReceiptFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError> {
        let (mut clause, mut values) = filter_sql(filter);
        if let Some(before) = before {
            clause.push_str(" AND r.seq < ?");
            values.push(Value::Integer(before));
        }
        values.push(Value::Integer(i64::from(limit)));
        let sql = statement(
            PAGE_HEAD,
            &clause,
            " ORDER BY r.seq DESC LIMIT ?) ORDER BY r.seq DESC",
        );
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map(rusqlite::params_from_iter(values), admin_row)?
                .collect()
        })
    }

    /// Matching receipts in log order, strictly after `after`: the export's chunks.
    fn admin_chunk(
        &self,
        filter: &ReceiptFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError> {
        let (clause, mut values) = filter_sql(filter);
        values.push(Value::Integer(after));
        values.push(Value::Integer(i64::from(limit)));
        let sql = statement(
            PAGE_HEAD,
            &clause,
            " AND r.seq > ? ORDER BY r.seq LIMIT ?) ORDER BY r.seq",
        );
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map(rusqlite::params_from_iter(values), admin_row)?
                .collect()
        })
    }

    /// How many receipts match, counting at most `cap` (a page must not scan the whole log
    /// to say "more than a thousand").
    fn admin_count(&self, filter: &ReceiptFilter, cap: u32) -> Result<i64, StoreError> {
        let (clause, mut values) = filter_sql(filter);
        values.push(Value::Integer(i64::from(cap)));
        let sql = statement(
            "SELECT count(*) FROM (SELECT 1 FROM receipts r",
            &clause,
            // Newest first, like the page: a filter matching recent receipts stops early.
            " ORDER BY r.seq DESC LIMIT ?)",
        );
        self.with(|c| {
            c.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(values), |r| r.get(0))
        })
    }

    /// One receipt with its status.
    fn admin_get(&self, id: &str) -> Result<Option<AdminRow>, StoreError> {
        let sql = statement(ADMIN_SELECT, "r.id = ?1", "");
        self.with(|c| {
            c.prepare_cached(&sql)?
                .query_row([id], admin_row)
                .optional()
        })
    }

    /// Event counts of matching receipts per day, policy version, language and kind.
    fn admin_stats(&self, filter: &ReceiptFilter) -> Result<Stats, StoreError> {
        let (clause, values) = filter_sql(filter);
        let sql = statement(
            "SELECT substr(r.issued_at, 1, 10), r.policy_version, r.lang, r.kind, r.event, count(*)
             FROM receipts r",
            &clause,
            " GROUP BY 1, 2, 3, 4, 5",
        );
        self.with(|c| {
            let mut stats = Stats::default();
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
            while let Some(r) = rows.next()? {
                let (day, version, lang, kind, event): (String, String, String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                let n = u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0);
                stats.add(day, version, lang, kind, &event, n);
            }
            Ok(stats)
        })
    }

    fn analytics(&self, query: &AnalyticsQuery) -> Result<AnalyticsGroups, StoreError> {
        self.with(|c| super::analytics::count(c, query))
    }

    /// The token with this public id.
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("{TOKEN_SELECT} WHERE id = ?1"))?
                .query_row([id], token_row)
                .optional()
        })
    }

    /// Every token, oldest first.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("{TOKEN_SELECT} ORDER BY created_at, id"))?
                .query_map([], token_row)?
                .collect()
        })
    }

    /// The newest `limit` audit entries of `site`, newest first.
    fn admin_audit(&self, site: &str, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT at, token_id, site, action, detail FROM admin_audit WHERE site = ?1
                 ORDER BY id DESC LIMIT ?2",
            )?
            .query_map(params![site, limit], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    token_id: r.get(1)?,
                    site: r.get(2)?,
                    action: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// `site`'s erasure request `id`, with `overdue` as of `now` (RFC 3339).
    fn erasure(&self, site: &str, id: &str, now: &str) -> Result<Option<Erasure>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("{ERASURE_SELECT} WHERE site = ?2 AND id = ?3"))?
                .query_row(params![now, site, id], erasure_row)
                .optional()
        })
    }

    /// `site`'s erasure requests: pending ones first, soonest due first; then at most
    /// `limit` carried out, latest first. `overdue` as of `now` (RFC 3339).
    fn erasures(&self, site: &str, now: &str, limit: u32) -> Result<Vec<Erasure>, StoreError> {
        self.with(|c| {
            let mut rows: Vec<Erasure> = c
                .prepare_cached(&pending_erasures_sql())?
                .query_map(params![now, site], erasure_row)?
                .collect::<Result<_, _>>()?;
            let done = c
                .prepare_cached(&done_erasures_sql())?
                .query_map(params![now, site, limit], erasure_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.extend(done);
            Ok(rows)
        })
    }

    fn health(&self, site: &str, since: &str, limit: u32) -> Result<Vec<HealthRow>, StoreError> {
        self.with(|c| super::health::rows(c, site, since, limit))
    }
}

/// An [`Erasure`]; `?1` is now, for `overdue`.
pub(super) const ERASURE_SELECT: &str =
    "SELECT id, site, received_at, due_at, recorded_at, recorded_by,
     done_at, done_by, coalesce(receipts, 0),
     CASE WHEN done_at IS NULL THEN due_at < ?1 ELSE done_at > due_at END
     FROM erasure_requests";

/// A site's pending requests, soonest due first: `?2` is the site. Both lists are read in
/// the order of the index `erasure_requests_site` (migrations/0005).
pub(super) fn pending_erasures_sql() -> String {
    format!("{ERASURE_SELECT} WHERE site = ?2 AND done_at IS NULL ORDER BY due_at, id")
}

/// A site's carried-out requests, latest first: `?2` is the site, `?3` the limit.
pub(super) fn done_erasures_sql() -> String {
    format!(
        "{ERASURE_SELECT} WHERE site = ?2 AND done_at IS NOT NULL ORDER BY done_at DESC, id DESC LIMIT ?3"
    )
}

pub(super) fn erasure_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Erasure> {
    let done_at: Option<String> = r.get(6)?;
    Ok(Erasure {
        id: r.get(0)?,
        site: r.get(1)?,
        status: if done_at.is_some() { "done" } else { "pending" }.to_owned(),
        received_at: r.get(2)?,
        due_at: r.get(3)?,
        recorded_at: r.get(4)?,
        recorded_by: r.get(5)?,
        done_at,
        done_by: r.get(7)?,
        receipts: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
        overdue: r.get(9)?,
    })
}

pub(super) const TOKEN_SELECT: &str = "SELECT id, secret_sha256, sites, scope, label, created_at, expires_at, revoked_at FROM admin_tokens";

pub(super) fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let sites: String = r.get(2)?;
    let scope: String = r.get(3)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        secret_sha256: r.get(1)?,
        sites: sites
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        // The table's CHECK allows only these two.
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        label: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}
