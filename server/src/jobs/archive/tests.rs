//! The archive pipeline end to end, on a real SQLite file and on Postgres: exports imported
//! again, a Slack export built here, archives imported twice, and bad archives.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::events::{ChatMessage, MessageKind};
use serde_json::json;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::jobs::archive::export::export_to;
use crate::jobs::archive::format::{Conversation, FORMAT, Manifest, VERSION};
use crate::jobs::archive::import::{Format, ImportOptions, ImportSummary, import_from, inspect};
use crate::jobs::archive::limits::{ArchiveError, At, Limits, Problem, RecordError};
use crate::socket::recent::{Delta, Recent};
use crate::socket::writer::{Shared, Writer};
use crate::store::write::Change;
use crate::store::{NewMessage, Store};
use crate::test_services as services;

/// A new, empty store of each backend, with the directory its files go in.
async fn stores() -> Vec<(tempfile::TempDir, Store)> {
    let sqlite_dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        sqlite_dir.path().join("palaver.db").display()
    );
    let sqlite = Store::open(&url).await.unwrap();
    let postgres = Store::open(&services::database()).await.unwrap();
    vec![
        (sqlite_dir, sqlite),
        (tempfile::tempdir().unwrap(), postgres),
    ]
}

/// The server's writer on `store`, and its memory of rooms' newest messages.
fn writer(store: &Store) -> (Writer, Arc<Recent>) {
    let recent = Arc::<Recent>::default();
    let writer = Writer::start(Shared {
        store: store.clone(),
        metrics: Arc::default(),
        lagging: Arc::default(),
        order: Arc::default(),
        recent: recent.clone(),
    })
    .unwrap();
    (writer, recent)
}

