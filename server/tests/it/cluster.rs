//! Several nodes on one Postgres database, linked through Redis: what one node stores, names
//! and signs, every node knows, and what one node broadcasts, every node's sockets get. Each
//! test starts its own Postgres database, Redis and nodes.

use serde_json::{Value, json};

use app::events::{
    CreateRoom, Event, JoinRoom, Kick, Kicked, Namespace as _, Presence, RoomHead, SendMessage,
    Stats, Synced,
};

use crate::services;
use crate::support::{Packet, SioClient, TestServer, two_linked_nodes};

const CHAT: &str = SendMessage::NAME;

/// Two nodes on one new Postgres database.
async fn two_nodes() -> (TestServer, TestServer) {
    let database = services::database();
    let one =
        TestServer::start_on(tempfile::tempdir().unwrap(), database.clone(), None, |_| {}).await;
    let two = TestServer::start_on(tempfile::tempdir().unwrap(), database, None, |_| {}).await;
    (one, two)
}

/// The people's messages a connecting client is replayed, up to its `synced`: text and id.
async fn replayed(client: &mut SioClient) -> Vec<(String, i64)> {
    let mut seen = Vec::new();
    loop {
        let (name, args) = client.next_event().await;
        if name == Synced::NAME {
            return seen;
        }
        if name == CHAT && args[2]["kind"].is_null() {
            let text = args[0].as_str().unwrap().to_owned();
            seen.push((text, args[1].as_i64().unwrap()));
        }
    }
}

