//! The app's middleware: the access log (timing, metrics, one log line), the listener's
//! scope (the metrics address serves only the operators' routes), the preflight guard (CORS
//! refusals as problem+json) and the public and admin per-address rate limits.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::header::{self};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_core::Stream;

use crate::web::connections::Deadline;
use crate::web::error::{ApiError, ProblemCode};
use crate::web::ratelimit::{RateLimiter, retry_after_secs};
use crate::web::state::{AppState, MetricsAt};

/// Times every request, records it in the metrics (route pattern, never the path, and the
/// problem code of a rejection) and logs it: rejections at info, server errors at error,
/// successes and rate-limit refusals (a flood must not flood the log) at debug. The middleware
/// inside it answer with responses rather than errors, so every rejection passes here.
pub(super) async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let method = res.request().method().clone();
    let path = res.request().path().to_owned();
    let route = res.request().match_pattern();
    let code = res.response().extensions().get::<ProblemCode>().copied();
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        let route = route.as_deref().map_or("unmatched", openapi_route);
        state
            .metrics
            .request(method.as_str(), route, status, elapsed.as_secs_f64());
        if let Some(ProblemCode(code)) = code {
            state.metrics.rejection(code);
        }
    }
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let code = code.map_or("-", |c| c.0);
    if status >= 500 {
        tracing::error!(target: "kelisim::http", %method, path, status, code, micros, "request");
    } else if status >= 400 && status != 429 {
        tracing::info!(target: "kelisim::http", %method, path, status, code, micros, "request");
    } else {
        tracing::debug!(target: "kelisim::http", %method, path, status, micros, "request");
    }
    Ok(res)
}

/// Route patterns as metric labels: the widget-file regex shortened.
fn openapi_route(pattern: &str) -> &str {
    if pattern.starts_with("/{file:") {
        "/{file}"
    } else {
        pattern
    }
}

/// CORS preflights from origins the API does not serve get a problem document (403) instead
/// of actix-cors's plain-text refusal; so do preflights asking for methods or headers the
/// API does not accept (400).
pub(super) async fn preflight_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight && let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.cors_allows(origin, req.head()));
        if !allowed {
            let err = ApiError::PreflightOriginNotAllowed {
                origin: origin.to_str().unwrap_or("<not text>").to_owned(),
            };
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    let res = next.call(req).await?;
    if preflight && res.status() == StatusCode::BAD_REQUEST {
        let refusal = ApiError::PreflightRefused.error_response();
        return Ok(res.into_response(refusal).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

/// The per-address limit on `/v1`: over it, a 429 problem with `Retry-After`.
pub(super) async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    limited(req, next, |state| &state.rate_limiter).await
}

/// The admin API's own per-address limit.
pub(super) async fn admin_rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    limited(req, next, |state| &state.admin_rate_limiter).await
}

async fn limited(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    limiter: fn(&AppState) -> &RateLimiter,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let client = state.clients.client(req.peer_addr(), req.headers());
        if let Err(wait) = limiter(state).check(client) {
            let err = ApiError::TooManyRequests {
                retry_after: retry_after_secs(wait),
            };
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The operators' routes, the only ones the metrics address serves.
const OPERATOR_PATHS: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// The metrics address (`serve --metrics-listen`) serves the operators' routes only, and
/// `/metrics` answers nowhere else (404, as if it did not exist).
pub(super) async fn listener_scope(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let path = req.path();
        let on_metrics_address = match state.metrics_at {
            MetricsAt::Listener(addr) => req.app_config().local_addr() == addr,
            MetricsAt::Everywhere | MetricsAt::Nowhere => false,
        };
        let refused = if on_metrics_address {
            !OPERATOR_PATHS.contains(&path)
        } else {
            path == "/metrics" && state.metrics_at != MetricsAt::Everywhere
        };
        if refused {
            let err = ApiError::NotFound(format!("no such resource: {} {path}", req.method()));
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Middleware: a request with a body gets `state`'s body timeout to send it; past that the
/// answer is 408 `body_timeout` and the connection is closed. Requests without a body pass
/// untouched.
pub(super) async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.body_timeout);
    let (Some(timeout), true) = (timeout, has_body) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let fired = Arc::new(AtomicBool::new(false));
    let body = Deadline {
        body: req.take_payload(),
        timer: Box::pin(actix_web::rt::time::sleep(timeout)),
        fired: Arc::clone(&fired),
    };
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
    req.set_payload(Payload::from(stream));
    let res = next.call(req).await?;
    if !fired.load(Ordering::Relaxed) {
        return Ok(res.map_into_left_body());
    }
    let err = ApiError::BodyTimeout {
        seconds: timeout.as_secs(),
    };
    let mut refusal = err.error_response();
    refusal
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(res.into_response(refusal).map_into_right_body())
}
