//! Catch-up over real TCP with a real SQLite file: `since` on connect, `sync`, `history`, the
//! gap window, and a stalled reader that recovers what the server had to drop.

use std::collections::BTreeMap;
use std::time::Duration;

use app::events::{
    Event, HISTORY_PAGE, History, MAX_HISTORY_LIMIT, MAX_MESSAGE_CHARS, MAX_REPLAY, RoomHead,
    SendMessage, Sync, Synced,
};
use serde_json::{Value, json};

use crate::support::{self, Packet, SioClient, TestServer};

const CHAT: &str = SendMessage::NAME;

/// These tests post thousands of messages as one person: no rate limit.
fn unthrottled(c: &mut palaver_server::Config) {
    c.rate_limit = 0.0;
}

/// Posts `n` messages as one client and returns their ids.
async fn post_many(client: &mut SioClient, n: usize, text: impl Fn(usize) -> String) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (ack, _) = client.request(CHAT, vec![json!(text(i))]).await;
        ids.push(
            ack[0]["data"]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("not acked: {ack}")),
        );
    }
    ids
}

fn error_code(ack: &Value) -> String {
    ack[0]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error ack: {ack}"))
        .to_owned()
}

#[tokio::test]
async fn connecting_with_since_replays_the_rest_then_says_synced() {
    let server = TestServer::start_with(unthrottled).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let ids = post_many(&mut ann, 5, |i| format!("m{i}")).await;

    let mut bob = server
        .client(json!({"since": {"lobby": ids[1]}, "serverOffset": 0}))
        .await;
    let mut seqs = Vec::new();
    for want in &ids[2..] {
        let (name, args) = bob.next_event().await;
        assert_eq!((name.as_str(), args[1].as_i64()), (CHAT, Some(*want)));
        seqs.push(args[2]["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, [3, 4, 5], "seq counts the room's messages from 1");
    let (name, args) = bob.next_event().await;
    assert_eq!(name, Synced::NAME);
    assert_eq!(
        args[0],
        json!({"room": "lobby", "lastId": ids[4], "lastSeq": 5, "gap": false, "replayed": 3})
    );

    // Up to date: nothing replayed, and live traffic follows.
    let mut carl = server.client(json!({"since": {"lobby": ids[4]}})).await;
    let (name, args) = carl.next_event().await;
    assert_eq!(
        (name.as_str(), &args[0]["replayed"]),
        (Synced::NAME, &json!(0))
    );
    post_many(&mut ann, 1, |_| "live".into()).await;
    let (name, args) = carl.next_event().await;
    assert_eq!(
        (name.as_str(), &args[0], &args[2]["seq"]),
        (CHAT, &json!("live"), &json!(6))
    );
}

#[tokio::test]
async fn beyond_the_window_nothing_is_replayed_and_history_pages_back() {
    let server = TestServer::start_with(unthrottled).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let ids = post_many(&mut ann, MAX_REPLAY + 1, |i| format!("m{i}")).await;

    let mut bob = server.client(json!({"since": {"lobby": 0}})).await;
    let (name, args) = bob.next_event().await;
    assert_eq!(name, Synced::NAME, "no replay before the gap notice");
    assert_eq!(args[0]["gap"], json!(true));
    assert_eq!(args[0]["replayed"], json!(0));
    assert_eq!(args[0]["lastSeq"], json!(MAX_REPLAY + 1));

    // Exactly the window is still replayed.
    let mut carl = server.client(json!({"since": {"lobby": ids[0]}})).await;
    for want in &ids[1..] {
        let (_, args) = carl.next_event().await;
        assert_eq!(args[1].as_i64(), Some(*want));
    }
    let (name, args) = carl.next_event().await;
    assert_eq!(
        (name.as_str(), &args[0]["gap"]),
        (Synced::NAME, &json!(false))
    );

    // The client reloads recent history instead, and can page back from there.
    let (ack, _) = bob
        .request(History::NAME, vec![json!({"room": "lobby"})])
        .await;
    let page = &ack[0]["data"];
    let got: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[1].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[ids.len() - HISTORY_PAGE..]);
    assert_eq!(page["more"], json!(true));
    let (ack, _) = bob
        .request(
            History::NAME,
            vec![json!({"room": "lobby", "before": ids[3], "limit": 10})],
        )
        .await;
    let older = &ack[0]["data"];
    assert_eq!(older["messages"].as_array().unwrap().len(), 3);
    assert_eq!(older["messages"][0][1].as_i64(), Some(ids[0]));
    assert_eq!(older["more"], json!(false));
    let (ack, _) = bob
        .request(
            History::NAME,
            vec![json!({"room": "lobby", "limit": 100_000})],
        )
        .await;
    assert_eq!(
        ack[0]["data"]["messages"].as_array().unwrap().len(),
        MAX_HISTORY_LIMIT,
        "the limit is capped"
    );
}

#[tokio::test]
async fn a_cursor_from_another_database_is_told_to_reload() {
    let server = TestServer::start_with(unthrottled).await;
    let mut bob = server.client(json!({"since": {"lobby": 77}})).await;
    let (name, args) = bob.next_event().await;
    assert_eq!(
        (name.as_str(), &args[0]["gap"]),
        (Synced::NAME, &json!(true))
    );
}

#[tokio::test]
async fn sync_and_history_check_their_input() {
    let server = TestServer::start_with(unthrottled).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let ids = post_many(&mut ann, 3, |i| format!("m{i}")).await;

    let (ack, events) = ann
        .request(Sync::NAME, vec![json!({"since": {"lobby": ids[0]}})])
        .await;
    let replayed: Vec<_> = events.iter().map(|(_, a)| a[1].as_i64().unwrap()).collect();
    assert_eq!(replayed, ids[1..], "replayed before the ack");
    assert_eq!(ack[0]["data"][0]["lastId"].as_i64(), Some(ids[2]));

    for (event, payload, code) in [
        (Sync::NAME, json!({"since": {"kitchen": 0}}), "unknown_room"),
        (
            Sync::NAME,
            json!({"since": {"lobby": "x"}}),
            "invalid_payload",
        ),
        (Sync::NAME, json!("nope"), "invalid_payload"),
        (History::NAME, json!({"room": "kitchen"}), "unknown_room"),
        (History::NAME, json!({"before": 3}), "invalid_payload"),
    ] {
        let (ack, _) = ann.request(event, vec![payload.clone()]).await;
        assert_eq!(error_code(&ack), code, "{event} {payload}");
    }
    // Still connected and served.
    assert_eq!(post_many(&mut ann, 1, |_| "after".into()).await.len(), 1);
    assert_eq!(support::server_panics(), 0);
}

/// What a well-behaved client holds of the lobby: seq to id, and its catch-up cursor.
#[derive(Default)]
struct Held {
    seqs: BTreeMap<i64, i64>,
    cursor: (i64, i64),
}

impl Held {
    fn take(&mut self, name: &str, args: &Value) -> bool {
        match name {
            CHAT => {
                let seq = args[2]["seq"].as_i64().unwrap();
                self.seqs.insert(seq, args[1].as_i64().unwrap());
                while let Some(&id) = self.seqs.get(&(self.cursor.0 + 1)) {
                    self.cursor = (self.cursor.0 + 1, id);
                }
                self.seqs
                    .keys()
                    .next_back()
                    .is_some_and(|&s| s > self.cursor.0)
            }
            RoomHead::NAME => args[0]["lastSeq"].as_i64().unwrap() > self.cursor.0,
            _ => false,
        }
    }
}

#[tokio::test]
async fn a_stalled_reader_loses_deliveries_and_recovers_them_through_sync() {
    // A tiny per-socket buffer, so that the kernel's socket buffers are what holds most of
    // the backlog and the server's channel fills quickly.
    let server = TestServer::start_with(|c| {
        c.socket_buffer = 16;
        unthrottled(c);
    })
    .await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut carl = server.client(json!({"since": {"lobby": 0}})).await;
    let (name, _) = carl.next_event().await;
    assert_eq!(name, Synced::NAME);

    // Bob reads as fast as messages come; he must get every one, in order.
    let bob = server.client(json!({})).await;
    let (stop_bob, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let bob_task = tokio::spawn(async move {
        let mut bob = bob;
        let mut seqs = Vec::new();
        loop {
            tokio::select! {
                (name, args) = bob.next_event() => if name == CHAT {
                    seqs.push(args[2]["seq"].as_i64().unwrap());
                },
                _ = &mut stopped => return seqs,
            }
        }
    });

    // Carl reads nothing until the server reports dropped deliveries.
    let big = "x".repeat(MAX_MESSAGE_CHARS);
    let mut posted = 0;
    loop {
        posted += post_many(&mut ann, 10, |_| big.clone()).await.len();
        let (_, metrics) = server.get("/metrics").await;
        let dropped = metrics
            .lines()
            .find_map(|l| l.strip_prefix("palaver_emits_dropped_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .expect("the drop counter is exported");
        if dropped > 0 {
            break;
        }
        assert!(posted < 5000, "no delivery was ever dropped");
    }
    let posted = posted as i64;

    // Now carl reads, and does what the browser does: `sync` from his cursor on a hole or on
    // a `room head` beyond it, until he holds everything.
    let mut held = Held::default();
    let mut syncs = 0;
    while held.cursor.0 < posted {
        let (name, args) = match tokio::time::timeout(Duration::from_secs(10), carl.next_packet())
            .await
            .expect("carl was left behind with nothing more coming")
        {
            Packet::Event(name, args) => (name, args),
            other => panic!("unexpected {other:?}"),
        };
        if held.take(&name, &args) {
            let since = json!({"since": {"lobby": held.cursor.1}});
            let (ack, events) = carl.request(Sync::NAME, vec![since]).await;
            syncs += 1;
            assert!(ack[0]["data"].is_array(), "{ack}");
            for (name, args) in events {
                held.take(&name, &args);
            }
        }
    }
    assert!(syncs > 0, "the dropped deliveries were noticed and fetched");
    assert_eq!(held.seqs.len() as i64, posted);
    assert_eq!(
        held.seqs.keys().copied().collect::<Vec<_>>(),
        (1..=posted).collect::<Vec<_>>()
    );

    let _ = stop_bob.send(());
    let bob_seqs = bob_task.await.unwrap();
    assert_eq!(
        bob_seqs,
        (1..=posted).collect::<Vec<_>>(),
        "a fast reader lost nothing"
    );
    assert_eq!(support::server_panics(), 0);
}
