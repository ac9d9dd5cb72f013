//! `palaver backup`: a copy taken while a client posts, restored into a fresh data directory
//! (SQLite) or a fresh database (Postgres, with `pg_restore`), holds every message acknowledged
//! before the backup began, and a server starts on it and goes on numbering.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use app::events::{Event as _, History, MAX_HISTORY_LIMIT, SendMessage};
use palaver_server::Config;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::services;
use crate::support::{PATIENCE, SioClient, TestServer, database_url};

/// Sends are not limited: the poster goes as fast as acks come back.
fn unlimited(config: &mut Config) {
    config.rate_limit = 0.0;
}

/// `palaver backup PATH` against `database`, run as its own process.
async fn run_backup(database: &str, path: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
    command
        .arg("backup")
        .arg(path)
        .env("DATABASE_URL", database)
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().expect("palaver backup runs"))
        .await
        .unwrap()
}

/// A client posting to the lobby, one message after another's ack, until told to stop.
struct Poster {
    /// Each acknowledged message: its id and text, in the order acknowledged.
    acked: Arc<Mutex<Vec<(i64, String)>>>,
    count: watch::Receiver<usize>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<SioClient>,
}

impl Poster {
    fn start(mut client: SioClient) -> Poster {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (count_tx, count) = watch::channel(0);
        let (stop, stopped) = watch::channel(false);
        let record = acked.clone();
        let task = tokio::spawn(async move {
            for i in 0.. {
                if *stopped.borrow() {
                    break;
                }
                let text = format!("message {i}");
                let (ack, _) = client.request(SendMessage::NAME, vec![json!(text)]).await;
                let id = ack[0]["data"]["id"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("not acknowledged: {ack}"));
                let n = {
                    let mut acked = record.lock().unwrap();
                    acked.push((id, text));
                    acked.len()
                };
                count_tx.send_replace(n);
            }
            client
        });
        Poster {
            acked,
            count,
            stop,
            task,
        }
    }

    /// Waits until `n` messages in all have been acknowledged.
    async fn until(&mut self, n: usize) {
        tokio::time::timeout(PATIENCE * 3, self.count.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("fewer than {n} messages acknowledged in time"))
            .unwrap();
    }

    fn acked(&self) -> Vec<(i64, String)> {
        self.acked.lock().unwrap().clone()
    }

    async fn stop(self) -> Vec<(i64, String)> {
        self.stop.send_replace(true);
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the poster stops")
            .unwrap();
        self.acked.lock().unwrap().clone()
    }
}

/// Every message of the lobby, oldest first, paged back through `history`: `(id, text, seq)`.
async fn lobby(client: &mut SioClient) -> Vec<(i64, String, i64)> {
    let mut all = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut request = json!({"room": "lobby", "limit": MAX_HISTORY_LIMIT});
        if let Some(before) = before {
            request["before"] = json!(before);
        }
        let (ack, _) = client.request(History::NAME, vec![request]).await;
        let page = &ack[0]["data"];
        let messages = page["messages"].as_array().expect("a page").clone();
        let mut older: Vec<(i64, String, i64)> = messages
            .iter()
            .map(|m: &Value| {
                (
                    m[1].as_i64().unwrap(),
                    m[0].as_str().unwrap().to_owned(),
                    m[2]["seq"].as_i64().unwrap(),
                )
            })
            .collect();
        before = older.first().map(|m| m.0);
        older.append(&mut all);
        all = older;
        if page["more"] != json!(true) {
            return all;
        }
    }
}

