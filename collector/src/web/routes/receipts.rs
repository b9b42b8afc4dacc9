//! Receipt handlers: record a consent event, read a receipt (JSON, the visitor's page, or
//! the bare JWS as a download), withdraw a consent.
//!
//! Validation happens before anything reaches the store's writer, so a rejection changes
//! nothing; a 201 is sent only after the writer's batch committed. SQLite reads run in
//! `web::block`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::hash::is_lower_hex;
use crate::keys::verify_compact;
use crate::receipt::{self, Kind, ReceiptPayload, ReceiptRequest, WithdrawRequest};
use crate::store::{Issued, ReceiptRow};
use crate::web::error::{ApiError, Problem};
use crate::web::negotiate::prefers_html;
use crate::web::pages::receipt::{self as receipt_page, Page};
use crate::web::state::AppState;

/// `{ "id", "seq", "jws" }`: the answer to a receipt POST and GET.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptBody<'a> {
    /// The receipt's UUIDv7.
    pub id: &'a str,
    /// Its position in the log.
    pub seq: i64,
    /// The signed receipt, a compact JWS (docs/receipt.md).
    pub jws: &'a str,
}

/// 201 for a new receipt, 200 for an idempotent replay; counted in the metrics.
fn issued_response(
    state: &AppState,
    issued: &Issued,
    site: &str,
    kind: &str,
    event: &str,
) -> HttpResponse {
    let status = if issued.created {
        state.metrics.receipt_created(site, kind, event);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // Never the reference or identifiers: the id and seq are enough to find it.
    tracing::debug!(site, seq = issued.seq, id = %issued.id, created = issued.created, event, "receipt");
    HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/v1/receipts/{}", issued.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ReceiptBody {
            id: &issued.id,
            seq: issued.seq,
            jws: &issued.jws,
        })
}

