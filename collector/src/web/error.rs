//! The HTTP boundary's one error type, rendered as RFC 9457 `application/problem+json`.
//!
//! Every rejection a client can see goes through [`ApiError`]: handlers return it, and the
//! extractor configs built here ([`json_config`], [`form_config`], [`path_config`],
//! [`query_config`]) route actix's own body/path/query errors into it, so a client always
//! gets the same shape with a stable machine-readable `code`. Internal causes (SQL, IO,
//! panics) are logged and never put in a response. Each problem response carries its code
//! as a [`ProblemCode`] extension, which the access log counts in the metrics.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error::JsonPayloadError, web};
use serde::Serialize;

use crate::receipt::ReceiptError;
use crate::store::StoreError;

/// Largest accepted `POST /v1/receipts` body (wire contract).
pub const MAX_RECEIPT_BODY: usize = 16 * 1024;

/// The `code` of a problem response, attached to the response for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemCode(pub &'static str);

/// Base of the `type` URI of every problem document.
const PROBLEM_TYPE_BASE: &str = "https://kelisim.kz/problems/";

/// Everything an HTTP client can be told went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidBody(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no site `{0}` is configured on this collector; check the script tag's data-site")]
    UnknownSite(String),
    #[error("request body is larger than {limit} bytes; send a smaller receipt request")]
    BodyTooLarge { limit: usize },
    #[error("request body must be sent with `Content-Type: {expected}`")]
    UnsupportedMediaType { expected: &'static str },
    #[error(
        "the request body did not arrive within {seconds} s of its headers; send it at once, \
         on a new connection"
    )]
    BodyTimeout { seconds: u64 },
    #[error(
        "idempotency key `{key}` was already used for a different receipt on site `{site}`; \
         generate a new key for a new consent event"
    )]
    IdempotencyConflict { site: String, key: String },
    #[error(
        "policy version `{got}` is not the current policy `{current}` of site `{site}`; \
         reload the page to get the current consent text"
    )]
    UnknownPolicyVersion {
        site: String,
        got: String,
        current: String,
    },
    #[error("{0}")]
    InvalidIdentifier(String),
    #[error(
        "origin `{origin}` may not record receipts for site `{site}`; \
         add it to the site's allowed_origins"
    )]
    OriginNotAllowed { origin: String, site: String },
    #[error(
        "origin `{origin}` may not call this API from a browser; \
         add it to the site's allowed_origins"
    )]
    PreflightOriginNotAllowed { origin: String },
    #[error(
        "the CORS preflight asks for a method or headers this API does not accept; \
         send GET or POST with only a Content-Type header"
    )]
    PreflightRefused,
    #[error(
        "too many requests from your address; wait {retry_after} s (see Retry-After) and send again"
    )]
    TooManyRequests { retry_after: u64 },
    #[error("{0}")]
    NotWithdrawable(String),
    #[error("{0}")]
    NotHolder(String),
    #[error("site `{site}` has no policy version `{version}`")]
    UnknownPolicy { site: String, version: String },
    #[error(
        "policy `{version}` of site `{site}` has no text in language `{lang}`; try one of: {available}"
    )]
    UnknownLanguage {
        site: String,
        version: String,
        lang: String,
        available: String,
    },
    #[error("reference `{0}` names receipts on more than one site; add `?site=SITE` to choose one")]
    AmbiguousReference(String),
    #[error("{0}")]
    NotFound(String),
    /// A log size or index beyond the latest checkpoint.
    #[error("{0}")]
    OutOfRange(String),
    /// A consistency proof asked from a larger tree to a smaller one.
    #[error("{0}")]
    SizeOrder(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// Admin API without a valid bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// Admin API with a token that does not cover this site or action.
    #[error("{0}")]
    Forbidden(String),
    #[error("the receipt store is not accepting writes right now; retry later")]
    Unavailable,
    /// A witness's refusal to cosign (c2sp.org/tlog-witness): the status and code it gives.
    #[error("{detail}")]
    WitnessRefused {
        status: u16,
        code: &'static str,
        detail: String,
    },
    /// The cause is logged, never sent.
    #[error("internal error; the operator can find the cause in the collector's log")]
    Internal(String),
}

