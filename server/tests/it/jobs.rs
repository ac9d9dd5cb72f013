//! Jobs over real sockets and HTTP: outgoing webhooks delivered through the queue to a real
//! receiver (retried, given up, carried on), the person's and `/admin`'s job lists and
//! events, and the import upload's answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use app::events::{
    AdminJobs, CreateOutgoingWebhook, CreateRoom, Event as _, History, ListDeadLetters, ListJobs,
    SendMessage, StartExport,
};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::support::{SioClient, TestServer, http_request};

/// A real HTTP receiver on loopback that answers each delivery with the next of `answers`
/// (the last one from then on), and hands over what it got.
struct Receiver {
    url: String,
    got: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
}

async fn receiver(answers: Vec<StatusCode>) -> Receiver {
    let (tell, got) = mpsc::unbounded_channel();
    let served = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (tell, served, answers) = (tell.clone(), served.clone(), answers.clone());
            async move {
                let n = served.fetch_add(1, Ordering::SeqCst);
                let _ = tell.send((headers, body));
                answers[n.min(answers.len() - 1)]
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        got,
    }
}

/// The texts of a delivery whose signature verifies with `secret`.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8]) -> Vec<String> {
    let ts = headers["x-palaver-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        headers["x-palaver-signature"].to_str().unwrap(),
        format!("sha256={hex}")
    );
    let body: Value = serde_json::from_slice(body).unwrap();
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn made(admin: &mut SioClient, event: &str, request: Value) -> Value {
    let (ack, _) = admin.request(event, vec![request]).await;
    assert!(ack[0]["error"].is_null(), "{event}: {ack}");
    ack[0]["data"].clone()
}

/// An outgoing webhook of the lobby to `url`: its signing secret.
async fn hook(admin: &mut SioClient, url: &str) -> String {
    let made = made(
        admin,
        CreateOutgoingWebhook::NAME,
        json!({"room": "lobby", "url": url}),
    )
    .await;
    made["secret"].as_str().unwrap().to_owned()
}

async fn say(client: &mut SioClient, text: &str) {
    let (ack, _) = client
        .request(
            SendMessage::NAME,
            vec![json!(text), json!(text), json!("lobby")],
        )
        .await;
    assert!(ack[0]["error"].is_null(), "{ack}");
}

/// The next `job` event on `/admin` whose job is in `state`, after `attempts` tries at least.
/// The watcher reports what it reads at each tick, so a job may first be seen while still
/// queued for its first try, or be seen only once it is past it.
async fn admin_job_in(admin: &mut SioClient, state: &str, attempts: u64) -> Value {
    loop {
        let (_, args) = admin.next_event_named("job").await;
        if args[0]["state"] == state && args[0]["attempts"].as_u64() >= Some(attempts) {
            return args[0].clone();
        }
    }
}

#[tokio::test]
async fn a_receiver_that_fails_for_a_while_gets_every_message_in_order_signed() {
    let server = TestServer::start_with(|c| c.webhooks_allow_private = true).await;
    let mut admin = server.admin().await;
    let mut rx = receiver(vec![StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK]).await;
    let secret = hook(&mut admin, &rx.url).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    say(&mut ann, "one").await;
    // The first delivery fails; the job is tried again after its backoff.
    let (headers, body) = rx.got.recv().await.unwrap();
    assert_eq!(verified(&secret, &headers, &body), ["one"]);
    let retried = admin_job_in(&mut admin, "queued", 1).await;
    assert_eq!(
        (retried["kind"].as_str(), retried["attempts"].as_u64()),
        (Some("webhook"), Some(1))
    );
    assert!(
        retried["summary"].as_str().unwrap().contains("503"),
        "{retried}"
    );
    let (headers, body) = rx.got.recv().await.unwrap();
    assert_eq!(verified(&secret, &headers, &body), ["one"]);
    let done = admin_job_in(&mut admin, "done", 0).await;
    assert_eq!(done["attempts"], 2);
    // Later messages follow, in order, each once.
    say(&mut ann, "two").await;
    say(&mut ann, "three").await;
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let (headers, body) = rx.got.recv().await.unwrap();
        texts.extend(verified(&secret, &headers, &body));
    }
    assert_eq!(texts, ["two", "three"]);
}

