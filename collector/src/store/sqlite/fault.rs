//! Fault injection for the writer, for the reliability tests only (hidden `serve --fault-file`).
//!
//! When a fault file is set, the writer reads it before each batch; each line names a fault
//! that holds until the line is removed:
//!
//! - `full`: `PRAGMA max_page_count` is pinned to the current size, so any write that needs a
//!   new page fails with `SQLITE_FULL` — SQLite's own disk-full path, as on a full disk.
//! - `read-only`: `PRAGMA query_only = ON`, so every write fails with `SQLITE_READONLY`.
//! - `slow MS`: the commit waits MS milliseconds first, like a disk whose fsync stalls.
//!
//! The faults act on SQLite's real error paths; only their cause is simulated. A missing or
//! empty file means no fault. Without `--fault-file` nothing here runs.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// The largest page count SQLite accepts: "no limit".
const NO_PAGE_LIMIT: i64 = 0xFFFF_FFFE;

/// Longest stall `slow` may ask for, so a typo cannot hang the writer.
const MAX_STALL: Duration = Duration::from_secs(30);

/// The faults named by a fault file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    pub full: bool,
    pub read_only: bool,
    pub stall: Option<Duration>,
}

impl Faults {
    /// Reads `text` line by line; unknown lines are ignored (and logged by the caller).
    pub fn parse(text: &str) -> Faults {
        let mut faults = Faults::default();
        for line in text.lines().map(str::trim) {
            match line.split_once(' ') {
                _ if line == "full" => faults.full = true,
                _ if line == "read-only" => faults.read_only = true,
                Some(("slow", ms)) => {
                    if let Ok(ms) = ms.trim().parse::<u64>() {
                        faults.stall = Some(Duration::from_millis(ms).min(MAX_STALL));
                    }
                }
                _ => {}
            }
        }
        faults
    }

    /// The faults `path` names now (none if it cannot be read).
    pub fn read(path: &Path) -> Faults {
        std::fs::read_to_string(path)
            .map(|t| Faults::parse(&t))
            .unwrap_or_default()
    }
}

/// Applies `wanted` to the writer's connection where it differs from `applied`.
pub(super) fn apply(conn: &Connection, applied: &mut Faults, wanted: Faults) {
    if wanted != *applied {
        tracing::warn!(?wanted, "fault injection: store faults changed");
    }
    if wanted.full != applied.full {
        let limit = if wanted.full {
            conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                .unwrap_or(1)
        } else {
            NO_PAGE_LIMIT
        };
        match conn.pragma_update(None, "max_page_count", limit) {
            Ok(()) => applied.full = wanted.full,
            Err(e) => tracing::warn!(error = %e, "fault injection: cannot set max_page_count"),
        }
    }
    if wanted.read_only != applied.read_only {
        match conn.pragma_update(None, "query_only", wanted.read_only) {
            Ok(()) => applied.read_only = wanted.read_only,
            Err(e) => tracing::warn!(error = %e, "fault injection: cannot set query_only"),
        }
    }
    applied.stall = wanted.stall;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_fault_and_ignores_the_rest() {
        assert_eq!(Faults::parse(""), Faults::default());
        assert_eq!(
            Faults::parse("full\nread-only\nslow 250\nbogus\n"),
            Faults {
                full: true,
                read_only: true,
                stall: Some(Duration::from_millis(250)),
            }
        );
        assert_eq!(Faults::parse("slow 999999").stall, Some(MAX_STALL));
        assert_eq!(Faults::parse("slow x").stall, None);
    }

    #[test]
    fn full_and_read_only_fail_writes_with_sqlites_own_codes() {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch("CREATE TABLE t (x BLOB)")
            .expect("table");
        let mut applied = Faults::default();
        apply(&conn, &mut applied, Faults::parse("full"));
        let blob = vec![0u8; 64 * 1024];
        let err = conn
            .execute("INSERT INTO t VALUES (?1)", [&blob])
            .expect_err("no room");
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull));
        apply(&conn, &mut applied, Faults::parse("read-only"));
        let err = conn
            .execute("INSERT INTO t VALUES (1)", [])
            .expect_err("read-only");
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly));
        apply(&conn, &mut applied, Faults::default());
        conn.execute("INSERT INTO t VALUES (?1)", [&blob])
            .expect("writable again");
    }
}
