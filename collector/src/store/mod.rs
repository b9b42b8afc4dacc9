//! The receipt store, behind one interface: what the HTTP layer, the command line and the
//! admin tasks may ask of it, whichever backend holds the data: SQLite (`sqlite/`, one
//! file, the default) or PostgreSQL (`postgres/`, one database several collectors share),
//! each private to this module, so nothing else can reach around the interface. A backend
//! is a submodule implementing the traits of [`api`], plus one arm in each function of this
//! file that opens a store by its [`Location`]; routes, CLI and retention stay as they are.
//! What every backend's writer does alike (jobs, runs of receipts, answers) is `batch`.
//!
//! **Shape.** A running store is an `Arc<dyn Backend>` ([`Store`]), its read side an
//! `Arc<dyn ReadStore>` ([`Reader`]): object-safe traits behind shared handles, the shape of
//! pict-rs's repositories (`Arc<dyn FullRepo>`, opened through an enum of its backends, as
//! here through [`Location`]) and of garage's `db` crate (`Arc<dyn IDb>` over SQLite or
//! LMDB). Not a generic `AppState<S>`: every handler, extractor and test would carry the
//! parameter, and the route table would be compiled once per backend, for a choice made
//! once at start. Not an `enum Store { Sqlite(..) }` for use: its thirty-odd methods would each
//! become a `match` that grows with every backend, and the contract would have no place of
//! its own apart from its first implementation. The price of dynamic dispatch, a boxed
//! future per write and an indirect call per read, is noise beside a commit. The one closed
//! set is [`Location`], where a store lives, matched once per way of opening one: what
//! `[store]` in the configuration, or `--store` on the command line, names.
//!
//! **Writes** ([`Backend::issue`], [`Backend::maintain`]) are async and resolve only once the
//! change is durable: a 201 means "on disk" (for PostgreSQL: committed with
//! `synchronous_commit` on, so on every synchronous standby too). Sequencing and signing
//! happen inside the backend's write, which alone knows the next position in the log.
//!
//! **Reads** block, as SQLite does; callers on the async executor run them in `web::block`
//! like any blocking call. A backend whose client is async runs its reads on its own runtime
//! behind the same blocking methods.
//!
//! **Offline**: the CLI works on a store without a running collector through [`open_reader`],
//! [`maintain_offline`] (the same changes the writer makes, in a transaction of their own),
//! [`upgrade_offline`] and, for `backup`, [`snapshot`].
//!
//! Nothing in the interface names a backend's types: a backend's own error reaches
//! [`StoreError`] only as the source of [`StoreError::Open`] or [`StoreError::Backend`].

use std::path::{Path, PathBuf};

use crate::keys::Signer;
use crate::ops::datadir::DataDir;
use crate::ops::metrics::WriterMetrics;

mod admin;
mod analytics;
pub mod api;
mod batch;
pub mod copy;
mod erasure;
mod postgres;
mod queries;
mod sqlite;

pub use crate::config::redact_url;
pub use crate::log::tree::TreeReads;
pub use crate::log::{Head, LogRow, ReceiptRow};
pub use admin::{
    Affected, AuditEntry, BY_CLI, BY_DEADLINE, Erasure, ErasureRequest, HealthEvent, HealthRow,
    Maintenance, Scope, TokenRecord,
};
pub use analytics::{AnalyticsGroups, AnalyticsQuery, CategoryGroup, EventGroup};
pub use api::{AdminReads, Backend, ReadStore, Reader, ReceiptReads, Store};
pub use queries::{AdminRow, Counts, ReceiptFilter, Stats};

/// The schema version this binary writes. Backends number their migrations alike (the SQLite
/// files in `migrations/` are the reference), so a store's version means the same in each.
pub const SCHEMA_VERSION: i64 = sqlite::SCHEMA_VERSION;

