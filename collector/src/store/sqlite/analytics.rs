//! The consent analytics in SQL: per bucket, one range scan of the covering index
//! `receipts_analytics` and one of `cookie_choices` (migration 0007), both grouped in SQLite.
//! Also what keeps `cookie_choices` filled: the writer's insert and the migration's backfill.

use rusqlite::{Connection, Transaction, params};
use serde::Deserialize;

use crate::receipt::{Event, Kind, PreparedReceipt};
use crate::store::{AnalyticsGroups, AnalyticsQuery, CategoryGroup, EventGroup};

/// The schema version whose migration created `cookie_choices`: after its SQL, the receipts
/// already stored get their rows from [`backfill`].
pub(super) const CHOICES_VERSION: usize = 7;

/// Counts `query`'s buckets.
pub(super) fn count(
    conn: &Connection,
    query: &AnalyticsQuery,
) -> Result<AnalyticsGroups, rusqlite::Error> {
    // INDEXED BY: (site, issued_at) alone would also fit the range, but reads every row.
    let mut events = conn.prepare_cached(
        "SELECT kind, event, lang, policy_version, count(*)
         FROM receipts INDEXED BY receipts_analytics
         WHERE site = ?1 AND issued_at >= ?2 AND issued_at < ?3
         GROUP BY kind, event, lang, policy_version",
    )?;
    let mut categories = conn.prepare_cached(
        "SELECT category, granted, count(*) FROM cookie_choices
         WHERE site = ?1 AND issued_at >= ?2 AND issued_at < ?3
         GROUP BY category, granted",
    )?;
    let mut groups = AnalyticsGroups::default();
    for (bucket, range) in query.bounds.windows(2).enumerate() {
        let mut rows = events.query(params![query.site, range[0], range[1]])?;
        while let Some(r) = rows.next()? {
            groups.events.push(EventGroup {
                bucket,
                kind: r.get(0)?,
                event: r.get(1)?,
                lang: r.get(2)?,
                policy_version: r.get(3)?,
                count: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
            });
        }
        let mut rows = categories.query(params![query.site, range[0], range[1]])?;
        while let Some(r) = rows.next()? {
            groups.categories.push(CategoryGroup {
                bucket,
                category: r.get(0)?,
                granted: r.get::<_, i64>(1)? != 0,
                count: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            });
        }
    }
    Ok(groups)
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
    Ok(())
}
