//! The admin API under `/v1/admin/sites/{site}/…`: query, read, export and count receipts,
//! withdraw a data subject's consents, record, list and carry out erasure requests (with the
//! site's deadline), read the admin audit trail.
//!
//! Every handler takes the [`Admin`] extractor first (401 without a valid token), checks the
//! path's site against the token (403), and records what it did in the audit trail before
//! answering; a failure to record fails the request. An erasure step and its entry are
//! written in one transaction, so a failed entry leaves nothing done. Raw phone numbers and e-mail addresses
//! from a search are hashed at once and never recorded or logged. No CORS: these routes are
//! registered outside the `/v1` scope's CORS middleware.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::admin::export::{self, ChannelWriter, ChunkStream, Format, RowWithStatus, SiteInfo};
use crate::admin::kantara;
use crate::admin::retention;
use crate::clock::format_timestamp;
use crate::hash::{hex, sha256_hex};
use crate::keys::verify_compact;
use crate::receipt::subject::{self, IdentifierKind};
use crate::receipt::{self, ReceiptPayload};
use crate::store::{AdminRow, AuditEntry, Erasure, Maintenance, ReceiptFilter, Stats, StoreError};
use crate::web::auth::Admin;
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

/// Largest page.
const MAX_LIMIT: u32 = 500;

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
fn time_bound(name: &str, text: Option<&String>) -> Result<Option<String>, ApiError> {
    text.map(|t| {
        retention::time_bound(t).map_err(|e| ApiError::InvalidRequest(format!("`{name}`: {e}")))
    })
    .transpose()
}

fn filter_for(state: &AppState, site: &str, q: &FilterQuery) -> Result<ReceiptFilter, ApiError> {
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
fn describe(q: &FilterQuery) -> String {
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
async fn record(
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

/// The path's site: configured, and covered by the token.
fn checked_site(state: &AppState, admin: &Admin, site: &str) -> Result<(), ApiError> {
    admin.site(site)?;
    state.site(site).map(|_| ())
}

fn retention(state: &AppState, site: &str) -> Option<u32> {
    state.site(site).ok().map(|s| s.config.retention_days)
}

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
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    checked_site(&state, &admin, &site)?;
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
    /// Position in the hash chain: `prev` is the SHA-256 of receipt `seq - 1`'s JWS.
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
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<ReceiptFormat>,
) -> Result<HttpResponse, ApiError> {
    let (site, id) = path.into_inner();
    checked_site(&state, &admin, &site)?;
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

fn render_receipt(
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
            let doc = kantara::render(
                &payload,
                &row.row.kid,
                &site_state.config.operator,
                site_state.config.retention_days,
            );
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
                prev: payload.as_ref().map(|p| p.prev.clone()),
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
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    checked_site(&state, &admin, &site)?;
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
    let sites: HashMap<String, SiteInfo> = [(
        site.clone(),
        SiteInfo {
            operator: site_state.config.operator.clone(),
            retention_days: site_state.config.retention_days,
        },
    )]
    .into();
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
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    checked_site(&state, &admin, &site)?;
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
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    checked_site(&state, &admin, &site)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    record(&state, &admin, &site, "audit", format!("limit={limit}")).await?;
    let reader = state.store.reader();
    let entries = web::block(move || reader.admin_audit(&site, limit)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(entries))
}

/// What to withdraw: a data subject's consents (phone/e-mail) or one receipt.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    /// A phone number or e-mail address in any usual spelling.
    pub subject: Option<String>,
    /// One receipt's UUID instead of a subject.
    pub receipt: Option<String>,
}

/// The gate of every admin change: the token covers `site` with scope `admin`, and the body
/// is a `T` (checked in this order, so a bad token never learns about bodies).
fn admin_change<T: DeserializeOwned>(
    state: &AppState,
    admin: &Admin,
    site: &str,
    body: &[u8],
) -> Result<T, ApiError> {
    checked_site(state, admin, site)?;
    admin.require_admin()?;
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidBody(format!("request body: {e}")))
}

/// The answer to a withdrawal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    /// Ids of the withdrawal receipts issued now.
    pub withdrawals: Vec<String>,
    /// Consents that were already withdrawn (or superseded by a refusal) and were left alone.
    pub already: u64,
}

