//! Copies a Socket.IO request's URI and the headers it needs out of hyper's read buffer before
//! the Socket.IO layer sees them.
//!
//! hyper parses a request without copying: the URI and every header value are slices of the
//! connection's read buffer (16 KiB). engineioxide keeps the handshake's request parts for the
//! session's whole life, and axum's `OriginalUri` extension rides along, so each open socket
//! kept that buffer alive after the upgrade to WebSocket: half of an idle connection's memory.
//! Copies of the few hundred bytes actually used let it go.
//!
//! Only the headers the Socket.IO layer reads are kept ([`KEPT`]), each up to [`MAX_KEPT_VALUE`]
//! bytes, and of the cookies only the session's: a client could otherwise make the server keep
//! hundreds of kilobytes of headers for as long as its socket stays open. Of the extensions,
//! only those read later ([`kept_extensions`]). (The origin check runs before this, on the
//! whole request.)

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::origin::is_socket_request;
use crate::socket::backlog::Outflow;
use hyper::upgrade::OnUpgrade;

pub(crate) async fn detach(request: Request, next: Next) -> Response {
    if !is_socket_request(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    parts.uri = owned_uri(&parts.uri);
    parts.headers = owned_headers(&parts.headers);
    parts.extensions = kept_extensions(&mut parts.extensions);
    next.run(Request::from_parts(parts, body)).await
}

/// What is read of a handshake's extensions from here on: the client's address (`peer.rs`),
/// the connection's outflow (`backlog.rs`), and hyper's upgrade, which the WebSocket handshake
/// takes. The rest (axum's `OriginalUri`, which points into the read buffer, and its
/// `MatchedPath`) would only be kept for the session's life, and past three entries the map
/// doubles.
fn kept_extensions(extensions: &mut Extensions) -> Extensions {
    let mut kept = Extensions::new();
    if let Some(peer) = extensions.remove::<ConnectInfo<SocketAddr>>() {
        kept.insert(peer);
    }
    if let Some(outflow) = extensions.remove::<Arc<Outflow>>() {
        kept.insert(outflow);
    }
    if let Some(upgrade) = extensions.remove::<OnUpgrade>() {
        kept.insert(upgrade);
    }
    kept
}

fn owned_uri(uri: &Uri) -> Uri {
    // Parsing a `String` makes the URI own its bytes; a URI that parsed once parses again.
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

/// The headers the Socket.IO layer reads: `Content-Type` (how a polling POST is encoded),
/// `Sec-WebSocket-Key` (the upgrade's answer), and the other headers of an upgrade and of the
/// site's own checks, kept so that nothing downstream meets a request that looks malformed;
/// and `X-Forwarded-For`, which names the client behind a trusted proxy (`peer.rs`).
const KEPT: [HeaderName; 12] = [
    header::HOST,
    header::ORIGIN,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_EXTENSIONS,
    HeaderName::from_static("x-forwarded-for"),
];

/// The longest header value kept; a longer one is dropped (none of [`KEPT`] is that long
/// from a real client).
pub(crate) const MAX_KEPT_VALUE: usize = 1024;

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let session = crate::accounts::session_only(headers)
        .and_then(|pair| HeaderValue::from_str(&pair).ok())
        .map(|pair| (header::COOKIE, pair));
    headers
        .iter()
        .filter(|(name, value)| KEPT.contains(name) && value.len() <= MAX_KEPT_VALUE)
        .map(|(name, value)| {
            // `from_bytes` copies; `clone` would share hyper's buffer. Names are already owned.
            let mut copy =
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            copy.set_sensitive(value.is_sensitive());
            (name.clone(), copy)
        })
        .chain(session)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::OriginalUri;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    /// Behind the middleware, as the Socket.IO layer sits, nothing of the request points into
    /// the buffer it was parsed from: not the URI, not a header, and axum's `OriginalUri`
    /// (which the first attempt at this missed) is gone.
    #[tokio::test]
    async fn behind_it_nothing_points_into_the_read_buffer() {
        // Like hyper: the URI and a header value are slices of one read buffer.
        let buffer = Bytes::from(b"/socket.io/?EIO=4&transport=websocketchat.example.org".to_vec());
        let start = buffer.as_ptr() as usize;
        let end = start + buffer.len();
        let outside = move |bytes: &[u8]| {
            let at = bytes.as_ptr() as usize;
            at < start || at >= end
        };
        let request = Request::builder()
            .uri(Uri::from_maybe_shared(buffer.slice(..37)).unwrap())
            .header(
                header::HOST,
                HeaderValue::from_maybe_shared(buffer.slice(37..)).unwrap(),
            )
            .body(Body::empty())
            .unwrap();
        assert!(
            !outside(request.uri().path().as_bytes()),
            "the test's own premise"
        );

        let app = Router::new()
            .fallback(move |request: Request| async move {
                let fine = outside(request.uri().path().as_bytes())
                    && request.extensions().get::<OriginalUri>().is_none()
                    && outside(request.headers()[header::HOST].as_bytes());
                if fine {
                    StatusCode::OK
                } else {
                    StatusCode::IM_A_TEAPOT
                }
            })
            .layer(axum::middleware::from_fn(detach));
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn only_the_extensions_read_later_are_kept() {
        let peer: SocketAddr = "192.0.2.7:4321".parse().unwrap();
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(peer));
        extensions.insert(OriginalUri(Uri::from_static("/socket.io/?EIO=4")));
        extensions.insert(7_u32);
        let kept = kept_extensions(&mut extensions);
        assert_eq!(kept.len(), 1);
        assert_eq!(
            kept.get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
            Some(peer)
        );
    }

    #[test]
    fn copies_keep_every_value_and_repeated_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("chat.example.org"));
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("a"),
        );
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("b"),
        );
        let copy = owned_headers(&headers);
        assert_eq!(copy, headers);
        assert_eq!(
            copy.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter().count(),
            2
        );
        // A copy, not a second handle on the same bytes.
        assert_ne!(
            copy[header::HOST].as_bytes().as_ptr(),
            headers[header::HOST].as_bytes().as_ptr()
        );

        let uri: Uri = "/socket.io/?EIO=4&transport=websocket".parse().unwrap();
        let copy = owned_uri(&uri);
        assert_eq!(copy, uri);
        assert_ne!(copy.path().as_ptr(), uri.path().as_ptr());
    }

    /// A handshake's huge headers (380 KB of cookies, say) are not kept for the session: only
    /// what the Socket.IO layer reads, and none of it huge.
    #[tokio::test]
    async fn a_huge_header_is_not_kept() {
        let huge = "x".repeat(380 * 1024);
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header(header::HOST, "chat.example.org")
            .header(header::ORIGIN, "https://chat.example.org")
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::COOKIE, &huge)
            .header("x-padding", &huge)
            .header(header::USER_AGENT, &huge)
            .header(header::SEC_WEBSOCKET_PROTOCOL, &huge)
            .body(Body::empty())
            .unwrap();
        let app = Router::new()
            .fallback(|request: Request| async move {
                let headers = request.headers();
                let kept: usize = headers
                    .iter()
                    .map(|(n, v)| n.as_str().len() + v.len())
                    .sum();
                let needed = [
                    header::HOST,
                    header::ORIGIN,
                    header::UPGRADE,
                    header::CONNECTION,
                    header::SEC_WEBSOCKET_KEY,
                    header::SEC_WEBSOCKET_VERSION,
                ];
                let fine = kept < 1024
                    && needed.iter().all(|h| headers.contains_key(h))
                    && headers.len() == needed.len();
                if fine {
                    StatusCode::OK
                } else {
                    StatusCode::IM_A_TEAPOT
                }
            })
            .layer(axum::middleware::from_fn(detach));
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn of_the_cookies_only_the_sessions_is_kept_and_never_long() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("chat.example.org"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; palaver_session=ab12.cd34; other=1"),
        );
        let kept = owned_headers(&headers);
        assert_eq!(
            kept.get(header::COOKIE).unwrap(),
            "palaver_session=ab12.cd34"
        );
        assert_eq!(kept.get_all(header::COOKIE).iter().count(), 1);

        let huge = format!("palaver_session={}", "a".repeat(4096));
        headers.insert(header::COOKIE, HeaderValue::from_str(&huge).unwrap());
        assert_eq!(
            owned_headers(&headers).get(header::COOKIE).unwrap(),
            "palaver_session="
        );
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark"));
        assert!(owned_headers(&headers).get(header::COOKIE).is_none());
    }
}
