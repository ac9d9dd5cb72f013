//! Rooms, direct conversations and read markers over real TCP, with raw Socket.IO frames.

use std::time::Duration;

use app::events::{
    Announce, BrowseRooms, ChatMessage, CreateRoom, DeleteMessage, Event, History, JoinRoom,
    LeaveRoom, MarkRead, MessageDeleted, OpenDm, Presence, RecentInRoom, RoomList, RoomUpdate,
    SendMessage, StartTyping, Stats, Sync, Synced, Typing,
};
use serde_json::{Value, json};

use crate::support::{self, SioClient, TestServer};

/// The `data` of an ack, or a failure naming the error.
pub(crate) fn data(ack: &Value) -> Value {
    assert!(ack[0]["error"].is_null(), "unexpected error: {ack}");
    ack[0]["data"].clone()
}

pub(crate) fn code(ack: &Value) -> &str {
    ack[0]["error"]["code"].as_str().unwrap_or("(no error)")
}

pub(crate) async fn request(client: &mut SioClient, event: &str, args: Vec<Value>) -> Value {
    client.ask(event, args).await
}

/// The next `chat message` (other events, such as `synced`, are skipped).
pub(crate) async fn next_message(client: &mut SioClient) -> Value {
    loop {
        let (name, args) = client.next_event().await;
        if name == ChatMessage::NAME {
            return args;
        }
    }
}

/// Posts `text` to `room` and returns the ack's data.
pub(crate) async fn post(client: &mut SioClient, room: &str, text: &str) -> Value {
    data(
        &request(
            client,
            SendMessage::NAME,
            vec![json!(text), json!(null), json!(room)],
        )
        .await,
    )
}

pub(crate) type Rooms = std::collections::BTreeMap<String, Value>;

/// The next `rooms` list, as room id to entry.
pub(crate) async fn rooms(client: &mut SioClient) -> Rooms {
    let list = client.next_ambient(RoomList::NAME).await;
    list["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["room"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// The first `rooms` list that has `room` in it.
pub(crate) async fn rooms_with(client: &mut SioClient, room: &str) -> Rooms {
    loop {
        let list = rooms(client).await;
        if list.contains_key(room) {
            return list;
        }
    }
}

/// Ann, Bob and Cy; Ann created `rust` and Bob joined it; Cy did not.
async fn three_with_a_room(server: &TestServer) -> (SioClient, SioClient, SioClient) {
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let cy = server.client(json!({"name": "cy"})).await;
    let created = data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "Rust"})]).await);
    assert_eq!(created["room"], "rust", "names are lowercased");
    assert_eq!(created["joined"], true);
    assert_eq!(created["members"], 1);
    let joined = data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
    assert_eq!(
        (joined["joined"].clone(), joined["members"].clone()),
        (json!(true), json!(2))
    );
    // Everyone in the room hears that Bob joined, as a stored notice.
    let notice = next_message(&mut ann).await;
    assert_eq!(notice[0], "joined");
    assert_eq!(notice[2]["author"], "bob");
    assert_eq!(notice[2]["kind"], "joined");
    assert_eq!(notice[2]["room"], "rust");
    assert_eq!(next_message(&mut bob).await, notice);
    (ann, bob, cy)
}

