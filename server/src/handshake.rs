//! Copies a Socket.IO request's URI and headers out of hyper's read buffer before the
//! Socket.IO layer sees them.
//!
//! hyper parses a request without copying: the URI and every header value are slices of the
//! connection's read buffer (16 KiB). engineioxide keeps the handshake's request parts for the
//! session's whole life, and axum's `OriginalUri` extension rides along, so each open socket
//! kept that buffer alive after the upgrade to WebSocket: half of an idle connection's memory.
//! Copies of the few hundred bytes actually used let it go.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;

use crate::origin::is_socket_request;

pub(crate) async fn detach(request: Request, next: Next) -> Response {
    if !is_socket_request(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    parts.uri = owned_uri(&parts.uri);
    parts.headers = owned_headers(&parts.headers);
    if let Some(OriginalUri(uri)) = parts.extensions.get::<OriginalUri>() {
        let uri = owned_uri(uri);
        parts.extensions.insert(OriginalUri(uri));
    }
    next.run(Request::from_parts(parts, body)).await
}

fn owned_uri(uri: &Uri) -> Uri {
    // Parsing a `String` makes the URI own its bytes; a URI that parsed once parses again.
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .map(|(name, value)| {
            // `from_bytes` copies; `clone` would share hyper's buffer. Names are already owned.
            let mut copy =
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            copy.set_sensitive(value.is_sensitive());
            (name.clone(), copy)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::http::{StatusCode, header};
    use tower::ServiceExt;

    /// Behind the middleware, as the Socket.IO layer sits, nothing of the request points into
    /// the buffer it was parsed from: not the URI, not a header, not axum's `OriginalUri`
    /// (which the first attempt at this missed).
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
                let original = &request.extensions().get::<OriginalUri>().unwrap().0;
                let fine = outside(request.uri().path().as_bytes())
                    && outside(original.path().as_bytes())
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
    fn copies_keep_every_value_and_repeated_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("chat.example.org"));
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        let copy = owned_headers(&headers);
        assert_eq!(copy, headers);
        assert_eq!(copy.get_all(header::COOKIE).iter().count(), 2);
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
}
