//! PostgreSQL's admin reads: filtered receipt queries with keyset pages, counts, statistics,
//! the consent analytics, tokens, the audit trail, erasure requests, site health. The same
//! questions as
//! SQLite's `queries.rs` and `analytics.rs`; lists are bound as arrays (`= ANY($n)`).

use postgres::Row;
use postgres::types::ToSql;

use super::PgError;
use super::pool::Pool;
use super::reader::receipt_row;
use crate::store::{
    AdminReads, AdminRow, AnalyticsGroups, AnalyticsQuery, AuditEntry, CategoryGroup, Erasure,
    EventGroup, HealthRow, ReceiptFilter, Scope, Stats, StoreError, TokenRecord,
};

type Param = Box<dyn ToSql + Sync>;

/// The `WHERE` clause of `filter` over `receipts r` and its parameters, numbered from `$1`.
fn filter_sql(filter: &ReceiptFilter) -> (String, Vec<Param>) {
    filter_sql_after(filter, Vec::new())
}

/// [`filter_sql`] with its parameters numbered after those already in `values`.
fn filter_sql_after(filter: &ReceiptFilter, mut values: Vec<Param>) -> (String, Vec<Param>) {
    let mut clause = String::from("true");
    let conditions: [(&str, &Option<String>); 8] = [
        ("r.site =", &filter.site),
        ("r.issued_at >=", &filter.from),
        ("r.issued_at <", &filter.to),
        ("r.kind =", &filter.kind),
        ("r.event =", &filter.event),
        ("r.policy_version =", &filter.policy_version),
        ("r.form_id =", &filter.form_id),
        ("r.lang =", &filter.lang),
    ];
    for (condition, value) in conditions {
        if let Some(v) = value {
            values.push(Box::new(v.clone()));
            clause.push_str(" AND ");
            clause.push_str(condition);
            clause.push_str(&param(values.len()));
        }
    }
    if let Some(hmacs) = &filter.subject_hmacs {
        values.push(Box::new(hmacs.clone()));
        clause.push_str(" AND r.seq IN (SELECT seq FROM subject_hashes WHERE hmac = ANY(");
        clause.push_str(&param(values.len()));
        clause.push_str("))");
    }
    if let Some(browsers) = &filter.browser_ids {
        values.push(Box::new(browsers.clone()));
        clause.push_str(" AND r.browser_id = ANY(");
        clause.push_str(&param(values.len()));
        clause.push(')');
    }
    (clause, values)
}

/// The placeholder of the `n`-th bound value: statements are assembled from constant
/// pieces and placeholders only, never from values.
fn param(n: usize) -> String {
    format!(" ${n}")
}

fn refs(values: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v.as_ref()).collect()
}

/// The columns of an admin row: a receipt with its withdrawal, the later choice that
/// supersedes it, and whether its subject was erased; the look-ups run only for receipts
/// `followed` marks (see SQLite's `queries.rs`). A macro, so that both statements below are
/// one constant string each.
macro_rules! admin_columns {
    () => {
        "SELECT r.seq, r.id, r.issued_at, r.site, r.kind, r.event, r.ref,
     r.policy_version, r.lang, r.form_id, r.kid, r.jws, r.withdraws, r.holder_sha256,
     CASE WHEN f.seq IS NOT NULL THEN
       (SELECT w.id || ' ' || w.issued_at FROM receipts w WHERE w.withdraws = r.id) END,
     CASE WHEN f.seq IS NOT NULL THEN
       (SELECT s.id FROM receipts s WHERE s.browser_id = r.browser_id AND s.kind = r.kind
          AND s.seq > r.seq AND s.site = r.site AND s.event IN ('given', 'updated', 'refused')
          AND (r.kind = 'cookies' OR s.policy_version <> r.policy_version)
          ORDER BY s.seq LIMIT 1) END,
     e.seq IS NOT NULL"
    };
}

/// Admin rows, before the `WHERE` clause.
const ADMIN_SELECT: &str = concat!(
    admin_columns!(),
    " FROM receipts r LEFT JOIN followed f ON f.seq = r.seq LEFT JOIN erasures e ON e.seq = r.seq"
);

