//! The admin API under `/v1/admin/sites/{site}/…`: query, read, export and count receipts,
//! withdraw a data subject's consents, record, list and carry out erasure requests (with the
//! site's deadline), read the admin audit trail and the widgets' health reports.
//!
//! Every handler takes the [`SiteAdmin`](crate::web::auth::SiteAdmin) extractor first (401
//! without a valid token, 403 if it does not cover the path's site, 404 for an unknown site),
//! and records what it did in the audit trail before
//! answering; a failure to record fails the request. An erasure step and its entry are
//! written in one transaction, so a failed entry leaves nothing done. Raw phone numbers and e-mail addresses
//! from a search are hashed at once and never recorded or logged. No CORS: these routes are
//! registered outside the `/v1` scope's CORS middleware.

use serde::Deserialize;

use crate::admin::retention;
use crate::clock::format_timestamp;
use crate::receipt::subject::{self, IdentifierKind};
use crate::store::{AuditEntry, Maintenance, ReceiptFilter};
use crate::web::auth::Admin;
use crate::web::error::ApiError;
use crate::web::state::AppState;

mod analytics;
mod changes;
mod compliance;
mod health;
mod reads;

pub use analytics::*;
pub use changes::*;
pub use compliance::*;
pub use health::*;
pub use reads::*;

/// Largest page.
pub(super) const MAX_LIMIT: u32 = 500;

/// A page counts matches up to this many; beyond it `total` is this and `total_exact` false
/// (the stats and the export give exact numbers for any size).
pub const COUNT_CAP: u32 = 1_000;

/// Filters shared by list, export and stats.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// Issued at or after (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Issued before (RFC 3339 or `YYYY-MM-DD`, UTC; exclusive).
    pub to: Option<String>,
    /// `form` or `cookies`.
    pub kind: Option<String>,
    /// `given`, `refused`, `withdrawn` or `updated`.
    pub event: Option<String>,
    pub policy_version: Option<String>,
    pub form_id: Option<String>,
    /// `kk`, `ru` or `en`.
    pub lang: Option<String>,
    /// A phone number or e-mail address in any usual spelling; matched through its keyed hash.
    pub subject: Option<String>,
    /// Page: receipts with a `seq` below this (the previous page's `next`).
    pub before: Option<i64>,
    /// Page size, 1..=500 (default 50).
    pub limit: Option<u32>,
    /// Export format: `csv` (default), `ndjson` or `kantara`.
    pub format: Option<String>,
}

/// The keyed hashes under which `site`'s subject index holds `raw` (a phone or an e-mail in
/// any spelling): the site's own, and v1's.
pub fn subject_hmacs(state: &AppState, site: &str, raw: &str) -> Result<Vec<String>, ApiError> {
    let kind = if raw.contains('@') {
        IdentifierKind::Email
    } else {
        IdentifierKind::Phone
    };
    let normalised = subject::normalize(kind, raw)
        .map_err(|e| ApiError::InvalidRequest(format!("`subject`: {e}")))?;
    Ok(state.subject_readings(site, &normalised))
}

/// `from`/`to` as the store compares them; a bound that is not a time is an error, not an
/// empty result.
pub(super) fn time_bound(name: &str, text: Option<&String>) -> Result<Option<String>, ApiError> {
    text.map(|t| {
        retention::time_bound(t).map_err(|e| ApiError::InvalidRequest(format!("`{name}`: {e}")))
    })
    .transpose()
}

pub(super) fn filter_for(
    state: &AppState,
    site: &str,
    q: &FilterQuery,
) -> Result<ReceiptFilter, ApiError> {
    Ok(ReceiptFilter {
        site: Some(site.to_owned()),
        from: time_bound("from", q.from.as_ref())?,
        to: time_bound("to", q.to.as_ref())?,
        kind: q.kind.clone(),
        event: q.event.clone(),
        policy_version: q.policy_version.clone(),
        form_id: q.form_id.clone(),
        lang: q.lang.clone(),
        subject_hmacs: q
            .subject
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| subject_hmacs(state, site, s))
            .transpose()?,
        browser_ids: None,
    })
}

/// What the audit trail records of a query: its filters, with the subject reduced to "given".
pub(super) fn describe(q: &FilterQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{name}={v}"));
        }
    };
    add("from", &q.from);
    add("to", &q.to);
    add("kind", &q.kind);
    add("event", &q.event);
    add("policy_version", &q.policy_version);
    add("form_id", &q.form_id);
    add("lang", &q.lang);
    add("format", &q.format);
    if q.subject.is_some() {
        parts.push("subject=(keyed hash)".into());
    }
    if let Some(b) = q.before {
        parts.push(format!("before={b}"));
    }
    parts.join(" ")
}

/// Writes one audit-trail entry; the request fails if it cannot be recorded.
pub(super) async fn record(
    state: &AppState,
    admin: &Admin,
    site: &str,
    action: &str,
    detail: String,
) -> Result<(), ApiError> {
    state
        .store
        .maintain(Maintenance::Audit(AuditEntry {
            at: format_timestamp(time::OffsetDateTime::now_utc()),
            token_id: admin.token.id.clone(),
            site: Some(site.to_owned()),
            action: action.to_owned(),
            detail,
        }))
        .await?;
    Ok(())
}

pub(super) fn retention(state: &AppState, site: &str) -> Option<u32> {
    state.site(site).ok().map(|s| s.config.retention_days)
}
