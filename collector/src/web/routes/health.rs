//! `POST /v1/sites/{site}/diagnostics`: the widget's integration-health reports (what it saw
//! on a page that the operator should fix), validated by `admin::health` and counted into the
//! site's health rows before the answer. Value-free: see `admin::health`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use time::{Duration, OffsetDateTime};

use crate::admin::health::{self, Diagnostic, DiagnosticsRequest, MAX_ROWS_PER_SITE, WINDOW_DAYS};
use crate::clock::format_timestamp;
use crate::store::{HealthEvent, Maintenance};
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

/// `POST /v1/sites/{site}/diagnostics`
#[utoipa::path(
    post,
    path = "/v1/sites/{site}/diagnostics",
    tag = "widget",
    summary = "Report what the widget found on a page",
    description = "1 to 16 value-free events: a code and a detail from closed lists, a count, and the page's path \
                   without its query (segments that could name someone are kept as `*`). Counted into the site's \
                   health rows (`GET /v1/admin/sites/{site}/health`) before the answer. Anything outside the lists is \
                   refused whole. CORS: the site's allowed origins.",
    params(("site" = String, Path, description = "Site id")),
    request_body(content = DiagnosticsRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Counted"),
        (status = 400, description = "`invalid_body`: an unknown code, detail or field, a path with a query, a bad count",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`origin_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_site`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`: more than 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = Problem,
         content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    state: web::Data<AppState>,
    site: web::Path<String>,
    req: HttpRequest,
    body: web::Json<DiagnosticsRequest>,
) -> Result<HttpResponse, ApiError> {
    let site = state.site(&site)?;
    site.check_origin(
        req.headers().get(header::ORIGIN),
        req.headers().get(header::HOST),
    )?;
    let events = health::validate(body.into_inner(), &site.config)
        .map_err(|health::Invalid(why)| ApiError::InvalidBody(why))?;
    count(&state, &site.config.id, events).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// Counts validated `events` into `site`'s health rows, once committed: the widget's reports,
/// and what the collector finds in a receipt (`receipts`).
pub(crate) async fn count(
    state: &AppState,
    site: &str,
    events: Vec<Diagnostic>,
) -> Result<(), ApiError> {
    let now = OffsetDateTime::now_utc();
    state
        .store
        .maintain(Maintenance::RecordHealth {
            site: site.to_owned(),
            events: events
                .into_iter()
                .map(|d| HealthEvent {
                    code: d.code.as_str(),
                    detail: d.detail,
                    path: d.path,
                    count: d.count,
                })
                .collect(),
            at: format_timestamp(now),
            forget_before: format_timestamp(now - Duration::days(WINDOW_DAYS)),
            max_rows: MAX_ROWS_PER_SITE,
        })
        .await?;
    Ok(())
}
