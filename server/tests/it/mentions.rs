//! Mentions and notification levels (issue 22): whom a message mentions is stored for the
//! people who may read it and nobody else, listed newest first while they still may; `@`
//! completes to the conversation's people; each person's level per conversation follows them
//! to their other devices. Real server, real sockets, both backends.

use app::events::{
    AddMember, ChatMessage, CreateRoom, DeleteMessage, EditMessage, Event as _, JoinRoom,
    LeaveRoom, ListMembers, ListMentions, NotifyChanged, NotifyLevels, OpenDm, SetNotify,
};
use serde_json::{Value, json};

use crate::rooms::{code, data, post, request, rooms_with};
use crate::support::{SioClient, TestServer};

/// The messages' texts of a `mentions` page.
async fn mentions_of(client: &mut SioClient, ask: Value) -> (Vec<String>, bool) {
    let page = data(&request(client, ListMentions::NAME, vec![ask]).await);
    let texts = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap().to_owned())
        .collect();
    (texts, page["more"].as_bool().unwrap())
}

/// The next `chat message` whose text is `text`: its meta.
async fn delivered(client: &mut SioClient, text: &str) -> Value {
    loop {
        let (name, args) = client.next_event().await;
        if name == ChatMessage::NAME && args[0] == text {
            return args[2].clone();
        }
    }
}

async fn member_names(client: &mut SioClient, ask: Value) -> Vec<String> {
    let found = data(&request(client, ListMembers::NAME, vec![ask]).await);
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

fn token_of(client: &SioClient) -> Value {
    client.session.clone().unwrap()["token"].clone()
}

#[tokio::test]
async fn mentions_are_stored_named_live_and_listed_newest_first() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "Bob"})).await;
    post(
        &mut ann,
        "lobby",
        "hello @bob and @nobody, mail ann@bob.org",
    )
    .await;
    let meta = delivered(&mut bob, "hello @bob and @nobody, mail ann@bob.org").await;
    assert_eq!(
        meta["mentions"],
        json!(["Bob"]),
        "as Bob spells it; nobody is nobody"
    );
    post(&mut ann, "lobby", "no mention here").await;
    post(&mut ann, "lobby", "@BOB again").await;
    // Mentioning oneself tells nobody.
    post(&mut bob, "lobby", "note to self @bob").await;
    let (texts, more) = mentions_of(&mut bob, json!({})).await;
    assert_eq!(
        texts,
        ["@BOB again", "hello @bob and @nobody, mail ann@bob.org"]
    );
    assert!(!more);
    let (first, more) = mentions_of(&mut bob, json!({"limit": 1})).await;
    assert_eq!((first.len(), more), (1, true));
    let page = data(&request(&mut bob, ListMentions::NAME, vec![json!({"limit": 1})]).await);
    let newest = page["messages"][0][1].as_i64().unwrap();
    let (older, more) = mentions_of(&mut bob, json!({"before": newest})).await;
    assert_eq!(older, ["hello @bob and @nobody, mail ann@bob.org"]);
    assert!(!more);
    let (anns, _) = mentions_of(&mut ann, json!({})).await;
    assert!(anns.is_empty(), "{anns:?}");

    // A deleted message is no longer listed.
    let mut admin = server.admin().await;
    let gone = admin
        .ask(DeleteMessage::NAME, vec![json!({"id": newest})])
        .await;
    assert!(gone[0]["error"].is_null(), "{gone}");
    let (texts, _) = mentions_of(&mut bob, json!({})).await;
    assert_eq!(texts, ["hello @bob and @nobody, mail ann@bob.org"]);
}

/// An edit's text decides whom the message mentions: the Mentions lists follow it.
#[tokio::test]
async fn an_edit_changes_whom_the_message_mentions() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut cat = server.client(json!({"name": "cat"})).await;
    let posted = post(&mut ann, "lobby", "lunch @bob?").await;
    let id = posted["id"].clone();
    assert_eq!(mentions_of(&mut bob, json!({})).await.0, ["lunch @bob?"]);

    let edit = |text: &str| json!({"room": "lobby", "id": id, "text": text});
    data(&request(&mut ann, EditMessage::NAME, vec![edit("lunch @cat?")]).await);
    assert!(
        mentions_of(&mut bob, json!({})).await.0.is_empty(),
        "no longer bob"
    );
    assert_eq!(mentions_of(&mut cat, json!({})).await.0, ["lunch @cat?"]);

    data(&request(&mut ann, EditMessage::NAME, vec![edit("lunch, anyone?")]).await);
    assert!(mentions_of(&mut cat, json!({})).await.0.is_empty());
    assert!(mentions_of(&mut bob, json!({})).await.0.is_empty());
}

