//! Private rooms and room settings (issue 21): a private room is invisible and unreadable, by
//! every event, to anyone not in it; its members add people by name; its owner and the
//! server's moderators remove them; unlisted rooms are not browsed; announcement rooms take
//! posts from their owner and moderators only.

use std::time::Duration;

use app::events::{
    AddMember, Announce, ChatMessage, CreateRoom, Event as _, History, JoinRoom, LeaveRoom,
    MarkRead, RecentInRoom, RemoveMember, RoomSettings, RoomUpdate, SendMessage, StartExport,
    StartTyping, Stats, Sync, Typing,
};
use serde_json::json;

use crate::rooms::{browse, code, data, next_message, post, request, rooms, rooms_with};
use crate::support::{SioClient, TestServer};

/// Ann's private room `secret`, with a message in it; Bob and Cy are not in it.
async fn ann_bob_cy_and_a_secret(server: &TestServer) -> (SioClient, SioClient, SioClient) {
    let mut ann = server.client(json!({"name": "ann"})).await;
    let bob = server.client(json!({"name": "bob"})).await;
    let cy = server.client(json!({"name": "cy"})).await;
    let made = data(
        &request(
            &mut ann,
            CreateRoom::NAME,
            vec![json!({"name": "secret", "private": true})],
        )
        .await,
    );
    assert_eq!(
        (&made["private"], &made["manage"], &made["joined"]),
        (&json!(true), &json!(true), &json!(true))
    );
    post(&mut ann, "secret", "the hidden plan").await;
    (ann, bob, cy)
}

#[tokio::test]
async fn a_private_room_is_invisible_and_unreadable_to_anyone_not_in_it() {
    let server = TestServer::start().await;
    let (mut ann, mut bob, _cy) = ann_bob_cy_and_a_secret(&server).await;
    let attempts = [
        (History::NAME, vec![json!({"room": "secret"})]),
        (Sync::NAME, vec![json!({"since": {"secret": 0}})]),
        (
            SendMessage::NAME,
            vec![json!("let me in"), json!(null), json!("secret")],
        ),
        (MarkRead::NAME, vec![json!({"room": "secret", "seq": 1})]),
        (JoinRoom::NAME, vec![json!({"room": "secret"})]),
        (StartExport::NAME, vec![json!({"room": "secret"})]),
        (
            AddMember::NAME,
            vec![json!({"room": "secret", "name": "bob"})],
        ),
        (
            RoomSettings::NAME,
            vec![json!({"room": "secret", "posting": "members"})],
        ),
        (
            RemoveMember::NAME,
            vec![json!({"room": "secret", "name": "ann"})],
        ),
    ];
    for (event, args) in attempts {
        let ack = request(&mut bob, event, args).await;
        assert_eq!(code(&ack), "unknown_room", "{event}: {ack}");
    }
    let ack = request(&mut bob, LeaveRoom::NAME, vec![json!({"room": "secret"})]).await;
    assert_eq!(code(&ack), "not_member", "as for any room one is not in");
    bob.emit(StartTyping::NAME, vec![json!({"room": "secret"})])
        .await;
    let (found, _) = browse(&mut bob, json!({})).await;
    assert!(!found.contains(&"secret".to_owned()), "{found:?}");
    // Moderators and programs do not see it either.
    let mut admin = server.admin().await;
    let recent = admin
        .ask(RecentInRoom::NAME, vec![json!({"room": "secret"})])
        .await;
    assert_eq!(code(&recent), "unknown_room");
    let announced = admin
        .ask(Announce::NAME, vec![json!({"text": "to all rooms"})])
        .await;
    assert!(!announced.to_string().contains("secret"), "{announced}");
    let stats = admin.next_event_named(Stats::NAME).await;
    assert!(!stats.1.to_string().contains("secret"), "{stats:?}");
    // Bob reconnects naming it in `since`: nothing of it is replayed.
    let token = bob.session.clone().unwrap()["token"].clone();
    let mut again = server
        .client(json!({"token": token, "since": {"lobby": 0, "secret": 0}}))
        .await;
    assert!(!rooms(&mut again).await.contains_key("secret"));
    // Barrier: a lobby message after everything above; Bob's sockets saw nothing of the room.
    post(&mut ann, "lobby", "barrier").await;
    for reader in [&mut bob, &mut again] {
        loop {
            let (name, args) = reader.next_event().await;
            assert!(
                !args.to_string().contains("secret"),
                "leaked in {name}: {args}"
            );
            if name == ChatMessage::NAME && args[0] == "barrier" {
                break;
            }
        }
        for ambient in [Typing::NAME, RoomUpdate::NAME] {
            if let Some(leak) = reader
                .try_next_ambient(ambient, Duration::from_millis(300))
                .await
            {
                assert!(
                    !leak.to_string().contains("secret"),
                    "leaked in {ambient}: {leak}"
                );
            }
        }
    }
}

