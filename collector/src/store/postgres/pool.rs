//! PostgreSQL's read side: a small pool of sessions, opened when first needed and opened
//! again after the server dropped them (a restart, a failover), so reads recover without
//! restarting the collector. Every method blocks; async callers run them in `web::block`.

use crossbeam_channel::{Receiver, Sender};
use postgres::{Client, Config};

use super::PgError;
use crate::store::StoreError;

/// At most `size` sessions; a caller waits for a free one.
pub(super) struct Pool {
    config: Config,
    shown: String,
    put: Sender<Option<Client>>,
    take: Receiver<Option<Client>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("url", &self.shown).finish()
    }
}

/// A slot taken from the pool, given back on drop (also when the caller panics), without
/// its session if that one is closed.
struct Lease<'a> {
    client: Option<Client>,
    pool: &'a Sender<Option<Client>>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let client = self.client.take().filter(|c| !c.is_closed());
        let _ = self.pool.send(client);
    }
}

/// A session's drop talks to the server (it says goodbye) through the client's own runtime,
/// which cannot run inside another: the sessions are closed off the caller's runtime.
impl Drop for Pool {
    fn drop(&mut self) {
        let sessions: Vec<Client> = self.take.try_iter().flatten().collect();
        if !sessions.is_empty() {
            super::off_runtime(move || drop(sessions));
        }
    }
}

impl Pool {
    /// A pool of `size` slots, none connected yet.
    pub(super) fn new(config: Config, shown: String, size: usize) -> Pool {
        let (put, take) = crossbeam_channel::bounded(size.max(1));
        for _ in 0..size.max(1) {
            let _ = put.send(None);
        }
        Pool {
            config,
            shown,
            put,
            take,
        }
    }

    /// Puts an open session into an empty slot (the one `open_reader` checked the schema on).
    pub(super) fn give_back(&self, client: Client) {
        if let Ok(None) = self.take.try_recv() {
            let _ = self.put.send(Some(client));
        }
    }

    /// Runs `f` on a pooled session, connecting one first if the slot has none.
    pub(super) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, PgError> + Send,
    ) -> Result<T, StoreError> {
        super::off_runtime(|| self.leased(f))
    }

    /// [`Self::with`] on the calling thread, which must not be inside an async runtime.
    pub(super) fn leased<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        let slot = self.take.recv().map_err(|_| StoreError::WriterStopped)?;
        let mut lease = Lease {
            client: slot,
            pool: &self.put,
        };
        if lease.client.as_ref().is_none_or(Client::is_closed) {
            lease.client = Some(super::connect(&self.config).map_err(PgError::Sql)?);
        }
        let client = lease.client.as_mut().ok_or(StoreError::WriterStopped)?;
        Ok(f(client)?)
    }
}
