//! The wasm, JS and CSS: precompressed copies when they exist, compressed per request otherwise.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{self, TestServer};

#[tokio::test]
async fn precompressed_copies_go_to_browsers_that_accept_them() {
    let server = TestServer::start().await;
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("palaver.wasm"), "raw wasm").unwrap();
    std::fs::write(pkg.join("palaver.wasm.br"), "brotli copy").unwrap();
    std::fs::write(pkg.join("palaver.wasm.gz"), "gzip copy").unwrap();

    let get = |encodings: &'static str| {
        let headers = format!("Accept-Encoding: {encodings}\r\n");
        async move { support::http_get_with(server.addr, "/pkg/palaver.wasm", &headers).await }
    };
    assert_eq!(get("gzip, deflate, br").await, (200, "brotli copy".into()));
    assert_eq!(get("gzip").await, (200, "gzip copy".into()));
    assert_eq!(get("identity").await, (200, "raw wasm".into()));
    let plain = support::http_get(server.addr, "/pkg/palaver.wasm").await;
    assert_eq!(plain, (200, "raw wasm".into()));
    let missing = support::http_get(server.addr, "/pkg/missing.wasm").await;
    assert_eq!(missing.0, 404);
}

#[tokio::test]
async fn assets_without_a_copy_are_compressed_per_request() {
    let server = TestServer::start().await;
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let css = ".message { color: black; }\n".repeat(200);
    std::fs::write(pkg.join("palaver.css"), &css).unwrap();

    let head = response_head(server.addr, "/pkg/palaver.css", "gzip").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let plain = support::http_get(server.addr, "/pkg/palaver.css").await;
    assert_eq!(plain, (200, css));
}

/// The status line and headers, lower-cased, of a GET that accepts `encodings`.
async fn response_head(addr: SocketAddr, path: &str, encodings: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: {encodings}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    String::from_utf8(buf[..end].to_vec())
        .unwrap()
        .to_ascii_lowercase()
}