/// [`ADMIN_SELECT`] for the receipts after `seq` `$1`: the bound is repeated in the joins,
/// since PostgreSQL does not carry a condition on `r.seq` over to an outer join's other
/// side, and a merge join would otherwise read `followed` from its start for every chunk
/// (over 1,000,000 receipts a late chunk read 38,000 entries of it to use 91: its execution
/// took 8.2 ms, 4.5 ms once bounded).
const ADMIN_SELECT_AFTER: &str = concat!(
    admin_columns!(),
    " FROM receipts r LEFT JOIN followed f ON f.seq = r.seq AND f.seq > $1
       LEFT JOIN erasures e ON e.seq = r.seq AND e.seq > $1"
);

fn admin_row(r: &Row) -> Result<AdminRow, PgError> {
    let withdrawn: Option<String> = r.try_get(14)?;
    Ok(AdminRow {
        row: receipt_row(r)?,
        withdrawn_by: withdrawn.and_then(|w| {
            w.split_once(' ')
                .map(|(id, at)| (id.to_owned(), at.to_owned()))
        }),
        superseded_by: r.try_get(15)?,
        erased: r.try_get(16)?,
    })
}

/// A page of matching receipts, newest first and strictly before `before`: chosen by an
/// inner query over the indexes, then completed with their history (only the page's rows
/// are read whole).
///
/// A time window is read whole from the (site, time) index and then sorted: left to
/// itself, the planner walks the (site, seq) index from the newest receipt and filters
/// by time, cheap if matches were spread over the log, but a window's receipts are all in
/// one stretch of it (seq and time grow together), so an old window meant reading most of
/// the site's entries first (p95 1.6 s over 1,000,000 receipts; BENCHMARKS.md).
fn page(
    pool: &Pool,
    filter: &ReceiptFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AdminRow>, StoreError> {
    let (mut clause, mut values) = filter_sql(filter);
    if let Some(seq) = before {
        values.push(Box::new(seq));
        clause.push_str(" AND r.seq <");
        clause.push_str(&param(values.len()));
    }
    values.push(Box::new(i64::from(limit)));
    let windowed = filter.from.is_some() || filter.to.is_some();
    // `OFFSET 0` keeps the window's scan apart from the sort and limit above it.
    let (select, fence) = if windowed {
        (
            "SELECT w.seq FROM (SELECT r.seq FROM receipts r WHERE ",
            " OFFSET 0) w ORDER BY w.seq DESC",
        )
    } else {
        (
            "SELECT r.seq FROM receipts r WHERE ",
            " ORDER BY r.seq DESC",
        )
    };
    let sql = [
        ADMIN_SELECT,
        " WHERE r.seq IN (",
        select,
        &clause,
        fence,
        " LIMIT ",
        &param(values.len()),
        ") ORDER BY r.seq DESC",
    ]
    .concat();
    pool.with(|c| {
        c.query(&sql, &refs(&values))?
            .iter()
            .map(admin_row)
            .collect()
    })
}

impl AdminReads for Pool {
    fn admin_page(
        &self,
        filter: &ReceiptFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError> {
        page(self, filter, before, limit)
    }

    /// The export's chunks, read in log order straight from the primary key (no inner
    /// query: every matching row is read whole anyway, and the rows come out sorted).
    fn admin_chunk(
        &self,
        filter: &ReceiptFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError> {
        // `after` is `$1`, the filter's values follow it.
        let (mut clause, mut values) = filter_sql_after(filter, vec![Box::new(after)]);
        clause.push_str(" AND r.seq > $1");
        values.push(Box::new(i64::from(limit)));
        let sql = [
            ADMIN_SELECT_AFTER,
            " WHERE ",
            &clause,
            " ORDER BY r.seq LIMIT ",
            &param(values.len()),
        ]
        .concat();
        self.with(|c| {
            c.query(&sql, &refs(&values))?
                .iter()
                .map(admin_row)
                .collect()
        })
    }

    fn admin_count(&self, filter: &ReceiptFilter, cap: u32) -> Result<i64, StoreError> {
        let (clause, mut values) = filter_sql(filter);
        values.push(Box::new(i64::from(cap)));
        // Counted newest first, like the page (an older policy version's receipts are all
        // early in the log); a time window is counted on its own index, in any order.
        let order = if filter.from.is_some() || filter.to.is_some() {
            ""
        } else {
            " ORDER BY r.seq DESC"
        };
        let sql = [
            "SELECT count(*) FROM (SELECT 1 FROM receipts r WHERE ",
            &clause,
            order,
            " LIMIT ",
            &param(values.len()),
            ") t",
        ]
        .concat();
        self.with(|c| Ok(c.query_one(&sql, &refs(&values))?.try_get(0)?))
    }

    fn admin_get(&self, id: &str) -> Result<Option<AdminRow>, StoreError> {
        let sql = format!("{ADMIN_SELECT} WHERE r.id = $1");
        self.with(|c| {
            c.query_opt(&sql, &[&id])?
                .as_ref()
                .map(admin_row)
                .transpose()
        })
    }

    fn admin_stats(&self, filter: &ReceiptFilter) -> Result<Stats, StoreError> {
        let (clause, values) = filter_sql(filter);
        let sql = [
            "SELECT substr(r.issued_at, 1, 10), r.policy_version, r.lang, r.kind, r.event, count(*)
             FROM receipts r WHERE ",
            &clause,
            " GROUP BY 1, 2, 3, 4, 5",
        ]
        .concat();
        self.with(|c| {
            let mut stats = Stats::default();
            for r in c.query(&sql, &refs(&values))? {
                let event: String = r.try_get(4)?;
                let n: i64 = r.try_get(5)?;
                stats.add(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    &event,
                    u64::try_from(n).unwrap_or(0),
                );
            }
            Ok(stats)
        })
    }

    /// The period's receipts and cookie choices, each read once from an index on (site,
    /// time) that carries the grouped columns, and put in their bucket by a binary search of
    /// the bounds (`width_bucket` over the bounds array).
    fn analytics(&self, query: &AnalyticsQuery) -> Result<AnalyticsGroups, StoreError> {
        let bounds: Vec<&str> = query.bounds.iter().map(String::as_str).collect();
        let (Some(first), Some(last)) = (bounds.first(), bounds.last()) else {
            return Ok(AnalyticsGroups::default());
        };
        if bounds.len() < 2 {
            return Ok(AnalyticsGroups::default());
        }
        // width_bucket numbers the bucket of `bounds[i] <= t < bounds[i + 1]` as i + 1.
        let bucket = |r: &Row| -> Result<usize, PgError> {
            let i: i32 = r.try_get(0)?;
            Ok(usize::try_from(i - 1).unwrap_or(0))
        };
        let count = |r: &Row, i: usize| -> Result<u64, PgError> {
            let n: i64 = r.try_get(i)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        self.with(|c| {
            let mut groups = AnalyticsGroups::default();
            for r in c.query(
                "SELECT width_bucket(r.issued_at, $2::text[] COLLATE \"C\"),
                        r.kind, r.event, r.lang, r.policy_version, count(*)
                 FROM receipts r
                 WHERE r.site = $1 AND r.issued_at >= $3 AND r.issued_at < $4
                 GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
                &[&query.site, &bounds, first, last],
            )? {
                groups.events.push(EventGroup {
                    bucket: bucket(&r)?,
                    kind: r.try_get(1)?,
                    event: r.try_get(2)?,
                    lang: r.try_get(3)?,
                    policy_version: r.try_get(4)?,
                    count: count(&r, 5)?,
                });
            }
            for r in c.query(
                "SELECT width_bucket(k.issued_at, $2::text[] COLLATE \"C\"),
                        k.category, k.granted, count(*)
                 FROM cookie_choices k
                 WHERE k.site = $1 AND k.issued_at >= $3 AND k.issued_at < $4
                 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                &[&query.site, &bounds, first, last],
            )? {
                groups.categories.push(CategoryGroup {
                    bucket: bucket(&r)?,
                    category: r.try_get(1)?,
                    granted: r.try_get(2)?,
                    count: count(&r, 3)?,
                });
            }
            Ok(groups)
        })
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|c| {
            c.query_opt(&format!("{TOKEN_SELECT} WHERE id = $1"), &[&id])?
                .as_ref()
                .map(token_row)
                .transpose()
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.with(|c| {
            c.query(&format!("{TOKEN_SELECT} ORDER BY created_at, id"), &[])?
                .iter()
                .map(token_row)
                .collect()
        })
    }

    fn admin_audit(&self, site: &str, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT at, token_id, site, action, detail FROM admin_audit WHERE site = $1
                 ORDER BY id DESC LIMIT $2",
                &[&site, &i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get(0)?,
                    token_id: r.try_get(1)?,
                    site: r.try_get(2)?,
                    action: r.try_get(3)?,
                    detail: r.try_get(4)?,
                })
            })
            .collect()
        })
    }

    fn erasure(&self, site: &str, id: &str, now: &str) -> Result<Option<Erasure>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("{ERASURE_SELECT} WHERE site = $2 AND id = $3"),
                &[&now, &site, &id],
            )?
            .as_ref()
            .map(erasure_row)
            .transpose()
        })
    }

    fn erasures(&self, site: &str, now: &str, limit: u32) -> Result<Vec<Erasure>, StoreError> {
        self.with(|c| {
            let mut rows = c
                .query(
                    &format!(
                        "{ERASURE_SELECT} WHERE site = $2 AND done_at IS NULL ORDER BY due_at, id"
                    ),
                    &[&now, &site],
                )?
                .iter()
                .map(erasure_row)
                .collect::<Result<Vec<_>, _>>()?;
            let done = c.query(
                &format!(
                    "{ERASURE_SELECT} WHERE site = $2 AND done_at IS NOT NULL
                     ORDER BY done_at DESC, id DESC LIMIT $3"
                ),
                &[&now, &site, &i64::from(limit)],
            )?;
            for r in &done {
                rows.push(erasure_row(r)?);
            }
            Ok(rows)
        })
    }

    fn health(&self, site: &str, since: &str, limit: u32) -> Result<Vec<HealthRow>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT code, detail, path, count, first_seen, last_seen FROM site_health
                 WHERE site = $1 AND last_seen >= $2 ORDER BY last_seen DESC, code, path LIMIT $3",
                &[&site, &since, &i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(HealthRow {
                    code: r.try_get(0)?,
                    detail: r.try_get(1)?,
                    path: r.try_get(2)?,
                    count: r.try_get(3)?,
                    first_seen: r.try_get(4)?,
                    last_seen: r.try_get(5)?,
                })
            })
            .collect()
        })
    }
}

