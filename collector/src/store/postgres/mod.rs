//! The PostgreSQL backend: one database that several collectors share.
//!
//! **Durability.** A batch is one transaction; its jobs are answered after `COMMIT`
//! returned, with `synchronous_commit` on (set per session, whatever the server's default),
//! so a 201 means the WAL is flushed on the primary and on every synchronous standby the
//! operator configured.
//!
//! **One log, several writers.** Each collector runs one writer thread (group commit, as
//! SQLite's) over its own connection. The log's order is decided in the database: every
//! batch first takes a transaction-scoped advisory lock ([`LOG_LOCK`]), then reads where the
//! log ends (`chain_head`) and the tree's size, which another collector may have moved since
//! this one's last batch, then sequences, signs and stores, extends the tree and signs its
//! checkpoint, and commits, which releases the lock. So the collectors take turns per batch:
//! no gap, no fork, one tree, and a retry that lands on another collector finds the receipt
//! the first one stored (the idempotency look-up runs under the lock). One sequencer rather
//! than a log per collector (sharded like CT): one log is what a data subject's proof, the
//! witnesses and `audit` check, and a batch, not a receipt, pays for the lock
//! (BENCHMARKS.md).
//!
//! **Faults.** A lost connection fails the batch it was in (nothing of it is acknowledged,
//! the callers get 503 `unavailable` and retry) and the next batch reconnects, following the
//! URL's hosts to whichever is primary (`target_session_attrs=read-write`).
//!
//! **Migrations** are numbered like SQLite's; see `migrations/postgres/`. They run under the
//! same lock, so collectors starting together migrate once.
//!
//! Only this module and its children name `postgres`; what leaves it is the interface's
//! types, and a PostgreSQL error only as the source of a [`StoreError`].

use std::sync::Arc;
use std::time::Duration;

use kelisim_receipt::log::LogError;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use super::batch::{self, Running};
use super::{Affected, Maintenance, Reader, SCHEMA_VERSION, Store, StoreError, redact_url};
use crate::keys::Signer;
use crate::ops::metrics::WriterMetrics;

mod admin;
#[cfg(feature = "testing")]
mod bulk;
mod load;
mod pool;
mod queries;
mod reader;
mod rows;
mod tree;
mod writer;

#[cfg(feature = "testing")]
pub(super) use bulk::bulk_load;
pub(super) use load::{count_rows, load};
use pool::Pool;

/// The schema at version 10, where the PostgreSQL store's history starts.
const SCHEMA_V10: &str = include_str!("../../../migrations/postgres/0010_schema.sql");

/// Migrations after version 10, in order (none yet): `MIGRATIONS[i]` brings a store from
/// version `10 + i` to `11 + i`.
const MIGRATIONS: &[&str] = &[];

const _: () = assert!(SCHEMA_VERSION == 10 + MIGRATIONS.len() as i64);

/// The advisory lock every write transaction holds: the log's one sequencer across all
/// collectors of a database (`pg_advisory_xact_lock`, released by commit or rollback).
const LOG_LOCK: i64 = 0x4b65_6c69_7369_6d31; // "Kelisim1"

/// Read connections a running collector keeps.
const READERS: usize = 4;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle time before TCP keepalive probes start: a server that vanished without closing the
/// connection (a machine or network failure) is noticed in seconds, not hours, and its
/// batch fails (503) instead of hanging.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);

/// What goes wrong inside this backend: a statement, or the tree's rules on what was read.
#[derive(Debug, thiserror::Error)]
enum PgError {
    #[error(transparent)]
    Sql(#[from] postgres::Error),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// This backend's errors reach callers as the source of [`StoreError::Backend`], or as
/// [`StoreError::Unavailable`] when the server is down, restarting, read-only (a standby) or
/// out of connections: conditions that clear without anyone fixing the collector.
impl From<PgError> for StoreError {
    fn from(e: PgError) -> StoreError {
        if is_transient(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Backend(Box::new(e))
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        PgError::Sql(e).into()
    }
}

/// Whether a failed statement may succeed later on a new connection: the connection is
/// gone, the server is shutting down or starting, refuses connections, or is a read-only
/// standby (a failover in progress).
fn is_transient(e: &PgError) -> bool {
    let PgError::Sql(e) = e else { return false };
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let class = &code.code()[..2];
            // 08: connection exception; 57P: operator intervention (shutdown, crash
            // recovery); 53: insufficient resources (too many connections, disk full).
            matches!(class, "08" | "53")
                || code.code().starts_with("57P")
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        }
        // No SQLSTATE: the error came from the socket, not the server.
        None => e.as_db_error().is_none(),
    }
}

/// Runs `f`, on a thread of its own when called from inside an async runtime. The blocking
/// client drives each call with a runtime of its own, which tokio refuses to start inside
/// another. The writer's thread has no runtime; a caller on the executor (a test, a start-up
/// path), or on a blocking-pool thread that keeps the runtime's context (`web::block`), is
/// served on a scoped thread: tens of microseconds beside a query's milliseconds. Reader
/// threads kept by the pool would save that spawn; not needed at the measured rates.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The connection settings of `url`, with this store's defaults where the URL sets none: a
/// connect timeout, a short keepalive idle time, and the application name the server's
/// activity view shows.
fn config(url: &str) -> Result<Config, StoreError> {
    let mut config: Config = url.parse().map_err(|e: postgres::Error| StoreError::Open {
        path: redact_url(url),
        source: format!(
            "not a PostgreSQL connection URL ({e}); expected \
             postgres://user:password@host:port/database"
        )
        .into(),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_keepalives() && config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if config.get_application_name().is_none() {
        config.application_name("kelisim-collector");
    }
    Ok(config)
}

/// A new session with the store's settings: every commit waits for the WAL flush (and the
/// synchronous standbys), whatever the server's default.
fn connect(config: &Config) -> Result<Client, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute("SET synchronous_commit = on")?;
    Ok(client)
}

/// [`connect`] at start-up: an error names the server and what to fix.
fn connect_at_start(config: &Config, url: &str) -> Result<Client, StoreError> {
    connect(config).map_err(|e| {
        let hint = match e.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD => {
                "the user name or password in the URL is wrong"
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                "the database does not exist; create it (createdb) or fix its name in the URL"
            }
            Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                "the server refuses this user from this address (pg_hba.conf)"
            }
            _ if e.as_db_error().is_none() => {
                "the server cannot be reached: check host, port, that PostgreSQL is running \
                 and listens there"
            }
            _ => "see the server's message",
        };
        StoreError::Open {
            path: redact_url(url),
            source: format!("{e}: {hint}").into(),
        }
    })
}

