//! The consent analytics in SQL: counts of ranges of the index `receipts_analytics` and of
//! `cookie_choices`' key (migration 0007), per group and bucket.
//! Also what keeps `cookie_choices` filled: the writer's insert and the migration's backfill.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use serde::Deserialize;

use crate::receipt::{Event, Kind, PreparedReceipt};
use crate::store::{AnalyticsGroups, AnalyticsQuery, CategoryGroup, EventGroup};

/// The schema version whose migration created `cookie_choices`: after its SQL, the receipts
/// already stored get their rows from [`backfill`].
pub(super) const CHOICES_VERSION: usize = 7;

/// The grouping columns of `receipts_analytics`, after `site` and before `issued_at`.
const EVENT_COLUMNS: &[&str] = &["kind", "event", "lang", "policy_version"];
/// The grouping columns of `cookie_choices`' key, after `site` and before `issued_at`.
const CHOICE_COLUMNS: &[&str] = &["category", "granted"];

/// Counts `query`'s buckets. A `GROUP BY` over a period's rows sorts them all, and reading
/// their columns is most of the cost; instead, the indexes lead with the grouping columns
/// and end with the time, so the groups that exist are found by a few seeks (a loose index
/// scan), and each group's count in each bucket is one range of one index, counted without
/// reading a column: 90 days over 1,000,000 receipts in BENCHMARKS.md.
pub(super) fn count(
    conn: &Connection,
    query: &AnalyticsQuery,
) -> Result<AnalyticsGroups, rusqlite::Error> {
    let mut groups = AnalyticsGroups::default();
    for combo in distinct(
        conn,
        "receipts INDEXED BY receipts_analytics",
        EVENT_COLUMNS,
        &query.site,
    )? {
        for (bucket, count) in per_bucket(
            conn,
            "receipts INDEXED BY receipts_analytics",
            EVENT_COLUMNS,
            query,
            &combo,
        )? {
            let text = |i: usize| match &combo[i] {
                Value::Text(t) => t.clone(),
                _ => String::new(),
            };
            groups.events.push(EventGroup {
                bucket,
                kind: text(0),
                event: text(1),
                lang: text(2),
                policy_version: text(3),
                count,
            });
        }
    }
    for combo in distinct(conn, "cookie_choices", CHOICE_COLUMNS, &query.site)? {
        for (bucket, count) in per_bucket(conn, "cookie_choices", CHOICE_COLUMNS, query, &combo)? {
            groups.categories.push(CategoryGroup {
                bucket,
                category: match &combo[0] {
                    Value::Text(t) => t.clone(),
                    _ => String::new(),
                },
                granted: matches!(combo[1], Value::Integer(1)),
                count,
            });
        }
    }
    Ok(groups)
}

/// Every distinct value of `columns` in `site`'s entries of `table`'s index, walked one
/// column at a time: the next value after the last one, under a fixed prefix, is one seek.
fn distinct(
    conn: &Connection,
    table: &str,
    columns: &[&str],
    site: &str,
) -> Result<Vec<Vec<Value>>, rusqlite::Error> {
    let mut found = Vec::new();
    let mut prefix: Vec<Value> = Vec::new();
    // `after[i]`: the last value seen at depth i under the current prefix (None: none yet).
    let mut after: Vec<Option<Value>> = vec![None];
    while let Some(last) = after.last().cloned() {
        let depth = prefix.len();
        let column = columns[depth];
        let mut sql = format!("SELECT {column} FROM {table} WHERE site = ?1");
        for (i, c) in columns[..depth].iter().enumerate() {
            sql.push_str(&format!(" AND {c} = ?{}", i + 2));
        }
        if last.is_some() {
            sql.push_str(&format!(" AND {column} > ?{}", depth + 2));
        }
        sql.push_str(&format!(" ORDER BY {column} LIMIT 1"));
        let mut values: Vec<Value> = vec![Value::Text(site.to_owned())];
        values.extend(prefix.iter().cloned());
        values.extend(last);
        let next: Option<Value> = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(values), |r| r.get(0))
            .optional()?;
        match next {
            Some(value) if depth + 1 == columns.len() => {
                let mut combo = prefix.clone();
                combo.push(value.clone());
                found.push(combo);
                *after.last_mut().expect("a level") = Some(value);
            }
            Some(value) => {
                *after.last_mut().expect("a level") = Some(value.clone());
                prefix.push(value);
                after.push(None);
            }
            None => {
                after.pop();
                prefix.pop();
            }
        }
    }
    Ok(found)
}