impl ApiError {
    /// Stable machine-readable code; part of the public contract (docs/wire.md).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnknownSite(_) => "unknown_site",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::IdempotencyConflict { .. } => "idempotency_conflict",
            Self::UnknownPolicyVersion { .. } => "unknown_policy_version",
            Self::InvalidIdentifier(_) => "invalid_identifier",
            Self::OriginNotAllowed { .. } | Self::PreflightOriginNotAllowed { .. } => {
                "origin_not_allowed"
            }
            Self::PreflightRefused => "preflight_refused",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::NotWithdrawable(_) => "not_withdrawable",
            Self::NotHolder(_) => "not_receipt_holder",
            Self::UnknownPolicy { .. } => "unknown_policy",
            Self::UnknownLanguage { .. } => "unknown_language",
            Self::AmbiguousReference(_) => "ambiguous_reference",
            Self::NotFound(_) => "not_found",
            Self::OutOfRange(_) => "out_of_range",
            Self::SizeOrder(_) => "from_after_to",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Unavailable => "unavailable",
            Self::WitnessRefused { code, .. } => code,
            Self::Internal(_) => "internal",
        }
    }

    /// Short human summary of the problem type (the same for every instance of a code).
    fn title(&self) -> &'static str {
        match self {
            Self::InvalidBody(_) => "invalid request body",
            Self::InvalidRequest(_) => "invalid request",
            Self::UnknownSite(_) => "unknown site",
            Self::BodyTooLarge { .. } => "request body too large",
            Self::UnsupportedMediaType { .. } => "unsupported media type",
            Self::BodyTimeout { .. } => "request body too slow",
            Self::IdempotencyConflict { .. } => "idempotency key conflict",
            Self::UnknownPolicyVersion { .. } => "unknown policy version",
            Self::InvalidIdentifier(_) => "invalid subject identifier",
            Self::OriginNotAllowed { .. } | Self::PreflightOriginNotAllowed { .. } => {
                "origin not allowed"
            }
            Self::PreflightRefused => "CORS preflight refused",
            Self::TooManyRequests { .. } => "too many requests",
            Self::NotWithdrawable(_) => "consent cannot be withdrawn",
            Self::NotHolder(_) => "not the holder of this receipt",
            Self::UnknownPolicy { .. } => "unknown policy",
            Self::UnknownLanguage { .. } => "unknown language",
            Self::AmbiguousReference(_) => "ambiguous reference",
            Self::NotFound(_) => "not found",
            Self::OutOfRange(_) => "tree size out of range",
            Self::SizeOrder(_) => "sizes in the wrong order",
            Self::MethodNotAllowed(_) => "method not allowed",
            Self::Unauthorized(_) => "admin token required",
            Self::Forbidden(_) => "not allowed with this token",
            Self::Unavailable => "service unavailable",
            Self::WitnessRefused { .. } => "checkpoint not cosigned",
            Self::Internal(_) => "internal error",
        }
    }
}

/// An RFC 9457 problem document (`application/problem+json`); field order as in docs/wire.md.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "https://kelisim.kz/problems/unknown_site",
    "title": "unknown site",
    "status": 404,
    "detail": "no site `nope` is configured on this collector; check the script tag's data-site",
    "code": "unknown_site"
}))]
pub struct Problem<'a> {
    /// `https://kelisim.kz/problems/` followed by the code.
    #[serde(rename = "type")]
    type_: String,
    /// Short summary, the same for every problem with this code.
    title: &'a str,
    /// The HTTP status code.
    status: u16,
    /// What was wrong with this request and how to fix it.
    detail: String,
    /// Stable machine-readable code (docs/wire.md lists them).
    code: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidBody(_)
            | Self::InvalidRequest(_)
            | Self::PreflightRefused
            | Self::OutOfRange(_)
            | Self::SizeOrder(_) => StatusCode::BAD_REQUEST,
            Self::OriginNotAllowed { .. }
            | Self::PreflightOriginNotAllowed { .. }
            | Self::NotHolder(_)
            | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnknownSite(_)
            | Self::UnknownPolicy { .. }
            | Self::UnknownLanguage { .. }
            | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdempotencyConflict { .. }
            | Self::AmbiguousReference(_)
            | Self::NotWithdrawable(_) => StatusCode::CONFLICT,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnknownPolicyVersion { .. } | Self::InvalidIdentifier(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::WitnessRefused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        let code = self.code();
        let problem = Problem {
            type_: format!("{PROBLEM_TYPE_BASE}{code}"),
            title: self.title(),
            status: status.as_u16(),
            detail: self.to_string(),
            code,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::Unavailable => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Self::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"kelisim-admin\""));
            }
            Self::TooManyRequests { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        let mut res = res.body(body);
        res.extensions_mut().insert(ProblemCode(code));
        res
    }
}

