//! `palaver worker` processes (the real binary) stopped in the middle of a large Slack import,
//! beside a server on Postgres that runs no jobs itself (`--workers 0`):
//!
//! - SIGKILLed: its claim runs out (`--job-lease`), another worker takes the job up and reads
//!   the archive again from the start, and every record ends up stored exactly once (each
//!   record's key is its client offset), each room's `seq`s gapless;
//! - SIGTERMed: it puts its job back at once, and a worker already waiting finishes it long
//!   before the claim would have run out.
//!
//! Behind feature `stress`: `scripts/test.sh`'s chaos step runs them in a release build, apart
//! from the other tests, as the imports keep the cores busy for a while.

use std::collections::HashSet;
use std::io::BufRead as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::mpsc;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::services;
use crate::support::{TestServer, http_request};

/// A Slack export's shape: channels of `per_channel` messages, `PER_DAY` to a day's file.
#[derive(Clone, Copy)]
struct Export {
    channels: usize,
    per_channel: usize,
}

const PER_DAY: usize = 5_000;
/// The claim of a killed worker runs out this soon, so that the next one takes its job up.
const SHORT_LEASE: &str = "2s";
/// How long anything here may take before the test fails: an import of the largest export
/// twice over, in a debug build too.
const DEADLINE: Duration = Duration::from_secs(240);

impl Export {
    fn records(&self) -> usize {
        self.channels * self.per_channel
    }

    fn channel_id(c: usize) -> String {
        format!("C{c:04}")
    }

    fn channel_name(c: usize) -> String {
        format!("chaos-{c}")
    }

    /// Message `i`'s `ts`: a second apart, each channel's own.
    fn ts(c: usize, i: usize) -> String {
        format!("{}.{:06}", 1_500_000_000 + i, c)
    }

    /// What the import stores of channel `c`, in the archive's order: each message's key,
    /// author and text.
    fn stored(&self, c: usize) -> Vec<(String, String, String)> {
        (0..self.per_channel)
            .map(|i| {
                (
                    format!("slack:{}:{}", Export::channel_id(c), Export::ts(c, i)),
                    format!("user{}", i % 10),
                    format!("message {i} of #{}", Export::channel_name(c)),
                )
            })
            .collect()
    }

    /// The export as a ZIP, made the same way every time.
    fn zip(&self) -> Vec<u8> {
        let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(1));
        let channels: Vec<Value> = (0..self.channels)
            .map(|c| json!({"id": Export::channel_id(c), "name": Export::channel_name(c)}))
            .collect();
        zip.start_file("channels.json", options).unwrap();
        zip.write_all(&serde_json::to_vec(&channels).unwrap())
            .unwrap();
        let users: Vec<Value> = (0..10)
            .map(|u| json!({"id": format!("U{u}"), "name": format!("user{u}")}))
            .collect();
        zip.start_file("users.json", options).unwrap();
        zip.write_all(&serde_json::to_vec(&users).unwrap()).unwrap();
        for c in 0..self.channels {
            for (day, first) in (0..self.per_channel).step_by(PER_DAY).enumerate() {
                let name = format!(
                    "{}/2020-{:02}-{:02}.json",
                    Export::channel_name(c),
                    1 + day / 28,
                    1 + day % 28
                );
                zip.start_file(name, options).unwrap();
                let mut json = String::from("[");
                for i in first..(first + PER_DAY).min(self.per_channel) {
                    if i > first {
                        json.push(',');
                    }
                    json.push_str(&format!(
                        r#"{{"type":"message","user":"U{}","text":"message {i} of <#{}>","ts":"{}"}}"#,
                        i % 10,
                        Export::channel_id(c),
                        Export::ts(c, i)
                    ));
                }
                json.push(']');
                zip.write_all(json.as_bytes()).unwrap();
            }
        }
        zip.finish().unwrap().into_inner()
    }
}

/// A `palaver worker` process, run under a shell that SIGKILLs it once this test process lets
/// go of the shell's standard input (dropped, or the test process ended however it did), so
/// that no worker outlives its test. The shell says the worker's pid, then how it exited.
struct Worker {
    shell: Child,
    pid: u32,
    /// The shell's lines after the pid.
    said: mpsc::UnboundedReceiver<String>,
    log: PathBuf,
}