/// A setting the nodes share, read from their database.
async fn shared_setting(node: &TestServer, key: &str) -> String {
    // Answering HTTP means `run` has loaded its secrets.
    assert_eq!(node.get("/healthz").await.0, 200);
    let pool = sqlx::PgPool::connect(node.database()).await.unwrap();
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_one(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn names_sessions_and_messages_are_shared_by_nodes_on_one_postgres() {
    let (one, two) = two_nodes().await;
    let mut ann = one.client(json!({"name": "Ann"})).await;
    let token = ann.session.clone().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Her name is hers on every node, and so is her session: the nodes share the signing key.
    assert_eq!(two.refused(json!({"name": "ann"})).await, "name_taken");
    let mut tab = two.client(json!({"token": token})).await;
    assert_eq!(tab.session.clone().unwrap()["name"], "Ann");

    let (ack, _) = ann.request(CHAT, vec![json!("from node one")]).await;
    let first = ack[0]["data"]["id"].as_i64().expect("acked");
    let (ack, _) = tab.request(CHAT, vec![json!("from node two")]).await;
    let second = &ack[0]["data"];
    assert_eq!(
        second["seq"], 2,
        "one room, numbered on across nodes: {ack:?}"
    );

    // A client of node two catches up on what node one stored.
    let mut bob = two
        .client(json!({"name": "bob", "since": {"lobby": 0}, "serverOffset": 0}))
        .await;
    assert_eq!(
        replayed(&mut bob).await,
        [
            ("from node one".to_owned(), first),
            ("from node two".to_owned(), second["id"].as_i64().unwrap())
        ]
    );
}

#[tokio::test]
async fn a_retry_on_the_other_node_is_stored_once_with_the_first_id() {
    let (one, two) = two_nodes().await;
    let ann = one.client(json!({"name": "Ann"})).await;
    let token = ann.session.clone().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ann = ann;
    let mut moved = two.client(json!({"token": token})).await;
    let send = |offset: &str| vec![json!("once"), json!(offset)];
    let (first, _) = ann.request(CHAT, send("offset-1")).await;
    // The same send, retried through the other node (a reconnect that landed elsewhere).
    let (again, _) = moved.request(CHAT, send("offset-1")).await;
    assert_eq!(
        first[0]["data"]["id"], again[0]["data"]["id"],
        "{first:?} {again:?}"
    );
    let mut bob = one
        .client(json!({"name": "bob", "since": {"lobby": 0}, "serverOffset": 0}))
        .await;
    let replayed = replayed(&mut bob).await;
    assert_eq!(
        replayed.iter().filter(|(text, _)| text == "once").count(),
        1
    );
}

#[tokio::test]
async fn nodes_share_the_admin_token() {
    let (one, two) = two_nodes().await;
    // Neither node was given one: the first made it, and both accept it.
    let token = shared_setting(&one, "admin-token").await;
    for node in [&one, &two] {
        crate::support::SioClient::connect(
            node.addr,
            app::events::Admin::PATH,
            json!({ "token": token }),
        )
        .await
        .expect("the shared admin token is accepted");
    }
}

/// The next `chat message` that is a person's, skipping notices and other events.
async fn next_chat(client: &mut SioClient) -> Value {
    loop {
        let (name, args) = client.next_event().await;
        if name == CHAT && args[2]["kind"].is_null() {
            return args;
        }
    }
}

#[tokio::test]
async fn messages_and_kicks_reach_every_node_through_redis() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let mut ann = one.client(json!({"name": "ann"})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;

    let (ack, _) = ann.request(CHAT, vec![json!("hello from one")]).await;
    let id = ack[0]["data"]["id"].as_i64().expect("acked");
    let got = next_chat(&mut bob).await;
    assert_eq!(
        (&got[0], got[1].as_i64()),
        (&json!("hello from one"), Some(id))
    );
    let (ack, _) = bob.request(CHAT, vec![json!("and back from two")]).await;
    assert!(ack[0]["data"]["id"].is_i64(), "{ack:?}");
    assert_eq!(next_chat(&mut ann).await[0], "and back from two");

    // The admin on node one kicks bob, whose socket is on node two.
    let token = shared_setting(&one, "admin-token").await;
    let mut admin = SioClient::connect(
        one.addr,
        app::events::Admin::PATH,
        json!({ "token": token }),
    )
    .await
    .expect("the admin token is accepted");
    let (ack, _) = admin
        .request(Kick::NAME, vec![json!({"name": "bob", "reason": "spam"})])
        .await;
    assert!(ack[0]["data"].is_object(), "{ack:?}");
    let (event, args) = bob.next_event_named(Kicked::NAME).await;
    assert_eq!(
        (event.as_str(), &args[0]),
        (Kicked::NAME, &json!({"reason": "spam"}))
    );
    assert!(matches!(bob.next_packet().await, Packet::Disconnect));
}

#[tokio::test]
async fn local_delivery_goes_on_without_redis_and_the_other_node_catches_up_after() {
    let mut redis = services::redis();
    let port = redis.port;
    let (one, two) = two_linked_nodes(&redis).await;
    let mut ann = one.client(json!({"name": "ann"})).await;
    let mut carl = one.client(json!({"name": "carl"})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;

    redis.stop();
    // Node one's own sockets get it at once, and the ack says it is stored.
    let (ack, _) = ann.request(CHAT, vec![json!("while redis is away")]).await;
    let seq = ack[0]["data"]["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("not acked: {ack:?}"));
    assert_eq!(next_chat(&mut carl).await[0], "while redis is away");

    // Redis comes back: both nodes reconnect, and announce their rooms' heads, so that bob,
    // who missed it, learns how far the lobby goes, and catches up.
    let _redis = services::redis_on(port);
    let (_, args) = bob.next_event_named(RoomHead::NAME).await;
    let head = &args[0];
    assert_eq!(head["room"], "lobby");
    assert!(head["lastSeq"].as_i64().unwrap() >= seq, "{head}");
}

#[tokio::test]
async fn several_nodes_need_postgres_and_a_redis_that_answers() {
    let redis = services::redis();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = palaver_server::Config::with_database(crate::support::database_url(&dir));
    config.redis_url = Some(redis.redis_url());
    let e = palaver_server::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("postgres://"), "{e}");

    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = nobody.local_addr().unwrap().port();
    drop(nobody);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = palaver_server::Config::with_database(services::database());
    config.redis_url = Some(format!("redis://127.0.0.1:{closed}"));
    let e = palaver_server::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot connect to Redis"), "{e}");
}

/// The next `presence` of the lobby that names exactly `online`.
async fn lobby_presence(client: &mut SioClient, online: &[&str]) -> Value {
    tokio::time::timeout(crate::support::PATIENCE, async {
        loop {
            let p = client.next_ambient(Presence::NAME).await;
            if p["room"] == "lobby" && p["online"] == json!(online) {
                return p;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no lobby presence naming {online:?}"))
}

#[tokio::test]
async fn presence_and_statistics_count_every_node_and_a_person_once() {
    let redis = services::redis();
    let (one, mut two) = two_linked_nodes(&redis).await;
    let ann = one.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"].clone();
    // Ann has a tab on each node: she is one person online.
    let _ann_there = two.client(json!({"token": token})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;
    let mut carl = one.client(json!({"name": "carl"})).await;
    lobby_presence(&mut bob, &["ann", "bob", "carl"]).await;
    lobby_presence(&mut carl, &["ann", "bob", "carl"]).await;

    // The admin on node one sees every node's sockets, and each person once.
    let token = shared_setting(&one, "admin-token").await;
    let mut admin = SioClient::connect(
        one.addr,
        app::events::Admin::PATH,
        json!({ "token": token }),
    )
    .await
    .expect("the admin token is accepted");
    tokio::time::timeout(crate::support::PATIENCE, async {
        loop {
            let (event, args) = admin.next_event().await;
            assert_eq!(event, Stats::NAME);
            let stats = &args[0];
            let lobby = stats["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["room"] == "lobby")
                .cloned()
                .unwrap_or_default();
            let main = stats["namespaces"][0]["sockets"].clone();
            if lobby["members"] == json!(["ann", "bob", "carl"]) && main == 4 {
                assert_eq!(lobby["sockets"], 4, "{stats}");
                return;
            }
        }
    })
    .await
    .expect("stats counting both nodes");

    // Node two goes away: within a few seconds, node one's people see only its own, and hear
    // the lobby's head, in case node two stored a message it never told them of.
    two.stop().await;
    lobby_presence(&mut carl, &["ann", "carl"]).await;
    let (_, args) = carl.next_event_named(RoomHead::NAME).await;
    assert_eq!(args[0]["room"], "lobby");
}

#[tokio::test]
async fn with_postgres_down_posts_are_refused_unavailable_and_a_retry_after_is_stored_once() {
    let mut pg = services::Postgres::own();
    let node =
        TestServer::start_on(tempfile::tempdir().unwrap(), pg.database(), None, |_| {}).await;
    let mut ann = node.client(json!({"name": "ann"})).await;
    let (ack, _) = ann.request(CHAT, vec![json!("before"), json!("o-1")]).await;
    assert!(ack[0]["data"]["id"].is_i64(), "{ack:?}");

    pg.stop();
    let (ack, _) = ann.request(CHAT, vec![json!("during"), json!("o-2")]).await;
    assert_eq!(ack[0]["error"]["code"], "unavailable", "{ack:?}");
    assert_eq!(
        node.get("/healthz").await.0,
        503,
        "the database does not answer"
    );

    pg.start();
    // The client retries with the same offset until it is acked; once Postgres answers again,
    // the writer and the pool reconnect on their own.
    let stored = tokio::time::timeout(crate::support::PATIENCE, async {
        loop {
            let (ack, _) = ann.request(CHAT, vec![json!("during"), json!("o-2")]).await;
            if let Some(id) = ack[0]["data"]["id"].as_i64() {
                return id;
            }
            assert_eq!(ack[0]["error"]["code"], "unavailable", "{ack:?}");
        }
    })
    .await
    .expect("acked once Postgres is back");
    let (again, _) = ann.request(CHAT, vec![json!("during"), json!("o-2")]).await;
    assert_eq!(
        again[0]["data"]["id"], stored,
        "the retry is the stored message"
    );

    let mut bob = node
        .client(json!({"name": "bob", "since": {"lobby": 0}, "serverOffset": 0}))
        .await;
    let texts: Vec<String> = replayed(&mut bob)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(texts, ["before", "during"]);
}

#[tokio::test]
async fn a_node_configured_with_another_secret_than_the_others_refuses_to_start() {
    let database = services::database();
    let first = |c: &mut palaver_server::Config| c.session_secret = Some("one".repeat(20));
    let one =
        TestServer::start_on(tempfile::tempdir().unwrap(), database.clone(), None, first).await;
    // Answering means it has taken the secrets in.
    assert_eq!(one.get("/healthz").await.0, 200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = palaver_server::Config::with_database(database.clone());
    config.session_secret = Some("two".repeat(20));
    let e = palaver_server::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("PALAVER_SESSION_SECRET differs"),
        "{e}"
    );
    // Without one, a node takes the shared one.
    let two = TestServer::start_on(tempfile::tempdir().unwrap(), database, None, |_| {}).await;
    assert_eq!(two.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn a_room_made_on_one_node_takes_the_persons_tabs_on_every_node_in() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let ann = one.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"].clone();
    let mut ann = ann;
    let mut ann_there = two.client(json!({"token": token})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;

    // Ann makes the room through her tab on node two; bob joins it there and posts.
    let (ack, _) = ann_there
        .request(CreateRoom::NAME, vec![json!({"name": "den"})])
        .await;
    assert!(ack[0]["data"].is_object(), "{ack:?}");
    let (ack, _) = bob
        .request(JoinRoom::NAME, vec![json!({"room": "den"})])
        .await;
    assert!(ack[0]["data"].is_object(), "{ack:?}");
    let (ack, _) = bob
        .request(CHAT, vec![json!("in the den"), json!(null), json!("den")])
        .await;
    assert!(ack[0]["data"]["id"].is_i64(), "{ack:?}");
    // Her tab on node one was put in the room too, and hears it live.
    let got = tokio::time::timeout(crate::support::PATIENCE, async {
        loop {
            let m = next_chat(&mut ann).await;
            if m[2]["room"] == "den" {
                return m;
            }
        }
    })
    .await
    .expect("ann's tab on node one hears the den");
    assert_eq!(got[0], "in the den");
}

/// A message a node committed and died before broadcasting (or whose commit's answer was lost),
/// retried by its sender: the retry is acknowledged with the stored message and not broadcast
/// again, so the room's members, on every node, are told the room's head and catch up.
#[tokio::test]
async fn a_retry_of_a_message_stored_but_never_broadcast_tells_the_room_its_head() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let mut ann = one.client(json!({"name": "ann"})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;

    // What a node that dies right after its commit leaves: the message stored, nobody told.
    let pool = sqlx::PgPool::connect(one.database()).await.unwrap();
    let person: String = sqlx::query_scalar("SELECT person FROM people WHERE name_key = 'ann'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO messages (room, author, text, client_offset, created_at, seq, sender)
         VALUES ('lobby', 'ann', 'stored, never sent', 'o-1', 0,
                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE room = 'lobby'), $1)
         RETURNING seq",
    )
    .bind(&person)
    .fetch_one(&pool)
    .await
    .unwrap();

    // Ann, unanswered, sends it again.
    let (ack, _) = ann
        .request(CHAT, vec![json!("stored, never sent"), json!("o-1")])
        .await;
    assert_eq!(ack[0]["data"]["seq"], seq, "the stored message: {ack:?}");
    for member in [&mut bob, &mut ann] {
        let (_, args) = member.next_event_named(RoomHead::NAME).await;
        assert_eq!(args[0]["room"], "lobby");
        assert!(args[0]["lastSeq"].as_i64().unwrap() >= seq, "{args}");
    }
}

/// Whether some backend of `pool`'s database waits for a lock.
async fn waits_for_a_lock(pool: &sqlx::PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                        WHERE datname = current_database() AND wait_event_type = 'Lock')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A socket connecting to node two reads its catch-up, then waits for node two's order lock
/// before it joins its rooms; a message node one stores meanwhile, after the read, reaches node
/// two's room before the socket is in it. The replay ends before that message and live delivery
/// starts after it: node two tells the socket the room's head, read once it is in its rooms.
///
/// The test holds node two's order lock (its writer waits for a room's row, which the test
/// locks) while a socket connects and node one stores a message. Whether the socket's read
/// comes before the message is a race; every round where it does must end with the socket told.
#[tokio::test]
async fn a_message_another_node_stores_while_a_socket_joins_is_announced_to_it() {
    const ROUNDS: usize = 20;
    let redis = services::redis();
    let database = services::database();
    // Ann and carl post once a round, faster than the shipped rate allows.
    let node = |database: String| {
        TestServer::start_on(
            tempfile::tempdir().unwrap(),
            database,
            Some(redis.redis_url()),
            |c| (c.rate_limit, c.rate_burst) = (1000.0, 1000),
        )
    };
    let one = node(database.clone()).await;
    let two = node(database).await;
    let mut ann = one.client(json!({"name": "ann"})).await;
    let mut carl = two.client(json!({"name": "carl"})).await;
    let (ack, _) = carl
        .request(CreateRoom::NAME, vec![json!({"name": "held"})])
        .await;
    assert!(ack[0]["data"].is_object(), "{ack:?}");
    // A guest of node two's lobby: once it has a message, node two has delivered it.
    let mut dave = two.client(json!({})).await;
    let pool = sqlx::PgPool::connect(two.database()).await.unwrap();

    let mut raced = 0;
    for round in 0..ROUNDS {
        let mut hold = pool.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM rooms WHERE name = 'held' FOR UPDATE")
            .execute(&mut *hold)
            .await
            .unwrap();
        carl.emit(CHAT, vec![json!("held up"), json!(null), json!("held")])
            .await;
        tokio::time::timeout(crate::support::PATIENCE, async {
            while !waits_for_a_lock(&pool).await {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("node two's writer waits for the room's row");

        let mut bob = SioClient::connect_unsettled(two.addr, json!({"since": {"lobby": 0}})).await;
        let text = format!("stored while bob joins, round {round}");
        let (ack, _) = ann.request(CHAT, vec![json!(text)]).await;
        let seq = ack[0]["data"]["seq"].as_i64().expect("acked");
        while next_chat(&mut dave).await[0] != json!(text) {}
        hold.rollback().await.unwrap();

        let mut replayed = false;
        let head = loop {
            let (name, args) = bob.next_event().await;
            if name == CHAT && args[2]["seq"] == seq {
                replayed = true;
            }
            if name == Synced::NAME {
                break args[0]["lastSeq"].as_i64().unwrap();
            }
        };
        if replayed || head >= seq {
            continue;
        }
        raced += 1;
        let (_, args) = bob.next_event_named(RoomHead::NAME).await;
        assert_eq!(args[0]["room"], "lobby");
        assert!(args[0]["lastSeq"].as_i64().unwrap() >= seq, "{args}");
    }
    eprintln!("rounds where the read came before the message: {raced} of {ROUNDS}");
}

/// `POST /auth/{route}` with a JSON body to `server`: the reply.
async fn auth_post(server: &TestServer, route: &str, body: Value) -> crate::support::HttpReply {
    crate::support::http_request(
        server.addr,
        "POST",
        &format!("/auth/{route}"),
        "Content-Type: application/json\r\n",
        body.to_string().as_bytes(),
    )
    .await
}

#[tokio::test]
async fn an_account_signed_in_on_one_node_is_signed_out_from_the_other() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let account = json!({"name": "ann", "password": "correct horse"});
    let up = auth_post(&one, "sign-up", account.clone()).await;
    assert_eq!(up.status, 200, "{}", up.body);
    let cookie = |reply: &crate::support::HttpReply| {
        reply
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let laptop = cookie(&up);
    // Signed in on node two with the session node one made.
    let phone = auth_post(&two, "sign-in", account).await;
    assert_eq!(phone.status, 200, "{}", phone.body);
    let mut on_two = SioClient::connect_with_cookie(two.addr, "/", json!({}), &laptop)
        .await
        .expect("node two knows node one's session");
    let mut on_one = SioClient::connect_with_cookie(one.addr, "/", json!({}), &cookie(&phone))
        .await
        .expect("a second session");
    let laptop_id = on_two.session.as_ref().unwrap()["session"].clone();
    let (ack, _) = on_one
        .request("end session", vec![json!({"id": laptop_id})])
        .await;
    assert_eq!(ack[0], json!({"data": null}));
    on_two.next_event_named("signed out").await;
    assert!(matches!(on_two.next_packet().await, Packet::Disconnect));
}
