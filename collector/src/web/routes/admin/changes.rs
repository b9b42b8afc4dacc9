//! The admin's changes: withdraw a data subject's consents (or one receipt), record, list and
//! carry out erasure requests with the site's deadline.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::admin::retention;
use crate::clock::format_timestamp;
use crate::hash::hex;
use crate::receipt::{self};
use crate::store::{Erasure, Maintenance, ReceiptFilter, StoreError};
use crate::web::auth::Admin;
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

use super::*;
use crate::web::auth::SiteAdmin;

/// What to withdraw: a data subject's consents (phone/e-mail) or one receipt.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    /// A phone number or e-mail address in any usual spelling.
    pub subject: Option<String>,
    /// One receipt's UUID instead of a subject.
    pub receipt: Option<String>,
}

/// The gate of every admin change, after [`SiteAdmin`] checked the site: the token has scope
/// `admin`, and the body is a `T` (in this order, so a bad token never learns about bodies).
pub(super) fn admin_change<T: DeserializeOwned>(admin: &Admin, body: &[u8]) -> Result<T, ApiError> {
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
    /// With the site's `erase_on_withdrawal`, for a subject: the erasure request of their
    /// identifiers recorded with the withdrawal, pending until its due time at the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<Erasure>,
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
                   that browser's next visit. With the site's `erase_on_withdrawal`, a subject's withdrawal also records \
                   a pending erasure request of their identifiers, due `erasure_deadline_days` later (`erasure`). \
                   Needs a token with scope `admin`.",
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
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let req: SubjectRequest = admin_change(&admin, &body)?;
    let reader = state.store.reader();
    let hmacs = match &req.subject {
        Some(subject) => Some(subject_hmacs(&state, &site, subject)?),
        None => None,
    };
    let (rows, what) = match (&hmacs, &req.receipt) {
        (Some(hmacs), None) => {
            let filter = ReceiptFilter {
                site: Some(site.clone()),
                subject_hmacs: Some(hmacs.clone()),
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
    // A site whose consent text promises deletion after a withdrawal: the subject's
    // identifiers are erased by the site's deadline at the latest (docs/compliance.md, P21).
    // Recorded after the withdrawals, so a failure here leaves them done and is retried whole.
    let erasure = match hmacs {
        Some(hmacs) if site_state.config.erase_on_withdrawal => {
            let now = time::OffsetDateTime::now_utc();
            let request = retention::erasure_request(
                &site,
                hmacs,
                now,
                site_state.config.erasure_deadline_days,
                now,
                &admin.token.id,
                true,
            );
            let id = request.id.clone();
            state
                .store
                .maintain(Maintenance::RequestErasure(request))
                .await?;
            Some(read_erasure(&state, &site, &id).await?)
        }
        _ => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Withdrawn {
            withdrawals,
            already,
            erasure,
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
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let req: ErasureBody = admin_change(&admin, &body)?;
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
pub(super) async fn read_erasure(
    state: &AppState,
    site: &str,
    id: &str,
) -> Result<Erasure, ApiError> {
    let reader = state.store.reader();
    let now = format_timestamp(time::OffsetDateTime::now_utc());
    let (lookup_site, lookup_id) = (site.to_owned(), id.to_owned());
    web::block(move || reader.erasure(&lookup_site, &lookup_id, &now))
        .await??
        .ok_or_else(|| no_erasure_request(site, id))
}

pub(super) fn no_erasure_request(site: &str, id: &str) -> ApiError {
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
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    query: web::Query<ErasuresQuery>,
) -> Result<HttpResponse, ApiError> {
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
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
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