#[tokio::test]
async fn a_refusing_receiver_leaves_dead_letters_and_its_hook_goes_on() {
    let server = TestServer::start_with(|c| c.webhooks_allow_private = true).await;
    let mut admin = server.admin().await;
    let mut rx = receiver(vec![StatusCode::BAD_REQUEST, StatusCode::OK]).await;
    let secret = hook(&mut admin, &rx.url).await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    say(&mut ann, "refused").await;
    rx.got.recv().await.unwrap();
    // A 400 is not worth retrying: the page is given up at once, and the job is dead.
    let dead = admin_job_in(&mut admin, "dead", 0).await;
    assert_eq!(dead["attempts"], 1);
    assert!(
        dead["summary"].as_str().unwrap().contains("gave up"),
        "{dead}"
    );
    let jobs = made(&mut admin, AdminJobs::NAME, json!({})).await;
    assert_eq!(jobs["jobs"][0]["state"], "dead");
    let letters = made(&mut admin, ListDeadLetters::NAME, json!({})).await;
    let letters = letters.as_array().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(letters[0]["lastError"].as_str().unwrap().contains("400"));
    // The hook goes on with the next message.
    say(&mut ann, "accepted").await;
    let (headers, body) = rx.got.recv().await.unwrap();
    assert_eq!(verified(&secret, &headers, &body), ["accepted"]);
}

#[tokio::test]
async fn a_guest_has_no_jobs_and_cannot_export() {
    let server = TestServer::start().await;
    let mut guest = server.client(json!({})).await;
    let (ack, _) = guest.request(ListJobs::NAME, vec![json!({})]).await;
    assert_eq!(ack[0]["data"]["jobs"], json!([]));
    let (ack, _) = guest.request(StartExport::NAME, vec![json!({})]).await;
    assert_eq!(ack[0]["error"]["code"], "name_required");
}

#[tokio::test]
async fn an_upload_needs_a_token_a_format_and_a_body_within_the_limit() {
    let server = TestServer::start_with(|c| c.max_import_bytes = 1_000).await;
    let post = |path: &'static str, headers: String, body: Vec<u8>| {
        let addr = server.addr;
        async move { http_request(addr, "POST", path, &headers, &body).await }
    };
    let none = post("/imports?format=slack", String::new(), vec![1; 10]).await;
    assert_eq!(
        (none.status, none.json()["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let forged = post(
        "/imports?format=slack",
        "Authorization: Bearer v1.e30.AAAA\r\n".into(),
        vec![1; 10],
    )
    .await;
    assert_eq!(forged.status, 401);
    let admin = format!("Authorization: Bearer {}\r\n", server.admin_token().await);
    let unknown = post("/imports?format=teams", admin.clone(), vec![1; 10]).await;
    assert_eq!(unknown.status, 400);
    let big = post("/imports?format=slack", admin.clone(), vec![1; 1_001]).await;
    assert_eq!(
        (big.status, big.json()["error"].as_str()),
        (413, Some("too_large"))
    );
    let empty = post("/imports?format=slack", admin.clone(), Vec::new()).await;
    assert_eq!(
        (empty.status, empty.json()["error"].as_str()),
        (400, Some("empty"))
    );
    let queued = post("/imports?format=slack", admin, b"not a zip".to_vec()).await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let job = queued.json()["job"].as_i64().unwrap();
    // The job is the moderator's: it shows on /admin.
    let mut admin = server.admin().await;
    let jobs = made(&mut admin, AdminJobs::NAME, json!({})).await;
    assert_eq!(jobs["jobs"][0]["id"], job);
    assert_eq!(jobs["jobs"][0]["kind"], "import");
}

/// GETs `path` as a browser would (taking compressed answers) and returns the status and the
/// body's bytes, as they are.
async fn get_bytes(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip, deflate, br\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&all[9..12]).parse().unwrap();
    (status, all[end + 4..].to_vec())
}

/// The next `job` event `client` hears whose job is in `state`.
async fn job_in(client: &mut SioClient, state: &str) -> Value {
    admin_job_in(client, state, 0).await
}

async fn say_in(client: &mut SioClient, room: &str, text: &str) {
    let (ack, _) = client
        .request(
            SendMessage::NAME,
            vec![json!(text), json!(text), json!(room)],
        )
        .await;
    assert!(ack[0]["error"].is_null(), "{ack}");
}