#[tokio::test]
async fn a_room_message_reaches_its_members_only() {
    support::watch_server_panics();
    let server = TestServer::start().await;
    let (mut ann, mut bob, mut cy) = three_with_a_room(&server).await;

    let posted = post(&mut ann, "rust", "borrowck").await;
    let heard = next_message(&mut bob).await;
    assert_eq!(heard[0], "borrowck");
    assert_eq!(heard[1], posted["id"]);
    assert_eq!(heard[2]["room"], "rust");
    assert_eq!(
        heard[2]["seq"], 2,
        "the notice was the room's first message"
    );
    assert_eq!(next_message(&mut ann).await[0], "borrowck");
    // Cy's next message is the lobby one posted after: the room's never reached him.
    post(&mut ann, "lobby", "after").await;
    let first = next_message(&mut cy).await;
    assert_eq!(
        (first[0].clone(), first[2]["room"].clone()),
        (json!("after"), json!("lobby"))
    );

    // Nor can he read, sync, write or mark it without joining.
    let history = request(&mut cy, History::NAME, vec![json!({"room": "rust"})]).await;
    assert_eq!(code(&history), "not_member");
    let sync = request(&mut cy, Sync::NAME, vec![json!({"since": {"rust": 0}})]).await;
    assert_eq!(code(&sync), "not_member");
    let send = request(
        &mut cy,
        SendMessage::NAME,
        vec![json!("hi"), json!(null), json!("rust")],
    )
    .await;
    assert_eq!(code(&send), "not_member");
    let read = request(
        &mut cy,
        MarkRead::NAME,
        vec![json!({"room": "rust", "seq": 9})],
    )
    .await;
    assert_eq!(code(&read), "not_member");

    // Once he joins, the room's history is his. Bob's "joined" was posted moments ago, so
    // Cy's is gathered with any others' for the end of the room's notice period.
    data(&request(&mut cy, JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
    let page = data(&request(&mut cy, History::NAME, vec![json!({"room": "rust"})]).await);
    let texts: Vec<&Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m[0])
        .collect();
    assert_eq!(texts, [&json!("joined"), &json!("borrowck")]);
    let notice = next_message(&mut cy).await;
    assert_eq!(
        (&notice[0], &notice[2]["author"], &notice[2]["kind"]),
        (&json!("joined"), &json!("cy"), &json!("joined"))
    );
    assert_eq!(support::server_panics(), 0);
}

#[tokio::test]
async fn a_join_answers_the_entry_the_list_shows_and_reaches_the_other_tabs() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "rust"})]).await);
    post(&mut ann, "rust", "one").await;
    post(&mut ann, "rust", "two").await;
    // Bob on one tab: the ack is the entry a list read afterwards shows, but for the head,
    // which is his "joined" notice's there (the notice reaches him live).
    let mut bob = server.client(json!({"name": "bob"})).await;
    let token = bob.session.clone().unwrap()["token"].clone();
    let mut entry = data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
    assert_eq!(
        (&entry["members"], &entry["unread"], &entry["lastSeq"]),
        (&json!(2), &json!(0), &json!(2))
    );
    assert_eq!(next_message(&mut bob).await[2]["seq"], 3);
    let mut later = server.client(json!({ "token": token.clone() })).await;
    let listed = rooms(&mut later).await["rust"].clone();
    entry["lastSeq"] = json!(3);
    assert_eq!(entry, listed);
    // Cy on two tabs: the one that did not ask learns of it from a new list.
    let mut cy = server.client(json!({"name": "cy"})).await;
    let token = cy.session.clone().unwrap()["token"].clone();
    let mut cy_tab = server.client(json!({ "token": token })).await;
    rooms(&mut cy_tab).await;
    let entry = data(&request(&mut cy, JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
    assert_eq!(entry["joined"], true);
    assert_eq!(
        rooms_with(&mut cy_tab, "rust").await["rust"]["joined"],
        true
    );
    drop((ann, later));
}

#[tokio::test]
async fn a_crowd_joining_a_room_is_told_in_two_notices() {
    // A period longer than the default, so that a slow machine still joins everyone within it.
    let server = TestServer::start_with(|c| c.joined_notices_every = Duration::from_secs(5)).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "party"})]).await);
    let mut crowd = Vec::new();
    for name in ["bob", "cy", "dee", "eve", "fay", "gus"] {
        let mut c = server.client(json!({ "name": name })).await;
        data(&request(&mut c, JoinRoom::NAME, vec![json!({"room": "party"})]).await);
        crowd.push(c);
    }
    // The first joiner's notice at once; the five after it in one, at the period's end,
    // which reaches them as well.
    let first = next_message(&mut ann).await;
    assert_eq!(
        (&first[0], &first[2]["author"]),
        (&json!("joined"), &json!("bob"))
    );
    let gathered = next_message(&mut ann).await;
    assert_eq!(
        (&gathered[0], &gathered[2]["author"], &gathered[2]["kind"]),
        (
            &json!("cy, dee, eve and 2 others joined"),
            &json!("cy"),
            &json!("joined")
        )
    );
    assert_eq!(gathered[2]["seq"], 2, "nothing was posted between");
    let heard = next_message(crowd.last_mut().unwrap()).await;
    assert_eq!(heard, gathered);
    let page = data(&request(&mut ann, History::NAME, vec![json!({"room": "party"})]).await);
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn leaving_stops_delivery_and_is_told_to_the_room() {
    // Every notice at once: holding back a "left" soon after a "joined" is tested in limits.rs.
    let server = TestServer::start_with(|c| c.notice_window = Duration::ZERO).await;
    let (mut ann, mut bob, _cy) = three_with_a_room(&server).await;
    let left = data(&request(&mut bob, LeaveRoom::NAME, vec![json!({"room": "rust"})]).await);
    assert_eq!(left, json!({"room": "rust"}));
    let notice = next_message(&mut ann).await;
    assert_eq!(
        (notice[0].clone(), notice[2]["kind"].clone()),
        (json!("left"), json!("left"))
    );
    // Bob sees his own leaving, then nothing more of the room.
    assert_eq!(next_message(&mut bob).await[0], "left");
    post(&mut ann, "rust", "gone?").await;
    post(&mut ann, "lobby", "barrier").await;
    assert_eq!(next_message(&mut bob).await[0], "barrier");
    let again = request(&mut bob, LeaveRoom::NAME, vec![json!({"room": "rust"})]).await;
    assert_eq!(code(&again), "not_member");
}

