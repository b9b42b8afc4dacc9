//! Per-client-address rate limiting of the public API (`/v1/…`), with GCRA from `governor`.
//!
//! The client is the TCP peer, unless the peer is a configured trusted proxy: then it is the
//! rightmost address of `X-Forwarded-For` (the one the proxy itself appended), so a client
//! cannot pick its own bucket by sending the header. IPv6 clients are grouped by /64, the
//! block one subscriber usually gets. A refused request gets how long to wait, which the
//! HTTP layer turns into a 429 problem with `Retry-After`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimit;

/// Forget idle clients every this many checks, so the table does not grow without bound.
const SWEEP_EVERY: u64 = 4096;

/// The limiter shared by all workers.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpAddr>,
    checks: AtomicU64,
    config: RateLimit,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish()
    }
}

impl RateLimiter {
    pub fn new(config: &RateLimit) -> Self {
        // The config validator guarantees both are at least 1.
        let per_second = NonZeroU32::new(config.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            trusted_proxies: config.trusted_proxies.clone(),
            checks: AtomicU64::new(0),
            config: config.clone(),
        }
    }

    /// The bucket a request belongs to. Without a peer address (in-process tests) every
    /// request shares one bucket.
    pub fn client(&self, peer: Option<SocketAddr>, forwarded_for: Option<&str>) -> IpAddr {
        let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
        let client = if self.trusted_proxies.contains(&peer) {
            forwarded_for
                .and_then(|h| h.rsplit(',').next())
                .and_then(|last| last.trim().parse::<IpAddr>().ok())
                .unwrap_or(peer)
        } else {
            peer
        };
        bucket(client)
    }

    /// `Ok` if `client` may make a request now, else how long until it may.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// IPv4 addresses as they are; IPv6 by /64; IPv4-mapped IPv6 as IPv4.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Whole seconds to announce in `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32, trusted: &[&str]) -> RateLimiter {
        RateLimiter::new(&RateLimit {
            per_second,
            burst,
            trusted_proxies: trusted.iter().map(|t| t.parse().expect("ip")).collect(),
        })
    }

    #[test]
    fn burst_then_refusal_with_a_wait_per_client() {
        let rl = limiter(1, 3, &[]);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..3 {
            assert!(rl.check(a).is_ok());
        }
        let wait = rl.check(a).expect_err("fourth request is over the burst");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(rl.check(b).is_ok(), "another client has its own bucket");
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let rl = limiter(1, 1, &["127.0.0.1"]);
        let proxy: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let other: SocketAddr = "198.51.100.7:4000".parse().expect("addr");
        assert_eq!(
            rl.client(Some(proxy), Some("10.0.0.1, 203.0.113.9")),
            "203.0.113.9".parse::<IpAddr>().expect("ip"),
            "the address the proxy appended"
        );
        assert_eq!(rl.client(Some(proxy), Some("garbage")), proxy.ip());
        assert_eq!(
            rl.client(Some(other), Some("203.0.113.9")),
            other.ip(),
            "an untrusted peer cannot choose its bucket"
        );
        assert_eq!(rl.client(None, None), IpAddr::from([0, 0, 0, 0]));
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(bucket(mapped), "192.0.2.1".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
