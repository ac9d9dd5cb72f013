//! Changes to messages over real TCP: edits, deletions, reactions and replies, live and
//! replayed from each conversation's change feed to a client that was away.

use app::events::{
    CreateRoom, EditMessage, Event, History, MAX_REACTIONS, MessageChanged, MessageDeleted, React,
    RemoveMessage, SendMessage, Sync, Synced,
};
use serde_json::{Value, json};

use crate::accounts::sign_up;
use crate::rooms::{code, data, post, request};
use crate::services;
use crate::support::{SioClient, TestServer, two_linked_nodes};

const CHAT: &str = SendMessage::NAME;
const CHANGED: &str = MessageChanged::NAME;

/// Reactions by the dozen: no rate limit.
fn unthrottled(c: &mut palaver_server::Config) {
    c.rate_limit = 0.0;
}

async fn edit(client: &mut SioClient, room: &str, id: &Value, text: &str) -> Value {
    request(
        client,
        EditMessage::NAME,
        vec![json!({"room": room, "id": id, "text": text})],
    )
    .await
}

async fn remove(client: &mut SioClient, room: &str, id: &Value) -> Value {
    request(
        client,
        RemoveMessage::NAME,
        vec![json!({"room": room, "id": id})],
    )
    .await
}

async fn react(client: &mut SioClient, id: &Value, emoji: &str, on: bool) -> Value {
    request(
        client,
        React::NAME,
        vec![json!({"room": "lobby", "id": id, "emoji": emoji, "on": on})],
    )
    .await
}

/// The next `message changed`, skipping other events.
async fn next_change(client: &mut SioClient) -> Value {
    client.next_event_named(CHANGED).await.1
}

/// Everything up to the next `synced`: the events' names and arguments, and the `synced`.
async fn until_synced(client: &mut SioClient) -> (Vec<(String, Value)>, Value) {
    let mut seen = Vec::new();
    loop {
        let (name, args) = client.next_event().await;
        if name == Synced::NAME {
            return (seen, args[0].clone());
        }
        seen.push((name, args));
    }
}

/// The reactions of a message's arguments, as `(emoji, count, names)`.
fn reactions(args: &Value) -> Vec<(String, u64, Vec<String>)> {
    args[2]["reactions"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r["emoji"].as_str().unwrap().to_owned(),
                        r["count"].as_u64().unwrap(),
                        r["names"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|n| n.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A message of a history page by id.
fn in_page(page: &Value, id: &Value) -> Value {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| &m[1] == id)
        .unwrap_or_else(|| panic!("{id} not in {page}"))
        .clone()
}

async fn lobby_page(client: &mut SioClient) -> Value {
    data(&request(client, History::NAME, vec![json!({"room": "lobby"})]).await)
}

#[tokio::test]
async fn only_the_author_edits_and_everyone_holding_it_sees_the_edit() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut guest = server.client(json!({})).await;
    let posted = post(&mut ann, "lobby", "helo wrold").await;
    let id = posted["id"].clone();

    assert_eq!(
        code(&edit(&mut bob, "lobby", &id, "mine now").await),
        "not_yours"
    );
    assert_eq!(
        code(&edit(&mut guest, "lobby", &id, "mine").await),
        "not_yours"
    );
    assert_eq!(
        code(&edit(&mut ann, "lobby", &id, " \u{200B} ").await),
        "empty"
    );
    let long = "x".repeat(app::events::MAX_MESSAGE_CHARS + 1);
    assert_eq!(code(&edit(&mut ann, "lobby", &id, &long).await), "too_long");
    assert_eq!(
        code(&edit(&mut ann, "lobby", &json!(999_999), "x").await),
        "unknown_message"
    );
    // The message is the lobby's: named in another conversation, it is none there.
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "rust"})]).await);
    assert_eq!(
        code(&edit(&mut ann, "rust", &id, "x").await),
        "unknown_message"
    );

    let edited = edit(&mut ann, "lobby", &id, "hello world").await;
    assert_eq!(edited[0], json!({"data": null}));
    for client in [&mut ann, &mut bob, &mut guest] {
        let change = next_change(client).await;
        assert_eq!(change[0], "hello world");
        assert_eq!(change[1], id);
        assert_eq!(change[2]["author"], "ann");
        assert_eq!(change[2]["seq"], posted["seq"]);
        assert!(change[2]["edited"].as_i64().unwrap() >= posted["ts"].as_i64().unwrap());
        assert_eq!(change[2]["changed"], 1, "the lobby's first change");
    }
    let stored = in_page(&lobby_page(&mut bob).await, &id);
    assert_eq!(stored[0], "hello world", "edited in place");
    assert_eq!(stored[2]["changed"], 1);
    assert!(stored[2]["edited"].is_i64());
    assert!(!lobby_page(&mut bob).await.to_string().contains("wrold"));

    // A notice is nobody's to edit, not even the person it names.
    data(
        &request(
            &mut bob,
            app::events::JoinRoom::NAME,
            vec![json!({"room": "rust"})],
        )
        .await,
    );
    let joined = loop {
        let args = crate::rooms::next_message(&mut bob).await;
        if args[2]["kind"] == "joined" {
            break args;
        }
    };
    assert_eq!(
        code(&edit(&mut bob, "rust", &joined[1], "x").await),
        "not_yours"
    );
}