#[tokio::test]
async fn bad_room_requests_get_typed_errors() {
    support::watch_server_panics();
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut guest = server.client(json!({})).await;

    for bad in ["", "a b", "-x", "dm:a:b", "x".repeat(33).as_str()] {
        let ack = request(&mut ann, CreateRoom::NAME, vec![json!({"name": bad})]).await;
        assert_eq!(code(&ack), "invalid_room_name", "{bad:?}");
    }
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "ops"})]).await);
    let twice = request(&mut ann, CreateRoom::NAME, vec![json!({"name": "OPS"})]).await;
    assert_eq!(code(&twice), "room_exists");
    let lobby = request(&mut ann, CreateRoom::NAME, vec![json!({"name": "lobby"})]).await;
    assert_eq!(code(&lobby), "room_exists");

    let cases = [
        (JoinRoom::NAME, json!({"room": "nowhere"}), "unknown_room"),
        (JoinRoom::NAME, json!({"room": "person:x"}), "unknown_room"),
        (LeaveRoom::NAME, json!({"room": "lobby"}), "cannot_leave"),
        (OpenDm::NAME, json!({"name": "nobody"}), "unknown_person"),
        (History::NAME, json!({"room": "nowhere"}), "unknown_room"),
        (JoinRoom::NAME, json!({"wrong": 1}), "invalid_payload"),
        (CreateRoom::NAME, json!(42), "invalid_payload"),
    ];
    for (event, payload, expected) in cases {
        let ack = request(&mut ann, event, vec![payload.clone()]).await;
        assert_eq!(code(&ack), expected, "{event} {payload}");
    }
    // Her personal room is not a conversation, even though her sockets are in it.
    let personal = request(
        &mut ann,
        SendMessage::NAME,
        vec![json!("x"), json!(null), json!("person:ann")],
    )
    .await;
    assert_eq!(code(&personal), "unknown_room");
    let not_a_string = request(
        &mut ann,
        SendMessage::NAME,
        vec![json!("x"), json!(null), json!(7)],
    )
    .await;
    assert_eq!(code(&not_a_string), "invalid_payload");

    // Guests read and write the lobby only.
    for (event, payload) in [
        (CreateRoom::NAME, json!({"name": "mine"})),
        (JoinRoom::NAME, json!({"room": "ops"})),
        (OpenDm::NAME, json!({"name": "ann"})),
    ] {
        let ack = request(&mut guest, event, vec![payload]).await;
        assert_eq!(code(&ack), "name_required", "{event}");
    }
    let ack = request(
        &mut guest,
        SendMessage::NAME,
        vec![json!("x"), json!(null), json!("ops")],
    )
    .await;
    assert_eq!(code(&ack), "not_member");
    assert_eq!(support::server_panics(), 0);
}