impl Worker {
    async fn start(database: &str, lease: &str, log: PathBuf) -> Worker {
        let script = r#"
            log="$1"; shift
            exec 3<&0
            "$@" </dev/null >"$log" 2>&1 &
            pid=$!
            echo "$pid"
            { cat >/dev/null; kill -KILL "$pid" 2>/dev/null; } <&3 &
            exec 3<&-
            wait "$pid"
            echo "exit $?"
        "#;
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_palaver"))
            .args(["worker", "--concurrency", "1", "--database-url", database])
            .args(["--job-lease", lease])
            .env_remove("DATABASE_URL")
            .env_remove("PALAVER_REDIS_URL")
            .env_remove("PALAVER_WORKERS")
            .env_remove("PALAVER_JOB_LEASE")
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The shell's notice of the worker's death ("Killed").
            .stderr(Stdio::null())
            .spawn()
            .expect("sh");
        let mut lines = std::io::BufReader::new(shell.stdout.take().unwrap()).lines();
        let (tell, mut said) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                if tell.send(line).is_err() {
                    break;
                }
            }
        });
        let pid = said
            .recv()
            .await
            .expect("the worker's pid")
            .parse()
            .unwrap();
        Worker {
            shell,
            pid,
            said,
            log,
        }
    }

    fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {}", self.pid);
    }

    /// Waits until the worker has exited: its exit status, as the shell has it (128 + the
    /// signal's number when a signal ended it).
    async fn exited(&mut self) -> i32 {
        let line = tokio::time::timeout(DEADLINE, self.said.recv())
            .await
            .expect("the worker did not exit")
            .expect("the shell says how the worker exited");
        line.strip_prefix("exit ").unwrap().parse().unwrap()
    }

    /// The end of what the worker logged, for a failure's message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the shell's standard input makes it SIGKILL the worker.
        drop(self.shell.stdin.take());
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

/// A job's row, as the test reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Job {
    state: String,
    attempts: i64,
    worker: Option<String>,
    lease_until: Option<i64>,
    progress_done: i64,
    progress_total: Option<i64>,
    result: Option<String>,
}

