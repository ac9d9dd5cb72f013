//! Full-text search (issue 22): words and prefixes, ranked then newest; filters by
//! conversation, author and time; only what the asker may read; kept in step with deletions
//! and edits; and no query syntax read from what people type. Also `history` around a message
//! and after it, which the jump to a hit loads.

use app::events::{
    CreateRoom, DeleteMessage, Event as _, History, JoinRoom, MAX_SEARCH_CHARS, MAX_SEARCH_OFFSET,
    OpenDm, Search,
};
use serde_json::{Value, json};

use crate::rooms::{code, data, post, request};
use crate::support::{SioClient, TestServer};

fn postgres() -> bool {
    std::env::var("PALAVER_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// The hits' texts, best first.
async fn found(client: &mut SioClient, search: Value) -> Vec<String> {
    let page = data(&request(client, Search::NAME, vec![search]).await);
    page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"][0].as_str().unwrap().to_owned())
        .collect()
}

async fn create(client: &mut SioClient, name: &str, private: bool) {
    data(
        &request(
            client,
            CreateRoom::NAME,
            vec![json!({"name": name, "private": private})],
        )
        .await,
    );
}

#[tokio::test]
async fn words_and_prefixes_are_found_best_first_then_newest_with_their_excerpts() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    for text in [
        "the quick brown fox",
        "fox and fox and fox again, a den of fox",
        "nothing to see",
        "foxes everywhere",
        "Café au lait",
        "same words here",
        "same words here",
    ] {
        post(&mut ann, "lobby", text).await;
    }
    // The last word is a prefix: `fox` finds `foxes`; the message with the most `fox` first.
    let hits = found(&mut ann, json!({"query": "fox"})).await;
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert_eq!(hits[0], "fox and fox and fox again, a den of fox");
    assert!(hits.contains(&"foxes everywhere".to_owned()));
    // Every word must be there.
    assert_eq!(
        found(&mut ann, json!({"query": "QUICK fox"})).await,
        ["the quick brown fox"]
    );
    assert!(
        found(&mut ann, json!({"query": "quick nothing"}))
            .await
            .is_empty()
    );
    // Equal ranks: newest first.
    let page = data(&request(&mut ann, Search::NAME, vec![json!({"query": "same words"})]).await);
    let ids: Vec<i64> = page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"][1].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] > ids[1], "{ids:?}");
    // The excerpt marks the words found, as text.
    let page = data(&request(&mut ann, Search::NAME, vec![json!({"query": "brown"})]).await);
    let hit = &page["hits"][0];
    assert_eq!(hit["message"][2]["author"], "ann");
    assert_eq!(hit["message"][2]["room"], "lobby");
    let marked: Vec<&str> = hit["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["hit"] == true)
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["brown"], "{hit}");
    let whole: String = hit["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(whole, "the quick brown fox");
    // Case never matters; accents do not either on SQLite (FTS5 removes them; Postgres's
    // `simple` configuration keeps them).
    assert_eq!(
        found(&mut ann, json!({"query": "café"})).await,
        ["Café au lait"]
    );
    if !postgres() {
        assert_eq!(
            found(&mut ann, json!({"query": "cafe"})).await,
            ["Café au lait"]
        );
    }
    // Paged: `more`, then the rest from an offset.
    let first = data(
        &request(
            &mut ann,
            Search::NAME,
            vec![json!({"query": "fox", "limit": 2})],
        )
        .await,
    );
    assert_eq!(
        (first["hits"].as_array().unwrap().len(), &first["more"]),
        (2, &json!(true))
    );
    let rest = data(
        &request(
            &mut ann,
            Search::NAME,
            vec![json!({"query": "fox", "limit": 2, "offset": 2})],
        )
        .await,
    );
    assert_eq!(
        (rest["hits"].as_array().unwrap().len(), &rest["more"]),
        (1, &json!(false))
    );
}

#[tokio::test]
async fn a_search_finds_only_what_the_asker_may_read() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let mut cy = server.client(json!({"name": "cy"})).await;
    let mut guest = server.client(json!({})).await;
    post(&mut ann, "lobby", "pineapple for everyone").await;
    let dm = data(&request(&mut ann, OpenDm::NAME, vec![json!({"name": "bob"})]).await);
    let dm = dm["room"].as_str().unwrap().to_owned();
    post(&mut ann, &dm, "pineapple between us").await;
    create(&mut ann, "vault", true).await;
    post(&mut ann, "vault", "pineapple in the vault").await;
    create(&mut ann, "garden", false).await;
    post(&mut ann, "garden", "pineapple in the garden").await;
    // Bob joins the garden: his notice is no hit for "joined".
    data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "garden"})]).await);

    let mut all = found(&mut ann, json!({"query": "pineapple"})).await;
    all.sort();
    assert_eq!(
        all,
        [
            "pineapple between us",
            "pineapple for everyone",
            "pineapple in the garden",
            "pineapple in the vault"
        ]
    );
    let mut bobs = found(&mut bob, json!({"query": "pineapple"})).await;
    bobs.sort();
    assert_eq!(
        bobs,
        [
            "pineapple between us",
            "pineapple for everyone",
            "pineapple in the garden"
        ]
    );
    // Cy is in none of them: the lobby only, as for a guest.
    for reader in [&mut cy, &mut guest] {
        assert_eq!(
            found(reader, json!({"query": "pineapple"})).await,
            ["pineapple for everyone"]
        );
    }
    assert!(found(&mut ann, json!({"query": "joined"})).await.is_empty());
    // Asking for one of those conversations is refused as `history` refuses it.
    for (room, expected) in [
        (dm.as_str(), "unknown_room"),
        ("vault", "unknown_room"),
        ("garden", "not_member"),
        ("nowhere", "unknown_room"),
    ] {
        let ack = request(
            &mut cy,
            Search::NAME,
            vec![json!({"query": "pineapple", "room": room})],
        )
        .await;
        assert_eq!(code(&ack), expected, "{room}: {ack}");
    }
    // Leaving a room leaves its messages unsearched.
    request(
        &mut bob,
        app::events::LeaveRoom::NAME,
        vec![json!({"room": "garden"})],
    )
    .await;
    assert!(
        !found(&mut bob, json!({"query": "pineapple"}))
            .await
            .contains(&"pineapple in the garden".to_owned())
    );
}