#[tokio::test]
async fn members_add_people_by_name_and_the_owner_or_a_moderator_removes_them() {
    let server = TestServer::start().await;
    let (mut ann, mut bob, mut cy) = ann_bob_cy_and_a_secret(&server).await;
    let added = request(
        &mut ann,
        AddMember::NAME,
        vec![json!({"room": "secret", "name": "bob"})],
    )
    .await;
    assert_eq!(added[0], json!({"data": null}));
    let list = rooms_with(&mut bob, "secret").await;
    assert_eq!(list["secret"]["private"], true);
    assert_eq!(
        list["secret"].get("manage"),
        None,
        "bob is no manager of it"
    );
    let page = data(&request(&mut bob, History::NAME, vec![json!({"room": "secret"})]).await);
    assert!(page.to_string().contains("the hidden plan"));
    // A member adds another; only the owner (or a moderator) removes.
    request(
        &mut bob,
        AddMember::NAME,
        vec![json!({"room": "secret", "name": "cy"})],
    )
    .await;
    rooms_with(&mut cy, "secret").await;
    let refused = request(
        &mut bob,
        RemoveMember::NAME,
        vec![json!({"room": "secret", "name": "cy"})],
    )
    .await;
    assert_eq!(code(&refused), "not_manager");
    let nobody = request(
        &mut ann,
        AddMember::NAME,
        vec![json!({"room": "secret", "name": "zed"})],
    )
    .await;
    assert_eq!(code(&nobody), "unknown_person");

    let removed = request(
        &mut ann,
        RemoveMember::NAME,
        vec![json!({"room": "secret", "name": "bob"})],
    )
    .await;
    assert_eq!(removed[0], json!({"data": null}));
    loop {
        if !rooms(&mut bob).await.contains_key("secret") {
            break;
        }
    }
    let history = request(&mut bob, History::NAME, vec![json!({"room": "secret"})]).await;
    assert_eq!(code(&history), "unknown_room");
    post(&mut ann, "secret", "after bob left").await;
    post(&mut ann, "lobby", "barrier").await;
    loop {
        let args = next_message(&mut bob).await;
        assert_ne!(args[0], "after bob left", "bob's sockets left the room");
        if args[0] == "barrier" {
            break;
        }
    }
}

#[tokio::test]
async fn unlisted_rooms_are_joined_by_name_and_announcement_rooms_take_their_owners_posts() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    data(&request(&mut ann, CreateRoom::NAME, vec![json!({"name": "news"})]).await);
    let changed = data(
        &request(
            &mut ann,
            RoomSettings::NAME,
            vec![json!({"room": "news", "listed": false, "posting": "managers"})],
        )
        .await,
    );
    assert_eq!(
        (&changed["listed"], &changed["posting"]),
        (&json!(false), &json!("managers"))
    );
    let (found, _) = browse(&mut bob, json!({})).await;
    assert!(!found.contains(&"news".to_owned()), "{found:?}");
    data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "news"})]).await);
    let refused = request(
        &mut bob,
        SendMessage::NAME,
        vec![json!("me too"), json!(null), json!("news")],
    )
    .await;
    assert_eq!(code(&refused), "read_only_room");
    let settings = request(
        &mut bob,
        RoomSettings::NAME,
        vec![json!({"room": "news", "posting": "members"})],
    )
    .await;
    assert_eq!(code(&settings), "not_manager");
    post(&mut ann, "news", "from the owner").await;
    // Posting opens again for everyone: at once, on this node.
    data(
        &request(
            &mut ann,
            RoomSettings::NAME,
            vec![json!({"room": "news", "posting": "members"})],
        )
        .await,
    );
    // Bob, a member, hears the new settings.
    loop {
        let update = bob.next_ambient(RoomUpdate::NAME).await;
        if update["room"] == "news" && update["posting"] == "members" {
            assert_eq!(update["listed"], false, "{update}");
            break;
        }
    }
    post(&mut bob, "news", "now me").await;
}