impl From<ReceiptError> for ApiError {
    fn from(err: ReceiptError) -> Self {
        match err {
            ReceiptError::InvalidBody(detail) => Self::InvalidBody(detail),
            ReceiptError::UnknownSite(site) => Self::UnknownSite(site),
            ReceiptError::UnknownPolicyVersion { site, got, current } => {
                Self::UnknownPolicyVersion { site, got, current }
            }
            err @ ReceiptError::InvalidIdentifier { .. } => {
                Self::InvalidIdentifier(err.to_string())
            }
            err @ ReceiptError::NotWithdrawable { .. } => Self::NotWithdrawable(err.to_string()),
            err @ ReceiptError::NotHolder { .. } => Self::NotHolder(err.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::IdempotencyConflict { site, key } => {
                Self::IdempotencyConflict { site, key }
            }
            StoreError::Busy
            | StoreError::WriterStopped
            | StoreError::Unwritable(_)
            | StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(format!("blocking task failed: {err}"))
    }
}

/// Maps actix's JSON extractor errors onto the contract's codes.
fn from_json_error(err: &JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::BodyTooLarge { limit: *limit },
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/json",
        },
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::InvalidBody(e.to_string()),
        JsonPayloadError::Deserialize(e) => {
            ApiError::InvalidBody(format!("request body is not valid JSON: {e}"))
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::BodyTooLarge {
                limit: MAX_RECEIPT_BODY,
            }
        }
        _ => ApiError::InvalidBody("could not read the request body; send it again".to_owned()),
    }
}

/// JSON bodies: at most [`MAX_RECEIPT_BODY`], `application/json` required.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_RECEIPT_BODY)
        .content_type_required(true)
        .error_handler(|err, _req: &HttpRequest| from_json_error(&err).into())
}

/// URL-encoded bodies (the demo's feedback form).
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_RECEIPT_BODY)
        .error_handler(|err, _req| {
            use actix_web::error::UrlencodedError as E;
            let api = match err {
                E::Overflow { limit, .. } => ApiError::BodyTooLarge { limit },
                E::ContentType => ApiError::UnsupportedMediaType {
                    expected: "application/x-www-form-urlencoded",
                },
                other => ApiError::InvalidBody(format!("invalid form body: {other}")),
            };
            api.into()
        })
}

/// Path segments that do not parse.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _req| ApiError::InvalidRequest(format!("invalid path: {err}")).into())
}

/// Query strings that do not parse.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::InvalidRequest(format!("invalid query string: {err}")).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn render(err: &ApiError) -> (u16, String, String) {
        let res = err.error_response();
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = res.into_body().try_into_bytes().unwrap_or_default();
        (status, ct, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn problem_document_has_contract_shape() {
        let (status, ct, json) = render(&ApiError::UnknownSite("nope".into()));
        assert_eq!(status, 404);
        assert_eq!(ct, "application/problem+json");
        expect_test::expect![[r#"{"type":"https://kelisim.kz/problems/unknown_site","title":"unknown site","status":404,"detail":"no site `nope` is configured on this collector; check the script tag's data-site","code":"unknown_site"}"#]]
            .assert_eq(&json);
    }

    #[test]
    fn too_many_requests_says_when_to_retry_and_carries_its_code() {
        let err = ApiError::TooManyRequests { retry_after: 3 };
        let res = err.error_response();
        assert_eq!(res.status().as_u16(), 429);
        assert_eq!(
            res.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("3")
        );
        assert_eq!(
            res.extensions().get::<ProblemCode>(),
            Some(&ProblemCode("too_many_requests"))
        );
    }

    #[test]
    fn internal_causes_never_reach_the_client() {
        let (status, _, json) = render(&ApiError::Internal(
            "SELECT secret FROM receipts failed".into(),
        ));
        assert_eq!(status, 500);
        assert!(!json.contains("SELECT"), "{json}");
        assert!(json.contains(r#""code":"internal""#), "{json}");
    }

    #[test]
    fn json_errors_map_to_contract_codes() {
        let too_big = from_json_error(&JsonPayloadError::Overflow { limit: 16384 });
        assert_eq!(
            (too_big.status_code().as_u16(), too_big.code()),
            (413, "body_too_large")
        );
        let ct = from_json_error(&JsonPayloadError::ContentType);
        assert_eq!(
            (ct.status_code().as_u16(), ct.code()),
            (415, "unsupported_media_type")
        );
        let syntax = serde_json::from_str::<serde_json::Value>("{").expect_err("not json");
        let bad = from_json_error(&JsonPayloadError::Deserialize(syntax));
        assert_eq!(bad.code(), "invalid_body");
        assert!(
            bad.to_string()
                .starts_with("request body is not valid JSON"),
            "{bad}"
        );
    }
}
