//! The witness role: `POST /v1/witness/add-checkpoint` decides here. The request is checked
//! by `kelisim_receipt`'s [`Witness`] against the tree last cosigned for its origin, and the
//! new tree is remembered by compare-and-set before the cosignature is answered: two
//! requests decided against the same old tree never both succeed, so the witness never
//! cosigns two trees that do not extend each other.

use ed25519_dalek::SigningKey;
use kelisim_receipt::log::{AddCheckpoint, Cosigner, LogError, Refusal, VerifierKey, Witness};

use super::read;
use crate::clock::format_timestamp;
use crate::config::WitnessConfig;
use crate::store::{Maintenance, Store, StoreError};

/// How often a request is decided again when another one advanced the same log's tree
/// between its read and its write.
const RACE_RETRIES: usize = 4;

/// This collector as a witness: its cosigning key and the logs it follows.
#[derive(Debug, Clone)]
pub struct WitnessRole {
    witness: Witness,
}

/// Why `add-checkpoint` gave no cosignature.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The body is not an add-checkpoint request (400).
    #[error("not an add-checkpoint request: {0}")]
    Body(#[source] LogError),
    /// The witness refuses (the status c2sp.org/tlog-witness gives the reason).
    #[error(transparent)]
    Refused(Refusal),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WitnessRole {
    /// The witness of `config`, cosigning with `key`.
    pub fn new(config: &WitnessConfig, key: SigningKey) -> Result<Self, LogError> {
        let cosigner = Cosigner::new(&config.name, key)?;
        Ok(Self {
            witness: Witness::new(cosigner, config.logs.clone()),
        })
    }

    /// The key that checks this witness's cosignatures (`GET /v1/witness/key`).
    pub fn verifier_key(&self) -> &VerifierKey {
        self.witness.cosigner().verifier_key()
    }

    /// Decides on an add-checkpoint request `body` at `now`: the cosignature line (with its
    /// newline) to answer, once the new tree is remembered.
    pub async fn add_checkpoint(
        &self,
        store: &Store,
        body: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<String, AddError> {
        let request = AddCheckpoint::parse(body).map_err(AddError::Body)?;
        let origin = request.checkpoint.checkpoint().origin.clone();
        let seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        for _ in 0..RACE_RETRIES {
            let of = origin.clone();
            let latest = read(store, move |r| r.witness_head(&of)).await?;
            let cosigned = self
                .witness
                .add_checkpoint(&request, latest.as_ref(), seconds)
                .map_err(AddError::Refused)?;
            let advanced = store
                .maintain(Maintenance::AdvanceWitness {
                    origin: origin.clone(),
                    from: latest,
                    to: cosigned.head,
                    at: format_timestamp(now),
                })
                .await?;
            if advanced == 1 {
                tracing::info!(
                    origin = %origin,
                    size = cosigned.head.size,
                    "witness: cosigned a checkpoint"
                );
                return Ok(cosigned.cosignature.to_line());
            }
        }
        Err(AddError::Store(StoreError::Busy))
    }
}
