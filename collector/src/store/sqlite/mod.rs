//! The SQLite backend: one database file, one writer thread, a pool of readers.
//!
//! **Durability.** [`open`] sets WAL, `synchronous = FULL` (every commit is fsynced),
//! `foreign_keys` and a busy timeout, then migrates by `PRAGMA user_version` from the files
//! in `migrations/`, refusing a database newer than this binary.
//!
//! **One writer, group commit.** All writes go through one dedicated thread that owns the
//! only read-write connection and the signing key. It blocks for a job, drains whatever else
//! is queued (up to `batch::MAX_BATCH`), and handles the batch in one `BEGIN IMMEDIATE`
//! transaction: per job, in order — idempotency check (same site and key: same content
//! returns the existing receipt, different content is a conflict; a second withdrawal of the
//! same receipt returns the first), assign `seq`, UUIDv7 `id`, `issued_at` and `prev`
//! (SHA-256 of the previous receipt's JWS), sign, insert. Replies are sent only after
//! `COMMIT` returned, so a 201 always means "on disk". One fsync per batch instead of per
//! receipt is what lets the rate scale with load. A new signing key (after `keys rotate`)
//! is handed to the writer as a job, so it takes effect at a batch boundary.
//!
//! **Reads** use a small pool of separate `query_only` connections ([`ReadPool`]).
//!
//! Only this module and its children name `rusqlite`; what leaves it is the interface's
//! types, and a SQLite error only as the source of a [`StoreError`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::batch::{self, Running};
use super::{Head, Reader, Store, StoreError};
use crate::keys::Signer;
use crate::log::Tip;
use crate::ops::datadir;
use crate::ops::metrics::WriterMetrics;

mod admin;
mod analytics;
#[cfg(feature = "testing")]
mod bulk;
mod dump;
#[cfg(feature = "testing")]
mod fault;
mod followed;
mod health;
mod queries;
mod reader;
mod snapshot;
mod tree;
mod witness;
mod writer;

pub(super) use admin::{maintain_offline, upgrade_offline};
#[cfg(feature = "testing")]
pub(super) use bulk::bulk_load;
pub(super) use dump::Dump;
use reader::ReadPool;
pub(super) use snapshot::{inspect, snapshot};
use writer::Writer;

/// Schema migrations, applied in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_withdraws.sql"),
    include_str!("../../../migrations/0003_admin.sql"),
    include_str!("../../../migrations/0004_followed.sql"),
    include_str!("../../../migrations/0005_erasure_requests.sql"),
    include_str!("../../../migrations/0006_holders.sql"),
    include_str!("../../../migrations/0007_log_tree.sql"),
    include_str!("../../../migrations/0008_analytics.sql"),
    include_str!("../../../migrations/0009_health.sql"),
    include_str!("../../../migrations/0010_witness.sql"),
];

/// The schema version this binary writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Read connections kept open by a running collector.
const READERS: usize = 4;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's errors reach callers only as the source of [`StoreError::Backend`].
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

/// Opens (creating and migrating if needed) the database at `path`, brings the transparency
/// log's tree up to the last receipt, and starts the writer, which signs with `signer` (the
/// receipts, and the checkpoints under `origin`) and reports its batches to `metrics`.
pub(super) fn open(
    path: &Path,
    signer: Signer,
    origin: &str,
    metrics: WriterMetrics,
) -> Result<Store, StoreError> {
    let shown = path.display().to_string();
    datadir::touch_private(path).map_err(|source| StoreError::Create {
        path: shown.clone(),
        source,
    })?;
    let mut conn = connect(path, true)?;
    migrate(&mut conn, path)?;
    let tip = read_tip(&conn)?;
    let (tree, note_signer) = tree::catch_up(&mut conn, &signer, origin, tip.seq)?;
    let reader = Arc::new(ReadPool::open(path, READERS)?);
    #[cfg(feature = "testing")]
    let fault_file = Arc::new(std::sync::OnceLock::new());
    let writer = Writer {
        conn,
        signer,
        tip,
        tree,
        note_signer,
        metrics,
        #[cfg(feature = "testing")]
        fault_file: Arc::clone(&fault_file),
        #[cfg(feature = "testing")]
        faults: fault::Faults::default(),
    };
    Ok(Arc::new(Running {
        writing: batch::start(writer, &shown)?,
        reader,
        shown,
        #[cfg(feature = "testing")]
        fault_file: Some(fault_file),
    }))
}

/// Opens an existing database for reading only; never creates or migrates it.
pub(super) fn open_reader(path: &Path) -> Result<Reader, StoreError> {
    Ok(Arc::new(open_pool(path)?))
}