#[tokio::test]
async fn filters_narrow_hits_to_a_conversation_an_author_and_a_time_range() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    create(&mut ann, "rust", false).await;
    data(&request(&mut bob, JoinRoom::NAME, vec![json!({"room": "rust"})]).await);
    post(&mut ann, "lobby", "borrow checker in the lobby").await;
    post(&mut ann, "rust", "borrow checker by ann").await;
    let old = post(&mut bob, "rust", "borrow checker by bob long ago").await;
    post(&mut bob, "rust", "borrow checker by bob today").await;
    server
        .sql(&format!(
            "UPDATE messages SET created_at = 1000 WHERE id = {}",
            old["id"]
        ))
        .await;

    let q = |extra: Value| {
        let mut search = json!({"query": "borrow checker"});
        search
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        search
    };
    let mut in_rust = found(&mut ann, q(json!({"room": "rust"}))).await;
    in_rust.sort();
    assert_eq!(
        in_rust,
        [
            "borrow checker by ann",
            "borrow checker by bob long ago",
            "borrow checker by bob today"
        ]
    );
    let mut bobs = found(&mut ann, q(json!({"author": "BOB"}))).await;
    bobs.sort();
    assert_eq!(
        bobs,
        [
            "borrow checker by bob long ago",
            "borrow checker by bob today"
        ]
    );
    assert_eq!(
        found(&mut ann, q(json!({"author": "bob", "to": 2000}))).await,
        ["borrow checker by bob long ago"]
    );
    assert_eq!(
        found(&mut ann, q(json!({"author": "bob", "from": 2000}))).await,
        ["borrow checker by bob today"]
    );
    assert_eq!(
        found(&mut ann, q(json!({"from": 1000, "to": 1001}))).await,
        ["borrow checker by bob long ago"]
    );
    assert!(
        found(&mut ann, q(json!({"author": "nobody"})))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn deleted_messages_are_not_found_and_edited_text_is_found_by_its_new_words() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    create(&mut ann, "rust", false).await;
    let regret = post(&mut ann, "rust", "a regrettable remark").await;
    let edited = post(&mut ann, "rust", "first draft wording").await;
    let removed = post(&mut ann, "rust", "a row removed outright").await;
    post(&mut ann, "rust", "a regrettable but kept remark").await;
    assert_eq!(
        found(&mut ann, json!({"query": "regrettable"})).await.len(),
        2
    );

    let mut admin = server.admin().await;
    data(
        &request(
            &mut admin,
            DeleteMessage::NAME,
            vec![json!({"id": regret["id"]})],
        )
        .await,
    );
    assert_eq!(
        found(&mut ann, json!({"query": "regrettable"})).await,
        ["a regrettable but kept remark"]
    );
    // Edits update the text in place (`edit message` is another part of issue 22): the
    // index follows the row.
    let changed = server
        .sql(&format!(
            "UPDATE messages SET text = 'final polished wording' WHERE id = {}",
            edited["id"]
        ))
        .await;
    assert_eq!(changed, 1);
    assert!(found(&mut ann, json!({"query": "draft"})).await.is_empty());
    assert_eq!(
        found(&mut ann, json!({"query": "polished"})).await,
        ["final polished wording"]
    );
    assert_eq!(
        found(&mut ann, json!({"query": "wording"})).await,
        ["final polished wording"]
    );
    // A row deleted at the database's console leaves the index whole.
    server
        .sql(&format!(
            "DELETE FROM messages WHERE id = {}",
            removed["id"]
        ))
        .await;
    assert!(
        found(&mut ann, json!({"query": "outright"}))
            .await
            .is_empty()
    );
    assert_eq!(found(&mut ann, json!({"query": "remark"})).await.len(), 1);
}