#[tokio::test]
async fn a_direct_conversation_is_private_to_its_two_people() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let bob_token = bob.session.clone().unwrap()["token"].clone();
    let mut bob_tab = server.client(json!({"token": bob_token})).await;
    let mut cy = server.client(json!({"name": "cy"})).await;

    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "BOB"})]).await);
    assert_eq!(dm["kind"], "dm");
    assert_eq!(dm["title"], "bob");
    assert_eq!(dm["members"], 2);
    let id = dm["room"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dm:"));
    // Bob's tabs learn of it with its first message; his list has it from then on, titled
    // with Ann's name.
    let posted = post(&mut ann, &id, "just between us").await;
    for reader in [&mut bob, &mut bob_tab] {
        let m = next_message(reader).await;
        assert_eq!(
            (m[0].clone(), m[1].clone()),
            (json!("just between us"), posted["id"].clone())
        );
    }
    let mut bob_later = server.client(json!({"token": bob_token})).await;
    let bobs = rooms_with(&mut bob_later, &id).await;
    assert_eq!(
        (&bobs[&id]["title"], &bobs[&id]["unread"]),
        (&json!("ann"), &json!(1))
    );
    drop(bob_later);
    bob.emit(StartTyping::NAME, vec![json!({"room": id})]).await;
    assert_eq!(
        ann.next_ambient(Typing::NAME).await,
        json!({"room": id, "name": "bob"})
    );

    // Cy cannot read it by any event: each answers as if it did not exist.
    let attempts = [
        (History::NAME, vec![json!({"room": id})]),
        (Sync::NAME, vec![json!({"since": {id.as_str(): 0}})]),
        (
            SendMessage::NAME,
            vec![json!("let me in"), json!(null), json!(id)],
        ),
        (MarkRead::NAME, vec![json!({"room": id, "seq": 1})]),
        (JoinRoom::NAME, vec![json!({"room": id})]),
        (LeaveRoom::NAME, vec![json!({"room": id})]),
    ];
    for (event, args) in attempts {
        let ack = request(&mut cy, event, args).await;
        assert!(
            ["unknown_room", "cannot_leave"].contains(&code(&ack)),
            "{event}: {ack}"
        );
        assert!(
            !ack.to_string().contains("between us"),
            "{event} leaked: {ack}"
        );
    }
    cy.emit(StartTyping::NAME, vec![json!({"room": id})]).await;
    // A reconnect naming it in `since` replays nothing of it either.
    let cy_token = cy.session.clone().unwrap()["token"].clone();
    let mut cy_again = server
        .client(json!({"token": cy_token, "since": {"lobby": 0, id.as_str(): 0}}))
        .await;
    let list = rooms(&mut cy_again).await;
    assert!(
        !list.contains_key(&id),
        "cy's list shows no one else's conversation"
    );
    // Barrier: a lobby message after everything above. Cy's sockets saw none of the DM.
    post(&mut ann, "lobby", "barrier").await;
    for reader in [&mut cy, &mut cy_again] {
        loop {
            let (name, args) = reader.next_event().await;
            assert!(
                !args.to_string().contains("between us"),
                "leaked in {name}: {args}"
            );
            if name == ChatMessage::NAME && args[0] == "barrier" {
                break;
            }
        }
    }
    assert_eq!(
        cy.try_next_ambient(Typing::NAME, Duration::from_millis(200))
            .await,
        None
    );

    // Its history is theirs to read, also after a restart.
    drop((ann, bob, bob_tab, cy, cy_again));
    let mut server = server;
    server.restart().await;
    let mut bob = server.client(json!({"token": bob_token})).await;
    let page = data(&request(&mut bob, History::NAME, vec![json!({"room": id})]).await);
    assert_eq!(page["messages"][0][0], "just between us");
}

/// The next `presence` of `room`, skipping those of other rooms.
async fn presence_of(client: &mut SioClient, room: &str) -> Value {
    loop {
        let p = client.next_ambient(Presence::NAME).await;
        if p["room"] == room {
            return p;
        }
    }
}

#[tokio::test]
async fn a_direct_conversation_tells_its_two_people_which_of_them_is_online() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let bob = server.client(json!({"name": "bob"})).await;
    let mut cy = server.client(json!({"name": "cy"})).await;
    let bob_token = bob.session.clone().unwrap()["token"].clone();
    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "bob"})]).await);
    let id = dm["room"].as_str().unwrap().to_owned();
    let both = json!({"room": id, "online": ["ann", "bob"], "guests": 0});
    assert_eq!(presence_of(&mut ann, &id).await, both);
    // Bob hears of it with its first message, and is told who is online from then on.
    post(&mut ann, &id, "hi bob").await;

    bob.drop_connection().await;
    let alone = json!({"room": id, "online": ["ann"], "guests": 0});
    assert_eq!(presence_of(&mut ann, &id).await, alone);

    let mut bob = server.client(json!({"token": bob_token})).await;
    assert_eq!(presence_of(&mut bob, &id).await, both);
    assert_eq!(presence_of(&mut ann, &id).await, both);

    // Nobody else hears of it: cy's presence events are all of the lobby.
    while let Some(p) = cy
        .try_next_ambient(Presence::NAME, Duration::from_millis(300))
        .await
    {
        assert_eq!(p["room"], "lobby", "{p}");
    }
}

