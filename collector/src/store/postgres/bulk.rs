//! Bulk loading into PostgreSQL for the admin benchmark: generated receipts signed and
//! inserted in large transactions through the writer's own rows (`rows::RunTx`), then the tree
//! built over them once. Refuses a database that already has receipts.

use crate::hash::sha256_hex;
use crate::keys::Signer;
use crate::receipt::{PreparedReceipt, Stamp};
use crate::store::StoreError;

use super::rows::RunTx;
use super::{LOG_LOCK, config, connect_at_start, migrate};
use crate::store::batch::ReceiptTx;

/// Receipts per transaction.
const TX_ROWS: u64 = 10_000;

/// Inserts `count` receipts: `issued_at(i)` gives the time of the i-th (non-decreasing),
/// `make(i, stamp)` its content.
pub(in crate::store) fn bulk_load(
    url: &str,
    signer: &Signer,
    count: u64,
    issued_at: impl Fn(u64) -> String,
    mut make: impl FnMut(u64, &Stamp) -> PreparedReceipt,
) -> Result<(), StoreError> {
    let mut client = connect_at_start(&config(url)?, url)?;
    migrate(&mut client, url)?;
    // Bench data only: a crash means regenerating, so do not wait for each flush.
    client.batch_execute("SET synchronous_commit = off")?;
    let existing: i64 = client
        .query_one("SELECT count(*) FROM receipts", &[])?
        .try_get(0)?;
    if existing > 0 {
        return Err(StoreError::Commit(format!(
            "the database already holds {existing} receipts; generate into an empty one"
        )));
    }
    let mut i = 0;
    let mut last_hash = String::new();
    while i < count {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
        let end = (i + TX_ROWS).min(count);
        // Generated receipts are all new: nothing to look up first.
        let mut rows = RunTx::prefetch(&mut tx, std::iter::empty())?;
        while i < end {
            let stamp = Stamp {
                id: uuid::Uuid::now_v7().to_string(),
                seq: i64::try_from(i + 1).unwrap_or(i64::MAX),
                issued_at: issued_at(i),
            };
            let r = make(i, &stamp);
            let jws = r.seal(&stamp, signer);
            last_hash = sha256_hex(jws.as_bytes());
            rows.insert(&r, &stamp, signer, &jws, &last_hash)?;
            i += 1;
        }
        rows.flush()?;
        tx.execute(
            "INSERT INTO chain_head (id, seq, jws_sha256) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, jws_sha256 = excluded.jws_sha256",
            &[&i64::try_from(i).unwrap_or(i64::MAX), &last_hash],
        )?;
        tx.commit()?;
    }
    // What autovacuum does to a live database soon after such a load: statistics, and the
    // visibility map that lets index-only scans skip the rows.
    // (Statements of their own: VACUUM refuses to run in the transaction a multi-statement
    // string makes.)
    client.batch_execute("SET synchronous_commit = on")?;
    client.batch_execute("VACUUM ANALYZE")?;
    super::tree::catch_up(&mut client, signer, crate::log::tree::FALLBACK_ORIGIN)?;
    Ok(())
}