/// `POST /v1/receipts`: validate, sign, chain, commit; 201 (200 for a replay) only once
/// the receipt is durable.
#[utoipa::path(
    post,
    path = "/v1/receipts",
    tag = "receipts",
    summary = "Record a consent event",
    description = "Validates the event against the site's configuration, stamps the policy and label hashes, \
                   replaces phone/e-mail identifiers by the site's index entries (kept) and salted commitments \
                   (signed), keeps only the hash of the withdrawal `secret`, signs the receipt (Ed25519 JWS, \
                   payload v2), chains it and answers only after it is durably committed. The same `key` with the same content \
                   returns the same receipt (200). At most 16 KiB. CORS: the site's allowed origins.",
    request_body(content = ReceiptRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded", body = ReceiptBody,
         headers(("Location" = String, description = "/v1/receipts/{id}"))),
        (status = 200, description = "An idempotent replay: the receipt recorded earlier for this key", body = ReceiptBody),
        (status = 400, description = "`invalid_body`: not JSON, wrong types, unknown or missing fields, invalid values",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`origin_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_site`", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`body_timeout`: the body did not arrive in time", body = Problem,
         content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_conflict`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`: more than 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_policy_version` or `invalid_identifier`", body = Problem,
         content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`, with Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: the writer is saturated or stopping, with Retry-After", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub async fn create_receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ReceiptRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let site = state.site(&body.site)?;
    site.check_origin(
        req.headers().get(header::ORIGIN),
        req.headers().get(header::HOST),
    )?;
    let salt = crate::receipt::subject::new_salt()
        .map_err(|e| ApiError::Internal(format!("no randomness for a subject salt: {e}")))?;
    let prepared = receipt::prepare(body, &site.config, &state.base_url, &site.keys, &salt)?;
    let (kind, event) = (prepared.kind, prepared.event);
    let undeclared = crate::admin::health::undeclared_fields(
        &site.config,
        kind == Kind::Form,
        &prepared.context.page_url,
        &prepared.context.fields,
    );
    let issued = state.store.issue(prepared).await?;
    // A field the consent text may not name shows in the admin's Site health. The receipt is
    // recorded either way: failing to count this must not fail the consent.
    if issued.created
        && !undeclared.is_empty()
        && let Err(e) = crate::web::routes::health::count(&state, &site.config.id, undeclared).await
    {
        tracing::warn!(site = %site.config.id, error = %e, "site health: a form's undeclared field was not counted");
    }
    Ok(issued_response(
        &state,
        &issued,
        &site.config.id,
        kind.as_str(),
        event.as_str(),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// Narrows a reference to one site's receipts (references are chosen by widgets).
    site: Option<String>,
    /// `json` (default), `html` (the visitor's page) or `jws` (download the signed receipt).
    format: Option<String>,
    /// Language of the page: kk, ru or en (default from Accept-Language, then the receipt's).
    lang: Option<String>,
}

/// How `GET /v1/receipts/{id}` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
    Jws,
}

impl Format {
    /// `?format=` wins; otherwise a browser asking for HTML gets the page.
    fn pick(query: Option<&str>, accept: Option<&str>) -> Result<Format, ApiError> {
        match query {
            Some("json") => Ok(Format::Json),
            Some("html") => Ok(Format::Html),
            Some("jws") => Ok(Format::Jws),
            Some(other) => Err(ApiError::InvalidRequest(format!(
                "`format={other}` is not supported; use json, html or jws"
            ))),
            None if prefers_html(accept) => Ok(Format::Html),
            None => Ok(Format::Json),
        }
    }
}

/// How a client names a receipt.
enum Key {
    /// Its UUID (lower-cased).
    Id(String),
    /// The reference a form carried, on one of these sites.
    Ref(String, Vec<String>),
}

/// Reads `key` as a UUID, or as a reference: on `site` if given (any site, configured or
/// not), else on the configured sites.
fn parse_key(state: &AppState, key: &str, site: Option<String>) -> Result<Key, ApiError> {
    // Only the hyphenated form counts as an id: uuid also parses 32 bare hex digits, which
    // is what a reference looks like.
    if key.len() == 36 && uuid::Uuid::try_parse(key).is_ok() {
        return Ok(Key::Id(key.to_ascii_lowercase()));
    }
    if !is_lower_hex(key, 32) {
        return Err(ApiError::InvalidRequest(format!(
            "`{key}` is neither a receipt id (UUID) nor a reference (32 lower-case hex digits)"
        )));
    }
    let sites = site.map_or_else(|| state.site_ids(), |s| vec![s]);
    Ok(Key::Ref(key.to_owned(), sites))
}

fn no_receipt_with_id(key: &str) -> ApiError {
    ApiError::NotFound(format!("no receipt with id `{key}`"))
}

/// The one receipt a reference names: not found, or ambiguous across sites.
fn only<T>(mut rows: Vec<T>, key: &str) -> Result<T, ApiError> {
    match rows.len() {
        0 => Err(ApiError::NotFound(format!(
            "no receipt with reference `{key}`"
        ))),
        1 => Ok(rows.remove(0)),
        _ => Err(ApiError::AmbiguousReference(key.to_owned())),
    }
}

/// Every receipt a UUID or reference names: one, or for a reference recorded on several sites
/// (no `site` given) each of them.
async fn find_all(
    state: &AppState,
    key: String,
    site: Option<String>,
) -> Result<Vec<ReceiptRow>, ApiError> {
    let reader = state.store.reader();
    let rows = match parse_key(state, &key, site)? {
        Key::Id(id) => web::block(move || reader.by_id(&id))
            .await??
            .into_iter()
            .collect(),
        Key::Ref(reference, sites) => {
            web::block(move || reader.by_ref(&reference, &sites)).await??
        }
    };
    if rows.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no receipt with id or reference `{key}`"
        )));
    }
    Ok(rows)
}

/// Finds a receipt by UUID or reference ([`parse_key`]).
pub(super) async fn find(
    state: &AppState,
    key: String,
    site: Option<String>,
) -> Result<ReceiptRow, ApiError> {
    let reader = state.store.reader();
    match parse_key(state, &key, site)? {
        Key::Id(id) => web::block(move || reader.by_id(&id))
            .await??
            .ok_or_else(|| no_receipt_with_id(&key)),
        Key::Ref(reference, sites) => only(
            web::block(move || reader.by_ref(&reference, &sites)).await??,
            &key,
        ),
    }
}

