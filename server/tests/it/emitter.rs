//! `palaver emit`: a process with no sockets stores an announcement, then reaches the sockets of
//! every node through Redis; or makes one person's clients catch up. Each test starts its own
//! Postgres database, Redis and nodes.

use std::process::Output;

use serde_json::{Value, json};

use app::events::{ChatMessage, EMITTER_AUTHOR, Event as _, RoomHead, SendMessage};
use palaver_server::{EmitConfig, EmitError, Emitted, emit};

use crate::services;
use crate::support::{SioClient, two_linked_nodes};

/// `palaver emit` to `database` and `redis`, for the room or person `args` names.
fn config(database: &str, redis: &str, args: Target) -> EmitConfig {
    let mut config = EmitConfig {
        room: None,
        text: None,
        offset: None,
        person: None,
        database_url: database.to_owned(),
        redis_url: redis.to_owned(),
    };
    match args {
        Target::Room { room, text, offset } => {
            config.room = Some(room.to_owned());
            config.text = Some(text.to_owned());
            config.offset = offset.map(str::to_owned);
        }
        Target::Person(name) => config.person = Some(name.to_owned()),
    }
    config
}

enum Target<'a> {
    Room {
        room: &'a str,
        text: &'a str,
        offset: Option<&'a str>,
    },
    Person(&'a str),
}

fn announce<'a>(room: &'a str, text: &'a str, offset: Option<&'a str>) -> Target<'a> {
    Target::Room { room, text, offset }
}

/// The next `chat message` that is not a joined or left notice: its arguments.
async fn next_message(client: &mut SioClient) -> Value {
    loop {
        let (name, args) = client.next_event().await;
        let notice = matches!(args[2]["kind"].as_str(), Some("joined" | "left"));
        if name == ChatMessage::NAME && !notice {
            return args;
        }
    }
}

fn announced(emitted: Result<Emitted, EmitError>) -> palaver_server::Announced {
    match emitted {
        Ok(Emitted::Announced(a)) => a,
        other => panic!("not an announcement: {other:?}"),
    }
}

/// The lobby's `seq`s, and how many of its messages say `text`.
async fn lobby(database: &str, text: &str) -> (Vec<i64>, i64) {
    let pool = sqlx::PgPool::connect(database).await.unwrap();
    let seqs = sqlx::query_scalar("SELECT seq FROM messages WHERE room = 'lobby' ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    let saying = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE text = $1")
        .bind(text)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (seqs, saying)
}

#[tokio::test]
async fn an_announcement_is_stored_then_reaches_every_node_once() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let mut ann = one.client(json!({"name": "ann"})).await;
    let mut bob = two.client(json!({"name": "bob"})).await;
    // Posts beside the announcements (a poster's own socket is not sent its message).
    let mut cat = one.client(json!({"name": "cat"})).await;
    let (ack, _) = cat.request(SendMessage::NAME, vec![json!("before")]).await;
    let before = ack[0]["data"]["seq"].as_i64().expect("acked");
    // The nodes are linked: what node one broadcasts, node two's socket gets.
    for client in [&mut ann, &mut bob] {
        assert_eq!(next_message(client).await[0], "before");
    }

    let text = "maintenance at 22:00";
    let cron = config(
        one.database(),
        &redis.redis_url(),
        announce("lobby", text, Some("nightly-1")),
    );
    let first = announced(emit(&cron).await);
    assert!(first.created && first.seq > before, "{first:?}");
    assert_eq!(first.nodes, 2, "both nodes listen on the request channel");
    for client in [&mut ann, &mut bob] {
        let got = next_message(client).await;
        assert_eq!(
            (&got[0], got[1].as_i64(), got[2]["seq"].as_i64()),
            (&json!(text), Some(first.id), Some(first.seq))
        );
        assert_eq!(
            (&got[2]["author"], &got[2]["kind"], &got[2]["room"]),
            (
                &json!(EMITTER_AUTHOR),
                &json!("announcement"),
                &json!("lobby")
            )
        );
    }

    // The cron job, run again: the stored one, nothing stored or sent anew but the room's
    // head, in case the first run died before publishing it.
    let again = announced(emit(&cron).await);
    assert_eq!(
        (again.id, again.seq, again.created, again.nodes),
        (first.id, first.seq, false, 2)
    );
    for client in [&mut ann, &mut bob] {
        let (_, head) = client.next_event_named(app::events::RoomHead::NAME).await;
        assert_eq!(head[0]["lastSeq"], first.seq, "{head}");
    }
    let (ack, _) = cat.request(SendMessage::NAME, vec![json!("after")]).await;
    let after = ack[0]["data"]["seq"].as_i64().expect("acked");
    assert!(after > first.seq);
    for client in [&mut ann, &mut bob] {
        assert_eq!(next_message(client).await[0], "after", "no second copy");
    }
    let (seqs, saying) = lobby(one.database(), text).await;
    assert_eq!(saying, 1);
    assert_eq!(seqs, (1..=after).collect::<Vec<_>>(), "one run of seqs");

    // The same offset for another text is another announcement: refused, not overwritten.
    let other = config(
        one.database(),
        &redis.redis_url(),
        announce("lobby", "another text", Some("nightly-1")),
    );
    let e = emit(&other).await.unwrap_err();
    assert!(matches!(e, EmitError::OffsetInUse { .. }), "{e}");
    assert_eq!(e.exit_code(), 2);
}

