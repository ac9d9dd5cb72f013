//! Black-box tests of the main namespace over real TCP, with a real SQLite file.

use std::time::Duration;

use app::events::{Event, HISTORY_PAGE, MAX_CLIENT_OFFSET_CHARS, MAX_MESSAGE_CHARS, SendMessage};
use app::history::FirstPage;
use serde_json::{Value, json};

use crate::support::{self, Refused, SioClient, TestServer};

/// `chat message`: the same name both ways, as in the Socket.IO tutorial.
const CHAT: &str = SendMessage::NAME;

fn posted_id(ack: &Value) -> i64 {
    ack[0]["data"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("not a successful ack: {ack}"))
}

fn error_code(ack: &Value) -> &str {
    ack[0]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error ack: {ack}"))
}

#[tokio::test]
async fn a_message_is_acked_after_storing_and_broadcast_to_everyone() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({})).await;

    let (ack, before_ack) = ann.request(CHAT, vec![json!("hello"), json!("c-1")]).await;
    let id = posted_id(&ack);
    let ts = ack[0]["data"]["ts"].as_i64().unwrap();
    assert!(ts > 1_600_000_000_000, "ts is epoch milliseconds: {ts}");

    // The tutorial's `io.emit`: the sender hears its own message too, before the ack.
    let expected = json!(["hello", id, {"room": "lobby", "author": "ann", "ts": ts, "seq": 1, "clientOffset": "c-1"}]);
    assert_eq!(before_ack, vec![(CHAT.to_owned(), expected.clone())]);
    assert_eq!(bob.next_event().await, (CHAT.to_owned(), expected));

    // Bob has no name: he is anonymous, and ids keep increasing.
    let (ack2, _) = bob.request(CHAT, vec![json!("  hi ann  ")]).await;
    assert!(posted_id(&ack2) > id);
    let (_, args) = ann.next_event().await;
    assert_eq!(args[0], "hi ann", "text is trimmed");
    assert_eq!(args[2]["author"], "anonymous");
    assert!(args[2].get("clientOffset").is_none());
}

#[tokio::test]
async fn a_repeated_client_offset_is_stored_once_and_acked_every_time() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({})).await;

    let (first, _) = ann.request(CHAT, vec![json!("once"), json!("dup")]).await;
    let (again, events) = ann.request(CHAT, vec![json!("once"), json!("dup")]).await;
    assert_eq!(posted_id(&first), posted_id(&again));
    assert_eq!(first, again, "the original id and time are acknowledged");
    assert!(events.is_empty(), "a repeat is not broadcast: {events:?}");

    // Bob sees the message once: the next thing after it is the next message.
    assert_eq!(bob.next_event().await.1[0], "once");
    ann.request(CHAT, vec![json!("next"), json!("other")]).await;
    assert_eq!(bob.next_event().await.1[0], "next");

    // After a restart the offset is still known.
    let token = ann.session.clone().unwrap()["token"].clone();
    let mut server = server;
    server.restart().await;
    let mut ann = server.client(json!({"token": token})).await;
    let (after_restart, _) = ann.request(CHAT, vec![json!("once"), json!("dup")]).await;
    assert_eq!(posted_id(&after_restart), posted_id(&first));
}

