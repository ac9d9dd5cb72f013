//! Which browsers' pages may talk to this server: the `Origin` check on Socket.IO requests,
//! and the `Host` check that stops DNS rebinding.
//!
//! Browsers send `Origin` on every WebSocket handshake and every cross-origin or non-GET
//! request; other clients (the Node or Python Socket.IO clients, curl) usually send none and
//! are let through by the `Origin` check: it protects browsers' users, it authenticates no one.
//!
//! A page on evil.example whose name has been made to resolve to this server (DNS rebinding)
//! is same-origin with itself, so its `Origin` agrees with its `Host`; only the `Host` tells
//! that the browser did not mean this server. When the server knows no name of its own (no
//! public URL, no list of origins), every request must therefore name it by its listening
//! address, `Origin` or not: the chat page carries the lobby's latest messages, and a
//! same-origin GET need not carry `Origin`. With a public URL or a list, the `Origin` alone
//! decides, and `Host` is not read (a reverse proxy may pass its own upstream name).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::logging::Hush;
use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;
use url::{Host, Origin, Url};

/// Where the Socket.IO layer answers: this path and every path below it. `lib.rs` gives it to
/// the layer, so the two cannot disagree.
pub(crate) const SOCKET_PATH: &str = "/socket.io";

/// Whether the Socket.IO layer answers `path`: engineioxide's own rule for its `req_path`
/// (`/socket.io`, `/socket.io/`, `/socket.io/…`, not `/socket.iox`).
pub(crate) fn is_socket_request(path: &str) -> bool {
    path.strip_prefix(SOCKET_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `path` is one of the accounts' routes (`http/auth/`), which set the session cookie,
/// or changes a person's picture or uploads a file with it (`http/avatars.rs`,
/// `http/uploads.rs`): checked like the handshake, so that a page of another site signs nobody
/// in or out and changes nothing.
pub(crate) fn is_account_request(path: &str) -> bool {
    path.starts_with("/auth/") || path == "/avatar" || path == app::events::UPLOADS_PATH
}

/// A configured origin or public URL that is not `scheme://host[:port]`.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is not an origin: expected http:// or https://, a host and an optional port, nothing else (e.g. https://chat.example.org)"
)]
pub struct AddressError(String);

/// `https://chat.example.org` (a trailing `/` allowed): checked, for clap.
pub(crate) fn parse_address(text: &str) -> Result<String, AddressError> {
    if !text.trim().is_empty() {
        site_origin(text)?;
    }
    Ok(text.trim().to_owned())
}

fn site_origin(text: &str) -> Result<Origin, AddressError> {
    let wrong = || AddressError(text.to_owned());
    let url = Url::parse(text.trim()).map_err(|_| wrong())?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if plain {
        Ok(url.origin())
    } else {
        Err(wrong())
    }
}

/// What the site is called.
#[derive(Clone, Debug)]
enum Site {
    /// The public URL's origin: the only one its pages have.
    Public(Origin),
    /// Only the address it listens on is known.
    Bound(SocketAddr),
}

/// The rules, built once from the settings and the listening address.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    /// Exactly the origins that may open a socket; empty: the site's own.
    allowed: Arc<[Origin]>,
    site: Site,
    /// Refusals of either kind, logged sparingly.
    hush: Arc<(Hush, Hush)>,
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// A Socket.IO request from a page on another site.
    ForeignOrigin,
    /// A request for a host that is not this server (DNS rebinding).
    ForeignHost,
}