/// A ZIP at `dir/name` holding `entries`, deflated.
fn zip_file(dir: &Path, name: &str, entries: &[(&str, Vec<u8>)]) -> PathBuf {
    let path = dir.join(name);
    let mut zip = ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (entry, bytes) in entries {
        zip.start_file(*entry, SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn json_bytes(value: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&value).unwrap()
}

/// Runs an import, collecting its record errors.
async fn import(
    path: &Path,
    writer: &Writer,
    options: &ImportOptions,
) -> (Result<ImportSummary, ArchiveError>, Vec<RecordError>) {
    let mut errors = Vec::new();
    let mut record = |e| errors.push(e);
    let mut told = Vec::new();
    let mut progress = |done, total| told.push((done, total));
    let summary = import_from(
        path,
        &mut writer.clone(),
        options,
        &mut record,
        &mut progress,
    )
    .await;
    if summary.is_ok() {
        // From nothing to all of the archive, never back.
        let zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let total: u64 = (0..zip.len())
            .map(|i| zip.by_index_data(i).unwrap().size())
            .sum();
        assert_eq!(told.first(), Some(&(0, total)));
        assert_eq!(told.last(), Some(&(total, total)));
        assert!(told.windows(2).all(|w| w[0].0 <= w[1].0), "{told:?}");
    }
    (summary, errors)
}

/// A room's messages as people see them (without ids and offsets, which a server gives its
/// own): seq, author, text, time, kind.
async fn seen(store: &Store, room: &str) -> Vec<(i64, String, String, i64, Option<MessageKind>)> {
    let all = store.latest(room, 100_000).await.unwrap();
    all.into_iter()
        .map(ChatMessage::from)
        .map(|m| (m.meta.seq, m.meta.author, m.text, m.meta.ts, m.meta.kind))
        .collect()
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_server_gives_the_same_messages() {
    for (dir, source) in stores().await {
        let mut conn = source.writer_connection().await.unwrap();
        for change in [
            Change::CreateRoom {
                name: "general".into(),
                person: "p-ann".into(),
                now: 1,
                private: false,
            },
            Change::OpenDm {
                name: "dm:p-ann:p-bob".into(),
                a: "p-ann".into(),
                b: "p-bob".into(),
                now: 1,
            },
        ] {
            conn.apply(change).await.unwrap();
        }
        // More than a page of the export's reads, of every kind, one of them deleted.
        let texts: Vec<String> = (0..2_500)
            .map(|i| format!("m{i} \"quoted\"\nline"))
            .collect();
        let mut batch: Vec<NewMessage> = texts
            .iter()
            .map(|text| NewMessage {
                room: "general",
                author: "ann",
                text,
                client_offset: None,
                sender: None,
                kind: None,
                ..Default::default()
            })
            .collect();
        for (text, kind) in [
            ("joined", MessageKind::Joined),
            ("news", MessageKind::Announcement),
        ] {
            batch.push(NewMessage {
                text,
                kind: Some(kind),
                ..batch[0]
            });
        }
        for (room, text) in [
            ("lobby", "hi"),
            ("lobby", "there"),
            ("dm:p-ann:p-bob", "psst"),
        ] {
            batch.push(NewMessage {
                room,
                text,
                ..batch[0]
            });
        }
        let stored = conn.insert_batch(&batch).await.unwrap();
        let fifth = stored[5].as_ref().unwrap().message.id;
        source.delete_message(fifth, 2).await.unwrap();

        let out = dir.path().join("export.zip");
        let rooms = ["general", "lobby", "dm:p-ann:p-bob"].map(String::from);
        let mut told = Vec::new();
        let summary = export_to(&source, &rooms, &out, &mut |done, total| {
            told.push((done, total))
        })
        .await
        .unwrap();
        assert_eq!((summary.conversations, summary.messages), (3, 2_505));
        assert_eq!(told.first(), Some(&(0, 2_505)));
        assert_eq!(told.last(), Some(&(2_505, 2_505)));
        assert!(told.len() > 3, "progress after each page: {told:?}");
        assert_eq!(summary.bytes, std::fs::metadata(&out).unwrap().len());
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
        let manifest: Manifest =
            serde_json::from_reader(zip.by_name("manifest.json").unwrap()).unwrap();
        let conversation = |room: &str, kind: &str, messages, n| Conversation {
            room: room.into(),
            kind: kind.into(),
            messages,
            file: format!("conversations/{n}.ndjson"),
        };
        assert_eq!(
            (manifest.format.as_str(), manifest.version),
            (FORMAT, VERSION)
        );
        assert_eq!(
            manifest.conversations,
            [
                conversation("general", "room", 2_502, 1),
                conversation("lobby", "room", 2, 2),
                conversation("dm:p-ann:p-bob", "dm", 1, 3),
            ]
        );

        for (_dir, target) in stores().await {
            let (writer, _) = writer(&target);
            let options = ImportOptions::by_the_server();
            let (summary, errors) = import(&out, &writer, &options).await;
            let summary = summary.unwrap();
            assert_eq!(summary.format, Some(Format::Palaver));
            assert_eq!(
                (summary.read, summary.stored, summary.errors),
                (2_504, 2_504, 1)
            );
            assert_eq!(summary.rooms_created, ["general"]);
            assert_eq!(
                errors,
                [RecordError {
                    file: "conversations/3.ndjson".into(),
                    at: At::File,
                    problem: Problem::DirectConversation,
                }]
            );
            for room in ["general", "lobby"] {
                let (before, after) = (seen(&source, room).await, seen(&target, room).await);
                assert_eq!(before.len(), after.len(), "{room}");
                let differs = before.iter().zip(&after).find(|(b, a)| b != a);
                assert_eq!(differs, None, "{room}: the first message that differs");
            }
            let heads: Vec<(&str, i64)> = summary
                .rooms
                .iter()
                .map(|h| (h.room.as_str(), h.last_seq))
                .collect();
            assert_eq!(heads, [("general", 2_502), ("lobby", 2)]);
        }

        // A conversation that does not exist: an error, and no archive.
        let missing = dir.path().join("missing.zip");
        let e = export_to(&source, &["nowhere".into()], &missing, &mut |_, _| {}).await;
        assert!(matches!(e, Err(ArchiveError::UnknownConversation(r)) if r == "nowhere"));
        assert!(!missing.exists());
    }
}

/// A Slack export as Slack writes them: channels, users, two days of a channel with a thread,
/// an edit, mentions, a link, joins, a topic, a bot, a file; records that cannot be imported
/// among them; another channel; and a folder of no listed channel.
fn slack_export(dir: &Path) -> PathBuf {
    let long = "x".repeat(4_001);
    let day1 = json!([
        {"type": "message", "subtype": "channel_join", "user": "U1",
         "text": "<@U1> has joined the channel", "ts": "1577836800.000100"},
        {"type": "message", "user": "U1", "text": "hello <@U2> &amp; all",
         "ts": "1577836801.000200"},
        {"type": "message", "user": "U2", "text": "Which JSON library?",
         "ts": "1577836802.000300", "thread_ts": "1577836802.000300", "reply_count": 1},
        {"type": "message", "user": "U1", "text": "final text", "ts": "1577836803.000400",
         "edited": {"user": "U1", "ts": "1577836900.000000"}},
        {"type": "message", "user": "U1", "text": "serde, see <https://serde.rs|the docs>",
         "ts": "1577836804.000500", "thread_ts": "1577836802.000300", "parent_user_id": "U2"},
        {"type": "message", "subtype": "message_changed", "ts": "1577836805.000600",
         "message": {"text": "final text"}},
        {"type": "message", "user": "U1", "text": "bad time", "ts": "soon"},
        {"type": "message", "user": "U2", "text": long, "ts": "1577836806.000700"},
        {"type": "message", "user": "U2", "text": 5, "ts": "1577836807.000800"},
        {"type": "message", "user": "U3", "text": "still here", "ts": "1577836808.000900",
         "user_profile": {"display_name": "Carol", "real_name": "Carol C"}},
    ]);
    let day2 = json!([
        {"type": "message", "subtype": "channel_topic", "user": "U2",
         "text": "<@U2> set the channel topic: Rust", "topic": "Rust",
         "ts": "1577923200.000100"},
        {"type": "message", "subtype": "bot_message", "username": "ci-bot", "bot_id": "B1",
         "text": "", "attachments": [{"fallback": "Build #1 passed"}],
         "ts": "1577923201.000200"},
        {"type": "message", "subtype": "file_share", "user": "U1", "text": "the plan",
         "files": [{"name": "plan.pdf", "title": "Plan"}], "ts": "1577923202.000300"},
    ]);
    zip_file(
        dir,
        "slack.zip",
        &[
            (
                "channels.json",
                json_bytes(json!([
                    {"id": "C1", "name": "general", "created": 1577836800},
                    {"id": "C2", "name": "Dev-Ops", "created": 1577836800},
                ])),
            ),
            (
                "users.json",
                json_bytes(json!([
                    {"id": "U1", "name": "ann", "real_name": "Ann Smith",
                     "profile": {"display_name": "annie", "real_name": "Ann Smith"}},
                    {"id": "U2", "name": "bob",
                     "profile": {"display_name": "", "real_name": "Bob Jones"}},
                ])),
            ),
            // A later day first: days are read in date order whatever the archive's.
            ("general/2020-01-02.json", json_bytes(day2)),
            ("general/2020-01-01.json", json_bytes(day1)),
            (
                "Dev-Ops/2020-01-01.json",
                json_bytes(json!([
                    {"type": "message", "user": "U2", "text": "deploying <#C1>",
                     "ts": "1577836810.000000"},
                ])),
            ),
            (
                "secret/2020-01-01.json",
                json_bytes(json!([{"user": "U1", "text": "psst", "ts": "1577836811.000000"}])),
            ),
        ],
    )
}

#[tokio::test]
async fn a_slack_export_imports_as_expected_and_again_stores_nothing_new() {
    for (dir, store) in stores().await {
        let path = slack_export(dir.path());
        assert_eq!(inspect(&path, &Limits::default()).unwrap(), Format::Slack);
        let (writer, recent) = writer(&store);
        let before = recent.seen("general");
        let options = ImportOptions::new("p-ann");
        let (summary, errors) = import(&path, &writer, &options).await;
        let summary = summary.unwrap();
        let m = |author: &str, text: &str, ts: i64, kind| {
            (author.to_owned(), text.to_owned(), ts, kind)
        };
        let general: Vec<_> = seen(&store, "general")
            .await
            .into_iter()
            .enumerate()
            .map(|(i, (seq, author, text, ts, kind))| {
                assert_eq!(seq, i as i64 + 1);
                (author, text, ts, kind)
            })
            .collect();
        assert_eq!(
            general,
            [
                m(
                    "annie",
                    "joined",
                    1_577_836_800_000,
                    Some(MessageKind::Joined)
                ),
                m("annie", "hello @Bob Jones & all", 1_577_836_801_000, None),
                m("Bob Jones", "Which JSON library?", 1_577_836_802_000, None),
                m("annie", "final text", 1_577_836_803_000, None),
                m(
                    "annie",
                    "> Bob Jones: Which JSON library?\nserde, see the docs (https://serde.rs)",
                    1_577_836_804_000,
                    None
                ),
                m("Carol", "still here", 1_577_836_808_000, None),
                m(
                    "Bob Jones",
                    "@Bob Jones set the channel topic: Rust",
                    1_577_923_200_000,
                    Some(MessageKind::Announcement)
                ),
                m("ci-bot", "Build #1 passed", 1_577_923_201_000, None),
                m("annie", "the plan\n[file: Plan]", 1_577_923_202_000, None),
            ]
        );
        let dev_ops: Vec<_> = seen(&store, "dev-ops").await;
        assert_eq!(
            dev_ops,
            [(
                1,
                "Bob Jones".into(),
                "deploying #general".into(),
                1_577_836_810_000,
                None
            )]
        );
        // Record errors are reported, each where it is, and the import goes on past them.
        let day = "general/2020-01-01.json";
        let at = |n| At::Record(n);
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert_eq!(
            (&errors[0].file, errors[0].at, &errors[0].problem),
            (&"secret/".to_owned(), At::File, &Problem::UnknownChannel)
        );
        assert_eq!(
            errors[1],
            RecordError {
                file: day.into(),
                at: at(7),
                problem: Problem::BadTimestamp("soon".into())
            }
        );
        assert_eq!(
            errors[2],
            RecordError {
                file: day.into(),
                at: at(8),
                problem: Problem::TooLong { max: 4_000 }
            }
        );
        assert!(
            matches!(&errors[3], RecordError { file, at: At::Record(9), problem: Problem::Malformed(_) } if file == day),
            "{:?}",
            errors[3]
        );
        assert_eq!(summary.rooms_created, ["dev-ops", "general"]);
        assert_eq!(
            (
                summary.read,
                summary.stored,
                summary.skipped,
                summary.errors
            ),
            (10, 10, 1, 4)
        );
        // A catch-up that read the room before the import reads it again.
        assert_eq!(recent.since("general", before, 0), Delta::Unknown);

        // Again: nothing new, the same errors.
        let (again, errors) = import(&path, &writer, &options).await;
        let again = again.unwrap();
        assert_eq!(
            (
                again.read,
                again.stored,
                again.duplicates,
                again.errors,
                errors.len()
            ),
            (10, 0, 10, 4, 4)
        );
        assert!(again.rooms_created.is_empty() && again.rooms.is_empty());
        assert_eq!(seen(&store, "general").await.len(), 9);

        // Someone else, not a moderator, may not import into the rooms ann's import made.
        let (other, errors) = import(&path, &writer, &ImportOptions::new("p-bob")).await;
        let other = other.unwrap();
        assert_eq!((other.stored, other.refused), (0, 10));
        let refused: Vec<&Problem> = errors
            .iter()
            .filter(|e| matches!(e.problem, Problem::RoomRefused(_)))
            .map(|e| &e.problem)
            .collect();
        assert_eq!(
            refused,
            [
                &Problem::RoomRefused("dev-ops".into()),
                &Problem::RoomRefused("general".into())
            ]
        );
    }
}

#[tokio::test]
async fn an_exports_bad_records_are_reported_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("palaver.db").display());
    let store = Store::open(&url).await.unwrap();
    let line = |id: i64, text: &str, kind: Option<&str>| {
        json!({"id": id, "room": "r1", "seq": id, "author": "ann", "text": text,
               "kind": kind, "created_at": 1_000 + id, "deleted": false})
        .to_string()
    };
    let lines = [
        line(1, "first", None),
        "{not json".to_owned(),
        line(3, &"y".repeat(3_000), None),
        line(4, &"z".repeat(4_001), None),
        line(5, "edited?", Some("edited")),
        String::new(),
        line(7, "last", None),
    ]
    .join("\n");
    let manifest = json!({
        "format": FORMAT, "version": 1, "exported_at": 1,
        "conversations": [
            {"room": "r1", "kind": "room", "messages": 5, "file": "c/1.ndjson"},
            {"room": "Bad Room", "kind": "room", "messages": 0, "file": "c/2.ndjson"},
            {"room": "r3", "kind": "room", "messages": 0, "file": "c/3.ndjson"},
        ]
    });
    let path = zip_file(
        dir.path(),
        "export.zip",
        &[
            ("manifest.json", json_bytes(manifest)),
            ("c/1.ndjson", lines.into_bytes()),
            ("c/2.ndjson", Vec::new()),
        ],
    );
    let (writer, _) = writer(&store);
    let options = ImportOptions {
        limits: Limits {
            record_bytes: 2_000,
            ..Limits::default()
        },
        ..ImportOptions::new("p-ann")
    };
    let (summary, errors) = import(&path, &writer, &options).await;
    let summary = summary.unwrap();
    let problems: Vec<(String, At, String)> = errors
        .iter()
        .map(|e| (e.file.clone(), e.at, format!("{:?}", e.problem)))
        .collect();
    let file = |n| format!("c/{n}.ndjson");
    let kind_of = |p: &str| p.split(['(', ' ']).next().unwrap().to_owned();
    let kinds: Vec<(String, At, String)> = problems
        .into_iter()
        .map(|(f, at, p)| (f, at, kind_of(&p)))
        .collect();
    assert_eq!(
        kinds,
        [
            (file(1), At::Line(2), "Malformed".into()),
            (file(1), At::Line(3), "TooBig".into()),
            (file(1), At::Line(4), "TooBig".into()),
            (file(1), At::Line(5), "Malformed".into()),
            (file(2), At::File, "BadRoomName".into()),
            (file(3), At::File, "Malformed".into()),
        ]
    );
    assert_eq!((summary.stored, summary.errors), (2, 6));
    let texts: Vec<String> = seen(&store, "r1").await.into_iter().map(|m| m.2).collect();
    assert_eq!(texts, ["first", "last"]);
}

#[tokio::test]
async fn bad_archives_get_their_typed_errors_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("palaver.db").display());
    let store = Store::open(&url).await.unwrap();
    let (writer, _) = writer(&store);
    let run = |path: PathBuf, limits: Limits| {
        let writer = writer.clone();
        async move {
            let options = ImportOptions {
                limits,
                ..ImportOptions::new("p-ann")
            };
            import(&path, &writer, &options).await.0.unwrap_err()
        }
    };
    let defaults = Limits::default;

    let noise = dir.path().join("noise.zip");
    std::fs::write(&noise, b"PK\x03\x04 this is no archive at all").unwrap();
    let e = run(noise, defaults()).await;
    assert!(matches!(e, ArchiveError::Corrupt(_)), "{e:?}");

    let slack = slack_export(dir.path());
    let bytes = std::fs::read(&slack).unwrap();
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    let e = run(cut, defaults()).await;
    assert!(matches!(e, ArchiveError::Corrupt(_)), "{e:?}");

    let other = zip_file(dir.path(), "other.zip", &[("readme.txt", b"hi".to_vec())]);
    let e = run(other, defaults()).await;
    assert!(matches!(e, ArchiveError::WrongFormat), "{e:?}");

    let small = Limits {
        archive_bytes: 100,
        ..defaults()
    };
    let e = run(slack.clone(), small).await;
    assert!(
        matches!(e, ArchiveError::TooLarge { max: 100, .. }),
        "{e:?}"
    );

    let few = Limits {
        entries: 3,
        ..defaults()
    };
    let e = run(slack.clone(), few).await;
    assert!(
        matches!(e, ArchiveError::TooManyEntries { entries: 6, max: 3 }),
        "{e:?}"
    );

    // A bomb: 8 MiB of spaces in a day of a channel, deflated to a few KiB.
    let spaces = [b"[".to_vec(), vec![b' '; 8 << 20], b"]".to_vec()].concat();
    let bomb = zip_file(
        dir.path(),
        "bomb.zip",
        &[
            (
                "channels.json",
                json_bytes(json!([{"id": "C1", "name": "general"}])),
            ),
            ("general/2020-01-01.json", spaces),
        ],
    );
    assert!(std::fs::metadata(&bomb).unwrap().len() < 64 * 1024);
    let e = run(
        bomb.clone(),
        Limits {
            expanded_bytes: 1 << 20,
            ..defaults()
        },
    )
    .await;
    assert!(
        matches!(e, ArchiveError::Bomb { max } if max == 1 << 20),
        "{e:?}"
    );
    let e = run(
        bomb.clone(),
        Limits {
            entry_bytes: 1 << 20,
            ..defaults()
        },
    )
    .await;
    assert!(
        matches!(&e, ArchiveError::EntryTooLarge { entry, .. } if entry == "general/2020-01-01.json"),
        "{e:?}"
    );

    // The same bomb declaring 100 bytes for its day: stopped as it expands past them.
    let mut lying = std::fs::read(&bomb).unwrap();
    let zip = zip::ZipArchive::new(std::fs::File::open(&bomb).unwrap()).unwrap();
    let day = zip.index_for_name("general/2020-01-01.json").unwrap();
    let entry = zip.by_index_data(day).unwrap();
    let (local, central) = (
        entry.header_start() as usize,
        entry.central_header_start() as usize,
    );
    // The uncompressed size: at 22 in the local header, at 24 in the central one.
    lying[local + 22..local + 26].copy_from_slice(&100u32.to_le_bytes());
    lying[central + 24..central + 28].copy_from_slice(&100u32.to_le_bytes());
    let lying_path = dir.path().join("lying.zip");
    std::fs::write(&lying_path, &lying).unwrap();
    let e = run(lying_path, defaults()).await;
    assert!(
        matches!(&e, ArchiveError::Corrupt(reason) if reason.contains("declared")),
        "{e:?}"
    );

    assert!(
        store.public_rooms().await.unwrap() == ["lobby"],
        "nothing was stored"
    );
}