/// The room names of a `browse rooms` page, and whether more follow.
pub(crate) async fn browse(client: &mut SioClient, request: Value) -> (Vec<String>, bool) {
    let page = data(&client.ask(BrowseRooms::NAME, vec![request]).await);
    let names = page["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(
                (&r["joined"], &r["unread"], &r["kind"]),
                (&json!(false), &json!(0), &json!("room")),
                "{r}"
            );
            r["room"].as_str().unwrap().to_owned()
        })
        .collect();
    (names, page["more"].as_bool().unwrap())
}

#[tokio::test]
async fn the_list_holds_ones_own_and_the_rest_are_browsed_a_page_at_a_time() {
    support::watch_server_panics();
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    for name in ["rust", "alpha", "delta", "beta", "gamma"] {
        data(&request(&mut ann, CreateRoom::NAME, vec![json!({ "name": name })]).await);
    }
    let mut bob = server.client(json!({"name": "bob"})).await;
    data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "beta"})]).await);

    // Bob's list: what he is in, however many rooms exist.
    let token = bob.session.clone().unwrap()["token"].clone();
    let mut tab = server.client(json!({ "token": token })).await;
    let list = rooms(&mut tab).await;
    assert_eq!(list.keys().collect::<Vec<_>>(), ["beta", "lobby"]);

    // The others, by name, a page at a time, each counted.
    let (first, more) = browse(&mut bob, json!({"limit": 2})).await;
    assert_eq!((first, more), (vec!["alpha".into(), "delta".into()], true));
    let (second, more) = browse(&mut bob, json!({"after": "delta", "limit": 2})).await;
    assert_eq!((second, more), (vec!["gamma".into(), "rust".into()], false));
    let page = data(&request(&mut bob, BrowseRooms::NAME, vec![json!({"limit": 1})]).await);
    assert_eq!(
        (&page["rooms"][0]["members"], &page["rooms"][0]["title"]),
        (&json!(1), &json!("alpha"))
    );

    // By name: a part of it, in any case.
    let (found, _) = browse(&mut bob, json!({"matching": "TA"})).await;
    assert_eq!(found, ["delta"], "beta is his already");
    let (found, _) = browse(&mut bob, json!({"matching": " rus "})).await;
    assert_eq!(found, ["rust"]);
    let (found, more) = browse(&mut bob, json!({"matching": "zig"})).await;
    assert!(found.is_empty() && !more);

    // Ann is in all of them; a guest may look at all of them but the lobby.
    assert_eq!(browse(&mut ann, json!({})).await, (vec![], false));
    let mut guest = server.client(json!({})).await;
    assert_eq!(
        rooms(&mut guest).await.keys().collect::<Vec<_>>(),
        ["lobby"]
    );
    let (all, _) = browse(&mut guest, json!({})).await;
    assert_eq!(all, ["alpha", "beta", "delta", "gamma", "rust"]);

    // Bad requests get typed errors; a limit out of range is brought into it.
    let long = "a".repeat(app::events::MAX_ROOM_NAME_CHARS + 1);
    for bad in [
        json!({ "matching": long }),
        json!(5),
        json!({"limit": "ten"}),
    ] {
        let ack = request(&mut bob, BrowseRooms::NAME, vec![bad.clone()]).await;
        assert_eq!(code(&ack), "invalid_payload", "{bad}");
    }
    let (one, more) = browse(&mut bob, json!({"limit": 0})).await;
    assert_eq!((one.len(), more), (1, true));
}

