//! Test harness: the real server on port 0 with a real SQLite file, and a minimal Socket.IO
//! client that speaks raw Engine.IO v4 / Socket.IO v5 frames over a WebSocket, so these tests
//! check the wire format itself rather than our own client's view of it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use app::events::{
    Event as _, Main, Namespace as _, Presence, RoomList, RoomUpdate, Session, Typing,
};
use futures_util::{SinkExt, StreamExt};
use palaver_server::{Config, run};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, client_async, connect_async};

static SERVER_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts panics on tokio worker threads from now on (test threads' own panics are failures
/// already). A panic in a spawned task does not fail a test by itself, so tests check this.
pub fn watch_server_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("tokio"))
            {
                SERVER_PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            default(info)
        }));
    });
}

pub fn server_panics() -> usize {
    SERVER_PANICS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Upper bound for anything the server should do promptly; reaching it fails the test.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    database: String,
    redis: Option<String>,
    configure: Configure,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// What adjusts a test server's configuration.
type Configure = Arc<dyn Fn(&mut Config) + Send + Sync>;

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server whose default configuration `configure` adjusts, on a new database of the
    /// backend `PALAVER_TEST_BACKEND` names: SQLite (the default), or `postgres` (a database
    /// of the test process's Postgres).
    pub async fn start_with(configure: fn(&mut Config)) -> TestServer {
        TestServer::start_configured(configure).await
    }

    /// [`TestServer::start_with`], with a configuration that may hold values of the test's
    /// (a service's URL).
    pub async fn start_configured(
        configure: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let database = match std::env::var("PALAVER_TEST_BACKEND").as_deref() {
            Ok("postgres") => crate::services::database(),
            _ => database_url(&dir),
        };
        TestServer::start_on(dir, database, None, configure).await
    }

    /// A server on the database at `database`, and linked to other nodes through the Redis at
    /// `redis` if given (a node of several, when they share them).
    pub async fn start_on(
        dir: tempfile::TempDir,
        database: String,
        redis: Option<String>,
        configure: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> TestServer {
        let configure: Configure = Arc::new(configure);
        let (addr, stop, task) = spawn(
            &dir,
            &database,
            redis.as_deref(),
            "127.0.0.1:0",
            &*configure,
        )
        .await;
        TestServer {
            addr,
            dir,
            database,
            redis,
            configure,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful shutdown, then a fresh server on the same address and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let (addr, stop, task) = spawn(
            &self.dir,
            &self.database,
            self.redis.as_deref(),
            &self.addr.to_string(),
            &*self.configure,
        )
        .await;
        assert_eq!(addr, self.addr);
        self.stop = Some(stop);
        self.task = Some(task);
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task)
                .await
                .expect("server did not shut down in time")
                .unwrap();
        }
    }

    /// The URL of the server's database.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }

    pub async fn client(&self, auth: Value) -> SioClient {
        SioClient::connect(self.addr, "/", auth)
            .await
            .expect("connect refused")
    }

    /// Connects to `/` with `auth` and returns the refusal's `connect_error` message.
    pub async fn refused(&self, auth: Value) -> String {
        match SioClient::connect(self.addr, "/", auth).await {
            Err(Refused::ConnectError(e)) => e["message"].as_str().unwrap_or_default().to_owned(),
            Ok(_) => panic!("the connection should have been refused"),
        }
    }

    /// Connects to `/` from the loopback address `from` (any of 127.0.0.0/8), sending
    /// `X-Forwarded-For: forwarded_for` if given.
    pub async fn connect_from(
        &self,
        from: IpAddr,
        forwarded_for: Option<&str>,
        auth: Value,
    ) -> Result<SioClient, Refused> {
        SioClient::connect_via(self.addr, "/", auth, Some(from), forwarded_for).await
    }

    /// The token the server generated on start: into its data directory, or on Postgres into
    /// the database.
    pub async fn admin_token(&self) -> String {
        // Answering HTTP means `run` has loaded its secrets.
        assert_eq!(self.get("/healthz").await.0, 200);
        self.secret("admin-token").await
    }

    async fn secret(&self, key: &str) -> String {
        if self.database.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database).await.unwrap();
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&pool)
                .await
                .unwrap()
        } else {
            std::fs::read_to_string(self.dir.path().join("data").join(key)).unwrap()
        }
    }

    /// Runs `sql` on the server's database, as a person at its console would: how many rows
    /// it changed.
    pub async fn sql(&self, sql: &str) -> u64 {
        if self.database.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database).await.unwrap();
            sqlx::query(sql)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        } else {
            let db = rusqlite::Connection::open(self.dir.path().join("data/palaver.db")).unwrap();
            db.busy_timeout(Duration::from_secs(5)).unwrap();
            db.execute(sql, []).unwrap() as u64
        }
    }

    /// A client of `/admin`, holding the admin token.
    pub async fn admin(&self) -> SioClient {
        let token = self.admin_token().await;
        SioClient::connect(
            self.addr,
            app::events::Admin::PATH,
            json!({ "token": token }),
        )
        .await
        .expect("the admin token is accepted")
    }

    /// The key the server signs session tokens with (generated on start).
    pub async fn session_secret(&self) -> String {
        assert_eq!(self.get("/healthz").await.0, 200);
        self.secret("session-secret").await
    }
}