/// A backend's own error (SQLite's, a database client's), kept only as a source.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: BackendError },
    #[error("cannot create database {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("no database at {path}; start the collector once (serve or demo) to create it")]
    Missing { path: String },
    #[error(
        "database {path} has schema version {found}, newer than this collector's {supported}; \
         upgrade kelisim-collector"
    )]
    SchemaTooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "database {path} has schema version {found}, older than {supported}; \
         start `kelisim-collector serve` once to migrate it"
    )]
    SchemaTooOld {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("idempotency key `{key}` was already used for a different receipt on site `{site}`")]
    IdempotencyConflict { site: String, key: String },
    #[error("site `{site}` has no erasure request `{id}`")]
    NoErasureRequest { site: String, id: String },
    /// Asked to carry out a request that is no longer pending: someone, or the collector at
    /// its due time, carried it out first.
    #[error("erasure request `{id}` was already carried out at {done_at} by {done_by}")]
    ErasureDone {
        id: String,
        done_at: String,
        done_by: String,
    },
    #[error("the receipt writer queue is full; retry later")]
    Busy,
    #[error("the receipt writer has stopped")]
    WriterStopped,
    #[error("could not commit receipts: {0}")]
    Commit(String),
    /// The disk is full, read-only, failing or locked: a condition that may clear, so
    /// clients are told to retry (503) rather than that the server is broken (500).
    #[error(
        "the database cannot be written now ({0}); check free space, permissions and the \
         health of the data directory's disk"
    )]
    Unwritable(String),
    /// The database server cannot be reached or refuses work for now (down, restarting,
    /// failing over): retry later (503), the store reconnects by itself.
    #[error(
        "the database server cannot be reached now ({0}); the collector reconnects by itself \
         once it answers"
    )]
    Unavailable(String),
    /// Asked of a backend that does not do it (e.g. `backup` of a PostgreSQL store).
    #[error("{0}")]
    Unsupported(String),
    #[error("database error: {0}")]
    Backend(#[source] BackendError),
}

/// The result of issuing a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub id: String,
    pub seq: i64,
    pub jws: String,
    /// False for an idempotent replay of an existing receipt.
    pub created: bool,
}

/// Whether a consent still stands: what the widget's once-per-session check needs, without
/// the JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentStatus {
    pub id: String,
    /// The receipt's own event.
    pub event: String,
    /// When a withdrawal named it (RFC 3339), if one did.
    pub withdrawn_at: Option<String>,
}

/// What a copy of a store holds, as the backup's manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The copy's schema version.
    pub schema_version: i64,
    /// Receipts it holds (purged receipts are not counted).
    pub receipts: i64,
    /// The chain head: the last receipt's seq and the SHA-256 of its JWS.
    pub head: Option<Head>,
}

/// Where a store lives: which backend, and where that backend keeps the data.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file (`kelisim.db` in the data directory): the default.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its connection URL (`postgres://user:password@host:port/db`,
    /// several hosts and `target_session_attrs=read-write` allowed). Several collectors may
    /// share one.
    Postgres(String),
}

impl Location {
    /// The store of a data directory, as `serve` and the CLI find it without `[store]`.
    pub fn in_data_dir(dir: &DataDir) -> Location {
        Location::Sqlite(dir.db_path())
    }

    /// Where the store is, for messages: the file, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => crate::config::redact_url(url),
        }
    }
}

/// Never prints a database password (the URL holds it).
impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Location::Postgres(_) => f.debug_tuple("Postgres").field(&self.shown()).finish(),
        }
    }
}

/// Opens (creating and migrating if needed) the store at `at` and starts its writer, which
/// signs with `signer`; its transparency log is named [`crate::log::tree::FALLBACK_ORIGIN`]
/// unless it has one already, and its batch metrics go nowhere.
pub fn open(at: &Location, signer: Signer) -> Result<Store, StoreError> {
    open_with(
        at,
        signer,
        crate::log::tree::FALLBACK_ORIGIN,
        WriterMetrics::unregistered(),
    )
}

/// [`open`], naming a new transparency log `origin` (an existing log keeps its own, see
/// [`crate::log::tree::origin_for`]) and with the writer reporting batch sizes and commit
/// times to `metrics`. Receipts not yet in the log's tree (a database from before it) are
/// added first.
pub fn open_with(
    at: &Location,
    signer: Signer,
    origin: &str,
    metrics: WriterMetrics,
) -> Result<Store, StoreError> {
    match at {
        Location::Sqlite(path) => Ok(sqlite::open(path, signer, origin, metrics)?),
        Location::Postgres(url) => postgres::open(url, signer, origin, metrics),
    }
}

