//! Several nodes on one Postgres database: what one node stores, names and signs, every node
//! knows. Each test starts its own Postgres database and nodes.

use serde_json::json;

use app::events::{Event, Namespace as _, SendMessage, Synced};

use crate::services;
use crate::support::TestServer;

const CHAT: &str = SendMessage::NAME;

/// Two nodes on one new Postgres database.
async fn two_nodes() -> (TestServer, TestServer) {
    let database = services::database();
    let one = TestServer::start_on(tempfile::tempdir().unwrap(), database.clone(), |_| {}).await;
    let two = TestServer::start_on(tempfile::tempdir().unwrap(), database, |_| {}).await;
    (one, two)
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
    let mut seen = Vec::new();
    loop {
        let (name, args) = bob.next_event().await;
        if name == Synced::NAME {
            break;
        }
        if name == CHAT && args[2]["kind"].is_null() {
            seen.push((
                args[0].as_str().unwrap().to_owned(),
                args[1].as_i64().unwrap(),
            ));
        }
    }
    assert_eq!(
        seen,
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
    let mut onces = 0;
    loop {
        let (name, args) = bob.next_event().await;
        if name == Synced::NAME {
            break;
        }
        onces += usize::from(name == CHAT && args[0] == "once");
    }
    assert_eq!(onces, 1);
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
