//! The authors of an imported Slack export: kept as the names the messages were written under,
//! listed on `/admin` until claimed, then the messages are the claiming person's, and importing
//! the archive again neither duplicates them nor gives them back their old name.

use std::io::Write as _;

use app::events::{ClaimAuthor, Event as _, History, ImportedAuthors, JoinRoom};
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

use crate::support::{SioClient, TestServer, http_request};

/// A Slack export of one channel: Ann Smith (a display name no Palaver name can be) wrote two
/// messages and bob.k one.
fn slack_export() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    let mut file = |name: &str, value: Value| {
        zip.start_file(name, options).unwrap();
        zip.write_all(&serde_json::to_vec(&value).unwrap()).unwrap();
    };
    file("channels.json", json!([{"id": "C1", "name": "general"}]));
    file(
        "users.json",
        json!([
            {"id": "U1", "name": "ann", "real_name": "Ann Smith", "profile": {"display_name": "Ann Smith"}},
            {"id": "U2", "name": "bob.k", "profile": {"display_name": ""}},
        ]),
    );
    file(
        "general/2024-01-01.json",
        json!([
            {"type": "message", "user": "U1", "text": "first", "ts": "1704067200.000100"},
            {"type": "message", "user": "U2", "text": "second", "ts": "1704067201.000100"},
            {"type": "message", "user": "U1", "text": "third", "ts": "1704067202.000100"},
        ]),
    );
    zip.finish().unwrap().into_inner()
}

async fn answer(client: &mut SioClient, event: &str, request: Value) -> Value {
    let (ack, _) = client.request(event, vec![request]).await;
    ack[0].clone()
}

/// Imports the export as the moderator and waits for the job to end: its summary.
async fn import(server: &TestServer, admin: &mut SioClient, zip: &[u8]) -> String {
    let auth = format!("Authorization: Bearer {}\r\n", server.admin_token().await);
    let queued = http_request(server.addr, "POST", "/imports?format=slack", &auth, zip).await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let job = queued.json()["job"].clone();
    loop {
        let (_, args) = admin.next_event_named("job").await;
        if args[0]["id"] == job && args[0]["state"] == "done" {
            return args[0]["summary"].as_str().unwrap().to_owned();
        }
        assert_ne!(args[0]["state"], "dead", "{args:?}");
    }
}

/// The authors of `room`'s history, oldest first, notices (of joining) left out.
async fn authors(client: &mut SioClient, room: &str) -> Vec<String> {
    let page = answer(client, History::NAME, json!({"room": room})).await;
    page["data"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .filter(|m| m[2]["kind"].is_null())
        .map(|m| m[2]["author"].as_str().expect("an author").to_owned())
        .collect()
}

#[tokio::test]
async fn imported_authors_are_listed_until_a_person_claims_their_messages() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let zip = slack_export();
    let summary = import(&server, &mut admin, &zip).await;
    assert!(summary.starts_with("3 message(s) imported"), "{summary}");

    let mut ann = server.client(json!({"name": "ann"})).await;
    let joined = answer(&mut ann, JoinRoom::NAME, json!({"room": "general"})).await;
    assert!(joined["error"].is_null(), "{joined}");
    assert_eq!(
        authors(&mut ann, "general").await,
        ["Ann Smith", "bob.k", "Ann Smith"]
    );
    let listed = answer(&mut admin, ImportedAuthors::NAME, json!({})).await;
    assert_eq!(
        listed["data"],
        json!([{"author": "Ann Smith", "messages": 2}, {"author": "bob.k", "messages": 1}])
    );

    // Only a person's name can claim, and only a moderator can ask.
    let nobody = answer(
        &mut admin,
        ClaimAuthor::NAME,
        json!({"author": "Ann Smith", "name": "nobody"}),
    )
    .await;
    assert_eq!(nobody["error"]["code"], "unknown_person", "{nobody}");
    let blank = answer(
        &mut admin,
        ClaimAuthor::NAME,
        json!({"author": " ", "name": "ann"}),
    )
    .await;
    assert_eq!(blank["error"]["code"], "empty", "{blank}");
    let (refused, _) = ann
        .request(
            ClaimAuthor::NAME,
            vec![json!({"author": "Ann Smith", "name": "ann"})],
        )
        .await;
    assert!(refused[0]["error"].is_object(), "{refused}");

    let claimed = answer(
        &mut admin,
        ClaimAuthor::NAME,
        json!({"author": "Ann Smith", "name": "ANN"}),
    )
    .await;
    assert_eq!(
        claimed["data"],
        json!({"author": "Ann Smith", "name": "ann", "messages": 2})
    );
    assert_eq!(authors(&mut ann, "general").await, ["ann", "bob.k", "ann"]);
    let listed = answer(&mut admin, ImportedAuthors::NAME, json!({})).await;
    assert_eq!(listed["data"], json!([{"author": "bob.k", "messages": 1}]));

    // Again: nothing left to claim, and an import of the same archive adds nothing.
    let again = answer(
        &mut admin,
        ClaimAuthor::NAME,
        json!({"author": "Ann Smith", "name": "ann"}),
    )
    .await;
    assert_eq!(again["data"]["messages"], 0);
    let summary = import(&server, &mut admin, &zip).await;
    assert!(
        summary.starts_with("0 message(s) imported, 3 already there"),
        "{summary}"
    );
    assert_eq!(authors(&mut ann, "general").await, ["ann", "bob.k", "ann"]);
}
