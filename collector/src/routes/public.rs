//! Public HTTP handlers: site config, policy texts, receipts, JWKS, health, widget files.
//!
//! Handlers stay thin: extract, look up, call `receipt`/`store`/`assets`, shape the
//! response. SQLite reads run in `web::block`; writes go to the store's writer thread.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;
use crate::hash::is_lower_hex;
use crate::negotiate::{etag_matches, pick_language};
use crate::receipt::{self, ReceiptRequest};
use crate::store::ReceiptRow;

/// `{ "id", "seq", "jws" }`: the answer to a receipt POST and GET.
#[derive(Debug, Serialize)]
pub struct ReceiptBody<'a> {
    pub id: &'a str,
    pub seq: i64,
    pub jws: &'a str,
}

fn if_none_match(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
}

/// `GET /v1/sites/{site}/config`: the widget's texts and settings.
pub async fn site_config(
    state: web::Data<AppState>,
    site: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let site = state.site(&site)?;
    let not_modified = etag_matches(if_none_match(&req), &site.etag);
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ETAG, site.etag.as_str()));
    if not_modified {
        return Ok(res.finish());
    }
    Ok(res
        .content_type("application/json")
        .body(site.view_json.clone()))
}

#[derive(Debug, Deserialize)]
pub struct PolicyQuery {
    lang: Option<String>,
}

/// `GET /v1/sites/{site}/policies/{version}[?lang=kk]`: the exact consent text whose SHA-256
/// receipts carry, as `text/plain`. Without `lang`, `Accept-Language` picks, then the
/// site's default language.
pub async fn policy_text(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<PolicyQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (site_id, version) = path.into_inner();
    let site = &state.site(&site_id)?.config;
    let policy = site
        .policy(&version)
        .ok_or_else(|| ApiError::UnknownPolicy {
            site: site_id.clone(),
            version: version.clone(),
        })?;
    let available: Vec<String> = policy.texts.keys().cloned().collect();
    let lang = match &query.lang {
        Some(lang) => lang.clone(),
        None => {
            let accept = req
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok());
            pick_language(accept, &available)
                .map(str::to_owned)
                .or_else(|| {
                    available
                        .contains(&site.default_language)
                        .then(|| site.default_language.clone())
                })
                .or_else(|| available.first().cloned())
                .unwrap_or_default()
        }
    };
    let text = policy
        .texts
        .get(&lang)
        .ok_or_else(|| ApiError::UnknownLanguage {
            site: site_id,
            version,
            lang: lang.clone(),
            available: available.join(", "),
        })?;
    let etag = format!("\"{}\"", text.sha256);
    let not_modified = etag_matches(if_none_match(&req), &etag);
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_LANGUAGE, lang))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if query.lang.is_none() {
        res.insert_header((header::VARY, "Accept-Language"));
    }
    if not_modified {
        return Ok(res.finish());
    }
    Ok(res
        .content_type("text/plain; charset=utf-8")
        .body(text.text.clone()))
}

/// `POST /v1/receipts`: validate, sign, chain, commit; 201 (200 for a replay) only once
/// the receipt is durable.
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
    let prepared = receipt::prepare(body, &site.config, &state.base_url, &state.subject_key)?;
    let issued = state.store.issue(prepared).await?;
    tracing::info!(site = %site.config.id, seq = issued.seq, id = %issued.id, created = issued.created, "receipt");
    let status = if issued.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/v1/receipts/{}", issued.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ReceiptBody {
            id: &issued.id,
            seq: issued.seq,
            jws: &issued.jws,
        }))
}

#[derive(Debug, Deserialize)]
pub struct ReceiptQuery {
    site: Option<String>,
}

/// `GET /v1/receipts/{id-or-ref}`: by UUID, or by the reference a form carried.
pub async fn get_receipt(
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<ReceiptQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    let reader = state.store.reader();
    // Only the hyphenated form counts as an id: uuid also parses 32 bare hex digits, which
    // is what a reference looks like.
    let row: ReceiptRow = if key.len() == 36 && uuid::Uuid::try_parse(&key).is_ok() {
        let id = key.to_ascii_lowercase();
        web::block(move || reader.by_id(&id))
            .await??
            .ok_or_else(|| ApiError::NotFound(format!("no receipt with id `{key}`")))?
    } else if is_lower_hex(&key, 32) {
        let lookup = key.clone();
        let site = query.into_inner().site;
        let mut rows = web::block(move || reader.by_ref(&lookup, site.as_deref())).await??;
        match rows.len() {
            0 => {
                return Err(ApiError::NotFound(format!(
                    "no receipt with reference `{key}`"
                )));
            }
            1 => rows.remove(0),
            _ => return Err(ApiError::AmbiguousReference(key)),
        }
    } else {
        return Err(ApiError::InvalidRequest(format!(
            "`{key}` is neither a receipt id (UUID) nor a reference (32 lower-case hex digits)"
        )));
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .json(ReceiptBody {
            id: &row.id,
            seq: row.seq,
            jws: &row.jws,
        }))
}

/// `GET /.well-known/jwks.json`: every key that ever signed, active first.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.jwks_json.clone())
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the writer commits (an empty batch) within two seconds.
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

/// `GET /kelisim.js`, `GET /kelisim.<hash>.{js,wasm,css}`.
pub async fn widget_file(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let name = req.path().trim_start_matches('/');
    state.assets.respond(name, &req).ok_or_else(|| {
        if state.assets.is_built() {
            ApiError::NotFound(format!("no widget file `{name}`; reload the page to get the current loader"))
        } else {
            ApiError::NotFound(format!(
                "the widget is not built on this collector (no files in {}); run `cargo xtask dist`",
                state.assets.dir().display()
            ))
        }
    })
}

/// Any path without a route.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no such resource: {} {}",
        req.method(),
        req.path()
    )))
}

/// A known path with a method it does not support.
pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}