#[tokio::test]
async fn a_mention_of_someone_who_cannot_read_the_conversation_is_neither_stored_nor_told() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut cy = server.client(json!({"name": "cy"})).await;
    let made = request(
        &mut ann,
        CreateRoom::NAME,
        vec![json!({"name": "secret", "private": true})],
    )
    .await;
    data(&made);
    data(
        &request(
            &mut ann,
            AddMember::NAME,
            vec![json!({"room": "secret", "name": "bob"})],
        )
        .await,
    );
    rooms_with(&mut bob, "secret").await;
    post(&mut ann, "secret", "@bob and @cy: the plan").await;
    let meta = delivered(&mut bob, "@bob and @cy: the plan").await;
    assert_eq!(meta["mentions"], json!(["bob"]), "cy is not in the room");
    // A direct conversation is its two people's: a third is not mentioned in it.
    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "bob"})]).await);
    let dm = dm["room"].as_str().unwrap().to_owned();
    post(&mut ann, &dm, "between us, @cy and @bob").await;
    let meta = delivered(&mut bob, "between us, @cy and @bob").await;
    assert_eq!(meta["mentions"], json!(["bob"]));
    // A public room's non-member is not told either.
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "open"})]).await);
    post(&mut ann, "open", "@cy is not here").await;
    let (cys, _) = mentions_of(&mut cy, json!({})).await;
    assert!(cys.is_empty(), "{cys:?}");
    let (bobs, _) = mentions_of(&mut bob, json!({})).await;
    assert_eq!(bobs, ["between us, @cy and @bob", "@bob and @cy: the plan"]);
    // Once Bob leaves the room its mentions are no longer his to read.
    let left = request(&mut bob, LeaveRoom::NAME, vec![json!({"room": "secret"})]).await;
    data(&left);
    let (bobs, _) = mentions_of(&mut bob, json!({})).await;
    assert_eq!(bobs, ["between us, @cy and @bob"]);
    // Cy saw nothing of either conversation.
    post(&mut ann, "lobby", "barrier").await;
    loop {
        let (name, args) = cy.next_event().await;
        assert!(
            !args.to_string().contains("plan"),
            "leaked in {name}: {args}"
        );
        if name == ChatMessage::NAME && args[0] == "barrier" {
            break;
        }
    }
}

#[tokio::test]
async fn members_complete_from_those_who_may_read_the_conversation() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut anna = server.client(json!({"name": "anna"})).await;
    let _andy = server.client(json!({"name": "andy"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    // The lobby: everyone with a name.
    let all = member_names(&mut bob, json!({"room": "lobby", "prefix": "AN"})).await;
    assert_eq!(all, ["andy", "ann", "anna"]);
    let one = member_names(
        &mut bob,
        json!({"room": "lobby", "prefix": "an", "limit": 1}),
    )
    .await;
    assert_eq!(one.len(), 1);
    // A private room: its members only, and nobody else may ask.
    data(
        &request(
            &mut ann,
            CreateRoom::NAME,
            vec![json!({"name": "secret", "private": true})],
        )
        .await,
    );
    data(
        &request(
            &mut ann,
            AddMember::NAME,
            vec![json!({"room": "secret", "name": "anna"})],
        )
        .await,
    );
    let inside = member_names(&mut anna, json!({"room": "secret", "prefix": "a"})).await;
    assert_eq!(inside, ["ann", "anna"]);
    let refused = request(
        &mut bob,
        ListMembers::NAME,
        vec![json!({"room": "secret", "prefix": "a"})],
    )
    .await;
    assert_eq!(code(&refused), "unknown_room");
    // A public room: the people who joined it.
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "open"})]).await);
    data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "open"})]).await);
    let open = member_names(&mut bob, json!({"room": "open", "prefix": ""})).await;
    assert_eq!(open, ["ann", "bob"]);
    // Display names count too.
    let set = request(
        &mut bob,
        app::events::SetProfile::NAME,
        vec![json!({"displayName": "Zed Bobson"})],
    )
    .await;
    data(&set);
    let by_display = member_names(&mut ann, json!({"room": "open", "prefix": "zed"})).await;
    assert_eq!(by_display, ["bob"]);
    // Bad input: a typed error.
    let long = request(
        &mut bob,
        ListMembers::NAME,
        vec![json!({"room": "open", "prefix": "x".repeat(65)})],
    )
    .await;
    assert_eq!(code(&long), "invalid_payload");
    let nowhere = request(
        &mut bob,
        ListMembers::NAME,
        vec![json!({"room": "Not A Room"})],
    )
    .await;
    assert_eq!(code(&nowhere), "unknown_room");
}