/// `POST /v1/admin/sites/{site}/withdrawals`
#[utoipa::path(
    post,
    path = "/v1/admin/sites/{site}/withdrawals",
    tag = "admin",
    summary = "Withdraw a data subject's consents",
    description = "On the data subject's request: every `given`/`updated` consent of the subject (phone or e-mail, any \
                   spelling) — and the current cookie choice of each browser that gave them — or one receipt gets a \
                   signed `withdrawn` receipt, exactly as if their browser had withdrawn it; the widget asks again at \
                   that browser's next visit. Needs a token with scope `admin`.",
    params(("site" = String, Path)),
    request_body(content = SubjectRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Withdrawn", body = Withdrawn),
        (status = 400, description = "`invalid_body` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn withdraw(
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    let req: SubjectRequest = admin_change(&state, &admin, &site, &body)?;
    let reader = state.store.reader();
    let (rows, what) = match (&req.subject, &req.receipt) {
        (Some(subject), None) => {
            let filter = ReceiptFilter {
                site: Some(site.clone()),
                subject_hmacs: Some(subject_hmacs(&state, &site, subject)?),
                ..ReceiptFilter::default()
            };
            let mut rows = web::block(move || reader.admin_chunk(&filter, 0, 10_000)).await??;
            // The same person's cookie choice: the current one of each browser that gave
            // these consents, linked by its pseudonym — only where the browser proved it
            // (payload v2). A v1 receipt's browser id was public, so anyone could have filed
            // a consent under a victim's browser (issue 13, finding 6).
            let seqs: Vec<i64> = rows.iter().map(|r| r.row.seq).collect();
            let reader = state.store.reader();
            let browsers = web::block(move || reader.proven_browsers(&seqs)).await??;
            if !browsers.is_empty() {
                let filter = ReceiptFilter {
                    site: Some(site.clone()),
                    kind: Some("cookies".into()),
                    browser_ids: Some(browsers),
                    ..ReceiptFilter::default()
                };
                let reader = state.store.reader();
                let cookies = web::block(move || reader.admin_chunk(&filter, 0, 10_000)).await??;
                rows.extend(cookies.into_iter().filter(|r| r.superseded_by.is_none()));
            }
            (rows, "subject=(keyed hash)".to_owned())
        }
        (None, Some(id)) => {
            let lookup = id.clone();
            let row = web::block(move || reader.admin_get(&lookup))
                .await??
                .filter(|r| r.row.site == site)
                .ok_or_else(|| {
                    ApiError::NotFound(format!("site `{site}` has no receipt `{id}`"))
                })?;
            (vec![row], format!("receipt={id}"))
        }
        _ => {
            return Err(ApiError::InvalidBody(
                "send exactly one of `subject` (phone or e-mail) and `receipt` (id)".into(),
            ));
        }
    };
    let site_state = state.site(&site)?;
    let mut withdrawals = Vec::new();
    let mut already = 0;
    for row in rows
        .iter()
        .filter(|r| matches!(r.row.event.as_str(), "given" | "updated"))
    {
        if row.withdrawn_by.is_some() {
            already += 1;
            continue;
        }
        let payload = receipt::decode_unverified(&row.row.jws).ok_or_else(|| {
            ApiError::Internal(format!("receipt {} has no readable payload", row.row.id))
        })?;
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| ApiError::Internal(format!("no random key: {e}")))?;
        let reader = state.store.reader();
        let seq = row.row.seq;
        let kept = web::block(move || reader.private_of(seq)).await??;
        let prepared = receipt::prepare_withdrawal(hex(&key), &payload, &kept, &site_state.config)?;
        let issued = state.store.issue(prepared).await?;
        if issued.created {
            state
                .metrics
                .receipt_created(&site, &row.row.kind, "withdrawn");
        }
        withdrawals.push(issued.id);
    }
    record(
        &state,
        &admin,
        &site,
        "withdraw",
        format!("{what} withdrawn={} already={already}", withdrawals.len()),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Withdrawn {
            withdrawals,
            already,
        }))
}