/// Two nodes on one new Postgres database, linked through `redis`.
pub async fn two_linked_nodes(redis: &crate::services::Service) -> (TestServer, TestServer) {
    let database = crate::services::database();
    let node = |database: String| {
        TestServer::start_on(
            tempfile::tempdir().unwrap(),
            database,
            Some(redis.redis_url()),
            |_| {},
        )
    };
    let one = node(database.clone()).await;
    let two = node(database).await;
    (one, two)
}

pub fn database_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("data/palaver.db").display())
}

async fn spawn(
    dir: &tempfile::TempDir,
    database: &str,
    redis: Option<&str>,
    addr: &str,
    configure: &(dyn Fn(&mut Config) + Send + Sync),
) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<()>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::with_database(database.to_owned());
    config.redis_url = redis.map(str::to_owned);
    config.data_dir = Some(dir.path().join("data"));
    // Empty until a test writes assets into `site/pkg`.
    config.site_root = dir.path().join("site").display().to_string();
    configure(&mut config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .expect("server failed");
    });
    (addr, stop, task)
}

/// A bare HTTP/1.1 GET; enough for `/healthz` and the rendered page.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get_with(addr, path, "").await
}

/// A GET's whole response, status line and headers included.
pub async fn http_get_raw(addr: SocketAddr, path: &str, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf))
        .await
        .expect("HTTP response timed out")
        .unwrap();
    String::from_utf8_lossy(&buf).to_string()
}

/// A GET with extra header lines, each ending in `\r\n`.
pub async fn http_get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let text = http_get_raw(addr, path, headers).await;
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        (status, dechunk(body))
    } else {
        (status, body.to_owned())
    }
}

/// An HTTP answer: status, head (status line and headers) and body.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpReply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A bare HTTP/1.1 request with `body` (sent with its length) and extra header lines, each
/// ending in `\r\n`. A server that answers before reading a whole body (413) may reset the
/// connection after its answer: what arrived before is the answer.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> HttpReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    // A server that stops reading early may reset the connection while this writes.
    let _ = s.write_all(&request).await;
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("HTTP response timed out");
    let text = String::from_utf8_lossy(&buf).to_string();
    assert!(text.starts_with("HTTP/1.1 "), "no HTTP answer: {text:?}");
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpReply {
        status,
        head: head.to_owned(),
        body,
    }
}

/// Joins a chunked body well enough for substring assertions.
pub fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// What a namespace connect got back.
#[derive(Debug)]
pub enum Refused {
    ConnectError(Value),
}