#[tokio::test]
async fn levels_are_kept_per_person_and_reach_their_other_devices() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut phone = server.client(json!({"token": token_of(&ann)})).await;
    let none = data(&request(&mut ann, NotifyLevels::NAME, vec![json!({})]).await);
    assert_eq!(none, json!({}), "nothing chosen yet: defaults");
    let set = request(
        &mut ann,
        SetNotify::NAME,
        vec![json!({"room": "lobby", "level": "none"})],
    )
    .await;
    data(&set);
    let (_, told) = phone.next_event_named(NotifyChanged::NAME).await;
    assert_eq!(told[0], json!({"room": "lobby", "level": "none"}));
    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "bob"})]).await);
    let dm = dm["room"].as_str().unwrap().to_owned();
    data(
        &request(
            &mut ann,
            SetNotify::NAME,
            vec![json!({"room": dm, "level": "mentions"})],
        )
        .await,
    );
    // A new connection of the same person reads them back; Bob's are his own.
    let mut laptop = server.client(json!({"token": token_of(&ann)})).await;
    let levels = data(&request(&mut laptop, NotifyLevels::NAME, vec![json!({})]).await);
    assert_eq!(levels, json!({"lobby": "none", dm.clone(): "mentions"}));
    let bobs = data(&request(&mut bob, NotifyLevels::NAME, vec![json!({})]).await);
    assert_eq!(bobs, json!({}));
    data(
        &request(
            &mut laptop,
            SetNotify::NAME,
            vec![json!({"room": "lobby", "level": "all"})],
        )
        .await,
    );
    let levels = data(&request(&mut phone, NotifyLevels::NAME, vec![json!({})]).await);
    assert_eq!(levels["lobby"], "all");
    // Bob hears nothing of Ann's levels (a message after them is the barrier).
    post(&mut ann, "lobby", "barrier").await;
    loop {
        let (name, args) = bob.next_event().await;
        assert_ne!(name, NotifyChanged::NAME, "{args}");
        if name == ChatMessage::NAME && args[0] == "barrier" {
            break;
        }
    }
}

#[tokio::test]
async fn bad_mention_and_level_requests_get_typed_errors() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut guest = server.client(json!({})).await;
    let cases = [
        (
            SetNotify::NAME,
            json!({"room": "lobby", "level": "loud"}),
            "invalid_payload",
        ),
        (SetNotify::NAME, json!({"room": "lobby"}), "invalid_payload"),
        (
            SetNotify::NAME,
            json!({"room": "no-such-room", "level": "all"}),
            "unknown_room",
        ),
        (
            SetNotify::NAME,
            json!({"room": "dm:x:y", "level": "all"}),
            "unknown_room",
        ),
        (
            ListMentions::NAME,
            json!({"limit": "ten"}),
            "invalid_payload",
        ),
        (ListMembers::NAME, json!({"prefix": "a"}), "invalid_payload"),
    ];
    for (event, args, expected) in cases {
        let ack = request(&mut ann, event, vec![args.clone()]).await;
        assert_eq!(code(&ack), expected, "{event} {args}: {ack}");
    }
    // Guests keep their levels in the page, and have no mentions.
    let ack = request(
        &mut guest,
        SetNotify::NAME,
        vec![json!({"room": "lobby", "level": "none"})],
    )
    .await;
    assert_eq!(code(&ack), "name_required");
    let ack = request(&mut guest, ListMentions::NAME, vec![json!({})]).await;
    assert_eq!(code(&ack), "name_required");
    let levels = data(&request(&mut guest, NotifyLevels::NAME, vec![json!({})]).await);
    assert_eq!(levels, json!({}));
}