/// An erasure request.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureBody {
    /// The data subject's phone number or e-mail address, in any usual spelling.
    pub subject: Option<String>,
    /// Record the request without carrying it out yet (e.g. while the subject's identity is
    /// checked): only the identifier's keyed hash is kept, and the request is carried out at
    /// its due time at the latest. Default `false`: carried out at once.
    #[serde(default)]
    pub pending: bool,
    /// When the request arrived: `YYYY-MM-DD` (counted from its start, UTC) or an RFC 3339
    /// time; not in the future (a date may be today's anywhere on Earth, up to UTC+14), at
    /// most a year ago. Default: now. The deadline is counted from it.
    pub received: Option<String>,
}

/// `POST /v1/admin/sites/{site}/erasures`
#[utoipa::path(
    post,
    path = "/v1/admin/sites/{site}/erasures",
    tag = "admin",
    summary = "Erase a data subject's identifiers",
    description = "Records the data subject's erasure request, due the site's `erasure_deadline_days` (default 30) \
                   after it was `received`, and by default carries it out at once: destroys the keyed-hash index \
                   linking the subject's phone/e-mail to the receipts stored so far and to their \
                   withdrawals (also those made later; a withdrawal of an erased consent is never indexed); the \
                   signed receipts stay (they remain evidence, and the chain verifies). Afterwards a search by \
                   that phone or e-mail finds nothing. With `pending: true` it is only recorded (without the phone or e-mail: only its keyed \
                   hash) and answered with 202; carry it out with `POST …/erasure-requests/{request}/execute`, or the \
                   collector does at its due time. See docs/receipt.md, \"Erasure\". Needs a token with scope `admin`.",
    params(("site" = String, Path)),
    request_body(content = ErasureBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Erased: the request, done", body = Erasure),
        (status = 202, description = "Recorded as pending", body = Erasure),
        (status = 400, description = "`invalid_body` or `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn erase(
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    let req: ErasureBody = admin_change(&state, &admin, &site, &body)?;
    let Some(subject) = req.subject.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Err(ApiError::InvalidBody(
            "send `subject` (the phone or e-mail to erase)".into(),
        ));
    };
    let hmacs = subject_hmacs(&state, &site, subject)?;
    let now = time::OffsetDateTime::now_utc();
    let received = match req.received.as_deref() {
        Some(text) => retention::parse_received(text, now)
            .map_err(|e| ApiError::InvalidBody(format!("`received`: {e}")))?,
        None => now,
    };
    let deadline = state.site(&site)?.config.erasure_deadline_days;
    let request = retention::erasure_request(
        &site,
        hmacs,
        received,
        deadline,
        now,
        &admin.token.id,
        req.pending,
    );
    let id = request.id.clone();
    // Recorded (and carried out) with its audit-trail entry, in one transaction.
    state
        .store
        .maintain(Maintenance::RequestErasure(request))
        .await?;
    let status = if req.pending {
        actix_web::http::StatusCode::ACCEPTED
    } else {
        actix_web::http::StatusCode::OK
    };
    let erasure = read_erasure(&state, &site, &id).await?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(erasure))
}

/// `site`'s erasure request `id` as it stands now; 404 naming the list if there is none.
async fn read_erasure(state: &AppState, site: &str, id: &str) -> Result<Erasure, ApiError> {
    let reader = state.store.reader();
    let now = format_timestamp(time::OffsetDateTime::now_utc());
    let (lookup_site, lookup_id) = (site.to_owned(), id.to_owned());
    web::block(move || reader.erasure(&lookup_site, &lookup_id, &now))
        .await??
        .ok_or_else(|| no_erasure_request(site, id))
}