/// Runs the `palaver` binary with `args`.
async fn palaver(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_palaver"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("PALAVER_REDIS_URL")
            .output()
            .expect("palaver runs")
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_binary_emits_to_a_room_and_to_a_person_and_says_what_is_wrong() {
    let redis = services::redis();
    let (one, two) = two_linked_nodes(&redis).await;
    let mut bob = two.client(json!({"name": "bob"})).await;
    let urls = [
        "--database-url".to_owned(),
        one.database().to_owned(),
        "--redis-url".to_owned(),
        redis.redis_url(),
    ];
    let run = |args: &[&str]| {
        let args: Vec<String> = ["emit"]
            .iter()
            .chain(args)
            .map(|a| a.to_string())
            .chain(urls.clone())
            .collect();
        palaver(args)
    };

    let out = run(&["--room", "lobby", "--text", "from cron"]).await;
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        (&printed["room"], &printed["created"], &printed["nodes"]),
        (&json!("lobby"), &json!(true), &json!(2)),
        "{printed}"
    );
    let got = next_message(&mut bob).await;
    assert_eq!(
        (&got[0], &got[1], &got[2]["seq"]),
        (&json!("from cron"), &printed["id"], &printed["seq"])
    );

    // To one person: the head of each of their conversations, so that their clients catch up.
    let out = run(&["--person", "BOB"]).await;
    assert!(out.status.success(), "{out:?}");
    let printed_heads: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed_heads["person"], "bob");
    let (_, args) = bob.next_event_named(RoomHead::NAME).await;
    assert_eq!(
        args[0],
        json!({"room": "lobby", "lastId": printed["id"], "lastSeq": printed["seq"]})
    );
    assert_eq!(printed_heads["heads"], json!([args[0]]));

    for (args, says) in [
        (
            &["--room", "nowhere", "--text", "hi"][..],
            "there is no public room `nowhere`",
        ),
        (&["--person", "nobody"], "nobody is called `nobody`"),
        (&["--room", "lobby", "--text", " \n "], "message is empty"),
    ] {
        let out = run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test]
async fn what_cannot_be_delivered_is_not_stored() {
    let database = services::database();
    let redis = services::redis();
    let to = |target| config(&database, &redis.redis_url(), target);
    for (target, says) in [
        (announce("nowhere", "hi", None), "no public room"),
        // Direct conversations are their two people's alone.
        (announce("dm:p1:p2", "hi", None), "no public room"),
        (announce("Lobby", "hi", None), "no public room"),
        (Target::Person("nobody"), "nobody is called"),
    ] {
        let e = emit(&to(target)).await.unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }

    // Without Redis, nothing is stored: it would reach no client until they caught up.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("redis://127.0.0.1:{}", nobody.local_addr().unwrap().port());
    drop(nobody);
    let e = emit(&config(
        &database,
        &closed,
        announce("lobby", "lost?", None),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("cannot connect to Redis"), "{e}");
    assert_eq!(e.exit_code(), 1);
    assert_eq!(lobby(&database, "lost?").await, (vec![], 0));

    // A SQLite file is one server's, which holds it while it runs.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = crate::support::database_url(&dir);
    let e = emit(&config(
        &sqlite,
        &redis.redis_url(),
        announce("lobby", "hi", None),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("postgres://"), "{e}");
    assert_eq!(e.exit_code(), 2);
    assert!(!dir.path().join("data").exists(), "no database was made");
}