#[tokio::test]
async fn a_room_exported_on_one_server_is_imported_whole_into_another() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    made(&mut ann, CreateRoom::NAME, json!({"name": "team"})).await;
    for text in ["one", "two", "three"] {
        say_in(&mut ann, "team", text).await;
    }
    let started = made(&mut ann, StartExport::NAME, json!({"room": "team"})).await;
    let job = started["job"].as_i64().unwrap();
    let done = job_in(&mut ann, "done").await;
    assert_eq!(done["id"], job);
    assert_eq!(
        (done["done"].as_u64(), done["total"].as_u64()),
        (Some(3), Some(3))
    );
    let link = done["download"].as_str().unwrap().to_owned();
    let (status, zip) = get_bytes(server.addr, &link).await;
    assert_eq!(status, 200);
    assert!(zip.starts_with(b"PK"), "a ZIP");
    // A link altered, or of another file, is refused.
    let (forged, _) = get_bytes(server.addr, &link.replace("sig=", "sig=A")).await;
    assert_eq!(forged, 403);
    // Into a fresh server: bob's import makes the room, and bob is in it.
    let fresh = TestServer::start().await;
    let mut bob = fresh.client(json!({"name": "bob"})).await;
    let token = bob.session.clone().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let wrong = http_request(fresh.addr, "POST", "/imports?format=slack", &auth, &zip).await;
    assert_eq!(wrong.status, 202);
    let dead = job_in(&mut bob, "dead").await;
    assert!(
        dead["summary"]
            .as_str()
            .unwrap()
            .contains("not a Slack export"),
        "{dead}"
    );
    let uploaded = http_request(fresh.addr, "POST", "/imports?format=palaver", &auth, &zip).await;
    assert_eq!(uploaded.status, 202, "{}", uploaded.body);
    let done = job_in(&mut bob, "done").await;
    assert_eq!(done["id"], uploaded.json()["job"]);
    assert!(
        done["summary"]
            .as_str()
            .unwrap()
            .starts_with("3 message(s) imported"),
        "{done}"
    );
    let page = made(&mut bob, History::NAME, json!({"room": "team"})).await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    // Again: nothing new.
    let again = http_request(fresh.addr, "POST", "/imports?format=palaver", &auth, &zip).await;
    assert_eq!(again.status, 202);
    let done = job_in(&mut bob, "done").await;
    assert!(
        done["summary"]
            .as_str()
            .unwrap()
            .starts_with("0 message(s) imported, 3 already there"),
        "{done}"
    );
}

/// A backup directory of the server's own, named after its database.
fn backups_of(database_url: &str) -> std::path::PathBuf {
    let name: String = database_url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    std::env::temp_dir().join(format!("palaver-backups-{name}"))
}

#[tokio::test]
async fn a_scheduled_backup_runs_through_the_queue_and_shows_on_admin() {
    let server = TestServer::start_with(|c| c.backup_dir = Some(backups_of(&c.database_url))).await;
    let backups = backups_of(server.database());
    let mut admin = server.admin().await;
    let done = loop {
        let job = admin_job_in(&mut admin, "done", 0).await;
        if job["kind"] == "backup" {
            break job;
        }
    };
    let summary = done["summary"].as_str().unwrap();
    assert!(summary.contains("palaver-backup-"), "{summary}");
    let files: Vec<_> = std::fs::read_dir(&backups).unwrap().collect();
    assert_eq!(files.len(), 1);
    let file = files[0].as_ref().unwrap().path();
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    assert!(summary.contains(&file.display().to_string()), "{summary}");
    std::fs::remove_dir_all(&backups).unwrap();
}

/// Messages waiting in RabbitMQ's job queue.
async fn waiting_in_broker(url: &str) -> u32 {
    use lapin::options::QueueDeclareOptions;
    let connection = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            "palaver.jobs".into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let n = queue.message_count();
    let _ = connection.close(200, "".into()).await;
    n
}

#[tokio::test]
async fn jobs_go_through_rabbitmq_and_outlive_its_restart() {
    let mut rabbit = tokio::task::spawn_blocking(crate::services::RabbitMq::own)
        .await
        .unwrap();
    let url = rabbit.amqp_url();
    let queue_url = url.clone();
    // No workers here: the jobs wait in the broker.
    let mut server = TestServer::start_configured(move |c| {
        c.queue_url = Some(queue_url.clone());
        c.workers = 0;
    })
    .await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    say(&mut ann, "kept").await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        let started = made(&mut ann, StartExport::NAME, json!({"room": "lobby"})).await;
        jobs.push(started["job"].as_i64().unwrap());
    }
    let published = async {
        while waiting_in_broker(&url).await < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(crate::support::PATIENCE, published)
        .await
        .expect("the jobs reach RabbitMQ");
    let mut rabbit_restart = tokio::task::spawn_blocking(move || {
        rabbit.stop();
        rabbit.start();
        rabbit
    });
    rabbit = (&mut rabbit_restart).await.unwrap();
    assert_eq!(waiting_in_broker(&url).await, 3, "kept across the restart");
    // A server with workers takes them from the broker.
    drop(ann);
    server.stop().await;
    let queue_url = url.clone();
    let database = server.database().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(dir, database, None, move |c| {
        c.queue_url = Some(queue_url.clone());
    })
    .await;
    let mut admin = server.admin().await;
    let mut done = Vec::new();
    while done.len() < 3 {
        let job = admin_job_in(&mut admin, "done", 0).await;
        if job["kind"] == "export" {
            done.push(job["id"].as_i64().unwrap());
        }
    }
    done.sort();
    assert_eq!(done, jobs);
    let drained = async {
        while waiting_in_broker(&url).await > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(crate::support::PATIENCE, drained)
        .await
        .expect("every delivery acknowledged");
    drop(rabbit);
}
