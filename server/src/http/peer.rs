//! Where a client connects from: its IP address, read from the handshake request, and the
//! [`Source`] that the per-address limits count it under.
//!
//! The address is the TCP peer's (axum's `ConnectInfo<SocketAddr>` request extension), unless
//! that peer is one of the configured trusted proxies: then it is the rightmost
//! `X-Forwarded-For` entry that is not itself a trusted proxy. Each proxy appends the address
//! it was connected from, so entries to the right of the first untrusted one were written by
//! our own proxies, and everything to its left was written by the client and proves nothing.
//! From anyone else `X-Forwarded-For` is ignored: trusting it would let every connection pick
//! its own address, and so its own budget.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(HashSet<IpAddr>);

impl TrustedProxies {
    pub(crate) fn new(proxies: &[IpAddr]) -> TrustedProxies {
        TrustedProxies(proxies.iter().map(|ip| canonical(*ip)).collect())
    }

    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// What the per-address limits count a client under: its IPv4 address, or the /64 of its
/// IPv6 address, since one host (or one home) is usually given a whole /64 and could take a
/// fresh address from it for every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(IpAddr);

impl Source {
    pub(crate) fn of(ip: IpAddr) -> Source {
        match canonical(ip) {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Source(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Source(v4),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The client's address for a request, or `None` when the server did not record the TCP peer
/// (a request that did not come through the listener).
pub(crate) fn client_ip(parts: &Parts, trusted: &TrustedProxies) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(resolve(canonical(peer.ip()), &parts.headers, trusted))
}

/// The client behind `peer`, believing `X-Forwarded-For` only from trusted proxies.
fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.trusts(peer) {
        return peer;
    }
    // Several headers are one list, in order (RFC 9110, 5.3).
    let entries: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            // Our proxy wrote something we cannot read: the last address we could is the
            // client as far as we know.
            tracing::debug!(entry, "unreadable X-Forwarded-For entry");
            return client;
        };
        client = canonical(ip);
        if !trusted.trusts(client) {
            return client;
        }
    }
    // Every hop is a trusted proxy: the connection comes from one of them.
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`198.51.100.7:4711`,
/// `[2001:db8::1]:4711`), as some proxies write them.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// An IPv4 client reaching a dual-stack listener shows as `::ffff:a.b.c.d`: the same client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn parts(peer: Option<&str>, forwarded: &[&str]) -> Parts {
        let mut request = Request::builder().uri("/socket.io/");
        for f in forwarded {
            request = request.header(FORWARDED_FOR, *f);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts
                .extensions
                .insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
        }
        parts
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        let p = parts(Some("198.51.100.7:50000"), &["203.0.113.1"]);
        assert_eq!(client_ip(&p, &none), Some(ip("198.51.100.7")));
        // Nor does forwarding help a peer that is not one of the configured proxies.
        let proxy = TrustedProxies::new(&[ip("10.0.0.1")]);
        assert_eq!(client_ip(&p, &proxy), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(&parts(None, &[]), &none), None);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = TrustedProxies::new(&[ip("10.0.0.1"), ip("10.0.0.2")]);
        // The client forged the first entry; our proxies appended the rest.
        let p = parts(Some("10.0.0.1:443"), &["6.6.6.6, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_ip(&p, &trusted), Some(ip("203.0.113.9")));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(&parts(Some("10.0.0.1:443"), &[]), &trusted),
            Some(ip("10.0.0.1"))
        );
        // Every hop trusted: the leftmost of them.
        assert_eq!(
            client_ip(&parts(Some("10.0.0.1:443"), &["10.0.0.2"]), &trusted),
            Some(ip("10.0.0.2"))
        );
        // Ports, brackets and spaces as proxies write them.
        assert_eq!(
            client_ip(
                &parts(Some("10.0.0.1:1"), &[" [2001:db8::7]:4711 "]),
                &trusted
            ),
            Some(ip("2001:db8::7"))
        );
        assert_eq!(
            client_ip(&parts(Some("10.0.0.1:1"), &["203.0.113.9:80"]), &trusted),
            Some(ip("203.0.113.9"))
        );
        // Garbage from our own proxy: the last address we could read.
        assert_eq!(
            client_ip(
                &parts(Some("10.0.0.1:1"), &["203.0.113.9, junk, 10.0.0.2"]),
                &trusted
            ),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let trusted = TrustedProxies::new(&[ip("127.0.0.1")]);
        let p = parts(Some("[::ffff:127.0.0.1]:9"), &["::ffff:203.0.113.9"]);
        assert_eq!(client_ip(&p, &trusted), Some(ip("203.0.113.9")));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = Source::of(ip("2001:db8:1:2:aaaa::1"));
        let b = Source::of(ip("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
        let other = Source::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(Source::of(ip("203.0.113.9")).to_string(), "203.0.113.9");
        assert_ne!(
            Source::of(ip("203.0.113.9")),
            Source::of(ip("203.0.113.10"))
        );
        assert_eq!(
            Source::of(ip("::ffff:203.0.113.9")),
            Source::of(ip("203.0.113.9"))
        );
    }
}
