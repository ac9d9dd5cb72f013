//! The long hostile-load tests, run by `scripts/test.sh`'s stress step in a release build:
//! a storm of connections that each ask for the lobby's replay, while a bystander posts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app::events::{Event, SendMessage};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestServer;

const CHAT: &str = SendMessage::NAME;
const STORM: usize = 2_000;
const LOBBY: usize = 1_000;

async fn metric(server: &TestServer, name: &str) -> u64 {
    let (_, text) = server.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// A guest as the tutorial's client connects: a WebSocket, then the namespace with
/// `serverOffset: 0`. It never reads what it is sent.
async fn tutorial_guest(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let upgrade = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(upgrade.as_bytes()).await.unwrap();
    // Only the response head, which ends before the open packet's frame.
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    // A masked text frame (mask of zeros, so the payload goes as it is).
    let payload = br#"40{"serverOffset":0}"#;
    let mut frame = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    tcp.write_all(&frame).await.unwrap();
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_connections_with_replay_does_not_hold_up_posting() {
    let server = TestServer::start_with(|c| {
        c.rate_limit = 0.0;
        // The storm is the subject here, not the limits that would refuse most of it.
        c.sessions_per_address = 0.0;
        c.sessions_per_second = 0.0;
        c.connections_per_address = 0;
    })
    .await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    for i in 0..LOBBY {
        let (ack, _) = ann
            .request(CHAT, vec![json!(format!("{i:04} {}", "x".repeat(100)))])
            .await;
        assert!(ack[0]["data"]["id"].is_i64(), "{ack}");
    }
    let catchups = metric(&server, "palaver_catchups_total").await;
    let failed_before = metric(&server, "palaver_catchups_failed_total").await;

    // A bystander posts every 20 ms throughout, timing each ack.
    let mut bea = server.client(json!({"name": "bea"})).await;
    let storming = Arc::new(AtomicBool::new(true));
    let bystander = tokio::spawn({
        let storming = storming.clone();
        async move {
            let mut waits = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while storming.load(Ordering::Acquire) {
                tick.tick().await;
                let sent = Instant::now();
                let (ack, _) = bea.request(CHAT, vec![json!("still here")]).await;
                assert!(ack[0]["data"]["id"].is_i64(), "{ack}");
                waits.push(sent.elapsed());
            }
            waits
        }
    });

    let addr = server.addr;
    let started = Instant::now();
    let guests: Vec<_> = (0..STORM)
        .map(|_| tokio::spawn(tutorial_guest(addr)))
        .collect();
    let mut held = Vec::with_capacity(STORM);
    for g in guests {
        held.push(g.await.unwrap());
    }
    let connected = started.elapsed();
    // Every guest's catch-up has run (cut or whole, as its backlog allowed), or was given up
    // because the guest had been closed first: guests never answer the heartbeat's first
    // ping, so the server closes each 20 s after it connected, caught up or not.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (done, failed) = loop {
        let done = metric(&server, "palaver_catchups_total").await - catchups;
        let failed = metric(&server, "palaver_catchups_failed_total").await - failed_before;
        if done + failed >= STORM as u64 {
            break (done, failed);
        }
        assert!(
            Instant::now() < deadline,
            "the storm's catch-ups never finished: {done} done and {failed} given up of {STORM}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let caught_up = started.elapsed();
    storming.store(false, Ordering::Release);
    let mut waits = bystander.await.unwrap();
    waits.sort();
    let p99 = waits[waits.len() * 99 / 100];
    println!(
        "{STORM} connections in {connected:?}, {done} caught up and {failed} closed first \
         in {caught_up:?}; bystander: {} acks, p50 {:?}, p99 {p99:?}, max {:?}",
        waits.len(),
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
    assert!(waits.len() >= 10, "the bystander hardly posted");
    assert!(
        done >= STORM as u64 / 2,
        "only {done} of {STORM} guests were caught up before they were closed"
    );
    assert!(
        p99 < Duration::from_secs(1),
        "the bystander's ack p99 was {p99:?} during the storm"
    );
    drop(held);
}