#[tokio::test]
async fn memberships_and_unread_counts_persist() {
    let mut server = TestServer::start().await;
    let (mut ann, bob, _cy) = three_with_a_room(&server).await;
    let bob_token = bob.session.clone().unwrap()["token"].clone();
    let ann_token = ann.session.clone().unwrap()["token"].clone();
    drop(bob);
    for i in 0..3 {
        post(&mut ann, "rust", &format!("m{i}")).await;
    }
    drop(ann);
    server.restart().await;

    let mut bob = server.client(json!({"token": bob_token})).await;
    let list = rooms(&mut bob).await;
    let rust = &list["rust"];
    assert_eq!(rust["joined"], true);
    assert_eq!(rust["members"], 2);
    // Bob's join notice (seq 1) and three messages; notices are not counted as unread.
    assert_eq!(rust["unread"], 3);
    assert_eq!(rust["lastSeq"], 4);
    assert_eq!(list["lobby"]["joined"], true);
    // He is in the room again without asking: messages reach him.
    let mut ann = server.client(json!({"token": ann_token})).await;
    post(&mut ann, "rust", "welcome back").await;
    assert_eq!(next_message(&mut bob).await[0], "welcome back");

    // Reading moves the marker forward, never back, and never past the newest message.
    let read = |seq: i64| vec![json!({"room": "rust", "seq": seq})];
    let ack = request(&mut bob, MarkRead::NAME, read(99)).await;
    assert_eq!(data(&ack), Value::Null);
    request(&mut bob, MarkRead::NAME, read(2)).await;
    let mut tab = server.client(json!({"token": bob_token.clone()})).await;
    assert_eq!(rooms(&mut tab).await["rust"]["unread"], 0);
    post(&mut ann, "rust", "still news").await;
    let mut later = server.client(json!({"token": bob_token})).await;
    assert_eq!(rooms(&mut later).await["rust"]["unread"], 1);
}

#[tokio::test]
async fn presence_and_counts_follow_joins() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "ops"})]).await);
    let mut bob = server.client(json!({"name": "bob"})).await;
    // Bob hears of the room from the directory: one member, online.
    loop {
        let update = bob.next_ambient(RoomUpdate::NAME).await;
        if update["room"] == "ops" {
            assert_eq!(update, json!({"room": "ops", "members": 1, "online": 1}));
            break;
        }
    }
    data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "ops"})]).await);
    loop {
        let p = ann.next_ambient(Presence::NAME).await;
        if p["room"] == "ops" && p["online"] == json!(["ann", "bob"]) {
            break;
        }
    }
    loop {
        let update = ann.next_ambient(RoomUpdate::NAME).await;
        if update == json!({"room": "ops", "members": 2, "online": 2}) {
            break;
        }
    }
    bob.drop_connection().await;
    loop {
        let p = ann.next_ambient(Presence::NAME).await;
        if p["room"] == "ops" {
            assert_eq!(p["online"], json!(["ann"]));
            break;
        }
    }
}

/// Beyond `counts_to_everyone_up_to` people online, a room's changed counts go to its members
/// only; a new room is still announced to everyone.
#[tokio::test]
async fn on_a_big_server_counts_go_to_members_only() {
    // "Big" from two people online.
    let server = TestServer::start_with(|c| c.counts_to_everyone_up_to = 1).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "ops"})]).await);
    while bob.next_ambient(RoomUpdate::NAME).await["room"] != "ops" {}
    let mut cat = server.client(json!({"name": "cat"})).await;
    data(&request(&mut cat, JoinRoom::NAME, vec![json!({"room": "ops"})]).await);
    loop {
        let update = ann.next_ambient(RoomUpdate::NAME).await;
        if update["room"] == "ops" && update["members"] == 2 {
            break;
        }
    }
    // A room created after that reaches everyone: Bob would have heard of ops's new count
    // before it.
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "zzz"})]).await);
    loop {
        let update = bob.next_ambient(RoomUpdate::NAME).await;
        assert_ne!(update["room"], "ops", "a non-member heard {update}");
        if update["room"] == "zzz" {
            break;
        }
    }
}

#[tokio::test]
async fn older_pages_load_fifty_at_a_time() {
    // Unthrottled, to fill the room quickly.
    let server = TestServer::start_with(|c| c.rate_limit = 0.0).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "long"})]).await);
    for i in 0..120 {
        post(&mut ann, "long", &format!("m{i}")).await;
    }
    let mut before: Option<i64> = None;
    let mut seen = Vec::new();
    loop {
        let mut q = json!({"room": "long"});
        if let Some(b) = before {
            q["before"] = json!(b);
        }
        let page = data(&request(&mut ann, History::NAME, vec![q]).await);
        let messages = page["messages"].as_array().unwrap();
        assert!(messages.len() <= 50);
        before = messages.first().map(|m| m[1].as_i64().unwrap());
        let texts: Vec<String> = messages
            .iter()
            .map(|m| m[0].as_str().unwrap().to_owned())
            .collect();
        seen.splice(0..0, texts);
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(seen[0], "m0");
    assert_eq!(seen[119], "m119");
}

