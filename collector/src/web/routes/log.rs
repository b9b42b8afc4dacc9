//! The transparency log's public reads: the latest signed checkpoint, a receipt's offline
//! proof (C2SP `tlog-proof`) and consistency proofs between tree sizes. Everything served
//! here is checked without trusting the collector: by the log key (the JWKS's key under the
//! log's origin) and by hashing (docs/receipt.md). Reads run in `web::block`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::log::tree::Cosignature;
use crate::web::error::ApiError;
use crate::web::routes::receipts::find;
use crate::web::state::AppState;

/// The media type of signed notes and proofs: UTF-8 text, as C2SP serves them.
const TEXT: &str = "text/plain; charset=utf-8";

/// `GET /v1/log/checkpoint`: the latest signed checkpoint.
#[utoipa::path(
    get,
    path = "/v1/log/checkpoint",
    tag = "log",
    summary = "The latest signed checkpoint",
    description = "A C2SP tlog-checkpoint signed note (c2sp.org/tlog-checkpoint): the log's origin, its size \
                   (the number of receipts) and the RFC 9162 root hash of its first `size` receipts, signed \
                   by the collector's log key (docs/receipt.md). A new one is signed with every committed batch. \
                   Once a configured witness has cosigned it, its cosignature lines follow the log's \
                   (c2sp.org/tlog-cosignature); /v1/log/witnessed is the newest checkpoint that has them.",
    responses(
        (status = 200, description = "The checkpoint", body = String, content_type = "text/plain; charset=utf-8"),
    ),
)]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let reader = state.store.reader();
    let (latest, cosignatures) = web::block(move || {
        let latest = reader.checkpoint()?;
        let cosignatures = match &latest {
            Some(c) => reader.cosignatures(c.size, &c.root)?,
            None => Vec::new(),
        };
        Ok::<_, crate::store::StoreError>((latest, cosignatures))
    })
    .await??;
    let latest = latest.ok_or_else(|| ApiError::Internal("the log has no checkpoint".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(TEXT)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(with_cosignatures(&latest.note, &cosignatures)))
}

/// `GET /v1/log/witnessed`: the newest checkpoint a witness cosigned.
#[utoipa::path(
    get,
    path = "/v1/log/witnessed",
    tag = "log",
    summary = "The newest checkpoint a witness cosigned",
    description = "The newest checkpoint that a witness configured in `[[log.witness]]` has cosigned, as a C2SP \
                   signed note: the log's signature, then each witness's timestamped cosignature \
                   (c2sp.org/tlog-cosignature). Every receipt up to its size is in a tree that the witness \
                   checked to extend every tree it cosigned before. 404 until a witness has cosigned.",
    responses(
        (status = 200, description = "The cosigned checkpoint", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "`not_found`: no witness has cosigned a checkpoint yet", body = crate::web::error::Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn witnessed(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let reader = state.store.reader();
    let (checkpoint, cosignatures) =
        web::block(move || reader.witnessed())
            .await??
            .ok_or_else(|| {
                ApiError::NotFound(
                "no witness has cosigned a checkpoint of this log yet; configure [[log.witness]] \
                 or wait for its next offer"
                    .into(),
            )
            })?;
    Ok(HttpResponse::Ok()
        .content_type(TEXT)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(with_cosignatures(&checkpoint.note, &cosignatures)))
}

/// A stored signed note with the stored cosignature lines after the log's own.
fn with_cosignatures(note: &str, cosignatures: &[Cosignature]) -> String {
    let mut text = note.to_owned();
    for c in cosignatures {
        text.push_str(&c.line);
        text.push('\n');
    }
    text
}

/// `GET /v1/log/key`: the log's verifier keys.
#[utoipa::path(
    get,
    path = "/v1/log/key",
    tag = "log",
    summary = "The log's verifier keys",
    description = "The signed-note verifier keys (c2sp.org/signed-note: `origin+keyhash+base64`) of the keys that \
                   sign this log's checkpoints, one per line: the JWKS's keys, named after the log's origin. \
                   A witness lists them in `[[witness.log]] keys`; anyone checks checkpoints with them.",
    responses(
        (status = 200, description = "The keys", body = String, content_type = "text/plain; charset=utf-8"),
    ),
)]
pub async fn key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let reader = state.store.reader();
    let latest = web::block(move || reader.checkpoint())
        .await??
        .ok_or_else(|| ApiError::Internal("the log has no checkpoint".into()))?;
    let origin = latest.note.lines().next().unwrap_or_default().to_owned();
    let keys = state
        .public_keys()
        .log_keys(&origin)
        .map_err(|e| ApiError::Internal(format!("log keys: {e}")))?;
    let body: String = keys.iter().map(|k| format!("{k}\n")).collect();
    Ok(HttpResponse::Ok()
        .content_type(TEXT)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// Narrows a reference to one site's receipts.
    site: Option<String>,
}

