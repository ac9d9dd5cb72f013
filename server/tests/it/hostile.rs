//! Hostile clients over real sockets: readers that never read, sessions that never poll,
//! connections that never finish a request, too many connections, and a shutdown while a
//! client holds a half-sent request. Each test fails against a server without the bound or
//! limit it checks.

use std::time::{Duration, Instant};

use app::events::{Event, History, MAX_MESSAGE_CHARS, SendMessage};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PATIENCE, Packet, TestServer, http_get_raw};

const CHAT: &str = SendMessage::NAME;

/// Reads one counter or gauge from `/metrics`.
async fn metric(server: &TestServer, name: &str) -> u64 {
    let (_, text) = server.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Waits until `name` reaches `at_least`, or fails.
async fn wait_for_metric(server: &TestServer, name: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = metric(server, name).await;
        if now >= at_least {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed at {now}, below {at_least}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fills the lobby with `n` messages of the longest length.
async fn fill_lobby(server: &TestServer, n: usize) {
    let mut ann = server.client(json!({"name": "ann"})).await;
    let long = "x".repeat(MAX_MESSAGE_CHARS);
    for _ in 0..n {
        let (ack, _) = ann.request(CHAT, vec![json!(long)]).await;
        assert!(ack[0]["data"]["id"].is_i64(), "{ack}");
    }
}

#[tokio::test]
async fn a_reader_that_never_reads_is_answered_overloaded_beyond_its_bound() {
    const BOUND: u64 = 512 * 1024;
    let server = TestServer::start_with(|c| {
        c.rate_limit = 0.0;
        c.socket_backlog_bytes = BOUND;
    })
    .await;
    fill_lobby(&server, 100).await;
    let mut mallory = server.client(json!({})).await;
    let before = metric(&server, "palaver_backlog_charges_total").await
        + metric(&server, "palaver_backlog_refusals_total").await;

    // 200 pages of 100 long messages (about 400 KiB each), none read until all are answered.
    const ASKED: u64 = 200;
    for id in 0..ASKED {
        let frame = format!(
            "42{id}{}",
            json!([History::NAME, {"room": "lobby", "limit": 100}])
        );
        mallory.send_raw(&frame).await;
    }
    // Every request charged or refused: all answered, none read yet.
    loop {
        let seen = metric(&server, "palaver_backlog_charges_total").await
            + metric(&server, "palaver_backlog_refusals_total").await;
        if seen >= before + ASKED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unread = metric(&server, "palaver_backlog_bytes").await;

    // Now read every answer.
    let (mut pages, mut overloaded, mut page_bytes) = (0u64, 0u64, 0u64);
    while pages + overloaded < ASKED {
        match tokio::time::timeout(PATIENCE, mallory.next_packet())
            .await
            .expect("every request is answered")
        {
            Packet::Ack(_, args) if args[0]["data"].is_object() => {
                pages += 1;
                page_bytes += args.to_string().len() as u64;
            }
            Packet::Ack(_, args) => {
                assert_eq!(args[0]["error"]["code"], json!("overloaded"), "{args}");
                assert!(args[0]["error"]["retry_after_ms"].as_u64().unwrap_or(0) > 0);
                overloaded += 1;
            }
            // The lobby's replay on connect, queued before the answers.
            Packet::Event(..) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(overloaded > 0, "some answers were refused");
    // What the server held at once: its bound, plus what the kernel's buffers took off it.
    let kernel = 16 * 1024 * 1024;
    assert!(
        unread <= BOUND,
        "{unread} bytes unread, over the bound {BOUND}"
    );
    assert!(
        page_bytes <= BOUND + kernel,
        "{pages} pages, {page_bytes} bytes, were queued for a reader that read nothing"
    );
}

/// Opens an Engine.IO polling session and returns its id.
async fn polling_session(server: &TestServer) -> String {
    let (status, body) = server.get("/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(status, 200, "{body}");
    let open: Value = serde_json::from_str(body.trim_start_matches('0')).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

async fn post(server: &TestServer, path: &str, body: &str) -> u16 {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn polling_sessions_that_never_poll_are_replayed_no_more_than_the_bound() {
    const TOTAL: u64 = 1024 * 1024;
    let server = TestServer::start_with(|c| {
        c.rate_limit = 0.0;
        c.socket_backlog_bytes = 128 * 1024;
        c.total_backlog_bytes = TOTAL;
    })
    .await;
    fill_lobby(&server, 60).await;
    let replayed_before = metric(&server, "palaver_messages_replayed_total").await;
    let catchups_before = metric(&server, "palaver_catchups_total").await;

    // 30 sessions, each asking for the whole lobby (about 240 KiB) and never polling.
    const SESSIONS: u64 = 30;
    for _ in 0..SESSIONS {
        let sid = polling_session(&server).await;
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        assert_eq!(post(&server, &path, r#"40{"serverOffset":0}"#).await, 200);
    }
    wait_for_metric(
        &server,
        "palaver_catchups_total",
        catchups_before + SESSIONS,
    )
    .await;

    let replayed = metric(&server, "palaver_messages_replayed_total").await - replayed_before;
    let unread = metric(&server, "palaver_backlog_bytes").await;
    assert!(unread <= TOTAL, "{unread} bytes unread, over {TOTAL}");
    // A replayed message is about 4 KiB: no more than the total bound's worth went out.
    let most = TOTAL / MAX_MESSAGE_CHARS as u64 + 1;
    assert!(
        replayed <= most,
        "{replayed} messages replayed to sessions that never poll (at most {most})"
    );
    assert!(replayed > 0, "the first sessions still got their replay");
}

/// Whether the server closes `tcp` within `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_after_the_request_timeout() {
    let server = TestServer::start_with(|c| c.request_timeout = 1).await;

    // Says nothing at all.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut idle, PATIENCE).await,
        "idle connection kept"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Slowloris: a header line now and then, never the end of the head.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let mut closed = false;
    for i in 0..40 {
        if slow
            .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(250)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head trickling in for 10 s was still being read");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A kept-alive connection that goes quiet after a request is closed too.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).as_bytes())
        .await
        .unwrap();
    assert!(closed_within(&mut kept, PATIENCE).await);

    // Meanwhile the server serves everyone else.
    assert_eq!(server.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn past_the_connection_limit_only_healthz_is_served() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 8;
        c.request_timeout = 60;
    })
    .await;
    // Four that never ask, and four WebSockets, which count for as long as they are open.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(server.client(json!({})).await);
    }
    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let refused = http_get_raw(server.addr, "/socket.io/?EIO=4&transport=polling", "").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert_eq!(server.get("/").await.0, 503);

    // As connections close, everything is served again.
    drop(held);
    drop(sockets);
    let deadline = Instant::now() + PATIENCE;
    while server.get("/").await.0 == 503 {
        assert!(
            Instant::now() < deadline,
            "connections were never given back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn too_many_connections_from_one_address_are_refused() {
    let server = TestServer::start_with(|c| {
        c.connections_per_address = 4;
        c.request_timeout = 60;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // The fourth is still served.
    let fourth = http_get_raw(server.addr, "/healthz", "").await;
    assert!(fourth.starts_with("HTTP/1.1 200"), "{fourth}");
    held.push(TcpStream::connect(server.addr).await.unwrap());
    // The fifth is not, and is told why.
    let fifth = http_get_raw(server.addr, "/healthz", "").await;
    assert!(fifth.starts_with("HTTP/1.1 429"), "{fifth}");
    assert!(fifth.contains("too many connections from your address"));
    drop(held);
}

#[tokio::test]
async fn new_sessions_over_the_rate_are_refused_with_a_retry_after() {
    let server = TestServer::start_with(|c| {
        c.sessions_per_address = 0.01;
        c.sessions_per_address_burst = 3;
    })
    .await;
    for _ in 0..3 {
        polling_session(&server).await;
    }
    let refused = http_get_raw(server.addr, "/socket.io/?EIO=4&transport=polling", "").await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: "),
        "{refused}"
    );
    // A session already open is not limited, nor is the rest of the site.
    assert_eq!(server.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn shutdown_ends_in_bounded_time_while_a_client_holds_a_half_sent_request() {
    let mut server = TestServer::start_with(|c| c.request_timeout = 600).await;
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(
        b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    // Both are being served before the stop.
    assert_eq!(server.get("/healthz").await.0, 200);
    // `stop` fails the test if the server takes longer than PATIENCE to end.
    server.stop().await;
}
