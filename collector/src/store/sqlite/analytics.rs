//! The consent analytics in SQL: counts of ranges of the index `receipts_analytics` and of
//! `cookie_choices`' key (migration 0008), per group and bucket.
//! Also what keeps `cookie_choices` filled: the writer's insert and the migration's backfill.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use serde::Deserialize;

use crate::receipt::{Kind, PreparedReceipt};
use crate::store::analytics::is_choice;
use crate::store::{AnalyticsGroups, AnalyticsQuery, CategoryGroup, EventGroup};

/// The schema version whose migration created `cookie_choices`: after its SQL, the receipts
/// already stored get their rows from [`backfill`].
pub(super) const CHOICES_VERSION: usize = 8;

/// The loose index scan over `receipts_analytics`: per column (kind, event, lang, policy
/// version), the first value under the prefix before it, and the next one after `?`.
const EVENT_NEXT: [[&str; 2]; 4] = [
    [
        "SELECT kind FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 ORDER BY kind LIMIT 1",
        "SELECT kind FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind > ?2 ORDER BY kind LIMIT 1",
    ],
    [
        "SELECT event FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 ORDER BY event LIMIT 1",
        "SELECT event FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 AND event > ?3 ORDER BY event LIMIT 1",
    ],
    [
        "SELECT lang FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 AND event = ?3 ORDER BY lang LIMIT 1",
        "SELECT lang FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 AND event = ?3 AND lang > ?4 ORDER BY lang LIMIT 1",
    ],
    [
        "SELECT policy_version FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 AND event = ?3 AND lang = ?4 ORDER BY policy_version LIMIT 1",
        "SELECT policy_version FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 AND event = ?3 AND lang = ?4 AND policy_version > ?5 ORDER BY policy_version LIMIT 1",
    ],
];

/// The same over `cookie_choices`' key (category, granted).
const CHOICE_NEXT: [[&str; 2]; 2] = [
    [
        "SELECT category FROM cookie_choices WHERE site = ?1 ORDER BY category LIMIT 1",
        "SELECT category FROM cookie_choices WHERE site = ?1 AND category > ?2 ORDER BY category LIMIT 1",
    ],
    [
        "SELECT granted FROM cookie_choices WHERE site = ?1 AND category = ?2 ORDER BY granted LIMIT 1",
        "SELECT granted FROM cookie_choices WHERE site = ?1 AND category = ?2 AND granted > ?3 ORDER BY granted LIMIT 1",
    ],
];

/// One group's receipts in one bucket.
const EVENT_COUNT: &str = "SELECT count(*) FROM receipts INDEXED BY receipts_analytics WHERE site = ?1 AND kind = ?2 AND event = ?3 AND lang = ?4 AND policy_version = ?5 AND issued_at >= ?6 AND issued_at < ?7";

/// One group's category choices in one bucket.
const CHOICE_COUNT: &str = "SELECT count(*) FROM cookie_choices WHERE site = ?1 AND category = ?2 AND granted = ?3 AND issued_at >= ?4 AND issued_at < ?5";

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
    for combo in distinct(conn, &EVENT_NEXT, &query.site)? {
        for (bucket, count) in per_bucket(conn, EVENT_COUNT, query, &combo)? {
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
    for combo in distinct(conn, &CHOICE_NEXT, &query.site)? {
        for (bucket, count) in per_bucket(conn, CHOICE_COUNT, query, &combo)? {
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

/// Every distinct combination of the columns `next` walks in `site`'s index entries, one
/// column at a time: the next value after the last one, under a fixed prefix, is one seek.
fn distinct(
    conn: &Connection,
    next: &[[&str; 2]],
    site: &str,
) -> Result<Vec<Vec<Value>>, rusqlite::Error> {
    let mut found = Vec::new();
    let mut prefix: Vec<Value> = Vec::new();
    // `after[i]`: the last value seen at depth i under the current prefix (None: none yet).
    let mut after: Vec<Option<Value>> = vec![None];
    while let Some(last) = after.last().cloned() {
        let depth = prefix.len();
        let sql = next[depth][usize::from(last.is_some())];
        let mut values: Vec<Value> = vec![Value::Text(site.to_owned())];
        values.extend(prefix.iter().cloned());
        values.extend(last);
        let value: Option<Value> = conn
            .prepare_cached(sql)?
            .query_row(params_from_iter(values), |r| r.get(0))
            .optional()?;
        match value {
            Some(value) if depth + 1 == next.len() => {
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

/// How many of `site`'s entries with the values `combo` lie in each bucket (non-zero only),
/// by `sql` (site, the combination, then the bucket's bounds).
fn per_bucket(
    conn: &Connection,
    sql: &str,
    query: &AnalyticsQuery,
    combo: &[Value],
) -> Result<Vec<(usize, u64)>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(sql)?;
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
        tx.pragma_update_and_check(None, "analysis_limit", 2000, |r| r.get::<_, i64>(0))?;
        tx.execute_batch("ANALYZE receipts_analytics; ANALYZE cookie_choices;")?;
        tx.pragma_update_and_check(None, "analysis_limit", limit, |r| r.get::<_, i64>(0))?;
    }
    Ok(())
}