/// Posts continuously on a server of `database`, backs it up in the middle, restores it with
/// `restore`, starts a server on the restored database and checks every message acknowledged
/// before the backup began is there, with its id and the lobby's `seq`s whole.
async fn backup_under_load(
    dir: tempfile::TempDir,
    database: String,
    restore: impl AsyncFnOnce(&Path) -> RestoredOn,
) {
    let mut server = TestServer::start_on(dir, database, None, unlimited).await;
    let ann = server.client(json!({"name": "ann"})).await;
    let mut poster = Poster::start(ann);
    poster.until(40).await;

    let before = poster.acked();
    let backups = tempfile::tempdir().unwrap();
    let path = backups.path().join("palaver.backup");
    let out = run_backup(server.database(), &path).await;
    assert!(
        out.status.success(),
        "palaver backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(summary["path"], json!(path));
    assert_eq!(
        summary["bytes"].as_u64(),
        Some(std::fs::metadata(&path).unwrap().len())
    );
    let backend = if server.database().starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(summary["backend"], json!(backend));
    assert!(summary["took_ms"].is_u64(), "{summary}");

    // The posts went on through the backup and after it.
    let during = poster.acked().len();
    poster.until(during + 20).await;
    let all = poster.stop().await;
    server.stop().await;

    let restored = restore(&path).await;
    let fresh = TestServer::start_on(restored.dir, restored.database, None, unlimited).await;
    let mut bob = fresh.client(json!({"name": "bob"})).await;
    let stored = lobby(&mut bob).await;

    let seqs: Vec<i64> = stored.iter().map(|m| m.2).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as i64).collect::<Vec<_>>(),
        "the copy is one snapshot: the lobby's seqs run without a hole"
    );
    let kept: std::collections::HashMap<i64, &str> = stored
        .iter()
        .map(|(id, text, _)| (*id, text.as_str()))
        .collect();
    for (id, text) in &before {
        assert_eq!(
            kept.get(id).copied(),
            Some(text.as_str()),
            "message {id} ({text}) was acknowledged before the backup began"
        );
    }
    assert!(
        all.len() > before.len() + 20,
        "posting went on past the backup"
    );

    // The restored server goes on from the copy's last seq.
    let (ack, _) = bob
        .request(SendMessage::NAME, vec![json!("after the restore")])
        .await;
    let last = *seqs.last().unwrap();
    assert_eq!(ack[0]["data"]["seq"].as_i64(), Some(last + 1), "{ack}");
}

/// Where a backup was restored: a data directory, and the database URL to start on.
struct RestoredOn {
    dir: tempfile::TempDir,
    database: String,
}

#[tokio::test]
async fn a_sqlite_backup_taken_under_load_restores_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let database = database_url(&dir);
    backup_under_load(dir, database, async |backup: &Path| {
        // A fresh data directory with the backup as its database file.
        let dir = tempfile::tempdir().unwrap();
        let data: PathBuf = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::copy(backup, data.join("palaver.db")).unwrap();
        let database = database_url(&dir);
        RestoredOn { dir, database }
    })
    .await;
}

#[tokio::test]
async fn a_postgres_backup_taken_under_load_restores_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    backup_under_load(dir, services::database(), async |backup: &Path| {
        let database = services::database();
        let mut command = Command::new("pg_restore");
        command
            .args(["--no-owner", "--exit-on-error", "--dbname"])
            .arg(&database)
            .arg(backup);
        let out = tokio::task::spawn_blocking(move || command.output().expect("pg_restore"))
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "pg_restore failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        RestoredOn {
            dir: tempfile::tempdir().unwrap(),
            database,
        }
    })
    .await;
}

#[tokio::test]
async fn a_wrong_backup_request_exits_2_and_a_failed_one_1() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken");
    std::fs::write(&taken, b"keep me").unwrap();
    let database = server.database().to_owned();
    let missing = format!(
        "sqlite://{}",
        dir.path().join("no-such/palaver.db").display()
    );
    let unreachable = "postgres://palaver@127.0.0.1:1/palaver".to_owned();
    let cases = [
        (&database, taken.clone(), 2, "exists already"),
        (&database, dir.path().join("no-dir/x"), 2, "does not exist"),
        (&missing, dir.path().join("a"), 2, "no SQLite database"),
        (
            &"sqlite::memory:".to_owned(),
            dir.path().join("b"),
            2,
            "in-memory",
        ),
        (
            &"mysql://db/palaver".to_owned(),
            dir.path().join("c"),
            2,
            "sqlite://FILE or postgres://",
        ),
        (&unreachable, dir.path().join("d"), 1, "pg_dump failed"),
    ];
    for (database, path, code, says) in cases {
        let out = run_backup(database, &path).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{database} {path:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{database}: {stderr}");
        assert!(out.stdout.is_empty(), "stdout is the summary's alone");
    }
    assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["taken"], "a failed backup leaves no file behind");
}