/// [`open_reader`], as the pool itself (this module's tests reach its connection).
fn open_pool(path: &Path) -> Result<ReadPool, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.display().to_string(),
        });
    }
    // `audit` reads the receipts, the tree's stored hashes and `followed` at the same time.
    ReadPool::open(path, 3)
}

/// Opens a connection with the store's pragmas.
fn connect(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let shown = || path.display().to_string();
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let open_err = |source: rusqlite::Error| StoreError::Open {
        path: shown(),
        source: Box::new(source),
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %shown(), mode, "database is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    Ok(conn)
}

/// Brings the schema to [`SCHEMA_VERSION`], refusing a newer one.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tracing::info!(version = index + 1, "applying database migration");
        tx.execute_batch(sql)?;
        if index + 1 == analytics::CHOICES_VERSION {
            analytics::backfill(&tx)?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn schema_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Position of the last receipt: the larger of the last row and `chain_head`, so a log whose
/// tail was deleted is continued after the deleted receipts (never reusing their `seq`).
fn read_tip(conn: &Connection) -> Result<Tip, StoreError> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, jws FROM receipts ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let row_tip = last.map_or_else(Tip::genesis, |(seq, jws): (i64, String)| {
        Tip::after(seq, &jws)
    });
    let head = read_head(conn)?;
    match head {
        Some(head)
            if head.seq > row_tip.seq
                || (head.seq == row_tip.seq && head.jws_sha256 != row_tip.hash) =>
        {
            // A tail purged by retention left tombstones: expected, not worth a warning.
            let purged: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM tombstones WHERE seq = ?1 AND jws_sha256 = ?2)",
                params![head.seq, head.jws_sha256],
                |r| r.get(0),
            )?;
            if !purged {
                tracing::warn!(
                    head_seq = head.seq,
                    last_row_seq = row_tip.seq,
                    "the receipt log does not end where the chain head says; run `kelisim-collector audit`"
                );
            }
            Ok(Tip {
                seq: head.seq.max(row_tip.seq),
                hash: head.jws_sha256,
            })
        }
        _ => Ok(row_tip),
    }
}