#[tokio::test]
async fn people_delete_their_own_messages_and_moderators_anyones() {
    let server = TestServer::start().await;
    // The first account is the administrator.
    let cookie = sign_up(&server, "mo", "correct horse").await;
    let mut mo = SioClient::connect_with_cookie(server.addr, "/", json!({}), &cookie)
        .await
        .expect("signed in");
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let first = post(&mut ann, "lobby", "first thoughts").await;
    let second = post(&mut ann, "lobby", "second thoughts").await;

    assert_eq!(
        code(&remove(&mut bob, "lobby", &first["id"]).await),
        "not_yours"
    );
    assert_eq!(
        remove(&mut ann, "lobby", &first["id"]).await[0],
        json!({"data": null})
    );
    let change = next_change(&mut bob).await;
    assert_eq!(change[1], first["id"]);
    assert_eq!(change[0], "");
    assert_eq!(change[2]["kind"], "deleted");
    assert_eq!(change[2]["author"], "");
    assert_eq!(
        change[2]["seq"], first["seq"],
        "the tombstone keeps its place"
    );
    // Older clients hear it as before.
    let (_, deleted) = bob.next_event_named(MessageDeleted::NAME).await;
    assert_eq!(deleted[0], json!({"room": "lobby", "id": first["id"]}));

    // A moderator deletes anyone's; deleting twice is no error and changes nothing.
    assert_eq!(
        remove(&mut mo, "lobby", &second["id"]).await[0],
        json!({"data": null})
    );
    assert_eq!(next_change(&mut bob).await[1], second["id"]);
    assert_eq!(
        remove(&mut ann, "lobby", &second["id"]).await[0],
        json!({"data": null})
    );
    // Nothing was told of the repeat: the next change bob hears is the next one made.
    let third = post(&mut ann, "lobby", "third").await;
    edit(&mut ann, "lobby", &third["id"], "third, edited").await;
    let next = next_change(&mut bob).await;
    assert_eq!(
        (next[1].clone(), next[2]["changed"].clone()),
        (third["id"].clone(), json!(3))
    );
    // A tombstone cannot be edited back to life.
    assert_eq!(
        code(&edit(&mut ann, "lobby", &first["id"], "back").await),
        "unknown_message"
    );

    let page = lobby_page(&mut bob).await;
    for gone in [&first, &second] {
        let tomb = in_page(&page, &gone["id"]);
        assert_eq!(
            (tomb[0].clone(), tomb[2]["kind"].clone()),
            (json!(""), json!("deleted"))
        );
    }
    assert!(!page.to_string().contains("thoughts"));
}

