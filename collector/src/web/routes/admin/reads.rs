//! The admin's reads: find, read, export and count a site's receipts, and its audit trail.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::admin::SiteInfo;
use crate::admin::export::{self, ChannelWriter, ChunkStream, Format, RowWithStatus};
use crate::admin::kantara;
use crate::clock::format_timestamp;
use crate::hash::sha256_hex;
use crate::keys::verify_compact;
use crate::receipt::{self, ReceiptPayload};
use crate::store::{AdminRow, AuditEntry, Stats, StoreError};
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

use super::*;
use crate::web::auth::SiteAdmin;

/// A page of receipts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptPage<'a> {
    /// Newest first; each with `status` and what happened to it later.
    #[schema(value_type = Vec<Object>)]
    pub receipts: Vec<RowWithStatus<'a>>,
    /// How many receipts match the filters (all pages), counted up to 1 000.
    pub total: i64,
    /// False when there are more than `total` (1 000) matches.
    pub total_exact: bool,
    /// `before` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// `GET /v1/admin/sites/{site}/receipts`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/receipts",
    tag = "admin",
    summary = "Find receipts",
    description = "Filters by time, kind, event, policy version, form, language and subject (a phone or e-mail in any \
                   spelling, matched through its keyed hash). Keyset pages, newest first: pass `next` as `before`; \
                   pages stay stable while receipts are added. Needs a bearer token covering the site.",
    params(("site" = String, Path, description = "Site id"), FilterQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page", body = ReceiptPage),
        (status = 400, description = "`invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_receipts(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let filter = filter_for(&state, &site, &q)?;
    record(&state, &admin, &site, "list", describe(&q)).await?;
    let reader = state.store.reader();
    let before = q.before;
    let (rows, total) = web::block(move || {
        let rows = reader.admin_page(&filter, before, limit)?;
        let total = reader.admin_count(&filter, COUNT_CAP)?;
        Ok::<_, crate::store::StoreError>((rows, total))
    })
    .await??;
    let days = retention(&state, &site);
    let now = time::OffsetDateTime::now_utc();
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.row.seq))
        .flatten();
    let statuses: Vec<&str> = rows.iter().map(|r| export::status(r, days, now)).collect();
    let page = ReceiptPage {
        receipts: rows
            .iter()
            .zip(&statuses)
            .map(|(row, status)| RowWithStatus { row, status })
            .collect(),
        total_exact: total < i64::from(COUNT_CAP),
        total,
        next,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(page))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptFormat {
    /// `json` (default: the receipt, its decoded payload, signature and chain position),
    /// `jws` (download the signed receipt) or `kantara` (Kantara Consent Receipt v1.1).
    pub format: Option<String>,
}

/// One receipt as the admin sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptDetail<'a> {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub row: RowWithStatus<'a>,
    pub payload: Option<ReceiptPayload>,
    /// The salt that opens the payload's subject commitments (hex; each commitment is
    /// HMAC-SHA-256 of the normalised phone or e-mail keyed with it), so the operator can show
    /// whose receipt it is. `null` without identifiers, and once the subject was erased: then
    /// nobody can open them any more.
    pub subject_salt: Option<String>,
    /// `valid`, or why the signature does not verify.
    pub signature: String,
    /// Position in the log: `seq`, and for payloads v1 and v2 `prev`, the SHA-256 of receipt
    /// `seq - 1`'s JWS (v3 has none: the Merkle tree orders the log).
    pub chain: Chain,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Chain {
    pub seq: i64,
    pub prev: Option<String>,
    pub jws_sha256: String,
}

/// `GET /v1/admin/sites/{site}/receipts/{id}`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/receipts/{id}",
    tag = "admin",
    summary = "Open a receipt",
    params(("site" = String, Path), ("id" = String, Path, description = "Receipt UUID"), ReceiptFormat),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The receipt", content(
            (ReceiptDetail = "application/json"),
            (String = "application/jose"),
        )),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_receipt(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<ReceiptFormat>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let format = query.into_inner().format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "jws" | "kantara") {
        return Err(ApiError::InvalidRequest(format!(
            "`format={format}` is not supported; use json, jws or kantara"
        )));
    }
    record(
        &state,
        &admin,
        &site,
        "open",
        format!("id={id} format={format}"),
    )
    .await?;
    let reader = state.store.reader();
    let lookup = id.clone();
    let (row, kept) = web::block(move || {
        let row = reader.admin_get(&lookup)?;
        let kept = match &row {
            Some(r) => Some(reader.private_of(r.row.seq)?),
            None => None,
        };
        Ok::<_, StoreError>((row, kept))
    })
    .await??;
    let row = row
        .filter(|r| r.row.site == site)
        .ok_or_else(|| ApiError::NotFound(format!("site `{site}` has no receipt `{id}`")))?;
    let salt = kept.and_then(|k| k.salt);
    render_receipt(&state, &site, &row, salt, &format)
}

