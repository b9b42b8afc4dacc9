//! SQLite's side of integration health: counting a widget's reports into `site_health`
//! (migrations/0009), run by the writer as a [`Maintenance::RecordHealth`] job, and reading a
//! site's rows for the admin page.
//!
//! [`Maintenance::RecordHealth`]: crate::store::Maintenance::RecordHealth

use rusqlite::{Connection, Transaction, params};

use crate::store::{Affected, HealthEvent, HealthRow};

/// Forgets `site`'s rows last seen before `forget_before`, then counts `events` in: a known
/// row adds its count, a new one is inserted while the site has fewer than `max_rows`.
pub(super) fn record(
    tx: &Transaction<'_>,
    site: &str,
    events: &[HealthEvent],
    at: &str,
    forget_before: &str,
    max_rows: i64,
) -> Result<Affected, rusqlite::Error> {
    tx.prepare_cached("DELETE FROM site_health WHERE site = ?1 AND last_seen < ?2")?
        .execute(params![site, forget_before])?;
    let mut add = tx.prepare_cached(
        "UPDATE site_health SET count = min(count + ?5, 1000000000), last_seen = ?6
         WHERE site = ?1 AND code = ?2 AND detail = ?3 AND path = ?4",
    )?;
    let mut rows: i64 = tx
        .prepare_cached("SELECT count(*) FROM site_health WHERE site = ?1")?
        .query_row([site], |r| r.get(0))?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO site_health (site, code, detail, path, count, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?;
    let mut counted = 0;
    for e in events {
        let known = add.execute(params![site, e.code, e.detail, e.path, e.count, at])?;
        if known == 0 && rows < max_rows {
            insert.execute(params![site, e.code, e.detail, e.path, e.count, at])?;
            rows += 1;
        } else if known == 0 {
            continue;
        }
        counted += 1;
    }
    Ok(counted)
}

/// `site`'s rows seen since `since`, most recently seen first (a site has at most a few
/// hundred rows: its key prefix is read whole).
pub(super) fn rows(
    c: &Connection,
    site: &str,
    since: &str,
    limit: u32,
) -> Result<Vec<HealthRow>, rusqlite::Error> {
    c.prepare_cached(
        "SELECT code, detail, path, count, first_seen, last_seen FROM site_health
         WHERE site = ?1 AND last_seen >= ?2 ORDER BY last_seen DESC, code, path LIMIT ?3",
    )?
    .query_map(params![site, since, limit], |r| {
        Ok(HealthRow {
            code: r.get(0)?,
            detail: r.get(1)?,
            path: r.get(2)?,
            count: r.get(3)?,
            first_seen: r.get(4)?,
            last_seen: r.get(5)?,
        })
    })?
    .collect()
}
