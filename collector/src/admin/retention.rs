//! Lifecycle deadlines, enforced by `kelisim-collector purge` and by a task in `serve`.
//!
//! **Retention**: receipts are kept for the site's `retention_days` after the last event of a
//! consent (its withdrawal, if any), then purged, daily. A purged receipt leaves a tombstone
//! (its `seq` and the SHA-256 of its JWS) so `audit` still verifies the chain across it.
//!
//! **Erasure deadline**: a data subject's erasure request is due `erasure_deadline_days`
//! after the day it was received. One recorded as pending is carried out by the task, hourly,
//! before its due time comes ([`ERASURE_HORIZON`]), so a deadline cannot pass silently while
//! the collector runs; `purge` does the same for the next day.

use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::format_timestamp;
use crate::store::{ErasureRequest, Maintenance, Store};

/// How often `serve` purges.
pub const PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// How often `serve` looks for erasure requests coming due.
pub const ERASURE_PERIOD: Duration = Duration::from_secs(60 * 60);

/// `serve` purges at every this many looks for due erasures: once per [`PERIOD`].
const LOOKS_PER_PURGE: u64 = PERIOD.as_secs() / ERASURE_PERIOD.as_secs();

/// `serve` carries out pending erasure requests due within this: two of its periods, so a
/// late tick still comes before the due time.
pub const ERASURE_HORIZON: Duration = Duration::from_secs(2 * 60 * 60);

/// An erasure request's received date may lie at most this far back: older is a typo, and a
/// request that old would be far past any deadline.
const MAX_RECEIVED_AGE_DAYS: i64 = 365;

/// Receipts whose last event is before this instant are past retention.
pub fn cutoff(now: OffsetDateTime, retention_days: u32) -> String {
    format_timestamp(now - time::Duration::days(i64::from(retention_days)))
}

/// The purge of one site as of `now`.
pub fn purge_job(site: &str, retention_days: u32, now: OffsetDateTime) -> Maintenance {
    Maintenance::Purge {
        site: site.to_owned(),
        cutoff: cutoff(now, retention_days),
        at: format_timestamp(now),
    }
}

/// When a request received at `received` must have been carried out.
pub fn erasure_due(received: OffsetDateTime, deadline_days: u32) -> OffsetDateTime {
    received + time::Duration::days(i64::from(deadline_days))
}

/// A data subject's erasure request for `site`, found by `hmacs`, received at `received` and
/// due the site's `deadline_days` later; recorded `now` by `by` (a token id or
/// [`crate::store::BY_CLI`]), and carried out at once unless `pending`.
pub fn erasure_request(
    site: &str,
    hmacs: Vec<String>,
    received: OffsetDateTime,
    deadline_days: u32,
    now: OffsetDateTime,
    by: &str,
    pending: bool,
) -> ErasureRequest {
    ErasureRequest {
        id: uuid::Uuid::now_v7().to_string(),
        site: site.to_owned(),
        hmacs,
        received_at: format_timestamp(received),
        due_at: format_timestamp(erasure_due(received, deadline_days)),
        recorded_at: format_timestamp(now),
        recorded_by: by.to_owned(),
        execute: !pending,
    }
}

/// The latest date anywhere on Earth at `now`: the date at UTC+14 (Line Islands). A
/// date-only `received` up to it is "today" somewhere, e.g. in Kazakhstan (UTC+5) while it is
/// still yesterday in UTC.
fn latest_date_on_earth(now: OffsetDateTime) -> time::Date {
    (now + time::Duration::hours(14)).date()
}

/// The date an erasure request arrived, as an admin gives it: `YYYY-MM-DD` (the start of that
/// day, UTC: the deadline is counted from the day, never later) or an RFC 3339 time. Not in
/// the future, not more than a year back. The error is the reason, for the caller to prefix.
pub fn parse_received(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    let future = || {
        format!(
            "`{text}` is in the future; give the date the request arrived (today at the latest)"
        )
    };
    let at = if let Ok(day) = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        // A date is compared as a date: the admin's "today" is not UTC's.
        if day > latest_date_on_earth(now) {
            return Err(future());
        }
        day.midnight().assume_utc()
    } else {
        let at = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                format!(
                    "`{text}` is not a date; write the day the request arrived as YYYY-MM-DD, \
                     or an RFC 3339 time like 2026-11-02T09:30:00Z"
                )
            })?;
        // A minute of clock skew between the admin's machine and this one.
        if at > now + time::Duration::minutes(1) {
            return Err(future());
        }
        at
    };
    if at < now - time::Duration::days(MAX_RECEIVED_AGE_DAYS) {
        return Err(format!(
            "`{text}` is more than a year ago; check the date the request arrived"
        ));
    }
    Ok(at)
}

/// A query's time bound (`from`, `to`) as the store compares it: `YYYY-MM-DD` (the start of
/// that day, UTC) or an RFC 3339 time (any offset), written as the receipts' `issued_at` is
/// (UTC, milliseconds), so the comparison is a time comparison. The error is the reason, for
/// the caller to prefix with the parameter's name.
pub fn time_bound(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Ok(day) = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        return Ok(format_timestamp(day.midnight().assume_utc()));
    }
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(format_timestamp)
        .map_err(|_| {
            format!(
                "`{text}` is not a time; write a day as YYYY-MM-DD or a time as RFC 3339, \
                 like 2026-11-02T09:30:00Z"
            )
        })
}

/// The job that carries out every pending erasure request due before `now + horizon`.
pub fn due_erasures_job(now: OffsetDateTime, horizon: Duration) -> Maintenance {
    Maintenance::ExecuteDueErasures {
        before: format_timestamp(now + horizon),
        at: format_timestamp(now),
    }
}