/// One Socket.IO client on one namespace, over raw frames.
pub struct SioClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    ns: String,
    next_ack: i64,
    /// The event the server sends first: `session` to a named client of the main namespace,
    /// `account` to a signed-in one, `whoami` to an `/admin` client.
    pub session: Option<Value>,
    /// `presence`, `typing`, `rooms` and `room update` events, set aside so that tests about messages need not skip
    /// them; read with [`SioClient::next_ambient`].
    ambient: std::collections::VecDeque<(String, Value)>,
    /// Packets read while looking for an ambient event, for `next_packet` to return first.
    pending: std::collections::VecDeque<Packet>,
}

/// Events that come and go with connections, not with what a test does.
const AMBIENT: [&str; 4] = [
    Presence::NAME,
    Typing::NAME,
    RoomList::NAME,
    RoomUpdate::NAME,
];

impl SioClient {
    pub async fn connect(addr: SocketAddr, ns: &str, auth: Value) -> Result<SioClient, Refused> {
        SioClient::connect_via(addr, ns, auth, None, None).await
    }

    /// [`SioClient::connect`] from the local address `from`, with an `X-Forwarded-For`.
    pub async fn connect_via(
        addr: SocketAddr,
        ns: &str,
        auth: Value,
        from: Option<IpAddr>,
        forwarded_for: Option<&str>,
    ) -> Result<SioClient, Refused> {
        SioClient::connect_settling(addr, ns, auth, from, forwarded_for, None, true).await
    }

    /// Connects to `/` and returns as soon as the namespace is connected (and, for a named
    /// client, its session came), without waiting for the connect handler's `rooms`: as a
    /// real client may go on.
    pub async fn connect_unsettled(addr: SocketAddr, auth: Value) -> SioClient {
        SioClient::connect_settling(addr, Main::PATH, auth, None, None, None, false)
            .await
            .expect("connect refused")
    }

    /// [`SioClient::connect`] with the session cookie `cookie` (`palaver_session=…`): a client
    /// signed in by it hears `account` first, kept in [`SioClient::session`].
    pub async fn connect_with_cookie(
        addr: SocketAddr,
        ns: &str,
        auth: Value,
        cookie: &str,
    ) -> Result<SioClient, Refused> {
        SioClient::connect_settling(addr, ns, auth, None, None, Some(cookie), true).await
    }