fn no_erasure_request(site: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "site `{site}` has no erasure request `{id}`; `GET /v1/admin/sites/{site}/erasure-requests` lists them"
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErasuresQuery {
    /// At most this many carried-out requests, latest first (default 100, at most 1000);
    /// pending ones are always all listed.
    pub limit: Option<u32>,
}

/// A site's erasure requests.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureList {
    /// Requests not carried out yet.
    pub pending: usize,
    /// Pending requests past their due time.
    pub overdue: usize,
    /// Pending first (soonest due first), then carried out (latest first).
    pub erasures: Vec<Erasure>,
}

/// `GET /v1/admin/sites/{site}/erasure-requests`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/erasure-requests",
    tag = "admin",
    summary = "List erasure requests",
    description = "The site's erasure requests with their received and due dates: pending ones first, soonest due \
                   first, `overdue` when past their due time (or carried out after it); then those carried out, \
                   latest first. Never shows the phone or e-mail.",
    params(("site" = String, Path), ErasuresQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Requests", body = ErasureList),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_erasures(
    admin: Admin,
    state: web::Data<AppState>,
    site: web::Path<String>,
    query: web::Query<ErasuresQuery>,
) -> Result<HttpResponse, ApiError> {
    let site = site.into_inner();
    checked_site(&state, &admin, &site)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    record(
        &state,
        &admin,
        &site,
        "erasure_requests",
        format!("limit={limit}"),
    )
    .await?;
    let reader = state.store.reader();
    let now = format_timestamp(time::OffsetDateTime::now_utc());
    let erasures = web::block(move || reader.erasures(&site, &now, limit)).await??;
    let pending: Vec<&Erasure> = erasures.iter().filter(|e| e.done_at.is_none()).collect();
    let list = ErasureList {
        pending: pending.len(),
        overdue: pending.iter().filter(|e| e.overdue).count(),
        erasures,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(list))
}

/// `POST /v1/admin/sites/{site}/erasure-requests/{request}/execute`
#[utoipa::path(
    post,
    path = "/v1/admin/sites/{site}/erasure-requests/{request}/execute",
    tag = "admin",
    summary = "Carry out a pending erasure request",
    description = "Carries out the pending request now (e.g. once the subject's identity is confirmed): destroys \
                   the subject index of the receipts stored when it was recorded (and of their withdrawals), and \
                   the request's copy of the keyed hash. A request already carried out — by another admin, or by \
                   the collector at its due time, perhaps a moment earlier — is not carried out again: the answer \
                   is still 200 with the request as it stands, whose `done_at` and `done_by` say when and by whom, \
                   and the audit trail records `already done`. Needs a token with scope `admin`.",
    params(("site" = String, Path), ("request" = String, Path, description = "The request's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The request, done (now, or earlier: see `done_at`, `done_by`)", body = Erasure),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn execute_erasure(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (site, id) = path.into_inner();
    checked_site(&state, &admin, &site)?;
    admin.require_admin()?;
    // Whether it is still pending is decided in the writer's transaction, with the audit
    // entry: a look beforehand could be overtaken by the due-time task.
    let executed = state
        .store
        .maintain(Maintenance::ExecuteErasure {
            site: site.clone(),
            id: id.clone(),
            at: format_timestamp(time::OffsetDateTime::now_utc()),
            by: admin.token.id.clone(),
        })
        .await;
    match executed {
        // Done now, or before: either way the request as it stands says when and by whom.
        Ok(_) | Err(StoreError::ErasureDone { .. }) => {}
        Err(StoreError::NoErasureRequest { .. }) => return Err(no_erasure_request(&site, &id)),
        Err(e) => return Err(e.into()),
    }
    let erasure = read_erasure(&state, &site, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(erasure))
}