async fn job(pool: &PgPool, id: i64) -> Job {
    sqlx::query_as(
        "SELECT state, attempts, worker, lease_until, progress_done, progress_total, result
         FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Polls job `id` until `holds` of it, within [`DEADLINE`]; the workers' logs say why not.
async fn until(pool: &PgPool, id: i64, workers: &[&Worker], holds: impl Fn(&Job) -> bool) -> Job {
    let polling = async {
        loop {
            let row = job(pool, id).await;
            if holds(&row) {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    match tokio::time::timeout(DEADLINE, polling).await {
        Ok(row) => row,
        Err(_) => {
            let logs: Vec<String> = workers.iter().map(|w| w.log_tail()).collect();
            panic!(
                "{:?}\nworkers' logs:\n{}",
                job(pool, id).await,
                logs.join("\n---\n")
            )
        }
    }
}

/// A server on a database of its own that runs no jobs, with the export uploaded: the job's id.
async fn uploaded(export: Export) -> (TestServer, PgPool, i64) {
    let began = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let database = services::database();
    let server = TestServer::start_on(dir, database, None, |c| c.workers = 0).await;
    let pool = PgPool::connect(server.database()).await.unwrap();
    let zip = export.zip();
    let auth = format!("Authorization: Bearer {}\r\n", server.admin_token().await);
    let queued = http_request(server.addr, "POST", "/imports?format=slack", &auth, &zip).await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let id = queued.json()["job"].as_i64().unwrap();
    eprintln!(
        "{} records, {} bytes zipped, uploaded in {:?}",
        export.records(),
        zip.len(),
        began.elapsed()
    );
    (server, pool, id)
}

async fn stored(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE sender = 'import'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every record of `export` is stored once: each room holds its channel's messages, no more,
/// in the archive's order at `seq`s 1 to n, their keys distinct.
async fn every_record_once(pool: &PgPool, export: Export) {
    for c in 0..export.channels {
        let room = Export::channel_name(c);
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, client_offset, author, text FROM messages
             WHERE room = $1 AND sender = 'import' ORDER BY seq",
        )
        .bind(&room)
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(
            rows.len(),
            export.per_channel,
            "{room}: one message a record"
        );
        assert!(
            rows.iter()
                .map(|(seq, ..)| *seq)
                .eq(1..=export.per_channel as i64),
            "{room}: seqs 1 to {} without holes",
            export.per_channel
        );
        let keys: HashSet<&str> = rows.iter().map(|(_, key, ..)| key.as_str()).collect();
        assert_eq!(keys.len(), rows.len(), "{room}: no key twice");
        let stored: Vec<(String, String, String)> =
            rows.into_iter().map(|(_, key, a, t)| (key, a, t)).collect();
        assert!(
            stored == export.stored(c),
            "{room}: each record as the archive has it, in its order"
        );
    }
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE sender = 'import' AND NOT room LIKE 'chaos-%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(others, 0);
}

/// The stored and already-there counts of a finished import's result.
fn outcome(row: &Job) -> (u64, u64) {
    let result: Value = serde_json::from_str(row.result.as_deref().unwrap()).unwrap();
    (
        result["stored"].as_u64().unwrap(),
        result["duplicates"].as_u64().unwrap(),
    )
}

/// An import whose worker is SIGKILLed once `fraction` of the archive is read: the next
/// worker finishes it, and every record is stored once.
async fn killed_at(fraction: f64, export: Export) {
    let (server, pool, id) = uploaded(export).await;
    let logs = server.dir.path();
    let started = std::time::Instant::now();
    let mut first = Worker::start(server.database(), SHORT_LEASE, logs.join("first.log")).await;
    let running = until(&pool, id, &[&first], |j| {
        // Before the archive is opened its total reads 0.
        j.state == "running"
            && j.progress_total
                .is_some_and(|total| total > 0 && j.progress_done as f64 >= fraction * total as f64)
    })
    .await;
    assert_eq!(running.attempts, 1);
    eprintln!("{fraction} read after {:?}", started.elapsed());
    first.signal("KILL");
    assert_eq!(first.exited().await, 128 + 9, "killed");
    let before = stored(&pool).await;
    assert!(
        before > 0 && before < export.records() as i64,
        "killed in the middle of the import: {before} of {} stored",
        export.records()
    );
    let row = job(&pool, id).await;
    assert_eq!(
        (row.state.as_str(), &row.worker),
        ("running", &running.worker),
        "the dead worker's claim stands until it runs out"
    );
    let lease_until = row.lease_until.unwrap();

    let killed = std::time::Instant::now();
    let second = Worker::start(server.database(), SHORT_LEASE, logs.join("second.log")).await;
    until(&pool, id, &[&first, &second], |j| j.attempts == 2).await;
    assert!(
        now_ms() >= lease_until,
        "taken up once the dead worker's claim ran out, not before"
    );
    let done = until(&pool, id, &[&first, &second], |j| {
        j.state == "done" || j.state == "dead"
    })
    .await;
    eprintln!(
        "killed at {fraction}: {before} stored by then; the second worker finished {:?} after",
        killed.elapsed()
    );
    assert_eq!(
        (done.state.as_str(), done.attempts),
        ("done", 2),
        "{done:?}"
    );
    every_record_once(&pool, export).await;
    let (now, already) = outcome(&done);
    assert_eq!(
        now + already,
        export.records() as u64,
        "the second run found what the first had stored, and stored the rest"
    );
    // At least what was counted after the kill: a COMMIT the worker sent just before it died
    // may still be carried out by Postgres after the count.
    assert!(
        already >= before as u64,
        "{already} found, {before} counted"
    );
    drop(second);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_import_leaves_every_record_imported_once() {
    let export = Export {
        channels: 4,
        per_channel: 100_000,
    };
    // Early, while its first rooms fill; and late, when a rerun mostly finds duplicates.
    for fraction in [0.2, 0.7] {
        killed_at(fraction, export).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_puts_its_job_back_at_once() {
    let export = Export {
        channels: 2,
        per_channel: 100_000,
    };
    let (server, pool, id) = uploaded(export).await;
    let logs = server.dir.path();
    // The default lease: a job taken up before it runs out was put back.
    let mut first = Worker::start(server.database(), "30s", logs.join("first.log")).await;
    let running = until(&pool, id, &[&first], |j| {
        j.state == "running" && j.progress_done > 0
    })
    .await;
    let lease_until = running.lease_until.unwrap();
    let second = Worker::start(server.database(), "30s", logs.join("second.log")).await;
    let stopped = std::time::Instant::now();
    first.signal("TERM");
    assert_eq!(first.exited().await, 0, "{}", first.log_tail());
    let before = stored(&pool).await;
    assert!(
        before < export.records() as i64,
        "stopped in the middle of the import: {before} of {} stored",
        export.records()
    );
    let taken = until(&pool, id, &[&first, &second], |j| j.attempts == 2).await;
    assert!(
        taken.worker != running.worker,
        "the other worker has it: {taken:?}"
    );
    let now = now_ms();
    assert!(
        now < lease_until,
        "taken up {} ms after the SIGTERM, {} ms after the stopped worker's claim ran out",
        stopped.elapsed().as_millis(),
        now - lease_until
    );
    eprintln!(
        "taken up {:?} after the SIGTERM, {} ms before the claim would have run out",
        stopped.elapsed(),
        lease_until - now
    );
    let done = until(&pool, id, &[&first, &second], |j| {
        j.state == "done" || j.state == "dead"
    })
    .await;
    assert_eq!(
        (done.state.as_str(), done.attempts),
        ("done", 2),
        "{done:?}"
    );
    every_record_once(&pool, export).await;
    pool.close().await;
}

/// Milliseconds since the Unix epoch, as the jobs table keeps time.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