#[tokio::test]
async fn a_deleted_message_is_gone_live_and_from_history() {
    let server = TestServer::start().await;
    let (mut ann, mut bob, _cy) = three_with_a_room(&server).await;
    let posted = post(&mut ann, "rust", "regrettable").await;
    next_message(&mut bob).await;
    let mut admin = server.admin().await;
    let deleted = data(
        &request(
            &mut admin,
            DeleteMessage::NAME,
            vec![json!({"id": posted["id"]})],
        )
        .await,
    );
    assert_eq!(deleted, json!({"room": "rust", "id": posted["id"]}));
    loop {
        let (name, args) = bob.next_event().await;
        if name == MessageDeleted::NAME {
            assert_eq!(args[0], deleted);
            break;
        }
    }
    let page = data(&request(&mut bob, History::NAME, vec![json!({"room": "rust"})]).await);
    let tomb = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m[1] == posted["id"])
        .expect("the tombstone keeps its place")
        .clone();
    assert_eq!(tomb[0], "");
    assert_eq!(tomb[2]["kind"], "deleted");
    assert_eq!(tomb[2]["author"], "");
    assert_eq!(tomb[2]["seq"], posted["seq"], "no hole in the room's seq");
    assert!(!page.to_string().contains("regrettable"));
    let missing = request(
        &mut admin,
        DeleteMessage::NAME,
        vec![json!({"id": 999_999})],
    )
    .await;
    assert_eq!(code(&missing), "unknown_message");
}

#[tokio::test]
async fn a_reconnect_catches_up_every_conversation_it_names() {
    let server = TestServer::start().await;
    let (mut ann, bob, _cy) = three_with_a_room(&server).await;
    let bob_token = bob.session.clone().unwrap()["token"].clone();
    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "bob"})]).await);
    let dm = dm["room"].as_str().unwrap().to_owned();
    drop(bob);
    let seen = post(&mut ann, "rust", "r1").await;
    post(&mut ann, "rust", "r2").await;
    post(&mut ann, &dm, "d1").await;
    // Bob held the room up to r1 and nothing of the conversation.
    let since = json!({"lobby": 0, "rust": seen["id"], dm.as_str(): 0, "nowhere": 0});
    let mut bob = server
        .client(json!({"token": bob_token, "since": since}))
        .await;
    let mut replayed = Vec::new();
    let mut synced = std::collections::BTreeMap::new();
    while synced.len() < 3 {
        let (name, args) = bob.next_event().await;
        match name.as_str() {
            n if n == ChatMessage::NAME => replayed.push(args[0].clone()),
            n if n == Synced::NAME => {
                synced.insert(
                    args[0]["room"].as_str().unwrap().to_owned(),
                    args[0].clone(),
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Each conversation in order; conversations one after another.
    replayed.sort_by_key(|t| t.to_string());
    assert_eq!(replayed, [json!("d1"), json!("r2")]);
    let mut expected = vec![dm.clone(), "lobby".to_owned(), "rust".to_owned()];
    expected.sort();
    assert_eq!(
        synced.keys().cloned().collect::<Vec<_>>(),
        expected,
        "one synced per readable conversation; `nowhere` is skipped"
    );
    assert_eq!(synced["rust"]["replayed"], 1);
}

#[tokio::test]
async fn moderators_post_to_rooms_but_cannot_read_direct_conversations() {
    let server = TestServer::start().await;
    let (mut ann, mut bob, _cy) = three_with_a_room(&server).await;
    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "bob"})]).await);
    let dm = dm["room"].as_str().unwrap().to_owned();
    let secret = post(&mut ann, &dm, "secret").await["id"].clone();
    let mut admin = server.admin().await;

    // Without a room, an announcement goes to every public room (not to conversations).
    let posted = data(
        &request(
            &mut admin,
            Announce::NAME,
            vec![json!({"text": "maintenance"})],
        )
        .await,
    );
    assert_eq!(
        posted.as_array().unwrap().len(),
        2,
        "lobby and rust: {posted}"
    );
    let mut rooms_heard = Vec::new();
    while rooms_heard.len() < 2 {
        let m = next_message(&mut bob).await;
        if m[0] == "maintenance" {
            assert_eq!(m[2]["kind"], "announcement");
            rooms_heard.push(m[2]["room"].as_str().unwrap().to_owned());
        }
    }
    rooms_heard.sort();
    assert_eq!(rooms_heard, ["lobby", "rust"]);
    let one = data(
        &request(
            &mut admin,
            Announce::NAME,
            vec![json!({"room": "rust", "text": "r"})],
        )
        .await,
    );
    assert_eq!(one.as_array().unwrap().len(), 1);
    for room in ["nowhere", dm.as_str()] {
        let ack = request(
            &mut admin,
            Announce::NAME,
            vec![json!({"room": room, "text": "x"})],
        )
        .await;
        assert_eq!(code(&ack), "unknown_room", "{room}");
        let ack = request(&mut admin, RecentInRoom::NAME, vec![json!({"room": room})]).await;
        assert_eq!(code(&ack), "unknown_room", "{room}");
        assert!(!ack.to_string().contains("secret"));
    }
    // Nor delete from it: its messages are answered like ids that do not exist, and the
    // answer names no conversation.
    let ack = request(
        &mut admin,
        DeleteMessage::NAME,
        vec![json!({ "id": secret })],
    )
    .await;
    assert_eq!(code(&ack), "unknown_message", "{ack}");
    assert!(!ack.to_string().contains("dm:"), "{ack}");
    let page = data(&request(&mut bob, History::NAME, vec![json!({ "room": dm })]).await);
    let texts: Vec<&Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m[0])
        .collect();
    assert_eq!(texts, [&json!("secret")], "still there");
    let recent = data(
        &request(
            &mut admin,
            RecentInRoom::NAME,
            vec![json!({"room": "rust"})],
        )
        .await,
    );
    let texts: Vec<&Value> = recent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m[0])
        .collect();
    assert_eq!(
        texts,
        [&json!("joined"), &json!("maintenance"), &json!("r")]
    );

    // Stats list public rooms only: no one's personal room, no conversation.
    loop {
        let (name, args) = admin.next_event().await;
        if name != Stats::NAME {
            continue;
        }
        let rooms: Vec<&str> = args[0]["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["room"].as_str().unwrap())
            .collect();
        assert_eq!(rooms, ["lobby", "rust"]);
        break;
    }
}