impl Access {
    /// `allowed`: `PALAVER_ALLOWED_ORIGINS` (blank entries ignored); `public_url`:
    /// `PALAVER_PUBLIC_URL`; `bound`: the listener's address.
    pub(crate) fn new(
        allowed: &[String],
        public_url: Option<&str>,
        bound: SocketAddr,
    ) -> Result<Access, AddressError> {
        let allowed = allowed
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| site_origin(o))
            .collect::<Result<_, _>>()?;
        let site = match public_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Site::Public(site_origin(url)?),
            None => Site::Bound(bound),
        };
        Ok(Access {
            allowed,
            site,
            hush: Arc::new((Hush::new(QUIET), Hush::new(QUIET))),
        })
    }

    /// The public URL's origin, if one is set.
    pub(crate) fn public_origin(&self) -> Option<&Origin> {
        match &self.site {
            Site::Public(origin) => Some(origin),
            Site::Bound(_) => None,
        }
    }

    /// Whether a request for `path` with these headers (and, over HTTP/2, this URI authority)
    /// may go on.
    fn judge(
        &self,
        path: &str,
        headers: &HeaderMap,
        authority: Option<&Authority>,
    ) -> Result<(), Refusal> {
        // The origins whose pages may open a socket.
        let own;
        let permitted: &[Origin] = match &self.site {
            _ if !self.allowed.is_empty() => &self.allowed,
            Site::Public(origin) => std::slice::from_ref(origin),
            Site::Bound(bound) => {
                let host = headers
                    .get(header::HOST)
                    .map(HeaderValue::as_bytes)
                    .or_else(|| authority.map(|a| a.as_str().as_bytes()));
                match host {
                    // Not a browser (HTTP/1.0): no page to protect, and no origin of its own.
                    None => &[],
                    Some(host) => {
                        own = bound_origin(host, *bound).ok_or(Refusal::ForeignHost)?;
                        std::slice::from_ref(&own)
                    }
                }
            }
        };
        let Some(origin) = headers
            .get(header::ORIGIN)
            .filter(|_| is_socket_request(path) || is_account_request(path))
        else {
            return Ok(());
        };
        // `null`, a `file:` page and the like have no tuple origin, and none is permitted.
        let origin = origin
            .to_str()
            .ok()
            .and_then(|o| Url::parse(o).ok())
            .map(|u| u.origin());
        match origin {
            Some(origin) if permitted.contains(&origin) => Ok(()),
            _ => Err(Refusal::ForeignOrigin),
        }
    }
}

/// The origin of a page served at `host` (a `Host` header), when `host` names this server
/// listening on `bound`: its IP address and port, or `localhost` and the port when it listens
/// on loopback; any IP address with the port when it listens on all of them. A DNS name may
/// belong to anyone (DNS rebinding), so no other name does.
fn bound_origin(host: &[u8], bound: SocketAddr) -> Option<Origin> {
    let authority = Authority::try_from(host).ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let port = authority.port_u16().unwrap_or(80);
    let name = Host::parse(authority.host()).ok()?;
    let ip = bound.ip();
    let names_it = match &name {
        Host::Domain(domain) => domain == "localhost" && (ip.is_loopback() || ip.is_unspecified()),
        Host::Ipv4(v4) => ip.is_unspecified() || IpAddr::V4(*v4) == ip,
        Host::Ipv6(v6) => ip.is_unspecified() || IpAddr::V6(*v6) == ip,
    };
    (names_it && port == bound.port()).then(|| Origin::Tuple("http".to_owned(), name, port))
}

pub(crate) async fn check(State(access): State<Access>, request: Request, next: Next) -> Response {
    let verdict = access.judge(
        request.uri().path(),
        request.headers(),
        request.uri().authority(),
    );
    let Err(refusal) = verdict else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let (origin, host) = (headers.get(header::ORIGIN), headers.get(header::HOST));
    match refusal {
        Refusal::ForeignOrigin => {
            if let Some(held_back) = access.hush.0.speak() {
                warn!(
                    ?origin,
                    held_back, "socket handshake from a foreign origin refused"
                );
            }
            (StatusCode::FORBIDDEN, "origin not allowed").into_response()
        }
        Refusal::ForeignHost => {
            if let Some(held_back) = access.hush.1.speak() {
                warn!(
                    ?host,
                    ?origin,
                    held_back,
                    "request for a host other than this server's address refused (a DNS name \
                     may be anyone's): set PALAVER_PUBLIC_URL to the address people use, or \
                     PALAVER_ALLOWED_ORIGINS"
                );
            }
            let body = "host not allowed: this server answers only at its own address. Its \
                        operator can set PALAVER_PUBLIC_URL to the address people use.";
            (StatusCode::FORBIDDEN, body).into_response()
        }
    }
}

