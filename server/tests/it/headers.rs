//! The security headers on every response, and the Content-Security-Policy's nonce on every
//! script of the page.

use std::collections::HashMap;

use crate::support::{self, TestServer, fetch};

/// The policy's directives, by name.
fn directives(policy: &str) -> HashMap<&str, Vec<&str>> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            Some((words.next()?, words.collect()))
        })
        .collect()
}

/// The nonce the policy allows scripts by.
fn nonce(policy: &str) -> Option<String> {
    directives(policy)["script-src"]
        .iter()
        .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .map(str::to_owned)
}

fn assert_secured(what: &str, headers: &HashMap<String, String>) {
    let policy = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy in {headers:?}"));
    let d = directives(policy);
    assert_eq!(d["default-src"], ["'self'"], "{what}: {policy}");
    let script = &d["script-src"];
    assert!(script.contains(&"'self'"), "{what}: {policy}");
    assert!(script.contains(&"'wasm-unsafe-eval'"), "{what}: {policy}");
    assert!(
        !script
            .iter()
            .any(|s| s.contains("unsafe-inline") || *s == "'unsafe-eval'"),
        "{what}: {policy}"
    );
    assert_eq!(d["connect-src"], ["'self'"], "{what}: {policy}");
    assert_eq!(d["style-src"], ["'self'"], "{what}: {policy}");
    assert_eq!(d["img-src"], ["'self'", "data:"], "{what}: {policy}");
    assert_eq!(d["object-src"], ["'none'"], "{what}: {policy}");
    assert_eq!(d["base-uri"], ["'none'"], "{what}: {policy}");
    assert_eq!(d["frame-ancestors"], ["'none'"], "{what}: {policy}");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(
            headers.get(name).map(String::as_str),
            Some(value),
            "{what}: {name}"
        );
    }
}

/// Every `<script` tag of `body` carries `nonce`; how many there are.
fn scripts_carry(body: &str, nonce: &str) -> usize {
    let tags: Vec<&str> = body
        .match_indices("<script")
        .map(|(at, _)| &body[at..at + body[at..].find('>').expect("an unclosed tag")])
        .collect();
    for tag in &tags {
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{tag}");
    }
    tags.len()
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start().await;
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("palaver.css"), "body { color: black; }").unwrap();

    for (path, status) in [
        ("/", 200),
        ("/admin", 200),
        ("/admin/", 308),
        ("/pkg/palaver.css", 200),
        ("/no/such/page", 404),
        ("/pkg/missing.wasm", 404),
        ("/healthz", 200),
        ("/socket.io/?EIO=4&transport=polling", 200),
    ] {
        let (got, headers, _) = fetch(&server, path).await;
        assert_eq!(got, status, "{path}");
        assert_secured(path, &headers);
    }
    // A refusal too.
    let text = support::http_get_raw(
        server.addr,
        "/socket.io?EIO=4&transport=polling",
        "Origin: http://evil.example\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'self'"),
        "{text}"
    );
    assert!(lower.contains("x-content-type-options: nosniff"), "{text}");
}

#[tokio::test]
async fn the_pages_scripts_carry_the_policys_nonce_which_is_new_each_time() {
    let server = TestServer::start().await;
    let mut seen = Vec::new();
    // The chat page has the early socket's script, the first messages' data block and the
    // hydration script; the others have the hydration script.
    for (path, at_least) in [("/", 3), ("/", 3), ("/admin", 1), ("/no/such/page", 1)] {
        let (_, headers, body) = fetch(&server, path).await;
        let policy = &headers["content-security-policy"];
        let nonce = nonce(policy).unwrap_or_else(|| panic!("{path}: no nonce in {policy}"));
        assert!(nonce.len() >= 22, "{path}: a nonce of 128 bits: {nonce}");
        let scripts = scripts_carry(&body, &nonce);
        assert!(scripts >= at_least, "{path}: {scripts} scripts in {body}");
        assert!(!seen.contains(&nonce), "{path}: nonce {nonce} used again");
        seen.push(nonce);
    }
    // No inline style for `style-src 'self'` to block.
    let (_, _, body) = fetch(&server, "/").await;
    assert!(
        !body.contains("<style") && !body.contains("style=\""),
        "{body}"
    );
}