/// `GET /v1/receipts/{id-or-ref}`: by UUID, or by the reference a form carried; as JSON, as
/// the visitor's page, or as the bare JWS to keep.
#[utoipa::path(
    get,
    path = "/v1/receipts/{id}",
    tag = "receipts",
    summary = "Read a receipt",
    description = "By its UUID or by its reference (the idempotency key the form carried). JSON by default; the \
                   visitor's page (kk/ru/en) with `?format=html` or when the browser asks for text/html; the \
                   compact JWS as a download `kelisim-receipt-REF.jws` with `?format=jws`.",
    params(
        ("id" = String, Path, description = "Receipt UUID, or its 32-hex reference"),
        ReceiptQuery,
    ),
    responses(
        (status = 200, description = "The receipt", content(
            (ReceiptBody = "application/json"),
            (String = "text/html; charset=utf-8"),
            (String = "application/jose"),
        )),
        (status = 400, description = "`invalid_request`: not an id or reference, or an unknown format", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ambiguous_reference`: add ?site=", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_receipt(
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<ReceiptQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::pick(query.format.as_deref(), accept)?;
    let row = find(&state, key.into_inner(), query.site).await?;
    match format {
        Format::Json => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .insert_header((header::VARY, "Accept"))
            .json(ReceiptBody {
                id: &row.id,
                seq: row.seq,
                jws: &row.jws,
            })),
        Format::Jws => Ok(HttpResponse::Ok()
            .content_type("application/jose")
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                // The reference is 32 hex digits (checked on the way in): safe in a header.
                format!(
                    "attachment; filename=\"kelisim-receipt-{}.jws\"",
                    row.reference
                ),
            ))
            .body(row.jws)),
        Format::Html => {
            let language = req
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok());
            let html = render_page(&state, &row, query.lang.as_deref(), language).await?;
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "private, no-cache"))
                .insert_header((header::VARY, "Accept, Accept-Language"))
                .insert_header((header::CONTENT_SECURITY_POLICY, receipt_page::CSP))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .insert_header((header::REFERRER_POLICY, "no-referrer"))
                .body(html))
        }
    }
}

/// Gathers what the page shows: the payload, whether it verifies now, the operator, the
/// label the visitor saw (if the config still has that exact text), a later withdrawal.
async fn render_page(
    state: &AppState,
    row: &ReceiptRow,
    lang: Option<&str>,
    accept_language: Option<&str>,
) -> Result<String, ApiError> {
    let keys = state.public_keys();
    let (payload, signature) = match verify_compact(&row.jws, &keys) {
        Ok(verified) => (
            serde_json::from_slice::<ReceiptPayload>(&verified.payload).ok(),
            Ok(verified.kid),
        ),
        Err(e) => (receipt::decode_unverified(&row.jws), Err(e.to_string())),
    };
    let payload = payload.ok_or_else(|| {
        ApiError::Internal(format!(
            "stored receipt {} has no readable payload; run `kelisim-collector audit`",
            row.id
        ))
    })?;
    let reader = state.store.reader();
    let id = row.id.clone();
    let withdrawal = web::block(move || reader.withdrawal_of(&id)).await??;
    let site = state.site(&payload.site).ok();
    let site = site.as_deref();
    let label = site
        .and_then(|s| s.config.texts.get(&payload.notice.lang))
        .filter(|t| t.label_sha256 == payload.notice.sha256)
        .map(|t| t.label.as_str());
    let lang = receipt_page::page_language(lang, accept_language, &payload.notice.lang);
    let page = Page {
        lang,
        payload: &payload,
        operator: site.map(|s| &s.config.operator),
        label,
        signature: signature.as_deref().map_err(Clone::clone),
        withdrawn_by: withdrawal
            .as_ref()
            .map(|w| (w.id.as_str(), w.issued_at.as_str())),
        choice_names: site
            .map(|s| s.config.choice_names(payload.kind == Kind::Cookies, lang))
            .unwrap_or_default(),
    };
    Ok(receipt_page::render(&page))
}

/// `{ "id", "status", "withdrawn_at"? }`: whether a consent still stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusBody<'a> {
    /// The receipt's UUIDv7.
    pub id: &'a str,
    /// `withdrawn` once a withdrawal names this receipt (by the browser that gave it, or by
    /// the site's admin on the visitor's request); otherwise the receipt's own event.
    #[schema(example = "given")]
    pub status: &'a str,
    /// When it was withdrawn (RFC 3339), for `withdrawn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<&'a str>,
}

/// `GET /v1/receipts/{id-or-ref}/status`: what the widget asks about the cookie choice it
/// holds, once per browsing session, so that a withdrawal made by the site's admin reaches
/// the visitor's browser at the next visit.
#[utoipa::path(
    get,
    path = "/v1/receipts/{id}/status",
    tag = "receipts",
    summary = "Whether a consent still stands",
    description = "By UUID or reference, like `GET /v1/receipts/{id}`, but only the status: `withdrawn` (with \
                   `withdrawn_at`) once any withdrawal names the receipt, otherwise the receipt's own event \
                   (`given`, `refused`, `updated`, `withdrawn`). The widget asks this about its stored cookie \
                   choice and shows the banner again when it was withdrawn. CORS: the sites' allowed origins.",
    params(
        ("id" = String, Path, description = "Receipt UUID, or its 32-hex reference"),
        SiteQuery,
    ),
    responses(
        (status = 200, description = "The status", body = StatusBody),
        (status = 400, description = "`invalid_request`: not an id or reference", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ambiguous_reference`: add ?site=", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receipt_status(
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<SiteQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    let reader = state.store.reader();
    // One narrow query in one blocking hop: every visitor's first page view asks this.
    let found = match parse_key(&state, &key, query.into_inner().site)? {
        Key::Id(id) => web::block(move || reader.status_by_id(&id))
            .await??
            .ok_or_else(|| no_receipt_with_id(&key))?,
        Key::Ref(reference, sites) => only(
            web::block(move || reader.status_by_ref(&reference, &sites)).await??,
            &key,
        )?,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(StatusBody {
            id: &found.id,
            status: if found.withdrawn_at.is_some() {
                "withdrawn"
            } else {
                &found.event
            },
            withdrawn_at: found.withdrawn_at.as_deref(),
        }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    /// Narrows a reference to one site's receipts.
    site: Option<String>,
}

/// `POST /v1/receipts/{id-or-ref}/withdraw`: the browser that gave a consent withdraws it;
/// answered with the withdrawal's own signed receipt.
#[utoipa::path(
    post,
    path = "/v1/receipts/{id}/withdraw",
    tag = "receipts",
    summary = "Withdraw a consent",
    description = "Records a signed `withdrawn` receipt whose payload names the withdrawn receipt in `withdraws`. \
                   Only the holder of the receipt's withdrawal secret (the `secret` its `POST /v1/receipts` sent, \
                   which only the browser that recorded it has) may withdraw it here; anyone else is refused with \
                   403 `not_receipt_holder`. A reference recorded on several sites is resolved by the secret. \
                   Idempotent: the same key returns the same withdrawal, and withdrawing an already withdrawn \
                   consent returns the existing withdrawal (200). CORS: the site's allowed origins.",
    params(
        ("id" = String, Path, description = "UUID or reference of the receipt to withdraw"),
        SiteQuery,
    ),
    request_body(content = WithdrawRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Withdrawn", body = ReceiptBody,
         headers(("Location" = String, description = "/v1/receipts/{id} of the withdrawal"))),
        (status = 200, description = "Already withdrawn: the existing withdrawal", body = ReceiptBody),
        (status = 400, description = "`invalid_body` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_receipt_holder` (the secret does not open it) or `origin_not_allowed`",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`body_timeout`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_withdrawable` (a refusal or a withdrawal) or `idempotency_conflict`",
         body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn withdraw_receipt(
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<SiteQuery>,
    req: HttpRequest,
    body: web::Json<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut rows = find_all(&state, key.into_inner(), query.into_inner().site).await?;
    // The receipt this secret opens: a reference another site's widget also chose (by chance
    // or by a stranger copying it) does not stand in the way of its holder.
    let candidates: Vec<receipt::Candidate<'_>> = rows
        .iter()
        .map(|r| receipt::Candidate {
            id: &r.id,
            event: &r.event,
            holder_sha256: r.holder_sha256.as_deref(),
        })
        .collect();
    let at = receipt::opened_by(&body.secret.0, &candidates)?;
    let row = rows.swap_remove(at);
    let site = state.site(&row.site)?;
    site.check_origin(
        req.headers().get(header::ORIGIN),
        req.headers().get(header::HOST),
    )?;
    // Withdraw only what the log really says: a stored receipt that no longer verifies is
    // a tampered database, not something to build on.
    let verified = verify_compact(&row.jws, &state.public_keys()).map_err(|e| {
        ApiError::Internal(format!(
            "stored receipt {} does not verify ({e}); run `kelisim-collector audit`",
            row.id
        ))
    })?;
    let original: ReceiptPayload = serde_json::from_slice(&verified.payload).map_err(|e| {
        ApiError::Internal(format!("stored receipt {} is not a receipt: {e}", row.id))
    })?;
    let reader = state.store.reader();
    let seq = row.seq;
    let kept = web::block(move || reader.private_of(seq)).await??;
    let prepared = receipt::prepare_withdrawal(body.key, &original, &kept, &site.config)?;
    let kind = prepared.kind;
    let issued = state.store.issue(prepared).await?;
    Ok(issued_response(
        &state,
        &issued,
        &site.config.id,
        kind.as_str(),
        "withdrawn",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_choice() {
        let browser = Some("text/html,application/xhtml+xml,*/*;q=0.8");
        assert_eq!(Format::pick(None, browser).ok(), Some(Format::Html));
        assert_eq!(Format::pick(None, Some("*/*")).ok(), Some(Format::Json));
        assert_eq!(Format::pick(Some("jws"), browser).ok(), Some(Format::Jws));
        assert_eq!(Format::pick(Some("json"), browser).ok(), Some(Format::Json));
        assert!(Format::pick(Some("xml"), None).is_err());
    }
}
