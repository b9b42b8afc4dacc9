//! `GET /v1/admin/sites/{site}/analytics`: the consent analytics of a period, in the site's
//! time zone (`admin::analytics` decides the buckets, the store counts them).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::admin::analytics::{self, Analytics, Period};
use crate::web::auth::SiteAdmin;
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

use super::record;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// First day, `YYYY-MM-DD`, in the site's time zone (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, included; at most 366 days after `from` (default: today in
    /// the site's time zone).
    pub to: Option<String>,
    /// `day` (default) or `week` (Monday to Sunday).
    pub bucket: Option<String>,
}

/// `GET /v1/admin/sites/{site}/analytics`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/analytics",
    tag = "admin",
    summary = "Consent analytics",
    description = "Per day or week of a period, in the site's time zone (`time_zone` in its config): form consents \
                   given, cookie choices (accept all, reject all, custom) and withdrawals; over the period, the share \
                   of cookie choices granting each category, and accepting all per language and per policy version. \
                   Counted by the store from indexed columns. Needs a bearer token covering the site.",
    params(("site" = String, Path, description = "Site id"), AnalyticsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The counts", body = Analytics),
        (status = 400, description = "`invalid_request`: a bad date, period or bucket", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn analytics(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let invalid = |e: analytics::AnalyticsError| ApiError::InvalidRequest(e.to_string());
    let config = state.site(&site)?;
    let zone = config.config.time_zone.clone();
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let period = Period::parse(
        q.from.as_deref(),
        q.to.as_deref(),
        q.bucket.as_deref(),
        today,
    )
    .map_err(invalid)?;
    let categories: Vec<String> = config
        .config
        .categories
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let store_query = period.query(&site, &zone).map_err(invalid)?;
    let detail = format!(
        "from={} to={} bucket={}",
        period.from,
        period.to,
        q.bucket.as_deref().unwrap_or("day")
    );
    record(&state, &admin, &site, "analytics", detail).await?;
    let reader = state.store.reader();
    let groups = web::block(move || reader.analytics(&store_query)).await??;
    let answer = analytics::fold(&site, &zone, &period, &categories, &groups);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