/// Opens an existing store for reading only (CLI `receipts list`, `audit`); never creates or
/// migrates it, and refuses one at another schema version.
pub fn open_reader(at: &Location) -> Result<Reader, StoreError> {
    match at {
        Location::Sqlite(path) => Ok(sqlite::open_reader(path)?),
        Location::Postgres(url) => postgres::open_reader(url),
    }
}

/// Applies `op` in a transaction of its own: for the CLI, when no collector's writer is at
/// hand (the backend serialises it with a running one). Migrates an older store first.
pub fn maintain_offline(at: &Location, op: &Maintenance) -> Result<Affected, StoreError> {
    match at {
        Location::Sqlite(path) => sqlite::maintain_offline(path, op),
        Location::Postgres(url) => postgres::maintain_offline(url, op),
    }
}

/// Brings an existing store to this binary's schema, as `serve` does when it starts.
pub fn upgrade_offline(at: &Location) -> Result<(), StoreError> {
    match at {
        Location::Sqlite(path) => sqlite::upgrade_offline(path),
        Location::Postgres(url) => postgres::upgrade_offline(url),
    }
}

/// Writes a consistent copy of the store at `at` (in use or not) to the new file `dest`, a
/// self-contained SQLite database (the backup format's `kelisim.db`), and describes it.
pub fn snapshot(at: &Location, dest: &Path) -> Result<SnapshotInfo, StoreError> {
    match at {
        Location::Sqlite(path) => sqlite::snapshot(path, dest),
        Location::Postgres(url) => Err(StoreError::Unsupported(format!(
            "`backup` copies a SQLite store; the store at {} is PostgreSQL: back it up with \
             pg_dump or the server's own base backups and WAL archive (docs/deploy.md)",
            crate::config::redact_url(url)
        ))),
    }
}

/// Copies the store at `from` (a SQLite file) into the empty store at `to` (PostgreSQL) in
/// one transaction (a failed copy leaves the target empty), and checks that every table has
/// as many rows on both sides; the caller then audits the target.
pub fn copy(from: &Location, to: &Location) -> Result<copy::Copied, StoreError> {
    let (Location::Sqlite(path), Location::Postgres(url)) = (from, to) else {
        return Err(StoreError::Unsupported(format!(
            "`store copy` copies a SQLite store into PostgreSQL; not {} into {}",
            from.shown(),
            to.shown()
        )));
    };
    upgrade_offline(from)?;
    let source = sqlite::Dump::open(path)?;
    // Counted in the same read transaction the rows are read in.
    let expected = source.counts()?;
    let copied = postgres::load(url, &mut move |table, sink| source.rows(table, sink))?;
    let counted = postgres::count_rows(url)?;
    for ((table, wrote), (_, found)) in copied.iter().zip(&counted) {
        if wrote != found {
            return Err(StoreError::Commit(format!(
                "table {table}: {wrote} rows copied but {found} found in the target"
            )));
        }
    }
    for ((table, wrote), (_, had)) in copied.iter().zip(&expected) {
        if wrote != had {
            return Err(StoreError::Commit(format!(
                "table {table}: the source has {had} rows but {wrote} were copied"
            )));
        }
    }
    Ok(copied)
}

/// Describes a copy made by [`snapshot`] without changing it: a restored copy is checked
/// against its manifest with this. Refuses a file that is not such a copy, or one newer than
/// this binary.
pub fn inspect_snapshot(copy: &Path) -> Result<SnapshotInfo, StoreError> {
    sqlite::inspect(copy)
}

/// The admin benchmark's loader: `count` signed, chained receipts into an empty store, far
/// faster than the writer's per-request path. `issued_at(i)` gives the time of the i-th
/// (non-decreasing), `make(i, stamp)` its content (the stamp carries the id it will get).
#[cfg(feature = "testing")]
pub fn bulk_load(
    at: &Location,
    signer: &Signer,
    count: u64,
    issued_at: impl Fn(u64) -> String,
    make: impl FnMut(u64, &crate::receipt::Stamp) -> crate::receipt::PreparedReceipt,
) -> Result<(), StoreError> {
    match at {
        Location::Sqlite(path) => sqlite::bulk_load(path, signer, count, issued_at, make),
        Location::Postgres(url) => postgres::bulk_load(url, signer, count, issued_at, make),
    }
}
