//! Consistent copies of a live database for `backup`, and the check of one for `restore`.
//!
//! [`snapshot`] uses SQLite's online backup API in a single step: the copy is made inside one
//! read transaction, which in WAL mode does not block the running collector's writer, and
//! therefore never restarts when the writer commits meanwhile (a stepwise copy would start
//! over after every commit of another connection and might never finish under load). The
//! copy is switched to a rollback journal, so it is one self-contained file.

use std::path::Path;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{BUSY_TIMEOUT, SCHEMA_VERSION, connect, schema_version};
use crate::store::{Head, SnapshotInfo, StoreError};

/// Copies the database at `src` (in use or not) to the new file `dest` and describes the copy.
pub(in crate::store) fn snapshot(src: &Path, dest: &Path) -> Result<SnapshotInfo, StoreError> {
    if !src.exists() {
        return Err(StoreError::Missing {
            path: src.display().to_string(),
        });
    }
    let from = connect(src, false)?;
    from.pragma_update(None, "query_only", true)?;
    let version = schema_version(&from)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: src.display().to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let mut to = Connection::open_with_flags(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .map_err(|source| StoreError::Open {
        path: dest.display().to_string(),
        source: Box::new(source),
    })?;
    {
        let backup = Backup::new(&from, &mut to)?;
        // One step (-1: every page) is one read transaction: a consistent cut. BUSY only
        // happens while another process holds an exclusive lock (not the collector, which
        // runs in WAL mode), so a few retries within the busy timeout are enough.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                _ => {
                    return Err(StoreError::Unwritable(
                        "the database stayed locked during the backup".into(),
                    ));
                }
            }
        }
    }
    // The copy carries the source's WAL flag; a rollback journal makes it one file.
    let _mode: String = to.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    let info = describe(&to)?;
    to.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok(info)
}

/// Describes the database file at `path` without changing it: a restored copy is checked
/// against its manifest with this. Refuses a file that is not a Kelisim database, or is one
/// newer than this binary.
pub(in crate::store) fn inspect(path: &Path) -> Result<SnapshotInfo, StoreError> {
    let shown = || path.display().to_string();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: shown(),
        source: Box::new(source),
    })?;
    let version = schema_version(&conn).map_err(|source| StoreError::Open {
        path: shown(),
        source: Box::new(source),
    })?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: shown(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Commit(format!(
            "database {} is damaged: {check}",
            shown()
        )));
    }
    describe(&conn)
}

fn describe(conn: &Connection) -> Result<SnapshotInfo, StoreError> {
    let schema_version = schema_version(conn)?;
    let receipts = conn.query_row("SELECT count(*) FROM receipts", [], |r| r.get(0))?;
    let head = conn
        .query_row(
            "SELECT seq, jws_sha256 FROM chain_head WHERE id = 1",
            [],
            |r| {
                Ok(Head {
                    seq: r.get(0)?,
                    jws_sha256: r.get(1)?,
                })
            },
        )
        .optional()?;
    Ok(SnapshotInfo {
        schema_version,
        receipts,
        head,
    })
}

#[cfg(test)]
mod tests {
    use super::super::open_reader;
    use super::super::tests::{block_on, receipt, start};
    use super::*;

    #[test]
    fn a_snapshot_of_a_live_store_is_one_consistent_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("kelisim.db");
        let store = start(&src);
        for i in 0..3 {
            block_on(store.issue(receipt(&format!("{i:032x}"), false))).expect("issued");
        }
        let copy = dir.path().join("copy.db");
        let info = snapshot(&src, &copy).expect("snapshot");
        // Written after the copy: not in it.
        block_on(store.issue(receipt(&format!("{:032x}", 9), false))).expect("issued");
        let head = store.reader().head().expect("head");
        assert_eq!(
            (info.schema_version, info.receipts),
            (SCHEMA_VERSION, 3),
            "{info:?}"
        );
        assert_eq!(info.head.as_ref().map(|h| h.seq), Some(3));
        assert_ne!(info.head, head);
        assert!(
            !dir.path().join("copy.db-wal").exists(),
            "the copy needs no WAL file"
        );
        assert_eq!(inspect(&copy).expect("inspect"), info);
        assert_eq!(
            open_reader(&copy).expect("reader").count().expect("count"),
            3
        );
        assert!(matches!(
            snapshot(&dir.path().join("none.db"), &dir.path().join("x.db")),
            Err(StoreError::Missing { .. })
        ));
    }

    #[test]
    fn inspect_refuses_what_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        std::fs::write(&path, b"public_url = \"https://x\"\n".repeat(200)).expect("write");
        let err = inspect(&path).expect_err("not a database");
        assert!(err.to_string().contains("kelisim.db"), "{err}");
    }
}
