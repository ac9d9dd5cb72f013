//! Incoming webhooks, the bot API and `/admin`'s management of them, over real HTTP and real
//! sockets: a program posts, people in the room hear it; whatever is wrong gets its status
//! and a typed JSON error, and stores nothing.

use std::time::Duration;

use app::events::{
    CreateBot, CreateOutgoingWebhook, CreateRoom, CreateWebhook, Event as _, ListBots,
    ListDeadLetters, ListOutgoingWebhooks, ListWebhooks, MessageKind, OpenDm, RecentInRoom,
    RemoveOutgoingWebhook, RevokeBot, RevokeWebhook, RoomList, SendMessage,
};
use palaver_server::Limit;
use serde_json::{Value, json};

use crate::support::{HttpReply, SioClient, TestServer, http_request};

const CHAT: &str = SendMessage::NAME;
const JSON: &str = "Content-Type: application/json\r\n";
const FORM: &str = "Content-Type: application/x-www-form-urlencoded\r\n";

/// `request`'s ack data, failing the test on an error.
async fn made(admin: &mut SioClient, event: &str, request: Value) -> Value {
    let (ack, _) = admin.request(event, vec![request]).await;
    assert!(ack[0]["error"].is_null(), "{event}: {ack}");
    ack[0]["data"].clone()
}

/// `request`'s error code.
async fn refused(admin: &mut SioClient, event: &str, request: Value) -> Value {
    let (ack, _) = admin.request(event, vec![request]).await;
    ack[0]["error"]["code"].clone()
}

async fn post(server: &TestServer, path: &str, headers: &str, body: &str) -> HttpReply {
    http_request(server.addr, "POST", path, headers, body.as_bytes()).await
}

/// The next `chat message` `client` receives, notices ("joined") aside: text and meta.
async fn heard(client: &mut SioClient) -> (Value, Value) {
    loop {
        let (_, args) = client.next_event_named(CHAT).await;
        if !matches!(args[2]["kind"].as_str(), Some("joined" | "left")) {
            return (args[0].clone(), args[2].clone());
        }
    }
}