/// Offsets are each sender's own. With one offset space for the whole server, a message sent
/// under someone else's offset was not stored, and its sender got the other message's ack.
#[tokio::test]
async fn a_client_offset_is_its_senders_own() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;

    let (first, _) = ann.request(CHAT, vec![json!("ann's"), json!("k1")]).await;
    assert_eq!(bob.next_event().await.1[0], "ann's");
    // Bob's "k1" is another message: stored, broadcast, acknowledged under its own id.
    let (bobs, _) = bob.request(CHAT, vec![json!("bob's"), json!("k1")]).await;
    assert_ne!(posted_id(&bobs), posted_id(&first));
    let (_, args) = ann.next_event().await;
    assert_eq!(
        (&args[0], &args[1]),
        (&json!("bob's"), &bobs[0]["data"]["id"])
    );
    // Ann's retry still gets her own message back; her "k1" with other words is refused.
    let (again, _) = ann.request(CHAT, vec![json!("ann's"), json!("k1")]).await;
    assert_eq!(again, first);
    let (clash, events) = ann
        .request(CHAT, vec![json!("other words"), json!("k1")])
        .await;
    assert_eq!(error_code(&clash), "offset_in_use");
    assert!(events.is_empty(), "nothing was broadcast: {events:?}");
    let (clash, _) = ann
        .request(CHAT, vec![json!("ann's"), json!("k1"), json!("nowhere")])
        .await;
    assert_eq!(
        error_code(&clash),
        "unknown_room",
        "checked before the offset"
    );

    // Guests have no stable id: their retries after a reconnect must still find their
    // message, so they share one offset space, and only a retry of the same words matches.
    let mut guest = server.client(json!({})).await;
    let (mine, _) = guest.request(CHAT, vec![json!("g"), json!("g-1")]).await;
    guest.drop_connection().await;
    let mut back = server.client(json!({})).await;
    let (retry, _) = back.request(CHAT, vec![json!("g"), json!("g-1")]).await;
    assert_eq!(retry, mine);
    let (other, _) = back.request(CHAT, vec![json!("not g"), json!("g-1")]).await;
    assert_eq!(error_code(&other), "offset_in_use");

    // A number is an offset too, the same as its decimal string; anything else is refused.
    let (number, _) = back.request(CHAT, vec![json!("n"), json!(7)]).await;
    let (string, _) = back.request(CHAT, vec![json!("n"), json!("7")]).await;
    assert_eq!(number, string);
    let (odd, _) = back.request(CHAT, vec![json!("n"), json!(true)]).await;
    assert_eq!(error_code(&odd), "invalid_payload");
}

#[tokio::test]
async fn connecting_with_a_server_offset_replays_what_was_missed_in_order() {
    let mut server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (ack, _) = ann.request(CHAT, vec![json!(text)]).await;
        ids.push(posted_id(&ack));
    }

    let mut late = server.client(json!({"serverOffset": ids[0]})).await;
    for (text, id) in [("two", ids[1]), ("three", ids[2])] {
        let (name, args) = late.next_event().await;
        assert_eq!(
            (name.as_str(), &args[0], &args[1]),
            (CHAT, &json!(text), &json!(id))
        );
    }
    // Then live traffic, with nothing replayed twice.
    ann.request(CHAT, vec![json!("four")]).await;
    assert_eq!(late.next_event().await.1[0], "four");

    // Everything survives a restart; a fresh client (offset 0) gets it all.
    server.restart().await;
    let mut fresh = server.client(json!({"serverOffset": 0})).await;
    let mut texts = Vec::new();
    for _ in 0..4 {
        texts.push(fresh.next_event().await.1[0].as_str().unwrap().to_owned());
    }
    assert_eq!(texts, ["one", "two", "three", "four"]);
    let mut ann = server.client(json!({"serverOffset": 4})).await;
    let (ack, _) = ann.request(CHAT, vec![json!("five")]).await;
    assert!(
        posted_id(&ack) > ids[2],
        "ids keep increasing after a restart"
    );
}

#[tokio::test]
async fn bad_input_gets_a_typed_error_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({})).await;

    let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
    let (ack, events) = ann.request(CHAT, vec![json!(long)]).await;
    assert_eq!(error_code(&ack), "too_long");
    assert_eq!(ack[0]["error"]["max"], MAX_MESSAGE_CHARS);
    assert!(
        ack[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4000")
    );
    assert!(events.is_empty());

    for blank in [" \n\t ", "\u{200B}\u{200D}", "\u{0}\u{1b}", " \u{2800} "] {
        let (ack, _) = ann.request(CHAT, vec![json!(blank)]).await;
        assert_eq!(error_code(&ack), "empty", "{blank:?}");
    }
    // Controls other than newline and tab are not stored.
    let (_, events) = ann
        .request(CHAT, vec![json!("a\u{0}b\r\nc\u{1b}[2J")])
        .await;
    assert_eq!(events[0].1[0], "ab\nc[2J");
    assert_eq!(bob.next_event().await.1[0], "ab\nc[2J");

    let (ack, _) = ann.request(CHAT, vec![json!(42)]).await;
    assert_eq!(error_code(&ack), "invalid_payload");
    assert_eq!(ack[0]["error"]["event"], CHAT);

    let (ack, _) = ann.request(CHAT, vec![]).await;
    assert_eq!(error_code(&ack), "invalid_payload");

    let offset = "o".repeat(MAX_CLIENT_OFFSET_CHARS + 1);
    let (ack, _) = ann.request(CHAT, vec![json!("hi"), json!(offset)]).await;
    assert_eq!(error_code(&ack), "offset_too_long");

    let (ack, _) = ann.request("no such event", vec![json!(1)]).await;
    assert_eq!(error_code(&ack), "unknown_event");
    assert_eq!(ack[0]["error"]["event"], "no such event");

    // Without an ack there is nobody to answer: the server logs and carries on.
    ann.emit(CHAT, vec![json!({"not": "a string"})]).await;
    ann.emit("no such event", vec![]).await;

    // Exactly 4000 characters is fine, and the connection still works.
    let max = "é".repeat(MAX_MESSAGE_CHARS);
    let (ack, events) = ann.request(CHAT, vec![json!(max)]).await;
    let id = posted_id(&ack);
    assert_eq!(
        events.len(),
        1,
        "only the valid message was broadcast: {events:?}"
    );
    let (_, args) = bob.next_event().await;
    assert_eq!(args[1], id, "no rejected message reached other clients");
}

