//! The `/admin` namespace over real TCP: its token, live stats, kick and announcements.

use app::events::{
    Admin, Announce, Ban, DeleteMessage, Event, Kick, Kicked, MessageKind, Namespace, SendMessage,
    Stats, Unban,
};
use serde_json::{Value, json};

use crate::support::{PATIENCE, Packet, Refused, SioClient, TestServer};

const CHAT: &str = SendMessage::NAME;

async fn admin(server: &TestServer) -> SioClient {
    server.admin().await
}

/// The next `stats` whose lobby has exactly `members` (none: the room does not exist).
async fn stats_with_lobby(admin: &mut SioClient, members: &[&str]) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let (event, args) = admin.next_event().await;
            assert_eq!(event, Stats::NAME);
            let stats = args[0].clone();
            let lobby = stats["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["room"] == "lobby")
                .cloned();
            let seen = lobby.map_or(json!([]), |l| l["members"].clone());
            if seen == json!(members) {
                return stats;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no stats with lobby members {members:?}"))
}

#[tokio::test]
async fn only_the_admin_token_opens_admin() {
    let server = TestServer::start().await;
    for auth in [json!({}), json!({"token": "guess"}), json!({"token": 7})] {
        match SioClient::connect(server.addr, Admin::PATH, auth.clone()).await {
            Err(Refused::ConnectError(e)) => assert_eq!(e["message"], "unauthorized", "{auth}"),
            Ok(_) => panic!("{auth} was let into /admin"),
        }
    }
    // A person of the main namespace cannot take admin actions there either.
    let mut ann = server.client(json!({"name": "ann"})).await;
    let (ack, _) = ann.request(Kick::NAME, vec![json!({"name": "ann"})]).await;
    assert_eq!(ack[0]["error"]["code"], "admin_only");
    let (ack, _) = ann
        .request(Announce::NAME, vec![json!({"text": "hi"})])
        .await;
    assert_eq!(ack[0]["error"]["code"], "admin_only");
    let (ack, _) = ann
        .request(DeleteMessage::NAME, vec![json!({"id": 1})])
        .await;
    assert_eq!(ack[0]["error"]["code"], "admin_only");
    let (ack, _) = ann.request("no such event", vec![]).await;
    assert_eq!(ack[0]["error"]["code"], "unknown_event");
}

#[tokio::test]
async fn stats_are_live() {
    let server = TestServer::start().await;
    let mut admin = admin(&server).await;
    let first = stats_with_lobby(&mut admin, &[]).await;
    assert_eq!(
        first["namespaces"][1],
        json!({"path": "/admin", "sockets": 1})
    );

    let mut ann = server.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"].clone();
    let _tab = server.client(json!({"token": token})).await;
    let _guest = server.client(json!({})).await;
    // Two tabs are one person; the guest shows as anonymous.
    let stats = stats_with_lobby(&mut admin, &["ann", "anonymous"]).await;
    assert_eq!(stats["namespaces"][0], json!({"path": "/", "sockets": 3}));
    assert_eq!(stats["rooms"][0]["sockets"], 3);

    ann.request(CHAT, vec![json!("one")]).await;
    ann.request(CHAT, vec![json!("two")]).await;
    let counted = tokio::time::timeout(PATIENCE, async {
        loop {
            let (_, args) = admin.next_event().await;
            if args[0]["messagesPerMinute"] == 2 {
                break;
            }
        }
    });
    counted.await.expect("messages per minute reached 2");
}

#[tokio::test]
async fn an_announcement_reaches_the_room_and_stays_in_history() {
    let server = TestServer::start().await;
    let mut admin = admin(&server).await;
    let mut bob = server.client(json!({"name": "bob"})).await;

    let (ack, _) = admin
        .request(
            Announce::NAME,
            vec![json!({"text": "  maintenance at 6  "})],
        )
        .await;
    let id = ack[0]["data"][0]["id"]
        .as_i64()
        .expect("posted to the lobby");
    let (event, args) = bob.next_event().await;
    assert_eq!(event, CHAT);
    assert_eq!(args[0], "maintenance at 6");
    assert_eq!(args[1], id);
    assert_eq!(args[2]["author"], "admin");
    assert_eq!(args[2]["kind"], json!(MessageKind::Announcement));

    let (ack, _) = admin
        .request(
            Announce::NAME,
            vec![json!({"room": "nowhere", "text": "x"})],
        )
        .await;
    assert_eq!(ack[0]["error"]["code"], "unknown_room");
    let (ack, _) = admin
        .request(Announce::NAME, vec![json!({"text": " "})])
        .await;
    assert_eq!(ack[0]["error"]["code"], "empty");
    let (ack, _) = admin.request(Announce::NAME, vec![json!("text")]).await;
    assert_eq!(ack[0]["error"]["code"], "invalid_payload");

    // Nobody can claim the announcer's name.
    assert_eq!(
        server.refused(json!({"name": "Admin"})).await,
        "reserved_name"
    );
    let (_, page) = server.get("/").await;
    assert!(page.contains("maintenance at 6"));
}

#[tokio::test]
async fn a_kicked_person_is_told_and_disconnected_everywhere() {
    let server = TestServer::start().await;
    let mut admin = admin(&server).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"].clone();
    let mut tab = server.client(json!({"token": token})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;

    let (ack, _) = admin
        .request(Kick::NAME, vec![json!({"name": "ANN", "reason": "spam"})])
        .await;
    assert_eq!(ack[0]["data"]["sockets"], 2);
    for socket in [&mut ann, &mut tab] {
        let (event, args) = socket.next_event().await;
        assert_eq!(
            (event.as_str(), &args[0]),
            (Kicked::NAME, &json!({"reason": "spam"}))
        );
        assert!(matches!(socket.next_packet().await, Packet::Disconnect));
    }
    // Bob carries on.
    let (ack, _) = bob.request(CHAT, vec![json!("still here")]).await;
    assert!(ack[0]["data"]["id"].is_i64(), "{ack:?}");

    let (ack, _) = admin
        .request(Kick::NAME, vec![json!({"name": "nobody"})])
        .await;
    assert_eq!(ack[0]["error"]["code"], "unknown_person");
    let (ack, _) = admin
        .request(Kick::NAME, vec![json!({"name": "anonymous"})])
        .await;
    assert_eq!(ack[0]["error"]["code"], "unknown_person");
    let (ack, _) = admin.request("no such thing", vec![]).await;
    assert_eq!(ack[0]["error"]["code"], "unknown_event");
}

/// A kick is not a ban: the kicked reconnect with their token. A banned person's sockets are
/// disconnected, their tokens refused, and their name stays theirs until the ban is lifted.
#[tokio::test]
async fn a_banned_person_is_disconnected_refused_and_keeps_their_name() {
    let server = TestServer::start().await;
    let mut admin = admin(&server).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"].clone();
    let mut tab = server.client(json!({"token": token})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let bobs_token = bob.session.clone().unwrap()["token"].clone();

    let (ack, _) = admin
        .request(Ban::NAME, vec![json!({"name": "ANN", "reason": "spam"})])
        .await;
    assert_eq!(ack[0]["data"]["sockets"], 2, "{ack}");
    for socket in [&mut ann, &mut tab] {
        let (event, args) = socket.next_event().await;
        assert_eq!(
            (event.as_str(), &args[0]),
            (Kicked::NAME, &json!({"reason": "spam"}))
        );
        assert!(matches!(socket.next_packet().await, Packet::Disconnect));
    }
    // Her token no longer lets her in, under her name or another; nobody else gets hers.
    assert_eq!(server.refused(json!({"token": token})).await, "banned");
    assert_eq!(
        server
            .refused(json!({"token": token, "name": "ann2"}))
            .await,
        "banned"
    );
    assert_eq!(server.refused(json!({"name": "Ann"})).await, "name_taken");
    // Bob carries on.
    let (ack, _) = bob.request(CHAT, vec![json!("still here")]).await;
    assert!(ack[0]["data"]["id"].is_i64(), "{ack:?}");

    // Someone offline can be banned too; nobody is nobody.
    bob.drop_connection().await;
    stats_with_lobby(&mut admin, &[]).await;
    let (ack, _) = admin.request(Ban::NAME, vec![json!({"name": "bob"})]).await;
    assert_eq!(ack[0]["data"]["sockets"], 0, "{ack}");
    assert_eq!(server.refused(json!({"token": bobs_token})).await, "banned");
    for (event, name) in [
        (Ban::NAME, "nobody"),
        (Unban::NAME, "nobody"),
        (Ban::NAME, "anonymous"),
    ] {
        let (ack, _) = admin.request(event, vec![json!({"name": name})]).await;
        assert_eq!(ack[0]["error"]["code"], "unknown_person", "{event} {name}");
    }
    let (ack, _) = admin.request(Ban::NAME, vec![json!("ann")]).await;
    assert_eq!(ack[0]["error"]["code"], "invalid_payload");

    // Lifted: the same token works again, under the same name.
    let (ack, _) = admin
        .request(Unban::NAME, vec![json!({"name": "ANN"})])
        .await;
    assert_eq!(ack[0]["data"], json!({"name": "ann"}));
    let back = server.client(json!({"token": token})).await;
    assert_eq!(back.session.unwrap()["name"], "ann");
}
