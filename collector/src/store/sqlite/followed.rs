//! The status index (`followed`, `migrations/0004_followed.sql`): which receipts have a later
//! receipt that may change their status. Kept by every path that inserts receipts: the
//! writer's hot path and the benchmark's bulk generator.

use rusqlite::{Connection, params};

/// Records that a receipt was just inserted at `seq`: its browser's previous receipt of the
/// same kind, and the receipt it withdraws, now have a later receipt that may change their
/// status (see `migrations/0004_followed.sql`). Every path that inserts receipts calls it.
pub(super) fn mark_followed(
    tx: &Connection,
    browser_id: &str,
    kind: &str,
    seq: i64,
    withdraws: Option<&str>,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO followed (seq)
         SELECT p.seq FROM receipts p WHERE p.browser_id = ?1 AND p.kind = ?2 AND p.seq < ?3
         ORDER BY p.seq DESC LIMIT 1",
    )?
    .execute(params![browser_id, kind, seq])?;
    if let Some(id) = withdraws {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO followed (seq) SELECT seq FROM receipts WHERE id = ?1",
        )?
        .execute([id])?;
    }
    Ok(())
}