/// How many of `site`'s entries with the values `combo` lie in each bucket (non-zero only).
fn per_bucket(
    conn: &Connection,
    table: &str,
    columns: &[&str],
    query: &AnalyticsQuery,
    combo: &[Value],
) -> Result<Vec<(usize, u64)>, rusqlite::Error> {
    let mut sql = format!("SELECT count(*) FROM {table} WHERE site = ?1");
    for (i, c) in columns.iter().enumerate() {
        sql.push_str(&format!(" AND {c} = ?{}", i + 2));
    }
    let n = columns.len();
    sql.push_str(&format!(
        " AND issued_at >= ?{} AND issued_at < ?{}",
        n + 2,
        n + 3
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out = Vec::new();
    for (bucket, range) in query.bounds.windows(2).enumerate() {
        let mut values: Vec<Value> = vec![Value::Text(query.site.clone())];
        values.extend(combo.iter().cloned());
        values.push(Value::Text(range[0].clone()));
        values.push(Value::Text(range[1].clone()));
        let count: i64 = stmt.query_row(params_from_iter(values), |r| r.get(0))?;
        if count > 0 {
            out.push((bucket, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(out)
}

/// Whether a cookie receipt's categories are a choice to count: a withdrawal repeats the
/// choice it withdraws, which was counted when it was made.
fn is_choice(kind: &str, event: &str) -> bool {
    kind == Kind::Cookies.as_str() && event != Event::Withdrawn.as_str()
}

/// Adds the category rows of a receipt just inserted as `seq` at `issued_at`.
pub(super) fn record_choices(
    tx: &Transaction<'_>,
    seq: i64,
    issued_at: &str,
    receipt: &PreparedReceipt,
) -> Result<(), rusqlite::Error> {
    let Some(choices) = &receipt.categories else {
        return Ok(());
    };
    if !is_choice(receipt.kind.as_str(), receipt.event.as_str()) {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO cookie_choices (site, issued_at, seq, category, granted)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for choice in choices {
        insert.execute(params![
            receipt.site,
            issued_at,
            seq,
            choice.id,
            choice.granted
        ])?;
    }
    Ok(())
}

/// The part of a stored payload the backfill reads.
#[derive(Deserialize)]
struct Categories {
    #[serde(default)]
    categories: Option<Vec<Granted>>,
}

#[derive(Deserialize)]
struct Granted {
    id: String,
    granted: bool,
}

/// Fills `cookie_choices` for the cookie choices stored before it existed, from their signed
/// payloads: once, inside the migration's transaction. A payload that cannot be read fails
/// the migration (and so the start) rather than leaving counts silently short.
pub(super) fn backfill(tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
    use base64::Engine;
    let mut select = tx.prepare(
        "SELECT seq, site, issued_at, event, jws FROM receipts WHERE kind = ?1 ORDER BY seq",
    )?;
    let mut insert = tx.prepare(
        "INSERT OR IGNORE INTO cookie_choices (site, issued_at, seq, category, granted)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut rows = select.query([Kind::Cookies.as_str()])?;
    let mut filled = 0_u64;
    while let Some(r) = rows.next()? {
        let (seq, site, issued_at, event, jws): (i64, String, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        if !is_choice(Kind::Cookies.as_str(), &event) {
            continue;
        }
        let unreadable = |why: String| {
            rusqlite::Error::ToSqlConversionFailure(
                format!("receipt {seq}: cannot read its cookie categories: {why}").into(),
            )
        };
        let payload = jws
            .split('.')
            .nth(1)
            .ok_or_else(|| unreadable("not a compact JWS".into()))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|e| unreadable(e.to_string()))?;
        let parsed: Categories =
            serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
        for choice in parsed.categories.unwrap_or_default() {
            insert.execute(params![site, issued_at, seq, choice.id, choice.granted])?;
        }
        filled += 1;
    }
    tracing::info!(
        receipts = filled,
        "cookie choices indexed for the analytics"
    );
    // A store that has planner statistics (`PRAGMA optimize` wrote them) needs them for the
    // new index too: with figures for the old indexes and none for the new one, the planner
    // took it for the admin's pages (site only, newest first) and sorted the whole site.
    let has_stats: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1')",
        [],
        |r| r.get(0),
    )?;
    if has_stats {
        let limit: i64 = tx.query_row("PRAGMA analysis_limit", [], |r| r.get(0))?;
        tx.query_row("PRAGMA analysis_limit = 2000", [], |_| Ok(()))?;
        tx.execute_batch("ANALYZE receipts_analytics; ANALYZE cookie_choices;")?;
        tx.query_row(&format!("PRAGMA analysis_limit = {limit}"), [], |_| Ok(()))?;
    }
    Ok(())
}