#[tokio::test]
async fn reactions_toggle_one_per_person_and_are_bounded() {
    let server = TestServer::start_with(unthrottled).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut guest = server.client(json!({})).await;
    let posted = post(&mut ann, "lobby", "lunch?").await;
    let id = posted["id"].clone();

    assert_eq!(
        react(&mut bob, &id, "👍", true).await[0],
        json!({"data": null})
    );
    let change = next_change(&mut ann).await;
    assert_eq!(reactions(&change), [("👍".into(), 1, vec!["bob".into()])]);
    assert_eq!(
        next_change(&mut bob).await,
        change,
        "the reactor hears it too"
    );
    // Given twice, it counts once and nothing is told.
    assert_eq!(
        react(&mut bob, &id, "👍", true).await[0],
        json!({"data": null})
    );
    react(&mut ann, &id, "👍", true).await;
    next_change(&mut ann).await;
    let change = next_change(&mut bob).await;
    assert_eq!(change[2]["changed"], 2, "the repeat took no number");
    assert_eq!(
        reactions(&change),
        [("👍".into(), 2, vec!["bob".into(), "ann".into()])]
    );
    react(&mut bob, &id, "👍", false).await;
    next_change(&mut bob).await;
    let change = next_change(&mut ann).await;
    assert_eq!(reactions(&change), [("👍".into(), 1, vec!["ann".into()])]);
    // Taking back one not given changes nothing.
    assert_eq!(
        react(&mut bob, &id, "👍", false).await[0],
        json!({"data": null})
    );

    for bad in ["", "abc", "👍 yes", "<b>", &"👍".repeat(20)] {
        assert_eq!(
            code(&react(&mut bob, &id, bad, true).await),
            "invalid_emoji",
            "{bad:?}"
        );
    }
    for good in ["🇫🇷", "👩🏽‍💻", "1️⃣", "❤️"] {
        assert_eq!(
            react(&mut bob, &id, good, true).await[0],
            json!({"data": null}),
            "{good}"
        );
    }
    assert_eq!(
        code(&react(&mut guest, &id, "🎉", true).await),
        "name_required"
    );
    assert_eq!(
        code(&react(&mut bob, &json!(999_999), "🎉", true).await),
        "unknown_message"
    );

    // Up to MAX_REACTIONS distinct emoji; then only those it has.
    let held = 5; // 👍 and the four above
    for i in 0..(MAX_REACTIONS - held) {
        let emoji = char::from_u32(0x1F600 + i as u32).unwrap().to_string();
        assert_eq!(
            react(&mut ann, &id, &emoji, true).await[0],
            json!({"data": null})
        );
    }
    let over = react(&mut bob, &id, "🦀", true).await;
    assert_eq!(code(&over), "too_many_reactions");
    assert_eq!(over[0]["error"]["max"], MAX_REACTIONS);
    assert_eq!(
        react(&mut bob, &id, "😀", true).await[0],
        json!({"data": null})
    );
    let stored = in_page(&lobby_page(&mut guest).await, &id);
    let held = reactions(&stored);
    assert_eq!(held.len(), MAX_REACTIONS);
    assert_eq!(
        held[0],
        ("👍".into(), 1, vec!["ann".into()]),
        "in the order first given"
    );
    assert!(held.contains(&("😀".into(), 2, vec!["ann".into(), "bob".into()])));
}

#[tokio::test]
async fn a_reply_quotes_a_parent_of_its_own_conversation_only() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    data(
        &request(
            &mut ann,
            CreateRoom::NAME,
            vec![json!({"name": "rust", "private": true})],
        )
        .await,
    );
    let parent = post(&mut ann, "lobby", "who wants lunch?").await;
    let secret = post(&mut ann, "rust", "the hidden plan").await;
    let reply = |text: &str, room: &str, to: &Value| {
        vec![
            json!(text),
            json!(null),
            json!(room),
            json!({"replyTo": to}),
        ]
    };

    // A message bob may not read, and one of another conversation, are none to reply to.
    let refused = request(&mut bob, CHAT, reply("me", "lobby", &secret["id"])).await;
    assert_eq!(code(&refused), "unknown_message");
    let elsewhere = request(&mut ann, CHAT, reply("me", "lobby", &secret["id"])).await;
    assert_eq!(code(&elsewhere), "unknown_message");
    let nothing = request(&mut bob, CHAT, reply("me", "lobby", &json!(999_999))).await;
    assert_eq!(code(&nothing), "unknown_message");

    let answered = data(&request(&mut bob, CHAT, reply("me!", "lobby", &parent["id"])).await);
    let live = loop {
        let args = crate::rooms::next_message(&mut ann).await;
        if args[1] == answered["id"] {
            break args;
        }
    };
    assert_eq!(
        live[2]["reply"],
        json!({"id": parent["id"], "author": "ann", "excerpt": "who wants lunch?"})
    );
    // The quote is the parent as it is now: edited, then deleted.
    edit(&mut ann, "lobby", &parent["id"], "who wants dinner?").await;
    let stored = in_page(&lobby_page(&mut bob).await, &answered["id"]);
    assert_eq!(stored[2]["reply"]["excerpt"], "who wants dinner?");
    remove(&mut ann, "lobby", &parent["id"]).await;
    let stored = in_page(&lobby_page(&mut bob).await, &answered["id"]);
    assert_eq!(
        stored[2]["reply"],
        json!({"id": parent["id"], "author": "", "excerpt": ""})
    );
    assert_eq!(stored[0], "me!");
}