    async fn connect_settling(
        addr: SocketAddr,
        ns: &str,
        auth: Value,
        from: Option<IpAddr>,
        forwarded_for: Option<&str>,
        cookie: Option<&str>,
        settle: bool,
    ) -> Result<SioClient, Refused> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let mut ws = match (from, forwarded_for, cookie) {
            (None, None, None) => connect_async(url).await.expect("websocket handshake").0,
            (None, None, Some(cookie)) => {
                let mut request = url.into_client_request().unwrap();
                request
                    .headers_mut()
                    .insert("cookie", cookie.parse().unwrap());
                connect_async(request).await.expect("websocket handshake").0
            }
            _ => {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket
                    .bind(SocketAddr::new(from.unwrap_or([127, 0, 0, 1].into()), 0))
                    .unwrap();
                let tcp = socket.connect(addr).await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let mut request = url.into_client_request().unwrap();
                if let Some(f) = forwarded_for {
                    request
                        .headers_mut()
                        .insert("x-forwarded-for", f.parse().unwrap());
                }
                client_async(request, MaybeTlsStream::Plain(tcp))
                    .await
                    .expect("websocket handshake")
                    .0
            }
        };
        let open = next_text(&mut ws).await;
        assert!(
            open.starts_with('0'),
            "expected an Engine.IO open packet, got {open}"
        );
        let mut client = SioClient {
            ws,
            ns: ns.to_owned(),
            next_ack: 0,
            session: None,
            ambient: Default::default(),
            pending: Default::default(),
        };
        let signed_in = ns == Main::PATH && cookie.is_some();
        let named = ns == Main::PATH
            && !signed_in
            && (auth.get("name").is_some() || auth.get("token").is_some());
        client
            .send_raw(&format!("40{}{auth}", client.prefix()))
            .await;
        loop {
            let frame = client.next_frame().await;
            let Some(rest) = frame.strip_prefix('4') else {
                continue;
            };
            // `<type>[/ns,]<json>`: the packet type comes before the namespace.
            let (kind, rest) = rest.split_at(1);
            let rest = rest.strip_prefix(&client.prefix()).unwrap_or(rest);
            if kind == "0" {
                let body = rest;
                let v: Value = serde_json::from_str(body).unwrap();
                assert!(v["sid"].is_string(), "CONNECT without sid: {frame}");
                if named {
                    let (event, args) = client.next_event().await;
                    assert_eq!(
                        event,
                        Session::NAME,
                        "a named client hears its session first"
                    );
                    client.session = Some(args[0].clone());
                }
                if signed_in {
                    let (event, args) = client.next_event().await;
                    assert_eq!(
                        event, "account",
                        "a signed-in client hears its account first"
                    );
                    client.session = Some(args[0].clone());
                }
                if ns == app::events::Admin::PATH {
                    let (event, args) = client.next_event().await;
                    assert_eq!(event, "whoami", "an /admin client hears who it is first");
                    client.session = Some(args[0].clone());
                }
                if ns == Main::PATH && settle {
                    // The connect handler sends `rooms` once the socket is in its rooms. A
                    // request sent earlier is judged by the stored memberships and its own
                    // broadcast reaches it through the catch-up, possibly after its ack; tests
                    // start from the settled state. The event stays queued.
                    client.wait_for_ambient(RoomList::NAME).await;
                }
                return Ok(client);
            }
            if kind == "4" {
                return Err(Refused::ConnectError(serde_json::from_str(rest).unwrap()));
            }
        }
    }

    fn prefix(&self) -> String {
        if self.ns == "/" {
            String::new()
        } else {
            format!("{},", self.ns)
        }
    }

    pub async fn send_raw(&mut self, frame: &str) {
        self.ws.send(Message::text(frame)).await.unwrap();
    }

    /// Emits `[event, ...args]` without an ack.
    pub async fn emit(&mut self, event: &str, args: Vec<Value>) {
        let mut all = vec![json!(event)];
        all.extend(args);
        let frame = format!("42{}{}", self.prefix(), Value::Array(all));
        self.send_raw(&frame).await;
    }

    /// Emits with an ack id and waits for the ack's arguments; events arriving meanwhile are
    /// returned too, in order.
    pub async fn request(
        &mut self,
        event: &str,
        args: Vec<Value>,
    ) -> (Value, Vec<(String, Value)>) {
        let id = self.next_ack;
        self.next_ack += 1;
        let mut all = vec![json!(event)];
        all.extend(args);
        let frame = format!("42{}{id}{}", self.prefix(), Value::Array(all));
        self.send_raw(&frame).await;
        let mut events = Vec::new();
        loop {
            match self.next_packet().await {
                Packet::Ack(ack_id, args) if ack_id == id => return (args, events),
                Packet::Event(name, args) => events.push((name, args)),
                other => panic!("unexpected packet while awaiting ack {id}: {other:?}"),
            }
        }
    }

    /// Like [`SioClient::request`], but events arriving meanwhile stay queued for
    /// [`SioClient::next_event`].
    pub async fn ask(&mut self, event: &str, args: Vec<Value>) -> Value {
        let (ack, events) = self.request(event, args).await;
        for (i, (name, args)) in events.into_iter().enumerate() {
            self.pending.insert(i, Packet::Event(name, args));
        }
        ack
    }

    /// The next event's name and arguments (without the name).
    pub async fn next_event(&mut self) -> (String, Value) {
        match self.next_packet().await {
            Packet::Event(name, args) => (name, args),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The next event called `name`, skipping the events before it.
    pub async fn next_event_named(&mut self, name: &str) -> (String, Value) {
        loop {
            let (n, args) = self.next_event().await;
            if n == name {
                return (n, args);
            }
        }
    }

    /// The next packet, ambient events aside.
    pub async fn next_packet(&mut self) -> Packet {
        if let Some(p) = self.pending.pop_front() {
            return p;
        }
        loop {
            match self.read_packet().await {
                Packet::Event(name, args) if AMBIENT.contains(&name.as_str()) => {
                    self.ambient.push_back((name, args))
                }
                other => return other,
            }
        }
    }

    /// The next ambient event called `name` (see [`AMBIENT`]): its first argument.
    pub async fn next_ambient(&mut self, name: &str) -> Value {
        self.wait_for_ambient(name).await;
        let i = self.ambient.iter().position(|(n, _)| n == name).unwrap();
        self.ambient.remove(i).unwrap().1[0].clone()
    }

    /// Reads until an ambient event called `name` has arrived, leaving it queued.
    async fn wait_for_ambient(&mut self, name: &str) {
        while !self.ambient.iter().any(|(n, _)| n == name) {
            match self.read_packet().await {
                Packet::Event(n, args) if AMBIENT.contains(&n.as_str()) => {
                    self.ambient.push_back((n, args))
                }
                other => self.pending.push_back(other),
            }
        }
    }

    /// Whether an ambient event called `name` arrives within `wait`.
    pub async fn try_next_ambient(&mut self, name: &str, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.next_ambient(name))
            .await
            .ok()
    }

    async fn read_packet(&mut self) -> Packet {
        loop {
            let frame = self.next_frame().await;
            let Some(rest) = frame.strip_prefix('4') else {
                continue;
            };
            let (kind, body) = rest.split_at(1);
            let body = body.strip_prefix(&self.prefix()).unwrap_or(body);
            let digits = body.chars().take_while(char::is_ascii_digit).count();
            let (id, json) = body.split_at(digits);
            let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
            return match kind {
                "2" => {
                    let mut arr = value.as_array().cloned().unwrap_or_default();
                    let name = arr.remove(0).as_str().unwrap().to_owned();
                    Packet::Event(name, Value::Array(arr))
                }
                "3" => Packet::Ack(id.parse().unwrap(), value),
                "1" => Packet::Disconnect,
                _ => Packet::Other(frame),
            };
        }
    }

    /// The next Engine.IO message frame; answers pings on the way.
    async fn next_frame(&mut self) -> String {
        loop {
            let frame = next_text(&mut self.ws).await;
            if frame == "2" {
                self.send_raw("3").await;
                continue;
            }
            return frame;
        }
    }

    /// Waits until the server ends this socket: a DISCONNECT packet, a close frame, or the
    /// connection going away. False if none of these happens within `wait`. Unlike the
    /// readers above it does not panic on a close, so no backtrace is taken (slow in debug
    /// builds under RUST_BACKTRACE, enough to stall concurrent tests).
    pub async fn closed_within(mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            while let Some(Ok(msg)) = self.ws.next().await {
                match msg {
                    Message::Close(_) => return,
                    Message::Text(t) if t.starts_with("41") => return,
                    _ => {}
                }
            }
        })
        .await
        .is_ok()
    }

    /// Closes the transport without a Socket.IO disconnect, like a dropped network.
    pub async fn drop_connection(mut self) {
        let _ = self.ws.close(None).await;
    }
}

#[derive(Debug)]
pub enum Packet {
    Event(String, Value),
    Ack(i64, Value),
    Disconnect,
    Other(#[expect(dead_code, reason = "shown in failure messages, through Debug")] String),
}

async fn next_text(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> String {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("no frame from the server in time")
            .expect("websocket closed")
            .expect("websocket error");
        match msg {
            Message::Text(t) => return t.to_string(),
            Message::Close(_) => panic!("websocket closed by the server"),
            _ => continue,
        }
    }
}

/// A GET's status, headers (names lower-cased) and body.
pub async fn fetch(
    server: &TestServer,
    path: &str,
) -> (u16, std::collections::HashMap<String, String>, String) {
    let text = http_get_raw(server.addr, path, "").await;
    let (head, body) = text.split_once("\r\n\r\n").expect("no header end");
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: std::collections::HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, headers, body)
}