#[tokio::test]
async fn a_join_sent_as_soon_as_connected_puts_every_socket_in_the_room() {
    let server = TestServer::start_with(|c| c.name_limit = "off".parse().unwrap()).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "rust"})]).await);
    // A crowd arrives and joins at once, each without waiting for its connect handler.
    let addr = server.addr;
    let crowd: Vec<SioClient> = futures_util::future::join_all((0..30).map(|i| async move {
        let mut c = SioClient::connect_unsettled(addr, json!({"name": format!("n{i}")})).await;
        data(&request(&mut c, JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
        c
    }))
    .await;
    post(&mut ann, "rust", "welcome").await;
    for mut c in crowd {
        loop {
            let m = next_message(&mut c).await;
            if m[0] == "welcome" {
                break;
            }
        }
    }
}

#[tokio::test]
async fn rooms_made_as_soon_as_connected_count_their_maker_once() {
    let server = TestServer::start_with(|c| {
        c.create_limit = "off".parse().unwrap();
        c.name_limit = "off".parse().unwrap();
    })
    .await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    // Bots create rooms while their connect handlers may still be putting them in their rooms.
    let addr = server.addr;
    let bots = futures_util::future::join_all((0..8).map(|b| async move {
        let mut bot = SioClient::connect_unsettled(addr, json!({"name": format!("bot{b}")})).await;
        for i in 0..8 {
            let room = json!({"name": format!("room-{b}-{i}")});
            data(&request(&mut bot, CreateRoom::NAME, vec![room]).await);
        }
        bot
    }))
    .await;
    drop(bots);
    // Once the lobby says the bots have gone, their disconnects have counted them out
    // everywhere.
    loop {
        let lobby = presence_of(&mut ann, "lobby").await;
        if lobby["online"] == json!(["ann"]) {
            break;
        }
    }
    let page = data(&request(&mut ann, BrowseRooms::NAME, vec![json!({"limit": 100})]).await);
    let online: Vec<(Value, Value)> = page["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["room"].clone(), r["online"].clone()))
        .collect();
    assert_eq!(online.len(), 64);
    for (room, n) in online {
        assert_eq!(n, 0, "{room} still counts its bot online");
    }
}