#[tokio::test]
async fn invalid_auth_is_refused_with_connect_error() {
    let server = TestServer::start().await;
    let refused = SioClient::connect(server.addr, "/", json!({"serverOffset": "abc"})).await;
    let Err(Refused::ConnectError(reason)) = refused else {
        panic!("connect with bad auth should fail")
    };
    assert_eq!(reason["message"], "invalid_auth", "{reason}");
    // Unknown auth fields are ignored, as Socket.IO clients may add their own.
    let mut ok = server
        .client(json!({"serverOffset": 0, "extra": true}))
        .await;
    let (ack, _) = ok.request(CHAT, vec![json!("still fine")]).await;
    posted_id(&ack);
}

#[tokio::test]
async fn a_malformed_frame_does_not_hurt_anyone_else() {
    let server = TestServer::start().await;
    let mut bob = server.client(json!({})).await;
    let mut rude = server.client(json!({})).await;
    rude.send_raw("42[\"chat message\",").await;
    rude.send_raw("4Z").await;
    rude.drop_connection().await;

    let mut ann = server.client(json!({"name": "ann"})).await;
    let (ack, _) = ann.request(CHAT, vec![json!("after the noise")]).await;
    let id = posted_id(&ack);
    assert_eq!(bob.next_event().await.1[1], id);
}

#[tokio::test]
async fn a_nickname_is_claimed_once_and_kept_by_its_token() {
    let server = TestServer::start().await;
    let ann = server.client(json!({"name": "Ann"})).await;
    let session = ann.session.clone().unwrap();
    assert_eq!(session["name"], "Ann");
    let token = session["token"].as_str().unwrap().to_owned();
    assert!(session["expiresAt"].as_i64().unwrap() > 1_600_000_000_000);

    // Taken, case-insensitively, while Ann holds it: online or not.
    assert_eq!(server.refused(json!({"name": "aNN"})).await, "name_taken");
    drop(ann);
    assert_eq!(server.refused(json!({"name": "ann"})).await, "name_taken");

    // Her token brings her back as Ann (several tabs are one person), with a fresh token,
    // and it survives a restart: the key is kept in the data directory.
    let mut tab = server.client(json!({"token": token})).await;
    let (_, events) = tab.request(CHAT, vec![json!("hi")]).await;
    assert_eq!(events[0].1[2]["author"], "Ann");
    let mut server = server;
    server.restart().await;
    let mut again = server.client(json!({"token": token, "name": "Ann"})).await;
    let fresh = again.session.clone().unwrap();
    assert_eq!(fresh["name"], "Ann");
    assert!(fresh["expiresAt"].as_i64() >= session["expiresAt"].as_i64());

    // She can rename; her old name is then free for others.
    let renamed = server
        .client(json!({"token": token, "name": "annie"}))
        .await;
    assert_eq!(renamed.session.clone().unwrap()["name"], "annie");
    server.client(json!({"name": "ann"})).await;
    let (_, events) = again.request(CHAT, vec![json!("still me")]).await;
    assert_eq!(
        events[0].1[2]["author"], "Ann",
        "a connection keeps the name it was opened with"
    );
}

