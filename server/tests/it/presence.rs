//! Presence and typing over real TCP.

use std::time::Duration;

use app::events::{Event, Presence, SendMessage, StartTyping, Typing};
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn presence_follows_people_not_tabs() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    assert_eq!(
        ann.next_ambient(Presence::NAME).await,
        json!({"room": "lobby", "online": ["ann"], "guests": 0})
    );
    let mut bob = server.client(json!({"name": "bob"})).await;
    let both = json!({"room": "lobby", "online": ["ann", "bob"], "guests": 0});
    assert_eq!(bob.next_ambient(Presence::NAME).await, both);
    assert_eq!(ann.next_ambient(Presence::NAME).await, both);

    // A second tab of Ann's changes nothing: the next change bob hears is the guest's.
    let token = ann.session.clone().unwrap()["token"].clone();
    let tab = server.client(json!({"token": token})).await;
    let _guest = server.client(json!({})).await;
    let with_guest = json!({"room": "lobby", "online": ["ann", "bob"], "guests": 1});
    assert_eq!(bob.next_ambient(Presence::NAME).await, with_guest);

    // Closing one of her tabs changes nothing either; closing the last one does.
    tab.drop_connection().await;
    let _guest2 = server.client(json!({})).await;
    assert_eq!(
        bob.next_ambient(Presence::NAME).await,
        json!({"room": "lobby", "online": ["ann", "bob"], "guests": 2})
    );
    ann.drop_connection().await;
    assert_eq!(
        bob.next_ambient(Presence::NAME).await,
        json!({"room": "lobby", "online": ["bob"], "guests": 2})
    );
}

#[tokio::test]
async fn typing_reaches_the_others_in_the_room() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut guest = server.client(json!({})).await;

    ann.emit(StartTyping::NAME, vec![json!({"room": "lobby"})])
        .await;
    assert_eq!(
        bob.next_ambient(Typing::NAME).await,
        json!({"room": "lobby", "name": "ann"})
    );
    assert_eq!(
        guest.next_ambient(Typing::NAME).await,
        json!({"room": "lobby", "name": "ann"})
    );

    // Ignored: a guest's typing, a room the sender is not in, and malformed payloads. Bob's
    // own typing, sent after them, is what Ann hears first, and the server stays well.
    guest
        .emit(StartTyping::NAME, vec![json!({"room": "lobby"})])
        .await;
    ann.emit(StartTyping::NAME, vec![json!({"room": "elsewhere"})])
        .await;
    ann.emit(StartTyping::NAME, vec![json!(42)]).await;
    bob.emit(StartTyping::NAME, vec![json!({"room": "lobby"})])
        .await;
    assert_eq!(
        ann.next_ambient(Typing::NAME).await,
        json!({"room": "lobby", "name": "bob"})
    );
    // The sender does not hear its own.
    assert_eq!(
        bob.try_next_ambient(Typing::NAME, Duration::from_millis(300))
            .await,
        None
    );
    let (ack, _) = ann
        .request(SendMessage::NAME, vec![json!("done typing")])
        .await;
    assert!(ack[0]["data"]["id"].is_i64());
}
