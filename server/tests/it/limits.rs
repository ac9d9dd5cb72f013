//! Flood control over real sockets: each costly action is limited per person (per address for
//! guests and for new names), the room's record of joins and leaves stays short, and opening a
//! direct conversation pushes nothing to the other person until its first message.

use std::net::IpAddr;
use std::time::Duration;

use app::events::{
    BrowseRooms, ChatMessage, CreateRoom, Event, History, JoinRoom, LeaveRoom, MarkRead, OpenDm,
    Presence, RoomList, SendMessage, Sync,
};
use palaver_server::Config;
use serde_json::{Value, json};

use crate::support::{Refused, SioClient, TestServer};

fn code(ack: &Value) -> &str {
    ack[0]["error"]["code"].as_str().unwrap_or("(no error)")
}

fn ok(ack: &Value) -> Value {
    assert!(ack[0]["error"].is_null(), "unexpected error: {ack}");
    ack[0]["data"].clone()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Sends `event` until it is refused; how many passed, and the refusal.
async fn until_limited(
    client: &mut SioClient,
    most: usize,
    mut args: impl FnMut(usize) -> (&'static str, Vec<Value>),
) -> (usize, Value) {
    for i in 0..most {
        let (event, args) = args(i);
        let ack = client.ask(event, args).await;
        if !ack[0]["error"].is_null() {
            return (i, ack);
        }
    }
    panic!("{most} requests passed: no limit");
}

fn assert_rate_limited(ack: &Value) {
    assert_eq!(code(ack), "rate_limited", "{ack}");
    assert!(
        ack[0]["error"]["retry_after_ms"].as_u64().unwrap() > 0,
        "{ack}"
    );
}

/// The notices of `room`, as (author, kind), oldest first.
async fn notices(client: &mut SioClient, room: &str) -> Vec<(String, String)> {
    let page = ok(&client
        .ask(History::NAME, vec![json!({"room": room, "limit": 100})])
        .await);
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m[2]["kind"].is_null())
        .map(|m| {
            (
                m[2]["author"].as_str().unwrap().to_owned(),
                m[2]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn joining_and_leaving_in_a_loop_is_limited_and_leaves_a_short_record() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    ok(&ann
        .ask(CreateRoom::NAME, vec![json!({"name": "rust"})])
        .await);
    let (passed, refused) = until_limited(&mut bob, 200, |i| {
        let event = if i % 2 == 0 {
            JoinRoom::NAME
        } else {
            LeaveRoom::NAME
        };
        (event, vec![json!({"room": "rust"})])
    })
    .await;
    assert_rate_limited(&refused);
    assert!(
        passed >= 10,
        "a person may join and leave a few times: {passed}"
    );
    // However many times he came and went: one "joined" (his "left" waits for the window's
    // end, and is dropped if he is back by then).
    let record = notices(&mut ann, "rust").await;
    let bobs: Vec<_> = record.iter().filter(|(who, _)| who == "bob").collect();
    assert_eq!(
        bobs,
        [&("bob".to_owned(), "joined".to_owned())],
        "{record:?}"
    );
}

#[tokio::test]
async fn a_person_may_join_ten_rooms_in_a_row() {
    let server = TestServer::start().await;
    let mut makers = Vec::new();
    for maker in ["ann", "cy", "dee"] {
        let mut c = server.client(json!({"name": maker})).await;
        for i in 0..4 {
            let room = format!("{maker}{i}");
            ok(&c.ask(CreateRoom::NAME, vec![json!({"name": room})]).await);
        }
        makers.push(c);
    }
    let mut bob = server.client(json!({"name": "bob"})).await;
    for maker in ["ann", "cy", "dee"] {
        for i in 0..4 {
            let room = format!("{maker}{i}");
            ok(&bob.ask(JoinRoom::NAME, vec![json!({"room": room})]).await);
        }
    }
}

#[tokio::test]
async fn a_leave_soon_after_joining_is_told_when_the_window_ends() {
    let server = TestServer::start_with(|c| c.notice_window = Duration::from_millis(300)).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    ok(&ann
        .ask(CreateRoom::NAME, vec![json!({"name": "rust"})])
        .await);
    ok(&bob.ask(JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
    ok(&bob
        .ask(LeaveRoom::NAME, vec![json!({"room": "rust"})])
        .await);
    // "joined", then, once the window is over, "left" (waited for, not slept for).
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let (name, args) = ann.next_event().await;
        if name == ChatMessage::NAME {
            kinds.push(args[2]["kind"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(kinds, ["joined", "left"]);
    let bob = |kind: &str| ("bob".to_owned(), kind.to_owned());
    assert_eq!(
        notices(&mut ann, "rust").await,
        [bob("joined"), bob("left")]
    );
}

#[tokio::test]
async fn creating_rooms_in_a_loop_is_limited() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let (passed, refused) = until_limited(&mut ann, 300, |i| {
        (CreateRoom::NAME, vec![json!({"name": format!("r{i}")})])
    })
    .await;
    assert_rate_limited(&refused);
    assert!((3..=10).contains(&passed), "a few rooms at once: {passed}");
    // Someone else may still create one.
    let mut bob = server.client(json!({"name": "bob"})).await;
    ok(&bob
        .ask(CreateRoom::NAME, vec![json!({"name": "bobs"})])
        .await);
}

fn slow_sends(c: &mut Config) {
    // Five at once, then one per 100 s: nothing refills during the test.
    c.rate_limit = 0.01;
    c.rate_burst = 5;
}

#[tokio::test]
async fn guests_from_one_address_share_one_send_budget() {
    let server = TestServer::start_with(slow_sends).await;
    let mut guests = Vec::new();
    for _ in 0..20 {
        guests.push(server.client(json!({})).await);
    }
    let mut stored = 0;
    for (i, g) in guests.iter_mut().enumerate() {
        let ack = g.ask(SendMessage::NAME, vec![json!(format!("g{i}"))]).await;
        match code(&ack) {
            "(no error)" => stored += 1,
            _ => assert_rate_limited(&ack),
        }
    }
    assert_eq!(stored, 5, "twenty guest sockets, one budget");
    // A guest elsewhere has a budget of its own.
    let mut elsewhere = server
        .connect_from(ip("127.0.0.2"), None, json!({}))
        .await
        .unwrap();
    ok(&elsewhere.ask(SendMessage::NAME, vec![json!("hello")]).await);
}

#[tokio::test]
async fn many_names_from_one_address_cannot_send_more_than_its_cap() {
    let server = TestServer::start_with(|c| {
        c.address_send_limit = "8/1h".parse().unwrap();
    })
    .await;
    let mut stored = 0;
    for i in 0..6 {
        let mut c = server.client(json!({"name": format!("n{i}")})).await;
        for j in 0..3 {
            let ack = c
                .ask(SendMessage::NAME, vec![json!(format!("{i}.{j}"))])
                .await;
            match code(&ack) {
                "(no error)" => stored += 1,
                _ => assert_rate_limited(&ack),
            }
        }
    }
    assert_eq!(stored, 8, "the address's cap, not 6 names × 3");
}

#[tokio::test]
async fn new_names_from_one_address_are_limited() {
    let server = TestServer::start_with(|c| c.name_limit = "3/1h".parse().unwrap()).await;
    let mut first = None;
    for i in 0..3 {
        let c = server.client(json!({"name": format!("n{i}")})).await;
        first.get_or_insert(c.session.clone().unwrap()["token"].clone());
    }
    assert_eq!(
        server.refused(json!({"name": "n3"})).await,
        "too_many_names"
    );
    // Returning with a token, or reading as a guest, is not a new name.
    let token = first.unwrap();
    server.client(json!({"token": token})).await;
    server.client(json!({})).await;
    // Another address has its own budget.
    server
        .connect_from(ip("127.0.0.2"), None, json!({"name": "n4"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn behind_a_trusted_proxy_names_are_counted_per_forwarded_address() {
    let server = TestServer::start_with(|c| {
        c.name_limit = "1/1h".parse().unwrap();
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let proxy = ip("127.0.0.1");
    let via = |n: &'static str, forwarded: &'static str| {
        let server = &server;
        async move {
            server
                .connect_from(proxy, Some(forwarded), json!({"name": n}))
                .await
        }
    };
    via("a1", "203.0.113.1").await.unwrap();
    via("b1", "203.0.113.2").await.unwrap();
    // A forged entry on the left changes nothing: the proxy appended the real address.
    let refused = via("a2", "198.51.100.9, 203.0.113.1").await;
    assert!(matches!(refused, Err(Refused::ConnectError(e)) if e["message"] == "too_many_names"));
    // From anyone but the proxy, the header is ignored.
    server
        .connect_from(ip("127.0.0.3"), Some("203.0.113.3"), json!({"name": "c1"}))
        .await
        .unwrap();
    let refused = server
        .connect_from(ip("127.0.0.3"), Some("203.0.113.4"), json!({"name": "c2"}))
        .await;
    assert!(matches!(refused, Err(Refused::ConnectError(e)) if e["message"] == "too_many_names"));
}

#[tokio::test]
async fn reading_pages_is_limited() {
    let server = TestServer::start_with(|c| c.read_limit = "6/1h".parse().unwrap()).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    ok(&ann.ask(History::NAME, vec![json!({"room": "lobby"})]).await);
    ok(&ann.ask(BrowseRooms::NAME, vec![json!({})]).await);
    // A sync costs one per conversation it names.
    ok(&ann
        .ask(Sync::NAME, vec![json!({"since": {"lobby": 0}})])
        .await);
    let (passed, refused) = until_limited(&mut ann, 100, |_| {
        (History::NAME, vec![json!({"room": "lobby"})])
    })
    .await;
    assert_rate_limited(&refused);
    assert_eq!(passed, 3);
    assert_rate_limited(&ann.ask(BrowseRooms::NAME, vec![json!({})]).await);
    // Guests are counted by address: a second guest socket shares the first one's budget.
    let mut guest = server.client(json!({})).await;
    for _ in 0..6 {
        ok(&guest
            .ask(History::NAME, vec![json!({"room": "lobby"})])
            .await);
    }
    let mut another = server.client(json!({})).await;
    assert_rate_limited(
        &another
            .ask(History::NAME, vec![json!({"room": "lobby"})])
            .await,
    );
}

#[tokio::test]
async fn moving_read_markers_is_limited_per_person() {
    let server = TestServer::start_with(|c| c.mark_limit = "5/1h".parse().unwrap()).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let posted = ok(&ann.ask(SendMessage::NAME, vec![json!("hello")]).await);
    let seq = posted["seq"].clone();
    let (passed, refused) = until_limited(&mut ann, 100, |_| {
        (MarkRead::NAME, vec![json!({"room": "lobby", "seq": seq})])
    })
    .await;
    assert_rate_limited(&refused);
    assert_eq!(passed, 5);
    // The budget is the person's: another tab of theirs shares it.
    let token = ann.session.clone().unwrap()["token"].clone();
    let mut again = server.client(json!({"token": token})).await;
    assert_rate_limited(
        &again
            .ask(MarkRead::NAME, vec![json!({"room": "lobby", "seq": seq})])
            .await,
    );
}

#[tokio::test]
async fn opening_a_dm_tells_the_other_person_nothing_until_its_first_message() {
    let server = TestServer::start().await;
    let mut mallory = server.client(json!({"name": "mallory"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let bob_token = bob.session.clone().unwrap()["token"].clone();
    // Bob's list from connecting.
    bob.next_ambient(RoomList::NAME).await;
    let dm = ok(&mallory
        .ask(OpenDm::NAME, vec![json!({"name": "bob"})])
        .await);
    let id = dm["room"].as_str().unwrap().to_owned();
    // Barrier: a lobby message after the open. Nothing about the conversation reached Bob.
    ok(&mallory.ask(SendMessage::NAME, vec![json!("barrier")]).await);
    loop {
        let (name, args) = bob.next_event().await;
        if name == ChatMessage::NAME && args[0] == "barrier" {
            break;
        }
    }
    for event in [RoomList::NAME, Presence::NAME] {
        while let Some(e) = bob.try_next_ambient(event, Duration::ZERO).await {
            assert!(!e.to_string().contains(&id), "{event} told bob: {e}");
        }
    }
    let mut bob_again = server.client(json!({"token": bob_token})).await;
    let list = bob_again.next_ambient(RoomList::NAME).await;
    assert!(!list.to_string().contains(&id), "bob's list: {list}");
    // Opening it himself, he has it at once (the same conversation).
    let his = ok(&bob_again
        .ask(OpenDm::NAME, vec![json!({"name": "mallory"})])
        .await);
    assert_eq!(his["room"], id.as_str());
    drop(bob_again);
    // Its first message is how he hears of it; from then on it is in his list.
    ok(&mallory
        .ask(
            SendMessage::NAME,
            vec![json!("hi bob"), json!(null), json!(id)],
        )
        .await);
    loop {
        let (name, args) = bob.next_event().await;
        if name == ChatMessage::NAME && args[0] == "hi bob" {
            assert_eq!(args[2]["room"], id.as_str());
            break;
        }
    }
    let mut bob_later = server.client(json!({"token": bob_token})).await;
    let list = bob_later.next_ambient(RoomList::NAME).await;
    assert!(list.to_string().contains(&id), "bob's list: {list}");
    // Opening it again is limited too.
    let (_, refused) = until_limited(&mut mallory, 200, |_| {
        (OpenDm::NAME, vec![json!({"name": "bob"})])
    })
    .await;
    assert_rate_limited(&refused);
}