/// A name is held while its person is connected, however long ago they connected (their
/// `last_seen` moves only when they come and go).
#[tokio::test]
async fn a_name_is_held_while_its_person_stays_connected() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    // As if she had connected longer ago than the hold: her last coming or going is that old.
    let aged = server
        .sql("UPDATE people SET last_seen = 0 WHERE name_key = 'ann'")
        .await;
    assert_eq!(aged, 1);

    assert_eq!(server.refused(json!({"name": "ANN"})).await, "name_taken");
    let (_, events) = ann.request(CHAT, vec![json!("still me")]).await;
    assert_eq!(events[0].1[2]["author"], "ann");
    // And once she leaves, it is held from then on.
    let token = ann.session.clone().unwrap()["token"].clone();
    ann.drop_connection().await;
    assert_eq!(server.refused(json!({"name": "ann"})).await, "name_taken");
    let back = server.client(json!({"token": token})).await;
    assert_eq!(back.session.unwrap()["name"], "ann");
}

#[tokio::test]
async fn bad_names_and_tokens_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    for bad in ["", "a b", "<ann>", "ünal", &"n".repeat(33)] {
        assert_eq!(
            server.refused(json!({"name": bad})).await,
            "invalid_name",
            "{bad}"
        );
    }
    // Names that pass for the guests, the server or its staff.
    for reserved in ["anonymous", "Adm1n.", "r00t", "moderator", "palaver", "."] {
        assert_eq!(
            server.refused(json!({"name": reserved})).await,
            "reserved_name",
            "{reserved}"
        );
    }
    assert_eq!(server.refused(json!({"name": 7})).await, "invalid_auth");
    assert_eq!(
        server.refused(json!({"token": "v1.abc.def"})).await,
        "invalid_token"
    );

    // A token signed with the right key but expired, and one with a rewritten name.
    let key = server.session_secret().await;
    let sign = |claims: Value| {
        use base64::Engine as _;
        use hmac::Mac as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signed = format!("v1.{}", b64.encode(claims.to_string()));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", b64.encode(mac.finalize().into_bytes()))
    };
    let expired = sign(json!({"p": "p1", "n": "ann", "e": 1_000}));
    assert_eq!(
        server.refused(json!({"token": expired})).await,
        "expired_token"
    );
    let good = sign(json!({"p": "p1", "n": "ann", "e": i64::MAX}));
    server.client(json!({"token": good})).await;
    let ann = server.client(json!({"name": "bob"})).await;
    let token = ann.session.unwrap()["token"].as_str().unwrap().to_owned();
    let (head, tag) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}x.{tag}");
    assert_eq!(
        server.refused(json!({"token": forged})).await,
        "invalid_token"
    );

    // A guest (the tutorial's client) still connects, as anonymous, and gets no session.
    let guest = server.client(json!({})).await;
    assert!(guest.session.is_none());
}

