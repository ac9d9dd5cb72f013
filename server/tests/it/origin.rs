//! Which browsers' pages may reach the server: the `Origin` check on every path the Socket.IO
//! layer answers, and the `Host` check that stops DNS rebinding.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::support::{PATIENCE, TestServer};

const POLLING: &str = "EIO=4&transport=polling";

/// A GET with this `Host` and these extra header lines: the status and body.
async fn get(addr: SocketAddr, path: &str, host: &str, headers: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf))
        .await
        .expect("HTTP response timed out")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}

/// Whether a polling GET got Engine.IO's `open` packet: the Socket.IO layer answered it.
fn opened(answer: &(u16, String)) -> bool {
    answer.0 == 200 && answer.1.contains("0{\"sid\"")
}

/// The WebSocket handshake's status, or 101 when it succeeded.
async fn upgrade(addr: SocketAddr, path: &str, origin: &str) -> u16 {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("websocket handshake failed oddly: {e}"),
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused_on_every_path_the_socket_layer_answers() {
    let server = TestServer::start().await;
    let host = server.addr.to_string();
    let own = format!("Origin: http://{host}\r\n");
    let evil = "Origin: http://evil.example\r\n";
    for path in ["/socket.io/", "/socket.io", "/socket.io/anything/below"] {
        let path = format!("{path}?{POLLING}");
        let refused = get(server.addr, &path, &host, evil).await;
        assert_eq!(refused.0, 403, "{path}: {refused:?}");
        assert!(
            opened(&get(server.addr, &path, &host, &own).await),
            "{path}"
        );
    }
    for path in ["/socket.io/", "/socket.io"] {
        let path = format!("{path}?EIO=4&transport=websocket");
        assert_eq!(
            upgrade(server.addr, &path, "http://evil.example").await,
            403,
            "{path}"
        );
        assert_eq!(
            upgrade(server.addr, &path, &format!("http://{host}")).await,
            101,
            "{path}"
        );
    }
}

/// The check and the Socket.IO layer agree on which paths are the layer's: wherever the layer
/// answers a client without `Origin`, a foreign `Origin` is refused, and nowhere else.
#[tokio::test]
async fn the_check_covers_exactly_the_paths_the_socket_layer_answers() {
    let server = TestServer::start().await;
    let host = server.addr.to_string();
    let mut answered = 0;
    for path in [
        "/socket.io",
        "/socket.io/",
        "/socket.io//",
        "/socket.io/x/y",
        "/socket.iox",
        "/socket.io.js",
        "/Socket.io",
        "/%73ocket.io",
        "//socket.io",
        "/socket.io%2F",
        "/x/socket.io",
    ] {
        let path = format!("{path}?{POLLING}");
        let layer = opened(&get(server.addr, &path, &host, "").await);
        let (status, body) =
            get(server.addr, &path, &host, "Origin: http://evil.example\r\n").await;
        assert_eq!(status == 403, layer, "{path}: {status} {body}");
        answered += usize::from(layer);
    }
    assert_eq!(
        answered, 4,
        "the layer answers /socket.io and what is below it"
    );
}

#[tokio::test]
async fn a_scheme_or_port_that_differs_is_another_origin() {
    let server = TestServer::start().await;
    let (host, port) = (server.addr.to_string(), server.addr.port());
    let path = format!("/socket.io/?{POLLING}");
    for origin in [
        format!("https://{host}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        "http://127.0.0.1".to_owned(),
        "null".to_owned(),
    ] {
        let answer = get(server.addr, &path, &host, &format!("Origin: {origin}\r\n")).await;
        assert_eq!(answer.0, 403, "{origin}: {answer:?}");
    }
}

/// DNS rebinding: a page on evil.example, whose name now resolves to this server, is
/// same-origin with itself; only the `Host` its requests carry gives it away.
#[tokio::test]
async fn a_foreign_host_is_refused_even_with_its_own_origin() {
    let server = TestServer::start().await;
    let port = server.addr.port();
    let host = format!("evil.example:{port}");
    let origin = format!("Origin: http://{host}\r\n");
    let socket = format!("/socket.io/?{POLLING}");
    let (status, body) = get(server.addr, &socket, &host, &origin).await;
    assert_eq!(status, 403);
    assert!(body.contains("PALAVER_PUBLIC_URL"), "{body}");
    // The page carries the lobby's latest messages: it is refused too, as are clients
    // without `Origin` that name another host.
    assert_eq!(get(server.addr, "/", &host, "").await.0, 403);
    assert_eq!(get(server.addr, &socket, &host, "").await.0, 403);

    // The names this server does have: its address, and `localhost` for a loopback bind.
    for own in [
        server.addr.to_string(),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
    ] {
        let origin = format!("Origin: http://{own}\r\n");
        assert!(
            opened(&get(server.addr, &socket, &own, &origin).await),
            "{own}"
        );
        assert_eq!(get(server.addr, "/healthz", &own, "").await.0, 200, "{own}");
    }
}

#[tokio::test]
async fn behind_a_proxy_the_public_url_is_the_sites_origin() {
    let server = TestServer::start_with(|c| {
        c.public_url = Some("https://Chat.Example.org".into());
    })
    .await;
    // The proxy may pass its own upstream name as `Host`.
    let host = "palaver:3000";
    let socket = format!("/socket.io?{POLLING}");
    for (origin, opens) in [
        ("https://chat.example.org", true),
        ("https://CHAT.example.org:443", true),
        ("http://chat.example.org", false),
        ("https://chat.example.org:8443", false),
        ("https://evil.example", false),
    ] {
        let answer = get(server.addr, &socket, host, &format!("Origin: {origin}\r\n")).await;
        assert_eq!(opened(&answer), opens, "{origin}: {answer:?}");
        if !opens {
            assert_eq!(answer.0, 403, "{origin}");
        }
    }
    assert_eq!(get(server.addr, "/healthz", host, "").await.0, 200);
    let own = format!("http://{}", server.addr);
    assert_eq!(
        upgrade(server.addr, "/socket.io?EIO=4&transport=websocket", &own).await,
        403
    );
}
