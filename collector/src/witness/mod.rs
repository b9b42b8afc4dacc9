//! Witnessing (c2sp.org/tlog-witness), both roles. [`cosign`]: a collector configured with
//! `[witness]` cosigns the checkpoints of the logs it follows, each only if it is consistent
//! with the tree it cosigned before, and refuses any other (a log that was rewritten).
//! [`ask`]: a collector whose `[log]` names witnesses offers them its latest checkpoint now
//! and then, verifies each cosignature with the witness's key and keeps it beside the
//! checkpoint. The rules are `kelisim_receipt::log::witness`'s; this module adds the state,
//! the store and the network.

pub mod ask;
pub mod cosign;

use crate::store::{ReadStore, Store, StoreError};

/// Runs a read of `store` on the blocking pool (both roles read between network waits).
async fn read<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&dyn ReadStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let reader = store.reader();
    tokio::task::spawn_blocking(move || f(reader.as_ref()))
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
}
