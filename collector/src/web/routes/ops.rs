//! Operators' endpoints: liveness, readiness, Prometheus metrics (the OpenAPI document is
//! served by `web::openapi`), and
//! (only with `serve --bench-endpoints`, in a build with the `testing` feature) the
//! benchmark's trivial baseline.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::ops::metrics;
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness",
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = Object))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the writer commits (an empty batch) within two seconds.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: the store is writable",
    description = "Ready once the receipt writer has committed a transaction within 2 s.",
    responses(
        (status = 200, description = "`{\"status\":\"ready\"}`", body = Object),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match actix_web::rt::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            Err(ApiError::Unavailable)
        }
        Err(_) => {
            tracing::warn!("not ready: the receipt writer did not answer within 2 s");
            Err(ApiError::Unavailable)
        }
    }
}

/// `GET /metrics`: Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "Receipts by site/kind/event, request latency by route, rejections by problem code, writer \
                   batch sizes and commit times, store size and last seq (text format 0.0.4). Served only on \
                   the address `serve --metrics-listen` gives (and by `demo`, on loopback): not to the public.",
    responses(
        (status = 200, description = "The metrics", body = String,
         content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 404, description = "`not_found`: not on this address; `serve --metrics-listen ADDR` serves them",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let reader = state.store.reader();
    let (bytes, last_seq) = web::block(move || {
        let head = reader.head()?;
        Ok::<_, crate::store::StoreError>((reader.size_on_disk()?, head.map_or(0, |h| h.seq)))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(metrics::CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render(bytes, last_seq)))
}

/// `POST /_bench/echo` (hidden, `serve --bench-endpoints`): reads the whole body and answers
/// with its length — the cost of the HTTP stack alone, which the benchmark compares
/// receipts with. (A handler that did not read its body would make actix close the
/// connection and measure something else.)
#[cfg(feature = "testing")]
pub async fn bench_echo(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(format!("{{\"bytes\":{}}}", body.len()))
}