const ERASURE_SELECT: &str = "SELECT id, site, received_at, due_at, recorded_at, recorded_by,
     done_at, done_by, coalesce(receipts, 0),
     CASE WHEN done_at IS NULL THEN due_at < $1 ELSE done_at > due_at END
     FROM erasure_requests";

fn erasure_row(r: &Row) -> Result<Erasure, PgError> {
    let done_at: Option<String> = r.try_get(6)?;
    let receipts: i64 = r.try_get(8)?;
    Ok(Erasure {
        id: r.try_get(0)?,
        site: r.try_get(1)?,
        status: if done_at.is_some() { "done" } else { "pending" }.to_owned(),
        received_at: r.try_get(2)?,
        due_at: r.try_get(3)?,
        recorded_at: r.try_get(4)?,
        recorded_by: r.try_get(5)?,
        done_at,
        done_by: r.try_get(7)?,
        receipts: u64::try_from(receipts).unwrap_or(0),
        overdue: r.try_get(9)?,
    })
}

const TOKEN_SELECT: &str = "SELECT id, secret_sha256, sites, scope, label, created_at, expires_at, revoked_at FROM admin_tokens";

fn token_row(r: &Row) -> Result<TokenRecord, PgError> {
    let sites: String = r.try_get(2)?;
    let scope: String = r.try_get(3)?;
    Ok(TokenRecord {
        id: r.try_get(0)?,
        secret_sha256: r.try_get(1)?,
        sites: sites
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        label: r.try_get(4)?,
        created_at: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
    })
}