// Multi-threaded like the real server: rendering state must survive moving between workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_rendered_with_the_latest_messages_escaped() {
    support::watch_server_panics();
    // More messages than the rate limit lets one person send at once.
    let server = TestServer::start_with(|c| c.rate_limit = 0.0).await;
    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));

    let mut ann = server.client(json!({"name": "ann"})).await;
    let total = HISTORY_PAGE + 5;
    for i in 0..total {
        ann.request(CHAT, vec![json!(format!("msg-{i:03}-end"))])
            .await;
    }
    ann.request(CHAT, vec![json!("<img src=x onerror=alert(1)>")])
        .await;
    ann.request(CHAT, vec![json!("</script><script>alert(2)</script>")])
        .await;

    let (status, page) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("msg-{:03}-end", total - 1)),
        "newest is rendered"
    );
    // 50 newest in all: the two XSS probes plus the last 48 numbered ones.
    assert!(page.contains(&format!("msg-{:03}-end", total - 48)));
    assert!(
        !page.contains(&format!("msg-{:03}-end", total - 49)),
        "only the latest 50"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "text is escaped"
    );
    assert!(!page.contains("<img src=x"));
    assert!(!page.contains("</script><script>alert(2)"));
    assert!(page.contains("data-testid=\"messages\""));
    // The wasm under the name cargo-leptos gives it, whatever built this binary, under the
    // build's own address (`/b/<version>-<hash>/pkg/`).
    let build = format!(r#"href="/b/{}-"#, env!("CARGO_PKG_VERSION"));
    let wasm = page
        .find(r#"/pkg/palaver.wasm""#)
        .expect("the page preloads its wasm");
    // In the same attribute: the one quote between them is the one that opens it.
    assert!(
        page[..wasm]
            .rfind(&build)
            .is_some_and(|at| page[at..wasm].matches('"').count() == 1),
        "{page}"
    );

    // The same 50, for the browser to hydrate with, in the head's JSON.
    let start = page
        .find(r#"id="palaver-first-page">"#)
        .expect("the page carries its first messages as JSON")
        + r#"id="palaver-first-page">"#.len();
    let json = &page[start..start + page[start..].find("</script>").unwrap()];
    let FirstPage(first) = FirstPage::from_json(json);
    let first = first.expect("loaded");
    assert_eq!(first.len(), HISTORY_PAGE);
    assert_eq!(first[0].text, format!("msg-{:03}-end", total - 48));
    assert_eq!(
        first[HISTORY_PAGE - 1].text,
        "</script><script>alert(2)</script>"
    );

    // Each path gets its own page, and only the chat page opens a socket from its head.
    assert!(page.contains("__palaverEarlySocket"));
    let (status, admin) = server.get("/admin").await;
    assert_eq!(status, 200);
    assert!(admin.contains(r#"class="admin">"#), "{admin}");
    assert!(!admin.contains("__palaverEarlySocket"));
    // A trailing slash is sent to the page's one address, with its query.
    for (path, to) in [("/admin/", "/admin"), ("/admin/?a=1", "/admin?a=1")] {
        let head = support::http_get_raw(server.addr, path, "").await;
        assert!(head.starts_with("HTTP/1.1 308"), "{path}: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("\r\nlocation: {to}\r\n")),
            "{path}: {head}"
        );
    }
    for path in ["/no/such/page", "/admin/x", "/index.html"] {
        let (status, missing) = server.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(missing.contains("Not found"), "{path}: {missing}");
        assert!(!missing.contains(r#"data-testid="messages""#), "{path}");
    }

    // Renders run on whichever worker is free; none may panic (a thread-bound value in the
    // render once did, when dropped on another worker).
    let pages = (0..40).map(|_| server.get("/"));
    for (status, page) in futures_util::future::join_all(pages).await {
        assert_eq!(status, 200);
        assert!(page.contains("data-testid=\"messages\""));
    }
    assert_eq!(support::server_panics(), 0, "the server panicked");
}

#[tokio::test]
async fn shutdown_disconnects_sockets_and_a_restart_serves_them_again() {
    let mut server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    ann.request(CHAT, vec![json!("before")]).await;
    server.stop().await;
    // The server said goodbye: the socket gets a disconnect or its transport closes.
    assert!(
        ann.closed_within(Duration::from_secs(5)).await,
        "socket was not closed by the shutdown"
    );
    let (addr, _dir) = (server.addr, &server.dir);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
    server.restart().await;
    let mut again = server.client(json!({})).await;
    assert_eq!(again.next_event().await.1[0], "before");
}

/// A handshake carrying a huge header (380 KB) either connects, or is refused outright with
/// 431 when the server reads no headers that large; it never hangs or breaks the server.
#[tokio::test]
async fn a_handshake_with_a_huge_header_connects_or_is_refused_clearly() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::{Error, Message};
    let server = TestServer::start().await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let mut request = url.into_client_request().unwrap();
    let huge = "x".repeat(380 * 1024);
    request
        .headers_mut()
        .insert("x-padding", huge.parse().unwrap());
    tokio::time::timeout(support::PATIENCE, async {
        match tokio_tungstenite::connect_async(request).await {
            Ok((mut ws, _)) => {
                use futures_util::StreamExt;
                let open = ws.next().await.unwrap().unwrap();
                assert!(matches!(open, Message::Text(t) if t.starts_with('0')));
            }
            Err(Error::Http(response)) => assert_eq!(response.status(), 431),
            Err(e) => panic!("neither connected nor refused clearly: {e}"),
        }
    })
    .await
    .expect("the handshake was answered");
    // Either way, everyone else is served.
    let mut ann = server.client(json!({"name": "ann"})).await;
    let (ack, _) = ann.request(CHAT, vec![json!("fine")]).await;
    posted_id(&ack);
}

#[tokio::test]
async fn a_page_from_another_origin_cannot_open_a_socket() {
    let server = TestServer::start().await;
    let handshake = "/socket.io/?EIO=4&transport=polling";
    let own = format!("Origin: http://{}\r\n", server.addr);
    for (headers, status) in [
        ("Origin: http://evil.example\r\n", 403),
        ("Origin: null\r\n", 403),
        (own.as_str(), 200),
        // Not a browser: no Origin, no page to protect.
        ("", 200),
    ] {
        let (got, body) = support::http_get_with(server.addr, handshake, headers).await;
        assert_eq!(got, status, "{headers:?}: {body}");
    }
    // Only the handshake is guarded; the page itself is public.
    let (got, _) =
        support::http_get_with(server.addr, "/healthz", "Origin: http://evil.example\r\n").await;
    assert_eq!(got, 200);

    let listed =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://chat.example.org".into()])
            .await;
    let (got, _) = support::http_get_with(
        listed.addr,
        handshake,
        "Origin: https://chat.example.org\r\n",
    )
    .await;
    assert_eq!(got, 200);
    let own = format!("Origin: http://{}\r\n", listed.addr);
    let (got, _) = support::http_get_with(listed.addr, handshake, &own).await;
    assert_eq!(got, 403, "a list replaces the default");
}

#[tokio::test]
async fn a_flood_is_throttled_while_everyone_else_keeps_flowing() {
    let server = TestServer::start().await;
    let mut flood = server.client(json!({"name": "flood"})).await;
    // Another tab of the same person shares the budget.
    let token = flood.session.clone().unwrap()["token"].clone();
    let mut tab = server.client(json!({"token": token})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;

    // The default burst is 10; the rest of a fast stream is refused, not stored.
    let mut accepted = 0;
    let mut refused = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..15 {
        let (ack, _) = flood.request(CHAT, vec![json!(format!("f{i}"))]).await;
        match ack[0]["data"]["id"].as_i64() {
            Some(_) => accepted += 1,
            None => refused.push(ack),
        }
    }
    // The burst, plus what refilled while the requests ran (a slow machine takes a while).
    let refilled = (started.elapsed().as_secs_f64() * 10.0).ceil() as usize;
    assert!(
        (10..=10 + refilled).contains(&accepted),
        "accepted {accepted}, refused: {refused:?}"
    );
    assert_eq!(error_code(&refused[0]), "rate_limited");
    let (ack, _) = tab.request(CHAT, vec![json!("from the other tab")]).await;
    assert_eq!(error_code(&ack), "rate_limited");
    let wait = ack[0]["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(
        (1..=100).contains(&wait),
        "10 per second: at most 100 ms, got {wait}"
    );

    // Bob is not slowed down by the flood.
    for i in 0..10 {
        let (ack, _) = bob.request(CHAT, vec![json!(format!("b{i}"))]).await;
        posted_id(&ack);
    }
    // Once the wait the server named has passed, the flooder may send again.
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let (ack, _) = flood.request(CHAT, vec![json!("after the wait")]).await;
    posted_id(&ack);

    let (_, metrics) = server.get("/metrics").await;
    let throttled = refused.len() + 1;
    assert!(
        metrics.contains(&format!("palaver_messages_throttled_total {throttled}")),
        "{metrics}"
    );
}

/// A client that does not wait for acks (the tutorial's `socket.emit`) still has its messages
/// stored in the order it sent them. The multi-threaded runtime matters: its scheduler runs the
/// newest spawned task first, which reordered a burst of one socket's handlers under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_burst_from_one_socket_is_stored_in_the_order_sent() {
    const BURST: usize = 100;
    let server = TestServer::start_with(|c| c.rate_limit = 0.0).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({})).await;
    for i in 0..BURST {
        ann.emit(CHAT, vec![json!(format!("m{i}"))]).await;
    }
    let mut heard = Vec::new();
    while heard.len() < BURST {
        let (name, args) = bob.next_event().await;
        if name == CHAT {
            heard.push(args[0].as_str().unwrap().to_owned());
        }
    }
    let sent: Vec<String> = (0..BURST).map(|i| format!("m{i}")).collect();
    assert_eq!(heard, sent);
}
