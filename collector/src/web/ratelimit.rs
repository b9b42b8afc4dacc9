//! Per-client-address rate limiting of the public API (`/v1/…`) and, in a bucket of its own,
//! of the admin API (`/v1/admin/…`), with GCRA from `governor`.
//!
//! The client is the TCP peer, unless the peer is a configured trusted proxy: then the
//! proxy's forwarding header is read — every line of it as one list (a client may send its own
//! line, and HAProxy, for one, adds another rather than appending to it) — and the client is
//! the right-most address in it that is not itself a trusted proxy: the one the first trusted
//! proxy saw. What a client writes to the left of that is never read, so it cannot pick its
//! own bucket (issue 13, finding 7). Which header the proxy sets (`X-Forwarded-For` or RFC 7239
//! `Forwarded`) is configured: reading a header the proxy does not set would read the client's.
//! IPv6 clients are grouped by /64, the block one subscriber usually gets. A refused request
//! gets how long to wait, which the HTTP layer turns into a 429 problem with `Retry-After`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::{ProxyHeader, RateLimit};

/// Forget idle clients every this many checks, so the table does not grow without bound.
const SWEEP_EVERY: u64 = 4096;

/// One bucket per client address.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
    quota: (u32, u32),
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_second_and_burst", &self.quota)
            .finish()
    }
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        // The config validator guarantees both are at least 1.
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
            quota: (per_second, burst),
        }
    }

    /// The public API's limiter of `config`.
    pub fn public(config: &RateLimit) -> Self {
        Self::new(config.per_second, config.burst)
    }

    /// The admin API's own limiter: a flood of public requests from an office's address does
    /// not lock its admins out, and admin traffic does not eat visitors' budget.
    pub fn admin(config: &RateLimit) -> Self {
        Self::new(config.admin_per_second, config.admin_burst)
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

/// How the client address of a request is found.
#[derive(Debug, Clone)]
pub struct Clients {
    trusted_proxies: Vec<IpAddr>,
    header: ProxyHeader,
}

impl Clients {
    pub fn new(config: &RateLimit) -> Self {
        Self {
            trusted_proxies: config.trusted_proxies.clone(),
            header: config.proxy_header,
        }
    }

    /// The bucket a request from `peer` with `headers` belongs to. Without a peer address
    /// (in-process tests) every request shares one bucket.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
        if !self.trusted_proxies.contains(&peer) {
            return bucket(peer);
        }
        let lines = headers
            .get_all(self.header.name())
            .filter_map(|v| v.to_str().ok());
        let hops: Vec<Option<IpAddr>> = match self.header {
            ProxyHeader::XForwardedFor => lines
                .flat_map(|line| line.split(','))
                .map(parse_address)
                .collect(),
            ProxyHeader::Forwarded => lines
                .flat_map(|line| line.split(','))
                .map(forwarded_for)
                .collect(),
        };
        bucket(rightmost_untrusted(peer, &hops, &self.trusted_proxies))
    }
}

/// Walking from the peer leftwards through the forwarded hops: the first address that is not
/// a trusted proxy. A hop that is not an address (`unknown`, an obfuscated name, garbage)
/// ends the walk at the last trusted proxy, whose bucket is then shared: never one a client
/// chose.
fn rightmost_untrusted(peer: IpAddr, hops: &[Option<IpAddr>], trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(address) if trusted.contains(address) => client = *address,
            Some(address) => return *address,
            None => return client,
        }
    }
    client
}

/// An address as forwarding headers write it: `203.0.113.7`, `2001:db8::1`, with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`) or in brackets.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<IpAddr>().ok())
        })
}

/// The `for=` of one RFC 7239 `Forwarded` element (`for=203.0.113.7;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, value)| parse_address(value))
}

/// IPv4 addresses as they are; IPv6 by /64; IPv4-mapped IPv6 as IPv4.
pub fn bucket(ip: IpAddr) -> IpAddr {
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
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn clients(trusted: &[&str], header: ProxyHeader) -> Clients {
        Clients {
            trusted_proxies: trusted.iter().map(|t| t.parse().expect("ip")).collect(),
            header,
        }
    }

    fn headers(name: &'static str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(line).expect("value"),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn burst_then_refusal_with_a_wait_per_client() {
        let rl = RateLimiter::new(1, 3);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
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
    fn forwarded_for_counts_only_from_trusted_proxies_and_every_line_is_read() {
        let c = clients(&["127.0.0.1", "10.0.0.2"], ProxyHeader::XForwardedFor);
        let proxy: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let other: SocketAddr = "198.51.100.7:4000".parse().expect("addr");
        let xff = |lines: &[&str]| headers("x-forwarded-for", lines);
        let cases: &[(&[&str], &str)] = &[
            (&["10.0.0.1, 203.0.113.9"], "203.0.113.9"),
            // HAProxy's default: the client's own line, then the proxy's.
            (&["198.51.100.1", "203.0.113.9"], "203.0.113.9"),
            (
                &["198.51.100.1, 198.51.100.2", "203.0.113.9"],
                "203.0.113.9",
            ),
            // Two trusted proxies in a row: the client is what the first one saw.
            (&["198.51.100.1, 203.0.113.9, 10.0.0.2"], "203.0.113.9"),
            (&["203.0.113.9:4711"], "203.0.113.9"),
            (&["[2001:db8::1]:4711"], "2001:db8::"),
            // Garbage where the client should be: the proxy's shared bucket.
            (&["203.0.113.9, garbage"], "127.0.0.1"),
            (&["garbage"], "127.0.0.1"),
            (&[], "127.0.0.1"),
            (&["10.0.0.2"], "10.0.0.2"),
        ];
        for (lines, want) in cases {
            assert_eq!(c.client(Some(proxy), &xff(lines)), ip(want), "{lines:?}");
        }
        assert_eq!(
            c.client(Some(other), &xff(&["203.0.113.9"])),
            other.ip(),
            "an untrusted peer cannot choose its bucket"
        );
        assert_eq!(
            c.client(Some(proxy), &headers("forwarded", &["for=203.0.113.9"])),
            proxy.ip(),
            "a header the proxy does not set is not read"
        );
        assert_eq!(
            c.client(None, &HeaderMap::new()),
            IpAddr::from([0, 0, 0, 0])
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_the_same_way() {
        let c = clients(&["127.0.0.1"], ProxyHeader::Forwarded);
        let proxy: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let fwd = |lines: &[&str]| headers("forwarded", lines);
        let cases: &[(&[&str], &str)] = &[
            (
                &["for=198.51.100.1", "for=203.0.113.9;proto=https"],
                "203.0.113.9",
            ),
            (&["for=198.51.100.1, For=\"203.0.113.9:80\""], "203.0.113.9"),
            (
                &["for=\"[2001:db8:cafe::17]:4711\";proto=https"],
                "2001:db8:cafe::",
            ),
            (&["for=unknown"], "127.0.0.1"),
            (&["for=_hidden, for=203.0.113.9"], "203.0.113.9"),
            (&["proto=https;by=203.0.113.43"], "127.0.0.1"),
        ];
        for (lines, want) in cases {
            assert_eq!(c.client(Some(proxy), &fwd(lines)), ip(want), "{lines:?}");
        }
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let (a, b, c) = (
            ip("2001:db8:1:2:aaaa::1"),
            ip("2001:db8:1:2:bbbb::2"),
            ip("2001:db8:1:3::1"),
        );
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