#[tokio::test]
async fn query_syntax_in_what_people_type_is_only_words_and_bad_queries_are_refused() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    post(
        &mut ann,
        "lobby",
        "NEAR the AND gate, \"quoted\" -minus star*",
    )
    .await;
    for query in [
        "\"",
        "*",
        "NEAR(",
        "-",
        "a OR b",
        "\"unbalanced",
        "foo*bar",
        "^",
        ":",
        "(",
        "AND",
        "col:umn",
        "x NOT y",
        "'",
        "\\",
        "%_",
    ] {
        let ack = request(&mut ann, Search::NAME, vec![json!({"query": query})]).await;
        assert!(
            ack[0]["data"].is_object() || code(&ack) == "invalid_query",
            "{query}: {ack}"
        );
    }
    for query in [
        "NEAR(", "\"quoted", "-minus", "star*", "AND gate", "near the",
    ] {
        assert_eq!(
            found(&mut ann, json!({"query": query})).await.len(),
            1,
            "{query}"
        );
    }
    let refused = [
        json!({"query": "  \"* ( "}),
        json!({"query": ""}),
        json!({"query": "a".repeat(MAX_SEARCH_CHARS + 1)}),
        json!({"query": "x", "from": 5, "to": 5}),
        json!({"query": "x", "offset": MAX_SEARCH_OFFSET + 1}),
    ];
    for search in refused {
        let ack = request(&mut ann, Search::NAME, vec![search.clone()]).await;
        assert_eq!(code(&ack), "invalid_query", "{search}: {ack}");
    }
    let ack = request(&mut ann, Search::NAME, vec![json!({"nothing": 1})]).await;
    assert_eq!(code(&ack), "invalid_payload");
}

#[tokio::test]
async fn searches_are_limited_per_person_and_per_address_for_guests() {
    let server = TestServer::start_with(|c| c.search_limit = "2/1h".parse().unwrap()).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    for _ in 0..2 {
        data(&request(&mut ann, Search::NAME, vec![json!({"query": "x"})]).await);
    }
    let ack = request(&mut ann, Search::NAME, vec![json!({"query": "x"})]).await;
    assert_eq!(code(&ack), "rate_limited");
    // Another person has a budget of their own; guests share their address's.
    let mut bob = server.client(json!({"name": "bob"})).await;
    data(&request(&mut bob, Search::NAME, vec![json!({"query": "x"})]).await);
    let mut one = server.client(json!({})).await;
    let mut two = server.client(json!({})).await;
    data(&request(&mut one, Search::NAME, vec![json!({"query": "x"})]).await);
    data(&request(&mut two, Search::NAME, vec![json!({"query": "x"})]).await);
    let ack = request(&mut one, Search::NAME, vec![json!({"query": "x"})]).await;
    assert_eq!(code(&ack), "rate_limited");
}

#[tokio::test]
async fn history_loads_the_messages_around_a_hit_and_after_them() {
    let server = TestServer::start_with(|c| c.rate_limit = 0.0).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    create(&mut ann, "rust", false).await;
    let mut ids = Vec::new();
    for n in 1..=30 {
        ids.push(post(&mut ann, "rust", &format!("message {n}")).await["id"].clone());
    }
    let texts = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[0].as_str().unwrap().to_owned())
            .collect()
    };
    let around = data(
        &request(
            &mut ann,
            History::NAME,
            vec![json!({"room": "rust", "around": ids[14], "limit": 6})],
        )
        .await,
    );
    // The room's first message is its `create` notice: `message n` is seq n + 1.
    assert_eq!(
        texts(&around),
        [
            "message 12",
            "message 13",
            "message 14",
            "message 15",
            "message 16",
            "message 17"
        ]
    );
    assert_eq!(
        (&around["more"], &around["newer"]),
        (&json!(true), &json!(true))
    );
    let after = data(
        &request(
            &mut ann,
            History::NAME,
            vec![json!({"room": "rust", "after": ids[26], "limit": 6})],
        )
        .await,
    );
    assert_eq!(texts(&after), ["message 28", "message 29", "message 30"]);
    assert_eq!(after.get("newer"), None, "nothing newer");
    let first = data(
        &request(
            &mut ann,
            History::NAME,
            vec![json!({"room": "rust", "around": ids[0], "limit": 4})],
        )
        .await,
    );
    assert_eq!(first["more"], false);
    // A message of another conversation is not one of this one's.
    let lobby = post(&mut ann, "lobby", "elsewhere").await;
    let ack = request(
        &mut ann,
        History::NAME,
        vec![json!({"room": "rust", "around": lobby["id"]})],
    )
    .await;
    assert_eq!(code(&ack), "unknown_message");
    let ack = request(
        &mut ann,
        History::NAME,
        vec![json!({"room": "rust", "around": ids[0], "before": ids[3]})],
    )
    .await;
    assert_eq!(code(&ack), "invalid_payload");
}