/// The texts of a public room's newest messages, as `/admin` reads them.
async fn texts_in(admin: &mut SioClient, room: &str) -> Vec<String> {
    let page = made(admin, RecentInRoom::NAME, json!({"room": room})).await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_webhook_posts_to_its_room_and_the_room_hears_it() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let created = made(
        &mut admin,
        CreateWebhook::NAME,
        json!({"room": "lobby", "name": "ci"}),
    )
    .await;
    let path = created["path"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap();
    assert_eq!(created["webhook"]["room"], "lobby");
    assert_eq!(created["webhook"]["name"], "ci");
    assert!(
        path.starts_with("/hooks/") && path.ends_with(token),
        "{path}"
    );
    assert_eq!(
        created["url"],
        format!("http://{}{path}", server.addr),
        "the full URL, on the address the server listens on"
    );

    // Slack's JSON, with a username: the room hears it, marked as a program's.
    let reply = post(
        &server,
        &path,
        JSON,
        r#"{"text": "build 42 passed", "username": "deploy", "icon_emoji": ":ok:"}"#,
    )
    .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    let (text, meta) = heard(&mut ann).await;
    assert_eq!(text, "build 42 passed");
    assert_eq!(meta["author"], "deploy");
    assert_eq!(meta["kind"], json!(MessageKind::Bot));

    // A tool's name as people write it: its spaces become dashes.
    let reply = post(
        &server,
        &path,
        JSON,
        r#"{"text": "site is up", "username": "Uptime  Robot"}"#,
    )
    .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    let (_, meta) = heard(&mut ann).await;
    assert_eq!(meta["author"], "Uptime-Robot");

    // Slack's form, `payload=`, without a username: the hook's name.
    let form = format!("payload={}", url_encoded(r#"{"text": "deployed & done"}"#));
    let reply = post(&server, &path, FORM, &form).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    let (text, meta) = heard(&mut ann).await;
    assert_eq!(
        (text, meta["author"].clone()),
        (json!("deployed & done"), json!("ci"))
    );

    // `curl -d '{…}'` types its JSON as a form: taken as the JSON it is. A blank username is
    // none.
    let reply = post(
        &server,
        &path,
        FORM,
        r#"{"text": "curl says hi", "username": " "}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (text, meta) = heard(&mut ann).await;
    assert_eq!(
        (text, meta["author"].clone()),
        (json!("curl says hi"), json!("ci"))
    );

    // Another room's hook reaches that room.
    ann.ask(CreateRoom::NAME, vec![json!({"name": "rust"})])
        .await;
    let rust = made(
        &mut admin,
        CreateWebhook::NAME,
        json!({"room": "rust", "name": "crates"}),
    )
    .await;
    let reply = post(
        &server,
        rust["path"].as_str().unwrap(),
        JSON,
        r#"{"text":"serde 2"}"#,
    )
    .await;
    assert_eq!(reply.status, 200);
    let (text, meta) = heard(&mut ann).await;
    assert_eq!(
        (text, meta["room"].clone()),
        (json!("serde 2"), json!("rust"))
    );
    // Unread, as a person's message is (a notice is not).
    let session = ann.session.clone().unwrap()["token"].clone();
    let mut tab = server.client(json!({"token": session})).await;
    let list = tab.next_ambient(RoomList::NAME).await;
    let rust = list["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room"] == "rust")
        .cloned()
        .unwrap();
    assert_eq!(rust["unread"], 1, "{rust}");

    // Stored like any message: in history, and on the page.
    assert_eq!(
        texts_in(&mut admin, "lobby").await,
        [
            "build 42 passed",
            "site is up",
            "deployed & done",
            "curl says hi"
        ]
    );
    let listed = made(&mut admin, ListWebhooks::NAME, json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(token),
        "tokens are shown once, when made"
    );
}

/// Percent-encodes all but unreserved characters, as a form does.
fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_webhook_refuses_bad_tokens_bodies_and_revoked_hooks_and_stores_nothing() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let created = made(
        &mut admin,
        CreateWebhook::NAME,
        json!({"room": "lobby", "name": "ci"}),
    )
    .await;
    let path = created["path"].as_str().unwrap().to_owned();
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();
    let good = r#"{"text":"hi"}"#;

    // A wrong token and an unknown hook are alike: 404, nothing said about which ids exist.
    let wrong = format!("/hooks/{id}/{}", "0".repeat(64));
    for (path, body) in [
        (wrong.as_str(), good),
        ("/hooks/0000000000000000/abc", good),
    ] {
        let reply = post(&server, path, JSON, body).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert_eq!(reply.json()["error"]["code"], "unknown_webhook");
    }

    let cases: [(&str, &str, u16, &str); 8] = [
        (JSON, "{\"text\": ", 400, "invalid_request"),
        (JSON, "[\"hi\"]", 400, "invalid_request"),
        (JSON, r#"{"username": "ci"}"#, 400, "invalid_request"),
        (JSON, r#"{"text": " \n "}"#, 400, "empty"),
        (
            JSON,
            r#"{"text": "hi", "username": "Adm1n"}"#,
            400,
            "invalid_bot_name",
        ),
        (
            JSON,
            r#"{"text": "hi", "username": "a <b>"}"#,
            400,
            "invalid_bot_name",
        ),
        (FORM, "text=hi", 400, "invalid_request"),
        (FORM, "payload=%7Bnot", 400, "invalid_request"),
    ];
    for (headers, body, status, code) in cases {
        let reply = post(&server, &path, headers, body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        let error = &reply.json()["error"];
        assert_eq!(error["code"], code, "{body}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    let long = json!({"text": "x".repeat(4_001)}).to_string();
    let reply = post(&server, &path, JSON, &long).await;
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].clone()),
        (400, json!("too_long"))
    );

    // Over 16 KiB: 413, whatever it holds.
    let huge = json!({"text": "x".repeat(17 * 1024)}).to_string();
    let reply = post(&server, &path, JSON, &huge).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "payload_too_large");

    assert!(
        texts_in(&mut admin, "lobby").await.is_empty(),
        "nothing stored"
    );
    assert_eq!(post(&server, &path, JSON, good).await.status, 200);

    // Revoked: 410 to whoever holds the token.
    let revoked = made(&mut admin, RevokeWebhook::NAME, json!({"id": id})).await;
    assert!(revoked["revokedAt"].is_i64(), "{revoked}");
    let reply = post(&server, &path, JSON, good).await;
    assert_eq!(reply.status, 410);
    assert_eq!(reply.json()["error"]["code"], "webhook_revoked");
    assert_eq!(texts_in(&mut admin, "lobby").await, ["hi"]);
    // GET is no way in either.
    let reply = http_request(server.addr, "GET", &path, "", b"").await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn a_flood_through_one_webhook_is_answered_429_and_others_go_on() {
    let server =
        TestServer::start_with(|c| c.webhook_limit = Limit::every(3, Duration::from_secs(3600)))
            .await;
    let mut admin = server.admin().await;
    let make = json!({"room": "lobby", "name": "ci"});
    let one = made(&mut admin, CreateWebhook::NAME, make.clone()).await;
    let two = made(&mut admin, CreateWebhook::NAME, make).await;
    let (one, two) = (one["path"].as_str().unwrap(), two["path"].as_str().unwrap());
    let body = r#"{"text":"tick"}"#;
    for _ in 0..3 {
        assert_eq!(post(&server, one, JSON, body).await.status, 200);
    }
    let reply = post(&server, one, JSON, body).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "rate_limited");
    assert!(error["retry_after_ms"].as_u64().unwrap() > 1_000);
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
    // The budget is the hook's own.
    assert_eq!(post(&server, two, JSON, body).await.status, 200);
    assert_eq!(texts_in(&mut admin, "lobby").await.len(), 4);
}

async fn bot(admin: &mut SioClient, name: &str) -> (String, String) {
    let created = made(admin, CreateBot::NAME, json!({"name": name})).await;
    (
        created["bot"]["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

#[tokio::test]
async fn a_bot_posts_and_reads_with_its_token_until_it_is_revoked() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let (id, token) = bot(&mut admin, "deploy").await;
    let auth = bearer(&token) + JSON;
    let messages = "/api/v1/rooms/lobby/messages";

    let reply = post(
        &server,
        messages,
        &auth,
        r#"{"text": "v1.2 is out", "offset": "rel-1.2"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let posted = reply.json();
    assert!(posted["id"].is_i64() && posted["ts"].is_i64(), "{posted}");
    assert_eq!(posted["seq"], 1);
    let (text, meta) = heard(&mut ann).await;
    assert_eq!(text, "v1.2 is out");
    assert_eq!(
        (meta["author"].clone(), meta["kind"].clone()),
        (json!("deploy"), json!("bot"))
    );

    // A retry of the offset is the same message, stored and broadcast once.
    let again = post(
        &server,
        messages,
        &auth,
        r#"{"text": "v1.2 is out", "offset": "rel-1.2"}"#,
    )
    .await;
    assert_eq!((again.status, again.json()), (200, posted.clone()));
    let other = post(
        &server,
        messages,
        &auth,
        r#"{"text": "v1.3", "offset": "rel-1.2"}"#,
    )
    .await;
    assert_eq!(
        (other.status, other.json()["error"]["code"].clone()),
        (409, json!("offset_in_use"))
    );
    for text in ["two", "three"] {
        let body = json!({"text": text}).to_string();
        assert_eq!(post(&server, messages, &auth, &body).await.status, 200);
    }
    ann.request(CHAT, vec![json!("from ann")]).await;

    // Reading: by seq, a page at a time.
    let read = |query: &'static str| {
        let auth = bearer(&token);
        let addr = server.addr;
        async move {
            let path = format!("/api/v1/rooms/lobby/messages{query}");
            http_request(addr, "GET", &path, &auth, b"").await
        }
    };
    let page = read("").await.json();
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["v1.2 is out", "two", "three", "from ann"]);
    assert_eq!(page["more"], false);
    assert_eq!(page["messages"][0]["kind"], "bot");
    assert_eq!(page["messages"][3]["author"], "ann");
    assert!(page["messages"][3].get("kind").is_none());
    let first = read("?after=1&limit=2").await.json();
    assert_eq!(
        (
            first["messages"][0]["seq"].clone(),
            first["messages"][1]["seq"].clone(),
            first["more"].clone()
        ),
        (json!(2), json!(3), json!(true))
    );
    for bad in ["?after=-1", "?after=x", "?limit=0", "?limit=101"] {
        let reply = read(bad).await;
        assert_eq!(
            (reply.status, reply.json()["error"]["code"].clone()),
            (400, json!("invalid_request")),
            "{bad}"
        );
    }

    // Rooms that are not public and existing are unknown.
    let bob = server.client(json!({"name": "bob"})).await;
    let dm = ann.ask(OpenDm::NAME, vec![json!({"name": "bob"})]).await;
    let dm = dm[0]["data"]["room"].as_str().unwrap().to_owned();
    for room in [dm.as_str(), "nowhere", "Not%20a%20room"] {
        let path = format!("/api/v1/rooms/{room}/messages");
        let reply = post(&server, &path, &auth, r#"{"text":"hi"}"#).await;
        assert_eq!(
            (reply.status, reply.json()["error"]["code"].clone()),
            (404, json!("unknown_room")),
            "{room}"
        );
        let reply = http_request(server.addr, "GET", &path, &bearer(&token), b"").await;
        assert_eq!(reply.status, 404, "{room}");
    }
    drop(bob);
    let reply = post(&server, messages, &auth, r#"{"text":"hi","extra":1}"#).await;
    assert_eq!(reply.status, 400);

    // Without a token, or with a wrong one: 401.
    let forged = format!("pvb_{id}_{}", "0".repeat(64));
    for headers in [
        JSON.to_owned(),
        format!("Authorization: Basic {token}\r\n"),
        bearer("pvb_nope"),
        bearer(&forged),
    ] {
        let reply = post(&server, messages, &headers, r#"{"text":"hi"}"#).await;
        assert_eq!(reply.status, 401, "{headers}");
        assert_eq!(reply.json()["error"]["code"], "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }

    // Revoked: refused, reads too.
    made(&mut admin, RevokeBot::NAME, json!({"id": id})).await;
    let reply = post(&server, messages, &auth, r#"{"text":"hi"}"#).await;
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].clone()),
        (401, json!("token_revoked"))
    );
    assert_eq!(read("").await.status, 401);
    let bots = made(&mut admin, ListBots::NAME, json!({})).await;
    assert!(
        bots[0]["revokedAt"].is_i64() && !bots.to_string().contains(&token),
        "{bots}"
    );
    assert_eq!(texts_in(&mut admin, "lobby").await.len(), 4);
}

#[tokio::test]
async fn a_bot_over_its_budget_is_answered_429() {
    let server =
        TestServer::start_with(|c| c.bot_limit = Limit::every(2, Duration::from_secs(3600))).await;
    let mut admin = server.admin().await;
    let (_, token) = bot(&mut admin, "noisy").await;
    let (_, calm) = bot(&mut admin, "calm").await;
    let path = "/api/v1/rooms/lobby/messages";
    assert_eq!(
        post(&server, path, &(bearer(&token) + JSON), r#"{"text":"1"}"#)
            .await
            .status,
        200
    );
    assert_eq!(
        http_request(server.addr, "GET", path, &bearer(&token), b"")
            .await
            .status,
        200
    );
    let reply = post(&server, path, &(bearer(&token) + JSON), r#"{"text":"2"}"#).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["error"]["code"], "rate_limited");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(
        post(&server, path, &(bearer(&calm) + JSON), r#"{"text":"3"}"#)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn moderators_make_revoke_and_list_webhooks_bots_and_outgoing_webhooks() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let _bob = server.client(json!({"name": "bob"})).await;
    let dm = ann.ask(OpenDm::NAME, vec![json!({"name": "bob"})]).await;
    let dm = dm[0]["data"]["room"].as_str().unwrap().to_owned();

    for room in ["nowhere", dm.as_str()] {
        let code = refused(
            &mut admin,
            CreateWebhook::NAME,
            json!({"room": room, "name": "ci"}),
        )
        .await;
        assert_eq!(code, "unknown_room", "{room}");
        let url = "https://example.org/hook";
        let code = refused(
            &mut admin,
            CreateOutgoingWebhook::NAME,
            json!({"room": room, "url": url}),
        )
        .await;
        assert_eq!(code, "unknown_room", "{room}");
    }
    for name in ["", "admin", "palaver", "two words", &"x".repeat(33)] {
        let code = refused(
            &mut admin,
            CreateWebhook::NAME,
            json!({"room": "lobby", "name": name}),
        )
        .await;
        assert_eq!(code, "invalid_bot_name", "{name:?}");
        assert_eq!(
            refused(&mut admin, CreateBot::NAME, json!({"name": name})).await,
            "invalid_bot_name"
        );
    }
    for unknown in [
        RevokeWebhook::NAME,
        RevokeBot::NAME,
        RemoveOutgoingWebhook::NAME,
    ] {
        let code = refused(&mut admin, unknown, json!({"id": "nope"})).await;
        let expected = if unknown == RevokeBot::NAME {
            "unknown_bot"
        } else {
            "unknown_webhook"
        };
        assert_eq!(code, expected, "{unknown}");
    }
    assert_eq!(
        refused(&mut admin, CreateBot::NAME, json!({})).await,
        "invalid_payload"
    );

    // Outgoing webhooks: public addresses only, unless the server allows others.
    for url in [
        "http://127.0.0.1:9/",
        "http://localhost/",
        "https://10.1.1.1/",
        "https://[::1]/",
        "ftp://example.org/",
        "nothing",
    ] {
        let code = refused(
            &mut admin,
            CreateOutgoingWebhook::NAME,
            json!({"room": "lobby", "url": url}),
        )
        .await;
        assert_eq!(code, "invalid_webhook_url", "{url}");
    }
    ann.request(CHAT, vec![json!("before the hook")]).await;
    let created = made(
        &mut admin,
        CreateOutgoingWebhook::NAME,
        json!({"room": "lobby", "url": "https://example.org/hook"}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    let hook = &created["webhook"];
    let id = hook["id"].as_str().unwrap().to_owned();
    assert_eq!(hook["room"], "lobby");
    assert!(
        hook["deliveredUpTo"].as_i64().unwrap() > 0,
        "starts after the room's newest: {hook}"
    );
    let listed = made(
        &mut admin,
        ListOutgoingWebhooks::NAME,
        json!({"room": "lobby"}),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["deadLetters"], 0);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );
    let removed = made(&mut admin, RemoveOutgoingWebhook::NAME, json!({"id": id})).await;
    assert!(removed["removedAt"].is_i64());
    let listed = made(&mut admin, ListOutgoingWebhooks::NAME, json!({})).await;
    assert!(listed[0]["removedAt"].is_i64());
    assert_eq!(
        made(&mut admin, ListDeadLetters::NAME, json!({"hook": id})).await,
        json!([])
    );

    // Only moderators: the main namespace is told so.
    let (ack, _) = ann
        .request(
            CreateWebhook::NAME,
            vec![json!({"room": "lobby", "name": "x"})],
        )
        .await;
    assert_eq!(ack[0]["error"]["code"], "admin_only");
}

#[tokio::test]
async fn with_private_addresses_allowed_an_outgoing_webhook_may_go_to_loopback() {
    let server = TestServer::start_with(|c| c.webhooks_allow_private = true).await;
    let mut admin = server.admin().await;
    let created = made(
        &mut admin,
        CreateOutgoingWebhook::NAME,
        json!({"room": "lobby", "url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert_eq!(created["webhook"]["url"], "http://127.0.0.1:9/hook");
    assert_eq!(created["webhook"]["deliveredUpTo"], 0);
}
