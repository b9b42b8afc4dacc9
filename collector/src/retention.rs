//! Retention: receipts are kept for the site's `retention_days` after the last event of a
//! consent (its withdrawal, if any), then purged — by `kelisim-collector purge` and by a
//! daily task in `serve`. A purged receipt leaves a tombstone (its `seq` and the SHA-256 of
//! its JWS) so `audit` still verifies the chain across it.

use std::time::Duration;

use actix_web::web;

use crate::app::AppState;
use crate::receipt::format_timestamp;
use crate::store::Maintenance;

/// How often `serve` purges.
pub const PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// Receipts whose last event is before this instant are past retention.
pub fn cutoff(now: time::OffsetDateTime, retention_days: u32) -> String {
    format_timestamp(now - time::Duration::days(i64::from(retention_days)))
}

/// The purge of one site as of `now`.
pub fn purge_job(site: &str, retention_days: u32, now: time::OffsetDateTime) -> Maintenance {
    Maintenance::Purge {
        site: site.to_owned(),
        cutoff: cutoff(now, retention_days),
        at: format_timestamp(now),
    }
}

/// Purges every configured site once, through the writer; returns receipts purged.
pub async fn purge_all(state: &AppState) -> u64 {
    let now = time::OffsetDateTime::now_utc();
    let mut total = 0;
    for id in state.site_ids() {
        let Ok(site) = state.site(&id) else { continue };
        match state
            .store
            .maintain(purge_job(&id, site.config.retention_days, now))
            .await
        {
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

/// `serve`'s daily purge: once shortly after start, then every [`PERIOD`].
pub async fn daily(state: web::Data<AppState>) {
    let mut ticker = actix_web::rt::time::interval(PERIOD);
    loop {
        ticker.tick().await;
        purge_all(&state).await;
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
}
