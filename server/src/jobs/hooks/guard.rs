//! The address guard of outgoing webhooks: a moderator's URL must not make the server reach into
//! its own network (loopback, private ranges, a cloud's metadata service at 169.254.169.254…).
//! Every address a webhook's host names is checked, and the connection goes to the checked
//! address itself: the guard is the HTTP client's DNS resolver, so no second lookup can answer
//! otherwise (DNS rebinding). Hosts given as IP addresses skip resolvers, so the URL is
//! checked before the request too ([`Guard::check_url`]).
//!
//! `PALAVER_WEBHOOKS_ALLOW_PRIVATE` turns it off, for tests and for receivers on the same
//! network on purpose.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why the guard refused a webhook's host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error(
        "{host} is {ip}, a {kind} address: outgoing webhooks go to public addresses only \
         (PALAVER_WEBHOOKS_ALLOW_PRIVATE lets them go to others)"
    )]
    NotPublic {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
    #[error(
        "{host} names this machine: outgoing webhooks go to public addresses only \
         (PALAVER_WEBHOOKS_ALLOW_PRIVATE lets them go to others)"
    )]
    Local { host: String },
}

/// What kind of address `ip` is, when it is not a public one: the reason it is refused.
pub(crate) fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => not_public_v4(v4),
        IpAddr::V6(v6) => not_public_v6(v6),
    }
}

fn not_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_unspecified() || a == 0 {
        "unspecified (\"this network\")"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (64..128).contains(&b) {
        "shared (carrier-grade NAT)"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        "documentation or benchmarking"
    } else if a >= 240 || (a == 192 && b == 0 && c == 0) {
        "reserved"
    } else {
        return None;
    })
}

fn not_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // Addresses that carry an IPv4 address are what that address is.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return not_public_v4(v4);
    }
    Some(if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if segments[..6] == [0; 6] {
        // `::a.b.c.d`, the deprecated IPv4-compatible form.
        return not_public_v4(embedded(segments[6], segments[7])).or(Some("IPv4-compatible"));
    } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the IPv4 address it reaches.
        return not_public_v4(embedded(segments[6], segments[7]));
    } else if segments[0] == 0x2002 {
        // 6to4: the IPv4 address it tunnels to.
        return not_public_v4(embedded(segments[1], segments[2]));
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_unicast_link_local() {
        "link-local"
    } else if ip.is_unique_local() {
        "unique-local"
    } else if segments[0] & 0xffc0 == 0xfec0 {
        "site-local"
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        "documentation"
    } else if segments[..2] == [0x2001, 0] {
        "Teredo (tunnelled)"
    } else if segments[..4] == [0x100, 0, 0, 0] || segments[..3] == [0x64, 0xff9b, 1] {
        "reserved"
    } else {
        return None;
    })
}

/// The guard, on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guard {
    pub(crate) allow_private: bool,
}

impl Guard {
    /// Refuses `ip`, an address of `host`, unless it is public or the guard is off.
    pub(crate) fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        match not_public(ip) {
            Some(kind) if !self.allow_private => Err(Refused::NotPublic {
                host: host.to_owned(),
                ip,
                kind,
            }),
            _ => Ok(()),
        }
    }

    /// What can be checked of `url` without a lookup: a host that is an IP address, or a name
    /// of this machine (`localhost`).
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let shown = url.host_str().unwrap_or_default();
        match url.host() {
            Some(Host::Ipv4(v4)) => self.check(shown, IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check(shown, IpAddr::V6(v6)),
            Some(Host::Domain(name)) if !self.allow_private && names_this_machine(name) => {
                Err(Refused::Local {
                    host: name.to_owned(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// `localhost` and its subdomains, which resolvers answer with loopback addresses without
/// asking DNS (RFC 6761).
fn names_this_machine(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The HTTP client's resolver: the system's lookup, then the guard over every address found.
/// A host with any refused address is refused whole.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolver(pub(crate) Guard);

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &found {
                guard.check(&host, addr.ip())?;
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_pass() {
        let refused = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified (\"this network\")"),
            ("0.1.2.3", "unspecified (\"this network\")"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.7", "documentation or benchmarking"),
            ("198.18.0.1", "documentation or benchmarking"),
            ("240.0.0.1", "reserved"),
            ("192.0.0.8", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "loopback"),
            ("::8.8.8.8", "IPv4-compatible"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:101::1", "private"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "Teredo (tunnelled)"),
            ("100::1", "reserved"),
        ];
        for (addr, kind) in refused {
            assert_eq!(not_public(ip(addr)), Some(kind), "{addr}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(not_public(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn the_guard_can_be_turned_off() {
        let on = Guard {
            allow_private: false,
        };
        let off = Guard {
            allow_private: true,
        };
        let refused = on.check("internal", ip("10.0.0.1")).unwrap_err();
        assert!(
            refused.to_string().contains("10.0.0.1, a private address"),
            "{refused}"
        );
        assert!(off.check("internal", ip("10.0.0.1")).is_ok());
        assert!(on.check("public", ip("8.8.8.8")).is_ok());
        let url = |s: &str| Url::parse(s).unwrap();
        for local in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://localhost:8080/",
            "http://LocalHost./",
            "http://api.localhost/",
            "https://10.0.0.1/",
            "https://[fc00::1]/",
            "https://169.254.169.254/latest/meta-data",
        ] {
            assert!(on.check_url(&url(local)).is_err(), "{local}");
            assert!(off.check_url(&url(local)).is_ok(), "{local}");
        }
        for fine in [
            "https://example.org/hook",
            "http://8.8.8.8/",
            "https://[2606:4700::1]/",
        ] {
            assert!(on.check_url(&url(fine)).is_ok(), "{fine}");
        }
    }

    /// A name that resolves to loopback is refused by the resolver itself, whatever the URL
    /// said: the lookup the connection uses is the one checked.
    #[tokio::test]
    async fn the_resolver_refuses_a_name_of_loopback_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let refused = Resolver(Guard {
            allow_private: false,
        })
        .resolve(name)
        .await
        .err()
        .expect("refused");
        let refused = refused
            .downcast_ref::<Refused>()
            .expect("the guard's refusal");
        assert!(
            matches!(
                refused,
                Refused::NotPublic {
                    kind: "loopback",
                    ..
                }
            ),
            "{refused}"
        );
        let name: Name = "localhost".parse().unwrap();
        let found: Vec<SocketAddr> = Resolver(Guard {
            allow_private: true,
        })
        .resolve(name)
        .await
        .unwrap()
        .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }
}
