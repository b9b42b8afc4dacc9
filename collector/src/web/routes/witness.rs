//! The witness role's HTTP side (c2sp.org/tlog-witness): `POST /v1/witness/add-checkpoint`,
//! where a followed log offers a checkpoint with a consistency proof, and `GET
//! /v1/witness/key`, the key its cosignatures verify with. Both answer 404 on a collector
//! without `[witness]`. The decision is `witness::cosign`'s.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::web::error::ApiError;
use crate::web::state::AppState;
use crate::witness::cosign::AddError;

/// The largest add-checkpoint body: a checkpoint with a few signatures and 63 proof lines.
pub const MAX_ADD_CHECKPOINT_BYTES: usize = 16 * 1024;

/// The media type of a 409's body: the witness's size, in decimal, and a newline.
const TLOG_SIZE: &str = "text/x.tlog.size";

fn not_a_witness() -> ApiError {
    ApiError::NotFound(
        "this collector is not a witness; configure [witness] with the logs it follows".into(),
    )
}

/// `POST /v1/witness/add-checkpoint`
#[utoipa::path(
    post,
    path = "/v1/witness/add-checkpoint",
    tag = "witness",
    summary = "Cosign a followed log's checkpoint",
    description = "c2sp.org/tlog-witness `add-checkpoint`. The body: `old <size>` (the size this witness last \
                   cosigned for the log, 0 if never), the consistency proof from that size (one base64 hash per \
                   line), an empty line, and the log's signed checkpoint. The witness checks the log's signature \
                   with the keys of `[[witness.log]]`, and that the checkpoint extends the tree it last cosigned; \
                   then it remembers the new tree and answers its timestamped cosignature line. It refuses a \
                   checkpoint that does not extend what it cosigned (422 `not_an_extension`): the log was rewritten.",
    request_body(content = String, content_type = "text/plain"),
    responses(
        (status = 200, description = "The cosignature line", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 400, description = "`invalid_body`: not an add-checkpoint request; `smaller_than_old`", body = crate::web::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`bad_signature`: not signed by the log's keys", body = crate::web::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_origin`: a log this witness does not follow; `not_found`: not a witness", body = crate::web::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`old` is not the size last cosigned: the body is that size and a newline", body = String, content_type = "text/x.tlog.size"),
        (status = 413, description = "`body_too_large`", body = crate::web::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_an_extension`, `empty_tree_root`, `proof_from_empty`", body = crate::web::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: the store cannot be written now", body = crate::web::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn add_checkpoint(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let role = state.witness.as_ref().ok_or_else(not_a_witness)?;
    if body.len() > MAX_ADD_CHECKPOINT_BYTES {
        return Err(ApiError::BodyTooLarge {
            limit: MAX_ADD_CHECKPOINT_BYTES,
        });
    }
    match role
        .add_checkpoint(&state.store, &body, time::OffsetDateTime::now_utc())
        .await
    {
        Ok(line) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(line)),
        Err(AddError::Refused(kelisim_receipt::log::Refusal::OldSizeMismatch {
            latest, ..
        })) => Ok(HttpResponse::Conflict()
            .content_type(TLOG_SIZE)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(format!("{latest}\n"))),
        Err(AddError::Refused(refusal)) => {
            tracing::warn!(%refusal, "witness: refused a checkpoint");
            Err(ApiError::WitnessRefused {
                status: refusal.status(),
                code: refusal.code(),
                detail: refusal.to_string(),
            })
        }
        Err(AddError::Body(e)) => Err(ApiError::InvalidBody(format!(
            "{e}; send `old <size>`, the proof lines, an empty line and the signed checkpoint \
             (c2sp.org/tlog-witness)"
        ))),
        Err(AddError::Store(e)) => Err(e.into()),
    }
}

/// `GET /v1/witness/key`
#[utoipa::path(
    get,
    path = "/v1/witness/key",
    tag = "witness",
    summary = "The witness's cosignature key",
    description = "The signed-note verifier key (type 0x04, c2sp.org/tlog-cosignature) this witness cosigns with: \
                   a log lists it in `[[log.witness]] key`.",
    responses(
        (status = 200, description = "The key and a newline", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "`not_found`: this collector is not a witness", body = crate::web::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let role = state.witness.as_ref().ok_or_else(not_a_witness)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(format!("{}\n", role.verifier_key())))
}
