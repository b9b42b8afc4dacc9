//! SQLite's side of witnessing (migrations/0010): as a witness, the tree last cosigned per
//! log origin, advanced by compare-and-set; as a log, the cosignatures its witnesses returned.
//! Both writes run on the writer thread as [`Maintenance`] jobs.
//!
//! [`Maintenance`]: crate::store::Maintenance

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use kelisim_receipt::log::{Hash, TreeHead};

use super::tree::checkpoint_at;
use crate::log::tree::{Cosignature, StoredCheckpoint};
use crate::store::Affected;

/// Moves the tree remembered for `origin` from `from` (`None`: none yet) to `to`. Affected 0
/// when the remembered tree is no longer `from`: another request was cosigned meanwhile, and
/// the caller decides again against the new one.
pub(super) fn advance(
    tx: &Transaction<'_>,
    origin: &str,
    from: Option<&TreeHead>,
    to: &TreeHead,
    at: &str,
) -> Result<Affected, rusqlite::Error> {
    let size = |head: &TreeHead| i64::try_from(head.size).unwrap_or(i64::MAX);
    let n = match from {
        None => tx.execute(
            "INSERT INTO witness_heads (origin, size, root, cosigned_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (origin) DO NOTHING",
            params![origin, size(to), to.root.as_bytes().as_slice(), at],
        )?,
        Some(old) => tx.execute(
            "UPDATE witness_heads SET size = ?4, root = ?5, cosigned_at = ?6
             WHERE origin = ?1 AND size = ?2 AND root = ?3",
            params![
                origin,
                size(old),
                old.root.as_bytes().as_slice(),
                size(to),
                to.root.as_bytes().as_slice(),
                at
            ],
        )?,
    };
    Ok(n as Affected)
}

/// Keeps `witness`'s cosignature of this log's checkpoint of `size` and `root`, replacing
/// an older one of that size (which, with another root, was of a log since rewritten).
pub(super) fn record_cosignature(
    tx: &Transaction<'_>,
    witness: &str,
    size: u64,
    root: &Hash,
    signature: &str,
    at: &str,
) -> Result<Affected, rusqlite::Error> {
    tx.execute(
        "INSERT INTO log_cosignatures (witness, size, root, signature, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (witness, size) DO UPDATE SET root = ?3, signature = ?4, at = ?5",
        params![
            witness,
            i64::try_from(size).unwrap_or(i64::MAX),
            root.as_bytes().as_slice(),
            signature,
            at
        ],
    )
    .map(|n| n as Affected)
}

/// The tree last cosigned for `origin`.
pub(super) fn head(conn: &Connection, origin: &str) -> Result<Option<TreeHead>, rusqlite::Error> {
    conn.prepare_cached("SELECT size, root FROM witness_heads WHERE origin = ?1")?
        .query_row([origin], |r| {
            let size: i64 = r.get(0)?;
            let root: Vec<u8> = r.get(1)?;
            let root: [u8; 32] = root.try_into().map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Blob,
                    "root".into(),
                )
            })?;
            Ok(TreeHead {
                size: u64::try_from(size).unwrap_or(0),
                root: Hash(root),
            })
        })
        .optional()
}

/// The cosignatures stored for the checkpoint of `size` and `root`, by witness name.
pub(super) fn cosignatures(
    conn: &Connection,
    size: u64,
    root: &Hash,
) -> Result<Vec<Cosignature>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT witness, signature FROM log_cosignatures WHERE size = ?1 AND root = ?2
         ORDER BY witness",
    )?
    .query_map(
        params![
            i64::try_from(size).unwrap_or(i64::MAX),
            root.as_bytes().as_slice()
        ],
        |r| {
            Ok(Cosignature {
                witness: r.get(0)?,
                line: r.get(1)?,
            })
        },
    )?
    .collect()
}