/// `GET /v1/receipts/{id}/proof`: the receipt's inclusion proof in the latest checkpoint.
#[utoipa::path(
    get,
    path = "/v1/receipts/{id}/proof",
    tag = "log",
    summary = "A receipt's offline proof",
    description = "A C2SP tlog-proof (c2sp.org/tlog-proof): the receipt's compact JWS as its `extra` data, its \
                   leaf index (its seq - 1), its RFC 9162 inclusion path and the latest signed checkpoint. With \
                   the log key it proves, offline, that the receipt is in the log; the file alone is the receipt \
                   with its proof (`kelisim-collector verify FILE --jwks …`).",
    params(
        ("id" = String, Path, description = "Receipt UUID, or its 32-hex reference"),
        ProofQuery,
    ),
    responses(
        (status = 200, description = "The proof", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "`not_found`: no such receipt", body = crate::web::error::Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn receipt_proof(
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<ProofQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, key.into_inner(), query.into_inner().site).await?;
    let reader = state.store.reader();
    let id = row.id.clone();
    let (jws, inclusion) = web::block(move || reader.inclusion(&id))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("no receipt with id `{}`", row.id)))?;
    let proof = inclusion
        .to_tlog_proof(&jws)
        .map_err(|e| ApiError::Internal(format!("stored checkpoint: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(TEXT)
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"kelisim-receipt-{}.tlog-proof\"",
                row.reference
            ),
        ))
        .body(proof.to_bytes()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    from: u64,
    /// The newer tree size, at most the latest checkpoint's.
    to: u64,
}

/// `GET /v1/log/consistency?from=N&to=M`: proof that the tree of `to` receipts extends the
/// tree of `from`.
#[utoipa::path(
    get,
    path = "/v1/log/consistency",
    tag = "log",
    summary = "A consistency proof between two tree sizes",
    description = "The RFC 9162 §2.1.4 consistency proof from the tree of `from` receipts to the tree of `to` \
                   receipts, one base64 hash per line (empty when `from` is 0 or equals `to`). Check it \
                   against the root hashes of two checkpoints: the log only grew between them.",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 400, description = "`out_of_range`: `to` is beyond the latest checkpoint; `from_after_to`; \
                                      `invalid_request`: a missing or non-numeric size",
         body = crate::web::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn consistency(
    state: web::Data<AppState>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let ConsistencyQuery { from, to } = query.into_inner();
    if from > to {
        return Err(ApiError::SizeOrder(format!(
            "`from` ({from}) is larger than `to` ({to}); a consistency proof goes from the \
             older, smaller tree to the newer one"
        )));
    }
    let reader = state.store.reader();
    let hashes = web::block(move || {
        let size = reader.checkpoint()?.map_or(0, |c| c.size);
        if to > size {
            return Ok(Err(size));
        }
        reader.consistency(from, to).map(Ok)
    })
    .await??
    .map_err(|size| {
        ApiError::OutOfRange(format!(
            "`to` ({to}) is beyond the latest checkpoint's size ({size}); \
             fetch /v1/log/checkpoint for the current size"
        ))
    })?;
    let body: String = hashes.iter().map(|h| format!("{h}\n")).collect();
    Ok(HttpResponse::Ok()
        .content_type(TEXT)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body))
}
