//! `GET /v1/admin/sites/{site}/health`: what the site's widgets reported in the last
//! `admin::health::WINDOW_DAYS` days, worst first, each with its fix in plain words.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::admin::health::{self, Code, WINDOW_DAYS};
use crate::clock::format_timestamp;
use crate::web::auth::SiteAdmin;
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

use super::record;

/// Most rows answered (a site keeps at most `MAX_ROWS_PER_SITE`).
const LIMIT: u32 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// Language of the fixes: `kk`, `ru` or `en` (default `en`).
    pub lang: Option<String>,
}

/// One finding on one page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthItem {
    /// `analytics_before_widget`, `gated_script_failed`, `csp_blocked_gated`,
    /// `unguarded_form` or `widget_fallback`.
    pub code: String,
    /// The vendor, cookie category or reason.
    pub detail: String,
    /// The page's path (segments that could name someone as `*`).
    pub path: String,
    /// `error` (a promise to visitors may be broken) or `warning`.
    pub severity: &'static str,
    /// What to change, in the asked language.
    pub fix: String,
    /// Reported this many times since `first_seen`.
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
}

/// The site's integration health.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub site: String,
    /// Findings seen at or after this time (RFC 3339).
    pub since: String,
    /// Errors first, then warnings; most recently seen first.
    pub items: Vec<HealthItem>,
}

/// `GET /v1/admin/sites/{site}/health`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/health",
    tag = "admin",
    summary = "Integration health reported by the widget",
    description = "What the site's widgets found on its pages in the last 30 days (an analytics script that ran before \
                   kelisim.js, a gated script that failed or was blocked by the page's CSP, a personal-data form left \
                   unguarded, the plain-checkbox fallback), each with the page, how often, and the fix in plain words. \
                   Needs a bearer token covering the site.",
    params(("site" = String, Path, description = "Site id"), HealthQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The findings", body = Health),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn health(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<HealthQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = query.into_inner().lang.unwrap_or_else(|| "en".into());
    record(&state, &admin, &site, "health", String::new()).await?;
    let since = format_timestamp(OffsetDateTime::now_utc() - Duration::days(WINDOW_DAYS));
    let reader = state.store.reader();
    let (key, from) = (site.clone(), since.clone());
    let rows = web::block(move || reader.health(&key, &from, LIMIT)).await??;
    let mut items: Vec<HealthItem> = rows
        .into_iter()
        .filter_map(|row| {
            // A code a newer collector wrote and this one does not know is left out.
            let code = Code::parse(&row.code)?;
            Some(HealthItem {
                severity: code.severity(),
                fix: health::fix(code, &row.detail, &row.path, &lang),
                code: row.code,
                detail: row.detail,
                path: row.path,
                count: row.count,
                first_seen: row.first_seen,
                last_seen: row.last_seen,
            })
        })
        .collect();
    // Stable: within a severity, the store's order (most recently seen first) stays.
    items.sort_by_key(|i| i.severity != "error");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Health { site, since, items }))
}