/// The largest stored checkpoint some witness cosigned (same size and root), with every
/// cosignature it has.
pub(super) fn witnessed(
    conn: &Connection,
) -> Result<Option<(StoredCheckpoint, Vec<Cosignature>)>, rusqlite::Error> {
    let size: Option<i64> = conn
        .prepare_cached(
            "SELECT max(s.size) FROM log_cosignatures s
             JOIN log_checkpoints c ON c.size = s.size AND c.root = s.root",
        )?
        .query_row([], |r| r.get(0))?;
    let Some(size) = size else {
        return Ok(None);
    };
    let Some(checkpoint) = checkpoint_at(conn, u64::try_from(size).unwrap_or(0))? else {
        return Ok(None);
    };
    let cosigned = cosignatures(conn, checkpoint.size, &checkpoint.root)?;
    Ok(Some((checkpoint, cosigned)))
}

/// The size of the largest checkpoint `witness` cosigned (0: none).
pub(super) fn last_cosigned(conn: &Connection, witness: &str) -> Result<u64, rusqlite::Error> {
    let size: Option<i64> = conn
        .prepare_cached("SELECT max(size) FROM log_cosignatures WHERE witness = ?1")?
        .query_row([witness], |r| r.get(0))?;
    Ok(size.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use kelisim_receipt::log::leaf_hash;

    use super::super::tests::{block_on, start};
    use super::*;
    use crate::store::Maintenance;

    fn head(size: u64, seed: &[u8]) -> TreeHead {
        TreeHead {
            size,
            root: leaf_hash(seed),
        }
    }

    #[test]
    fn the_witnessed_tree_moves_only_from_the_tree_the_caller_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = start(&dir.path().join("kelisim.db"));
        let advance = |from: Option<TreeHead>, to: TreeHead| {
            block_on(store.maintain(Maintenance::AdvanceWitness {
                origin: "log.test/log".into(),
                from,
                to,
                at: "2026-12-04T00:00:00.000Z".into(),
            }))
            .expect("written")
        };
        let (a, b, c) = (head(5, b"a"), head(7, b"b"), head(7, b"c"));
        assert_eq!(advance(None, a), 1, "the first tree");
        assert_eq!(
            advance(None, b),
            0,
            "a second request that read no tree loses"
        );
        assert_eq!(advance(Some(a), b), 1);
        // Two requests decided against `a`: the one that comes second is not remembered,
        // so its cosignature is never answered (a fork of size 7).
        assert_eq!(advance(Some(a), c), 0);
        let reader = store.reader();
        assert_eq!(reader.witness_head("log.test/log").expect("read"), Some(b));
        assert_eq!(reader.witness_head("other.test/log").expect("read"), None);
    }

    #[test]
    fn a_cosignature_is_served_only_beside_a_checkpoint_of_its_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = start(&dir.path().join("kelisim.db"));
        let reader = store.reader();
        let latest = reader
            .checkpoint()
            .expect("read")
            .expect("the empty tree's checkpoint");
        let record = |root: Hash, line: &str| {
            block_on(store.maintain(Maintenance::RecordCosignature {
                witness: "witness.test".into(),
                size: latest.size,
                root,
                line: line.into(),
                at: "2026-12-04T00:00:00.000Z".into(),
            }))
            .expect("written")
        };
        record(leaf_hash(b"another tree"), "— witness.test AAAA");
        assert_eq!(
            reader.witnessed().expect("read"),
            None,
            "not this log's root"
        );
        assert!(
            reader
                .cosignatures(latest.size, &latest.root)
                .expect("read")
                .is_empty()
        );
        record(latest.root, "— witness.test BBBB");
        let (checkpoint, lines) = reader.witnessed().expect("read").expect("cosigned");
        assert_eq!(checkpoint, latest);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line, "— witness.test BBBB");
        assert_eq!(
            reader.last_cosigned("witness.test").expect("read"),
            latest.size
        );
        assert_eq!(reader.last_cosigned("nobody").expect("read"), 0);
    }
}
