//! The log role: now and then (`[log] witness_interval_secs`), offer the latest checkpoint to
//! each configured witness with a consistency proof from the last checkpoint it cosigned
//! (c2sp.org/tlog-witness `add-checkpoint`), check the cosignature it returns with its key,
//! and keep it beside the checkpoint (`GET /v1/log/checkpoint` then carries it). A witness
//! that answers 409 names the size it is at, and the offer is made again from there. A
//! refusal is logged as an error with its reason: a witness that says "not an extension" has
//! seen a different tree before, which means this log's history was rewritten.

use std::time::Duration;

use kelisim_receipt::log::{AddCheckpoint, LogError, SignedCheckpoint, parse_signature_lines};

use super::read;
use crate::clock::format_timestamp;
use crate::config::LogWitness;
use crate::log::tree::StoredCheckpoint;
use crate::store::{Maintenance, Store, StoreError};

/// How long one request to a witness may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a witness's answer may weigh (a few cosignature lines).
const MAX_ANSWER_BYTES: u64 = 16 * 1024;

/// What an offer to one witness came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered {
    /// Nothing to offer: the witness already cosigned the latest checkpoint, or there is none.
    UpToDate,
    /// The witness cosigned the checkpoint of this size; its cosignature is stored.
    Cosigned(u64),
}

/// Why an offer failed.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored log is unreadable: {0}")]
    Log(#[from] LogError),
    #[error("witness {witness} could not be reached: {reason}")]
    Network { witness: String, reason: String },
    /// The witness refused, with its HTTP status and its answer.
    #[error("witness {witness} refused checkpoint {size} ({status}): {answer}")]
    Refused {
        witness: String,
        size: u64,
        status: u16,
        answer: String,
    },
    #[error("witness {witness} answered something that is not its valid cosignature: {reason}")]
    BadAnswer { witness: String, reason: String },
}

/// `serve`'s witnessing task: every `interval`, offers the latest checkpoint to each witness.
pub async fn run(store: Store, witnesses: Vec<LogWitness>, interval: Duration) {
    if witnesses.is_empty() {
        return;
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for witness in &witnesses {
            match offer(&store, witness).await {
                Ok(_) => {}
                Err(e @ AskError::Refused { .. }) => tracing::error!(
                    error = %e,
                    "a witness refused this log's checkpoint; if it says the checkpoint is not an \
                     extension, this log's history differs from what it saw: run `kelisim-collector audit`"
                ),
                Err(e) => tracing::warn!(error = %e, "witnessing: will try again"),
            }
        }
    }
}

/// Offers the latest checkpoint to `witness` once (following one 409 to the size it names).
pub async fn offer(store: &Store, witness: &LogWitness) -> Result<Offered, AskError> {
    let name = witness.key.name().to_owned();
    let (latest, cosigned, done) = read(store, {
        let name = name.clone();
        move |r| {
            let latest = r.checkpoint()?;
            // Cosigned already means this very tree (size and root): a log rewritten to the
            // same size is offered again, and the witness refuses it.
            let done = match &latest {
                Some(c) => r
                    .cosignatures(c.size, &c.root)?
                    .iter()
                    .any(|c| c.witness == name),
                None => true,
            };
            Ok((latest, r.last_cosigned(&name)?, done))
        }
    })
    .await?;
    let Some(latest) = latest.filter(|_| !done) else {
        return Ok(Offered::UpToDate);
    };
    let mut old_size = cosigned.min(latest.size);
    for _ in 0..2 {
        let body = request(store, &latest, old_size).await?;
        let url = format!("{}/add-checkpoint", witness.url);
        let (status, answer) = tokio::task::spawn_blocking(move || post(&url, body))
            .await
            .map_err(|e| AskError::Network {
                witness: name.clone(),
                reason: e.to_string(),
            })?
            .map_err(|reason| AskError::Network {
                witness: name.clone(),
                reason,
            })?;
        // A 409 names the size the witness is at (its state, or ours, was lost): prove
        // consistency from there.
        let named = (status == 409)
            .then(|| answer.trim_end().parse::<u64>().ok())
            .flatten()
            .filter(|size| *size <= latest.size);
        match (status, named) {
            (200, _) => {
                let line = checked_cosignature(&latest, witness, &answer).map_err(|reason| {
                    AskError::BadAnswer {
                        witness: name.clone(),
                        reason,
                    }
                })?;
                store
                    .maintain(Maintenance::RecordCosignature {
                        witness: name.clone(),
                        size: latest.size,
                        root: latest.root,
                        line,
                        at: format_timestamp(time::OffsetDateTime::now_utc()),
                    })
                    .await?;
                tracing::info!(witness = %name, size = latest.size, "witness cosigned the checkpoint");
                return Ok(Offered::Cosigned(latest.size));
            }
            (409, Some(size)) => old_size = size,
            _ => {
                return Err(AskError::Refused {
                    witness: name,
                    size: latest.size,
                    status,
                    answer,
                });
            }
        }
    }
    Err(AskError::BadAnswer {
        witness: name,
        reason: "it answered 409 twice".into(),
    })
}

/// The add-checkpoint body for `latest`, with the consistency proof from `old_size`.
async fn request(
    store: &Store,
    latest: &StoredCheckpoint,
    old_size: u64,
) -> Result<Vec<u8>, AskError> {
    let size = latest.size;
    let proof = read(store, move |r| r.consistency(old_size, size)).await?;
    Ok(AddCheckpoint {
        old_size,
        proof,
        checkpoint: SignedCheckpoint::parse(latest.note.as_bytes())?,
    }
    .to_bytes())
}

/// The witness's line in `answer`, if it is a valid cosignature of `latest` by its key.
fn checked_cosignature(
    latest: &StoredCheckpoint,
    witness: &LogWitness,
    answer: &str,
) -> Result<String, String> {
    let lines = parse_signature_lines(answer).map_err(|e| e.to_string())?;
    let mut signed = SignedCheckpoint::parse(latest.note.as_bytes()).map_err(|e| e.to_string())?;
    for line in lines {
        if line.name == witness.key.name() && line.key_id == witness.key.key_id() {
            let text = line.to_line();
            signed.push_signature(line);
            let verified = signed
                .cosignatures(std::slice::from_ref(&witness.key))
                .map_err(|e| e.to_string())?;
            if verified.is_empty() {
                return Err("the cosignature does not verify with the configured key".into());
            }
            return Ok(text.trim_end().to_owned());
        }
    }
    Err(format!(
        "no line by the configured key {}",
        witness.key.name()
    ))
}

/// POSTs `body` to `url`: the status and the body of any answer, or why there was none.
fn post(url: &str, body: Vec<u8>) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(url)
        .header("content-type", "text/plain; charset=utf-8")
        .send(&body[..])
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, text))
}