#[tokio::test]
async fn a_reader_away_during_changes_gets_each_once_on_reconnect() {
    let server = TestServer::start_with(unthrottled).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let bob = server.client(json!({"name": "bob"})).await;
    let token = bob.session.clone().unwrap()["token"].clone();
    let m1 = post(&mut ann, "lobby", "one").await;
    let m2 = post(&mut ann, "lobby", "two").await;
    let m3 = post(&mut ann, "lobby", "three").await;
    bob.drop_connection().await;

    edit(&mut ann, "lobby", &m1["id"], "one, edited").await;
    react(&mut ann, &m2["id"], "🎉", true).await;
    remove(&mut ann, "lobby", &m3["id"]).await;
    edit(&mut ann, "lobby", &m1["id"], "one, edited twice").await;
    let m4 = post(&mut ann, "lobby", "four").await;

    let mut bob = server
        .client(json!({"token": token, "since": {"lobby": m3["id"]}, "changes": {"lobby": 0}}))
        .await;
    let (events, synced) = until_synced(&mut bob).await;
    let got: Vec<(String, Value, Value)> = events
        .iter()
        .map(|(name, args)| (name.clone(), args[1].clone(), args[0].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (CHANGED.to_owned(), m2["id"].clone(), json!("two")),
            (CHANGED.to_owned(), m3["id"].clone(), json!("")),
            (
                CHANGED.to_owned(),
                m1["id"].clone(),
                json!("one, edited twice")
            ),
            (CHAT.to_owned(), m4["id"].clone(), json!("four")),
        ],
        "each changed message once, as it is now, in the order of its last change; then \
         the new message"
    );
    assert_eq!(
        reactions(&events[0].1),
        [("🎉".into(), 1, vec!["ann".into()])]
    );
    assert_eq!(events[1].1[2]["kind"], "deleted");
    assert_eq!(synced["changeSeq"], 4);
    assert_eq!(synced["replayed"], 1);

    // From its new cursors, nothing again; a client without change cursors (an older one)
    // is replayed none.
    for auth in [
        json!({"token": token, "since": {"lobby": m4["id"]}, "changes": {"lobby": 4}}),
        json!({"since": {"lobby": m4["id"]}}),
    ] {
        let mut again = server.client(auth).await;
        let (events, synced) = until_synced(&mut again).await;
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(synced["changeSeq"], 4);
    }

    // `sync` replays changes after its cursor too.
    edit(&mut ann, "lobby", &m2["id"], "two, edited").await;
    let mut carl = server.client(json!({"name": "carl"})).await;
    let (ack, events) = carl
        .request(
            Sync::NAME,
            vec![json!({"since": {"lobby": m4["id"]}, "changes": {"lobby": 4}})],
        )
        .await;
    let changed: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name == CHANGED)
        .map(|(_, args)| &args[1])
        .collect();
    assert!(changed.contains(&&m2["id"]), "{events:?}");
    assert_eq!(ack[0]["data"][0]["changeSeq"], 5);
}

#[tokio::test]
async fn a_change_made_on_one_node_reaches_a_reader_on_the_other() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let mut ann = one.client(json!({"name": "ann"})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;
    let posted = post(&mut ann, "lobby", "cross-node").await;
    loop {
        let args = crate::rooms::next_message(&mut bob).await;
        if args[1] == posted["id"] {
            break;
        }
    }
    edit(&mut ann, "lobby", &posted["id"], "cross-node, edited").await;
    next_change(&mut ann).await;
    let change = next_change(&mut bob).await;
    assert_eq!(
        (change[1].clone(), change[0].clone()),
        (posted["id"].clone(), json!("cross-node, edited"))
    );
    react(&mut bob, &posted["id"], "👀", true).await;
    let change = next_change(&mut ann).await;
    assert_eq!(reactions(&change), [("👀".into(), 1, vec!["bob".into()])]);
}