/// A `palaver worker` on Postgres imports through a writer's connection of its own, and
/// announces the rooms' heads itself from the summary.
#[tokio::test]
async fn a_process_of_its_own_imports_through_its_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&services::database()).await.unwrap();
    let path = slack_export(dir.path());
    let mut conn = store.writer_connection().await.unwrap();
    let options = ImportOptions::new("p-ann");
    let summary = import_from(&path, &mut conn, &options, &mut |_| {}, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!((summary.stored, summary.errors), (10, 4));
    for head in &summary.rooms {
        assert_eq!(
            store.head(&head.room).await.unwrap(),
            (head.last_id, head.last_seq)
        );
    }
    let rooms: Vec<&str> = summary.rooms.iter().map(|h| h.room.as_str()).collect();
    assert_eq!(rooms, ["dev-ops", "general"]);
}

/// The job queue runs exports and imports on its tasks: their futures must be `Send`.
#[test]
fn exports_and_imports_can_run_on_any_task() {
    fn sendable<F: std::future::Future + Send>(_: F) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(Store::open("sqlite::memory:")).unwrap();
    let _guard = runtime.enter();
    let (mut writer, _) = writer(&store);
    let path = Path::new("nowhere.zip");
    let options = ImportOptions::by_the_server();
    sendable(export_to(&store, &[], path, &mut |_, _| {}));
    sendable(import_from(
        path,
        &mut writer,
        &options,
        &mut |_| {},
        &mut |_, _| {},
    ));
}