pub(super) fn render_receipt(
    state: &AppState,
    site: &str,
    row: &AdminRow,
    subject_salt: Option<String>,
    format: &str,
) -> Result<HttpResponse, ApiError> {
    let keys = state.public_keys();
    let (payload, signature) = match verify_compact(&row.row.jws, &keys) {
        Ok(v) => (
            serde_json::from_slice::<ReceiptPayload>(&v.payload).ok(),
            "valid".to_owned(),
        ),
        Err(e) => (receipt::decode_unverified(&row.row.jws), e.to_string()),
    };
    match format {
        "jws" => Ok(HttpResponse::Ok()
            .content_type("application/jose")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"kelisim-receipt-{}.jws\"",
                    row.row.reference
                ),
            ))
            .body(row.row.jws.clone())),
        "kantara" => {
            let payload = payload.ok_or_else(|| {
                ApiError::Internal(format!("receipt {} has no readable payload", row.row.id))
            })?;
            let site_state = state.site(site)?;
            let doc = kantara::render(&payload, &row.row.kid, &SiteInfo::from(&site_state.config));
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"kelisim-receipt-{}.kantara.json\"",
                        row.row.id
                    ),
                ))
                .json(doc))
        }
        _ => {
            let status =
                export::status(row, retention(state, site), time::OffsetDateTime::now_utc());
            let chain = Chain {
                seq: row.row.seq,
                prev: payload.as_ref().and_then(|p| p.prev.clone()),
                jws_sha256: sha256_hex(row.row.jws.as_bytes()),
            };
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(ReceiptDetail {
                    row: RowWithStatus { row, status },
                    payload,
                    subject_salt,
                    signature,
                    chain,
                }))
        }
    }
}

/// `GET /v1/admin/sites/{site}/export`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/export",
    tag = "admin",
    summary = "Export receipts",
    description = "Streams every matching receipt in log order, in constant memory: `csv` (UTF-8 with BOM, CRLF; opens \
                   in Excel with Cyrillic intact), `ndjson` (one receipt with status per line) or `kantara` (one \
                   Kantara Consent Receipt v1.1 per line). Same filters as the list (`before`/`limit` ignored).",
    params(("site" = String, Path), FilterQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export", content(
            (String = "text/csv; charset=utf-8"),
            (String = "application/x-ndjson"),
        )),
        (status = 400, description = "`invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_receipts(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let format_name = q.format.clone().unwrap_or_else(|| "csv".into());
    let format = Format::parse(&format_name).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "`format={format_name}` is not supported; use csv, ndjson or kantara"
        ))
    })?;
    let filter = filter_for(&state, &site, &q)?;
    record(&state, &admin, &site, "export", describe(&q)).await?;
    let site_state = state.site(&site)?;
    let sites: HashMap<String, SiteInfo> =
        [(site.clone(), SiteInfo::from(&site_state.config))].into();
    let reader = state.store.reader();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    actix_web::rt::task::spawn_blocking(move || {
        let mut out = ChannelWriter::new(tx.clone());
        if let Err(e) = export::write_export(&reader, &filter, format, &sites, &mut out) {
            // The status line is gone: end the body with an error so the client sees a
            // broken transfer rather than a short file that looks complete.
            tracing::warn!(error = %e, "export stopped");
            let _ = tx.blocking_send(Err(std::io::Error::other("export stopped")));
        }
    });
    let stamp = format_timestamp(time::OffsetDateTime::now_utc());
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"kelisim-{site}-{}.{}\"",
                &stamp[..10],
                format.extension()
            ),
        ))
        .streaming(ChunkStream(rx)))
}

/// `GET /v1/admin/sites/{site}/stats`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/stats",
    tag = "admin",
    summary = "Consent statistics",
    description = "Consents given, refused, withdrawn and updated: in total, per day (UTC), per policy version, per \
                   language and per kind (form or cookies). Same filters as the list.",
    params(("site" = String, Path), FilterQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts", body = Stats),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stats(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = filter_for(&state, &site, &q)?;
    record(&state, &admin, &site, "stats", describe(&q)).await?;
    let reader = state.store.reader();
    let stats = web::block(move || reader.admin_stats(&filter)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(stats))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At most this many entries, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// `GET /v1/admin/sites/{site}/audit`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/audit",
    tag = "admin",
    summary = "The admin audit trail",
    description = "Every admin read and change on this site: when, by which token (its public id), what. Reading it \
                   is recorded too.",
    params(("site" = String, Path), AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntry>),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audit_trail(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    record(&state, &admin, &site, "audit", format!("limit={limit}")).await?;
    let reader = state.store.reader();
    let entries = web::block(move || reader.admin_audit(&site, limit)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(entries))
}
