//! Composing and reading: message text as the Markdown subset on the server-rendered page,
//! kept lines, and conversations' own addresses.

use app::events::{Event, History, SendMessage};
use serde_json::json;

use crate::support::{self, TestServer};

const CHAT: &str = SendMessage::NAME;

#[tokio::test]
async fn the_page_renders_markdown_keeps_lines_and_leaves_html_as_text() {
    support::watch_server_panics();
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let text = "**bold** and _it_ `<i>code</i>`\nsecond line\n\n\
                <script>alert(1)</script> see https://example.com/x?a=1&b=2\n\n\
                [bad](javascript:alert(2)) [good](https://example.org)\n\n\
                > quoted\n\n- one\n- two\n\n```\nlet x = 1;\n```";
    let (ack, _) = ann.request(CHAT, vec![json!(text)]).await;
    assert!(ack[0]["data"]["id"].is_i64(), "{ack}");

    let (status, page) = server.get("/").await;
    assert_eq!(status, 200);
    let body = &page[page.find("<body").expect("a body")..];
    for rendered in [
        "<strong>bold",
        "<em>it",
        "<code>&lt;i&gt;code&lt;/i&gt;</code>",
        // The newline is kept, as a line break.
        "<br>second line",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        r#"<a href="https://example.com/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">"#,
        r#"<a href="https://example.org" target="_blank" rel="noopener noreferrer">good"#,
        "<blockquote",
        "<ul><li",
        "<pre dir=\"ltr\"><code>let x = 1;</code></pre>",
        r#"<div dir="auto" class="text">"#,
    ] {
        assert!(body.contains(rendered), "{rendered} in {body}");
    }
    assert!(!body.contains("<script>alert(1)"));
    assert!(!body.contains("javascript:"), "{body}");
    assert!(body.contains("bad"), "a refused link keeps its text");

    // What was stored is the text as written, lines and all.
    let mut bob = server.client(json!({"name": "bob"})).await;
    let (history, _) = bob
        .request(History::NAME, vec![json!({"room": "lobby"})])
        .await;
    assert!(
        history[0]["data"]["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m[0] == text)),
        "{history}"
    );
    assert_eq!(support::server_panics(), 0);
}

#[tokio::test]
async fn a_conversation_s_address_serves_the_chat_page() {
    let server = TestServer::start().await;
    // The lobby's own address draws it; another conversation's draws that one opening, by
    // its name, not the lobby (the browser opens it once it knows the person's list).
    for (path, title) in [
        ("/r/lobby", None),
        ("/r/rust", Some("rust")),
        ("/dm/bob", Some("bob")),
        ("/dm/Ann%20Smith", Some("Ann Smith")),
    ] {
        let (status, page) = server.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("__palaverEarlySocket"), "{path}");
        assert!(page.contains(r#"id="palaver-first-page""#), "{path}");
        let messages = page.contains(r#"data-testid="messages""#);
        let opening = page.contains(r#"data-testid="opening""#);
        match title {
            None => assert!(messages && !opening, "{path}"),
            Some(title) => {
                assert!(opening && !messages, "{path}");
                // Its title is the heading drawn just after.
                let at = page.find(r#"data-testid="opening""#).unwrap_or(0);
                let heading: String = page[at..].chars().take(400).collect();
                assert!(heading.contains(&format!(">{title}<")), "{path}: {heading}");
            }
        }
    }
    for path in ["/r/", "/dm/", "/r/a/b", "/room/rust"] {
        let (status, page) = server.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(page.contains("Not found"), "{path}");
    }
}