/// The schema version the database is at; 0 for a database without Kelisim's tables.
fn schema_version(client: &mut impl postgres::GenericClient) -> Result<i64, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('kelisim_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT version FROM kelisim_schema", &[])?;
    Ok(match row {
        Some(row) => i64::from(row.try_get::<_, i32>(0)?),
        None => 0,
    })
}

/// Brings the database to [`SCHEMA_VERSION`] under the log's lock, refusing a newer one.
fn migrate(client: &mut Client, url: &str) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
    let found = schema_version(&mut tx)?;
    check_version(found, url, true)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    if found == 0 {
        tracing::info!(version = 10, "creating the PostgreSQL schema");
        tx.batch_execute(SCHEMA_V10)?;
        tx.execute("INSERT INTO kelisim_schema (version) VALUES (10)", &[])?;
    }
    let from = usize::try_from(schema_version(&mut tx)? - 10).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tracing::info!(version = 11 + i, "applying database migration");
        tx.batch_execute(sql)?;
    }
    let version = i32::try_from(SCHEMA_VERSION).unwrap_or(i32::MAX);
    tx.execute("UPDATE kelisim_schema SET version = $1", &[&version])?;
    tx.commit()?;
    Ok(())
}

/// Refuses a database newer than this binary, and (unless `migrating`) an older one.
fn check_version(found: i64, url: &str, migrating: bool) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: redact_url(url),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION && !migrating {
        return Err(if found == 0 {
            StoreError::Missing {
                path: redact_url(url),
            }
        } else {
            StoreError::SchemaTooOld {
                path: redact_url(url),
                found,
                supported: SCHEMA_VERSION,
            }
        });
    }
    Ok(())
}

/// Connects to the database at `url`, creates or migrates its schema, brings the
/// transparency log's tree up to the last receipt, and starts the writer, which signs with
/// `signer` (receipts, and checkpoints under `origin` unless the log has an origin already)
/// and reports its batches to `metrics`.
pub(super) fn open(
    url: &str,
    signer: Signer,
    origin: &str,
    metrics: WriterMetrics,
) -> Result<Store, StoreError> {
    off_runtime(|| start(url, signer, origin, metrics))
}

fn start(
    url: &str,
    signer: Signer,
    origin: &str,
    metrics: WriterMetrics,
) -> Result<Store, StoreError> {
    let config = config(url)?;
    let mut client = connect_at_start(&config, url)?;
    migrate(&mut client, url)?;
    let (tree, note_signer) = tree::catch_up(&mut client, &signer, origin)?;
    let reader = Arc::new(Pool::new(config.clone(), redact_url(url), READERS));
    let writer = writer::Writer::new(config, client, signer, tree, note_signer, metrics);
    Ok(Arc::new(Running {
        writing: batch::start(writer, &redact_url(url))?,
        reader,
        shown: redact_url(url),
        #[cfg(feature = "testing")]
        fault_file: None,
    }))
}

/// Connects for reading only; never creates or migrates, and refuses a database at another
/// schema version.
pub(super) fn open_reader(url: &str) -> Result<Reader, StoreError> {
    off_runtime(|| {
        let config = config(url)?;
        let mut client = connect_at_start(&config, url)?;
        check_version(schema_version(&mut client)?, url, false)?;
        // `audit` reads the receipts, the tree's stored hashes and `followed` at the same
        // time; the other slots connect when first used.
        let pool = Pool::new(config, redact_url(url), 3);
        pool.give_back(client);
        Ok(Arc::new(pool) as Reader)
    })
}

/// Applies `op` in a transaction of its own, under the log's lock like a running writer's
/// batch: for the CLI. Migrates an older store first.
pub(super) fn maintain_offline(url: &str, op: &Maintenance) -> Result<Affected, StoreError> {
    off_runtime(|| {
        let mut client = upgraded(url)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
        let answer = admin::apply(&mut tx, op)?;
        tx.commit()?;
        answer
    })
}

/// Brings an existing database to this binary's schema.
pub(super) fn upgrade_offline(url: &str) -> Result<(), StoreError> {
    off_runtime(|| upgraded(url).map(drop))
}

fn upgraded(url: &str) -> Result<Client, StoreError> {
    let config = config(url)?;
    let mut client = connect_at_start(&config, url)?;
    if schema_version(&mut client)? == 0 {
        return Err(StoreError::Missing {
            path: redact_url(url),
        });
    }
    migrate(&mut client, url)?;
    Ok(client)
}
