//! The Socket.IO handshake's `Origin` check: a page on another site must not open a socket
//! with the visitor's browser.
//!
//! Browsers always send `Origin` on WebSocket and cross-origin XHR requests; other clients
//! (the Node or Python Socket.IO clients, curl) usually send none, and are let through: the
//! check protects browsers' users, it does not authenticate anyone.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;

/// Where the Socket.IO layer answers.
pub(crate) const SOCKET_PATH: &str = "/socket.io/";

/// Whether the Socket.IO layer answers `path`: `/socket.io`, and anything under `/socket.io/`.
pub(crate) fn is_socket_io(path: &str) -> bool {
    path.strip_prefix("/socket.io")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Which origins may open a socket.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origins {
    /// Exact origins such as `https://chat.example.org`. Empty: the site's own origin only.
    allowed: Vec<String>,
}

impl Origins {
    pub(crate) fn new(allowed: &[String]) -> Origins {
        Origins {
            allowed: allowed
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    /// Whether a request with these headers may reach the Socket.IO layer.
    fn permits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if !self.allowed.is_empty() {
            return self.allowed.contains(&origin);
        }
        // Same origin: the page was served by this host (as the browser addressed it).
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        matches!((authority, host), (Some(a), Some(h)) if a == h)
    }
}

pub(crate) async fn check(
    State(origins): State<Origins>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with(SOCKET_PATH) && !origins.permits(request.headers()) {
        let origin = request.headers().get(header::ORIGIN);
        warn!(?origin, "socket handshake from a foreign origin refused");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn the_default_is_the_site_itself() {
        let o = Origins::new(&[]);
        assert!(o.permits(&headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000")));
        assert!(o.permits(&headers(
            Some("HTTPS://Chat.Example.org"),
            "chat.example.org"
        )));
        assert!(o.permits(&headers(None, "127.0.0.1:3000")), "not a browser");
        assert!(!o.permits(&headers(Some("http://evil.example"), "127.0.0.1:3000")));
        assert!(!o.permits(&headers(Some("http://127.0.0.1:3001"), "127.0.0.1:3000")));
        assert!(!o.permits(&headers(Some("null"), "127.0.0.1:3000")));
    }

    #[test]
    fn a_list_replaces_the_default() {
        let o = Origins::new(&["https://chat.example.org/".into(), " ".into()]);
        assert!(o.permits(&headers(Some("https://chat.example.org"), "internal:3000")));
        assert!(!o.permits(&headers(Some("http://internal:3000"), "internal:3000")));
    }
}
