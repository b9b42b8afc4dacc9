//! Bounds on what one client can hold open: connections per address, and how long a request
//! body may take to arrive.
//!
//! actix-http times out request *headers* (5 s) but not bodies: a request announcing
//! `Content-Length: 10000` and sending one byte, or a byte every few seconds, held its
//! connection (and a file descriptor) for as long as the client liked, and a few hundred such
//! connections from one address left none for anyone else (issue 13, finding 5).
//!
//! - [`ConnectionLimit`] counts open connections per client address as the server accepts
//!   them ([`ConnectionLimit::on_connect`], called by actix before the connection is read) and
//!   shuts a connection beyond the address's cap down at once, freeing its descriptor; the
//!   count drops when the connection's [`Slot`] is dropped with the connection. Trusted
//!   proxies are not counted: behind one, every visitor has the proxy's address (the proxy
//!   enforces its own per-client limits, see README "Running a collector").
//! - `web::middleware::body_deadline` gives every request body a deadline from the moment its headers were
//!   read; a body still incomplete then ends the request with 408 `body_timeout`, and the
//!   connection is closed.

use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, Shutdown};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::{Extensions, Payload};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_core::Stream;

use crate::web::ratelimit::bucket;

/// Open connections per client address (IPv6 by /64, like the rate limit).
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    per_address: u32,
    trusted: Arc<[IpAddr]>,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One counted connection; dropping it (with the connection) gives its place back.
#[derive(Debug)]
struct Slot {
    address: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.address);
            }
        }
    }
}

impl ConnectionLimit {
    pub fn new(per_address: u32, trusted: &[IpAddr]) -> Self {
        Self {
            per_address,
            trusted: trusted.into(),
            open: Arc::default(),
        }
    }

    /// Takes a place for a connection from `peer`; `None` if the address has none left.
    /// Trusted proxies always get one (uncounted).
    fn admit(&self, peer: IpAddr) -> Result<Option<Slot>, ()> {
        if self.trusted.contains(&peer) {
            return Ok(None);
        }
        let address = bucket(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(address).or_insert(0);
        if *n >= self.per_address {
            return Err(());
        }
        *n += 1;
        Ok(Some(Slot {
            address,
            open: Arc::clone(&self.open),
        }))
    }

    /// Connections open from `peer`'s address now.
    pub fn open_from(&self, peer: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&bucket(peer)).copied().unwrap_or(0)
    }

    /// actix's per-connection hook: counts the connection, or shuts it down when its address
    /// is over the cap (the client sees the connection closed before any answer).
    pub fn on_connect(&self, connection: &dyn Any, data: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        match self.admit(peer.ip()) {
            Ok(Some(slot)) => {
                data.insert(slot);
            }
            Ok(None) => {}
            Err(()) => {
                tracing::debug!(
                    peer = %peer.ip(),
                    cap = self.per_address,
                    "connection refused: too many open from this address"
                );
                // Reading then ends at once and actix drops the connection, freeing its
                // descriptor; nothing is read from it.
                let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Both);
            }
        }
    }
}

/// A request body that must arrive by a deadline.
pub(crate) struct Deadline {
    pub(crate) body: Payload,
    pub(crate) timer: Pin<Box<actix_web::rt::time::Sleep>>,
    pub(crate) fired: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(next) = Pin::new(&mut this.body).poll_next(cx) {
            return Poll::Ready(next);
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            this.fired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body not complete by its deadline",
            )))));
        }
        Poll::Pending
    }
}

/// The default body deadline: a 16 KiB receipt needs well under a second even on a slow
/// mobile link.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_cap_and_places_come_back() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let limit = ConnectionLimit::new(2, &[proxy]);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = limit.admit(a).expect("first").expect("counted");
        let second = limit.admit(a).expect("second").expect("counted");
        assert!(limit.admit(a).is_err(), "a third from the same address");
        assert!(limit.admit(b).is_ok(), "another address has its own");
        for _ in 0..10 {
            assert!(
                matches!(limit.admit(proxy), Ok(None)),
                "proxies are not counted"
            );
        }
        drop(first);
        assert_eq!(limit.open_from(a), 1);
        assert!(limit.admit(a).is_ok(), "a place came back");
        drop(second);
        let v6a: IpAddr = "2001:db8::1".parse().expect("ip");
        let v6b: IpAddr = "2001:db8::2".parse().expect("ip");
        let _x = limit.admit(v6a).expect("v6").expect("counted");
        let _y = limit.admit(v6b).expect("v6").expect("counted");
        assert!(limit.admit(v6a).is_err(), "one /64 is one address");
    }
}