/// How often one kind of refusal is logged at most: a flood of refused requests must not
/// become a flood of log lines.
const QUIET: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    const SOCKET: &str = "/socket.io/";

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(host) = host {
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    fn bound(addr: &str) -> Access {
        Access::new(&[], None, addr.parse().unwrap()).unwrap()
    }

    fn judge(access: &Access, path: &str, origin: Option<&str>, host: &str) -> Result<(), Refusal> {
        access.judge(path, &headers(origin, Some(host)), None)
    }

    use Refusal::{ForeignHost, ForeignOrigin};

    #[test]
    fn the_socket_path_is_the_layers() {
        for path in [
            "/socket.io",
            "/socket.io/",
            "/socket.io//",
            "/socket.io/a/b",
        ] {
            assert!(is_socket_request(path), "{path}");
        }
        for path in [
            "/",
            "/socket.iox",
            "/socket.io.js",
            "/Socket.io",
            "//socket.io",
            "/x/socket.io",
        ] {
            assert!(!is_socket_request(path), "{path}");
        }
    }

    #[test]
    fn on_loopback_the_address_and_localhost_are_the_site() {
        let a = bound("127.0.0.1:3000");
        for host in ["127.0.0.1:3000", "localhost:3000", "LOCALHOST:3000"] {
            let origin = format!("http://{}", host.to_ascii_lowercase());
            assert_eq!(judge(&a, SOCKET, Some(&origin), host), Ok(()), "{host}");
            assert_eq!(
                judge(&a, "/socket.io", Some(&origin), host),
                Ok(()),
                "{host}"
            );
            assert_eq!(judge(&a, "/", None, host), Ok(()), "{host}");
        }
        // Case and the default port are the browser's business, not a difference.
        assert_eq!(
            judge(&a, SOCKET, Some("HTTP://LocalHost:3000"), "localhost:3000"),
            Ok(())
        );
        let a80 = bound("127.0.0.1:80");
        assert_eq!(
            judge(&a80, SOCKET, Some("http://127.0.0.1"), "127.0.0.1"),
            Ok(())
        );
        assert_eq!(
            judge(&a80, SOCKET, Some("http://127.0.0.1:80"), "127.0.0.1:80"),
            Ok(())
        );

        for origin in [
            "http://evil.example",
            "https://127.0.0.1:3000",
            "http://127.0.0.1:3001",
            "http://localhost:3000",
            "null",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                judge(&a, SOCKET, Some(origin), "127.0.0.1:3000"),
                Err(ForeignOrigin),
                "{origin}"
            );
        }
        // Not a browser: no Origin, nothing to protect.
        assert_eq!(judge(&a, SOCKET, None, "127.0.0.1:3000"), Ok(()));
        // Other hosts, whatever the Origin says, and whether or not there is one.
        for host in [
            "evil.example:3000",
            "127.0.0.1:3001",
            "127.0.0.2:3000",
            "[::1]:3000",
            "127.0.0.1:3000@evil",
            "localhost",
        ] {
            let origin = format!("http://{host}");
            assert_eq!(
                judge(&a, SOCKET, Some(&origin), host),
                Err(ForeignHost),
                "{host}"
            );
            assert_eq!(judge(&a, SOCKET, None, host), Err(ForeignHost), "{host}");
            assert_eq!(judge(&a, "/", None, host), Err(ForeignHost), "{host}");
        }
        // No Host at all (HTTP/1.0): not a browser.
        assert_eq!(a.judge("/", &headers(None, None), None), Ok(()));
        assert_eq!(
            a.judge(SOCKET, &headers(Some("http://127.0.0.1:3000"), None), None),
            Err(ForeignOrigin)
        );
        // HTTP/2 carries the host in the URI.
        let authority = Authority::from_static("evil.example:3000");
        assert_eq!(
            a.judge("/", &headers(None, None), Some(&authority)),
            Err(ForeignHost)
        );
    }

    #[test]
    fn on_all_interfaces_any_address_with_the_port_is_the_site_but_no_name_but_localhost() {
        for addr in ["0.0.0.0:3000", "[::]:3000"] {
            let a = bound(addr);
            for host in [
                "192.168.1.7:3000",
                "[fe80::1]:3000",
                "127.0.0.1:3000",
                "localhost:3000",
            ] {
                let origin = format!("http://{host}");
                assert_eq!(
                    judge(&a, SOCKET, Some(&origin), host),
                    Ok(()),
                    "{addr} {host}"
                );
            }
            for host in ["chat.example.org:3000", "192.168.1.7:3001", "192.168.1.7"] {
                let origin = format!("http://{host}");
                assert_eq!(
                    judge(&a, SOCKET, Some(&origin), host),
                    Err(ForeignHost),
                    "{addr} {host}"
                );
            }
        }
        let a = bound("192.168.1.7:3000");
        assert_eq!(
            judge(
                &a,
                SOCKET,
                Some("http://192.168.1.7:3000"),
                "192.168.1.7:3000"
            ),
            Ok(())
        );
        assert_eq!(
            judge(&a, "/", None, "localhost:3000"),
            Err(ForeignHost),
            "not on loopback"
        );
    }

    #[test]
    fn a_public_url_is_the_only_origin_and_host_is_not_read() {
        let a = Access::new(
            &[],
            Some("https://Chat.Example.org/"),
            "0.0.0.0:3000".parse().unwrap(),
        )
        .unwrap();
        for origin in [
            "https://chat.example.org",
            "https://chat.example.org:443",
            "HTTPS://CHAT.EXAMPLE.ORG",
        ] {
            assert_eq!(
                judge(&a, SOCKET, Some(origin), "palaver:3000"),
                Ok(()),
                "{origin}"
            );
        }
        for origin in [
            "http://chat.example.org",
            "https://chat.example.org:8443",
            "https://evil.example",
            "http://palaver:3000",
        ] {
            assert_eq!(
                judge(&a, SOCKET, Some(origin), "palaver:3000"),
                Err(ForeignOrigin),
                "{origin}"
            );
        }
        assert_eq!(judge(&a, "/", None, "palaver:3000"), Ok(()));
        assert_eq!(judge(&a, SOCKET, None, "anything"), Ok(()));
    }

    #[test]
    fn a_list_replaces_the_sites_own_origin() {
        let a = Access::new(
            &[
                "https://chat.example.org/".into(),
                " ".into(),
                "http://other.example:8080".into(),
            ],
            Some("https://ignored.example"),
            "127.0.0.1:3000".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            judge(
                &a,
                SOCKET,
                Some("https://chat.example.org"),
                "internal:3000"
            ),
            Ok(())
        );
        assert_eq!(
            judge(
                &a,
                SOCKET,
                Some("http://other.example:8080"),
                "internal:3000"
            ),
            Ok(())
        );
        for origin in [
            "http://127.0.0.1:3000",
            "http://chat.example.org",
            "http://other.example",
            "https://ignored.example",
        ] {
            assert_eq!(
                judge(&a, SOCKET, Some(origin), "127.0.0.1:3000"),
                Err(ForeignOrigin),
                "{origin}"
            );
        }
        assert_eq!(judge(&a, "/", None, "internal:3000"), Ok(()));
    }

    #[test]
    fn settings_must_be_plain_origins() {
        for good in [
            "https://chat.example.org",
            "http://10.0.0.1:8080/",
            " https://x.example ",
        ] {
            assert!(parse_address(good).is_ok(), "{good}");
        }
        for bad in [
            "chat.example.org",
            "https://chat.example.org/palaver",
            "https://u@x.example",
            "ftp://x.example",
            "null",
            "https://x.example/?a",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
            assert!(
                Access::new(&[bad.into()], None, "127.0.0.1:1".parse().unwrap()).is_err(),
                "{bad}"
            );
            assert!(
                Access::new(&[], Some(bad), "127.0.0.1:1".parse().unwrap()).is_err(),
                "{bad}"
            );
        }
        assert_eq!(parse_address("").unwrap(), "");
    }
}