fn read_head(conn: &Connection) -> Result<Option<Head>, rusqlite::Error> {
    conn.query_row(
        "SELECT seq, jws_sha256 FROM chain_head WHERE id = 1",
        [],
        |r| {
            Ok(Head {
                seq: r.get(0)?,
                jws_sha256: r.get(1)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::hash::sha256_hex;
    use crate::receipt::PreparedReceipt;
    use crate::store::Issued;

    /// A running store at `path` (its batch metrics go nowhere).
    pub(super) fn start(path: &Path) -> Store {
        open(
            path,
            signer(),
            "test.example/log",
            WriterMetrics::unregistered(),
        )
        .expect("open")
    }

    pub(super) fn signer() -> Signer {
        Signer::new(ed25519_dalek::SigningKey::from_bytes(&[5; 32]))
    }

    /// A form consent of site demo (the `store::admin` tests vary it).
    pub(super) fn receipt(reference: &str, gpc: bool) -> PreparedReceipt {
        let mut receipt = PreparedReceipt::example(reference, &"ee".repeat(32));
        receipt.context.fields = vec!["name".into()];
        receipt.context.gpc = gpc;
        receipt.request_sha256 = sha256_hex(format!("{reference}{gpc}").as_bytes());
        receipt
    }

    pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn payload(jws: &str) -> crate::receipt::ReceiptPayload {
        use base64::Engine;
        let b64 = jws.split('.').nth(1).expect("payload part");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .expect("b64");
        serde_json::from_slice(&bytes).expect("payload json")
    }

    #[test]
    fn receipts_are_chained_and_replays_are_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        let store = start(&path);
        let (a, b, c) = block_on(async {
            let a = store
                .issue(receipt(&"1".repeat(32), false))
                .await
                .expect("a");
            let b = store
                .issue(receipt(&"2".repeat(32), false))
                .await
                .expect("b");
            let c = store
                .issue(receipt(&"1".repeat(32), false))
                .await
                .expect("replay");
            (a, b, c)
        });
        assert_eq!((a.seq, b.seq), (1, 2));
        assert!(a.created && b.created && !c.created);
        assert_eq!(
            c,
            Issued {
                created: false,
                ..a.clone()
            }
        );
        // Payload v3: no link to the receipt before; the position is the signed `seq`.
        assert_eq!((payload(&a.jws).v, payload(&a.jws).prev), (3, None));
        assert_eq!(payload(&b.jws).seq, 2);

        let conflict = block_on(store.issue(receipt(&"1".repeat(32), true))).expect_err("conflict");
        assert!(
            matches!(conflict, StoreError::IdempotencyConflict { .. }),
            "{conflict}"
        );

        let reader = store.reader();
        assert_eq!(reader.count().expect("count"), 2);
        assert_eq!(
            reader.head().expect("head"),
            Some(Head {
                seq: 2,
                jws_sha256: sha256_hex(b.jws.as_bytes())
            })
        );
        assert_eq!(reader.by_id(&a.id).expect("by id").map(|r| r.seq), Some(1));
        assert_eq!(
            reader
                .by_ref(&"2".repeat(32), &["demo".to_owned()])
                .expect("by ref")
                .len(),
            1
        );
        assert_eq!(
            reader
                .by_subject_hmac(&"ee".repeat(32))
                .expect("by subject")
                .len(),
            2
        );
        assert_eq!(
            reader
                .list(None, 10)
                .expect("list")
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>(),
            [2, 1]
        );
        block_on(store.ping()).expect("writable");
        store.shutdown();
        let after = block_on(store.issue(receipt(&"3".repeat(32), false))).expect_err("stopped");
        assert!(matches!(after, StoreError::WriterStopped), "{after}");
        drop(store);

        // Reopening continues the chain where it ended.
        let store = start(&path);
        let d = block_on(store.issue(receipt(&"4".repeat(32), false))).expect("d");
        assert_eq!((d.seq, payload(&d.jws).seq), (3, 3));
    }

    #[test]
    fn a_new_signer_signs_everything_queued_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = start(&dir.path().join("kelisim.db"));
        let other = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[6; 32]));
        let kid_of = |jws: &str| {
            use base64::Engine;
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jws.split('.').next().expect("header"))
                .expect("b64");
            serde_json::from_slice::<serde_json::Value>(&header).expect("json")["kid"]
                .as_str()
                .expect("kid")
                .to_owned()
        };
        let (before, after) = block_on(async {
            // Queued together (join polls them in order): the switch lands between them,
            // at a batch boundary.
            let (before, switched, after) = tokio::join!(
                store.issue(receipt(&"1".repeat(32), false)),
                store.set_signer(other.clone()),
                store.issue(receipt(&"2".repeat(32), false)),
            );
            switched.expect("switched");
            (before.expect("before"), after.expect("after"))
        });
        assert_eq!(kid_of(&before.jws), signer().kid());
        assert_eq!(kid_of(&after.jws), other.kid());
        assert_eq!(payload(&after.jws).seq, before.seq + 1);
        let rows = store.reader().list(None, 10).expect("list");
        assert_eq!(
            rows[0].kid,
            other.kid(),
            "the kid column follows the signer"
        );
    }

    #[test]
    fn concurrent_jobs_are_group_committed_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = start(&dir.path().join("kelisim.db"));
        let issued = block_on(async {
            let jobs = (0..200).map(|i| store.issue(receipt(&format!("{i:032x}"), false)));
            let mut out = Vec::new();
            for job in jobs.collect::<Vec<_>>() {
                out.push(job.await.expect("issued"));
            }
            out
        });
        let mut seqs: Vec<i64> = issued.iter().map(|i| i.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
        let mut rows = Vec::new();
        store
            .reader()
            .scan_log(&mut |row| {
                rows.push(row);
                ControlFlow::Continue(())
            })
            .expect("scan");
        // Signed in parallel, stored in order: each JWS carries its row's `seq`.
        for row in &rows {
            assert_eq!(payload(&row.row.jws).seq, row.row.seq);
            assert_eq!(row.subject_hmacs, ["ee".repeat(32)]);
        }
        assert_eq!(rows.len(), 200);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        {
            let conn = Connection::open(&path).expect("create");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .expect("set version");
        }
        let err = open(
            &path,
            signer(),
            "test.example/log",
            WriterMetrics::unregistered(),
        )
        .expect_err("refused");
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(
            err.to_string().contains("upgrade kelisim-collector"),
            "{err}"
        );
        let err = open_reader(&path).expect_err("reader refuses too");
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
    }

    #[test]
    fn reader_refuses_missing_and_unmigrated_databases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        assert!(matches!(
            open_reader(&path),
            Err(StoreError::Missing { .. })
        ));
        Connection::open(&path).expect("empty db");
        assert!(matches!(
            open_reader(&path),
            Err(StoreError::SchemaTooOld { found: 0, .. })
        ));
    }

    #[test]
    fn pragmas_are_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kelisim.db");
        let _store = start(&path);
        // A connection of the read pool, set up as the store's own are.
        let reader = open_pool(&path).expect("reader");
        let (mode, fk, sync): (String, i64, i64) = reader
            .with(|c| {
                Ok((
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                    c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
                    c.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
                ))
            })
            .expect("pragmas");
        assert_eq!((mode.as_str(), fk, sync), ("wal", 1, 2));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