/// Purges every site of `sites` (id, `retention_days`) once, through the writer; returns
/// receipts purged.
pub async fn purge_all(store: &Store, sites: &[(String, u32)]) -> u64 {
    let now = OffsetDateTime::now_utc();
    let mut total = 0;
    for (id, retention_days) in sites {
        match store.maintain(purge_job(id, *retention_days, now)).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(
                        site = id,
                        purged = n,
                        "retention: purged receipts past their period"
                    );
                }
                total += n;
            }
            Err(e) => {
                tracing::error!(site = id, error = %e, "retention purge failed; retrying tomorrow")
            }
        }
    }
    total
}

/// Carries out the pending erasure requests of every site that come due before the next
/// look; returns how many.
pub async fn erase_due(store: &Store) -> u64 {
    let now = OffsetDateTime::now_utc();
    match store.maintain(due_erasures_job(now, ERASURE_HORIZON)).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(
                    requests = n,
                    "erasure: carried out pending requests as their due time came"
                );
            }
            n
        }
        Err(e) => {
            tracing::error!(error = %e, "carrying out due erasure requests failed; retrying within the hour");
            0
        }
    }
}

/// Whether `serve` purges at its `look`-th look for due erasures (0 at start).
fn purges_at(look: u64) -> bool {
    look.is_multiple_of(LOOKS_PER_PURGE)
}

/// `serve`'s lifecycle task: at start and then hourly the erasure requests coming due, and
/// at start and then daily the retention purge. The purge follows the ticker's schedule
/// (every 24th tick), not the time the last purge finished, which would drift later by the
/// purge's own duration each day. `sites` gives the sites and their `retention_days` at each
/// purge (the configuration may have been reloaded since the last).
pub async fn daily(store: Store, sites: impl Fn() -> Vec<(String, u32)>) {
    let mut ticker = tokio::time::interval(ERASURE_PERIOD);
    for look in 0u64.. {
        ticker.tick().await;
        erase_due(&store).await;
        if purges_at(look) {
            purge_all(&store, &sites()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_retention_days_before_now() {
        let now = time::macros::datetime!(2026-11-21 10:00 UTC);
        assert_eq!(cutoff(now, 1095), "2023-11-22T10:00:00.000Z");
        assert_eq!(cutoff(now, 1), "2026-11-20T10:00:00.000Z");
    }

    #[test]
    fn an_erasure_is_due_deadline_days_after_the_day_it_was_received() {
        let now = time::macros::datetime!(2026-11-21 10:00 UTC);
        let day = parse_received("2026-11-02", now).expect("a date");
        assert_eq!(
            format_timestamp(erasure_due(day, 30)),
            "2026-12-02T00:00:00.000Z"
        );
        let at = parse_received("2026-11-02T09:30:00+05:00", now).expect("a time");
        assert_eq!(format_timestamp(at), "2026-11-02T04:30:00.000Z");
        assert_eq!(
            parse_received("2026-11-21", now).map(format_timestamp),
            Ok("2026-11-21T00:00:00.000Z".to_owned()),
            "today is fine"
        );
    }

    #[test]
    fn a_date_is_today_while_it_is_today_anywhere_on_earth() {
        // 01:30 on 21 November in Almaty (UTC+5) is still the 20th in UTC.
        let almaty_night = time::macros::datetime!(2026-11-20 20:30 UTC);
        assert_eq!(
            parse_received("2026-11-21", almaty_night).map(format_timestamp),
            Ok("2026-11-21T00:00:00.000Z".to_owned()),
        );
        // The 22nd begins at UTC+14 at 10:00 UTC on the 21st, not before.
        let before = time::macros::datetime!(2026-11-21 09:59:59 UTC);
        assert!(parse_received("2026-11-22", before).is_err());
        let after = time::macros::datetime!(2026-11-21 10:00 UTC);
        assert!(parse_received("2026-11-22", after).is_ok());
    }

    #[test]
    fn the_purge_runs_at_start_and_every_24th_hourly_look() {
        let looks: Vec<u64> = (0..=72).filter(|&look| purges_at(look)).collect();
        assert_eq!(looks, [0, 24, 48, 72]);
    }

    #[test]
    fn nonsense_received_dates_are_refused_with_the_fix() {
        let now = time::macros::datetime!(2026-11-21 09:00 UTC);
        for (text, reason) in [
            (
                "yesterday",
                "is not a date; write the day the request arrived as YYYY-MM-DD",
            ),
            ("2026-13-01", "is not a date"),
            ("2026-11-22", "is in the future"),
            ("2026-11-21T09:05:00Z", "is in the future"),
            ("2025-11-20", "is more than a year ago"),
        ] {
            let err = parse_received(text, now).expect_err(text);
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.starts_with(&format!("`{text}`")), "{err}");
        }
    }

    #[test]
    fn time_bounds_are_dates_or_rfc3339_times_in_utc() {
        assert_eq!(
            time_bound("2026-11-02").as_deref(),
            Ok("2026-11-02T00:00:00.000Z")
        );
        assert_eq!(
            time_bound("2026-11-02T10:00:00+05:00").as_deref(),
            Ok("2026-11-02T05:00:00.000Z")
        );
        for bad in [
            "garbage",
            "",
            "2026-13-01",
            "02.11.2026",
            "1'; DROP TABLE receipts",
        ] {
            let err = time_bound(bad).expect_err(bad);
            assert!(err.contains("is not a time"), "{err}");
        }
    }
}
