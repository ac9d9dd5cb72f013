//! A client that behaves like the browser across a server restart: it holds a catch-up cursor
//! per conversation, reconnects with the browser's own backoff (`app::client::Backoff`) and
//! its session token, sends its cursors as `auth.since`, and checks every `seq` it receives:
//! nothing missing when a conversation's `synced` arrives, nothing delivered twice.
//!
//! Each client is an actor task; the scenario drives it through a [`Handle`] and reads what
//! all of them saw from the [`Shared`] state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use app::client::{Backoff, CONNECT_TIMEOUT, Connection, Ns, Output};
use app::events::{
    ChatMessage, CreateRoom, Event as _, JoinRoom, LOBBY, Main, MainAuth, RoomHead, Session, Since,
    Sync, Synced,
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, now_ms};
use crate::histogram::Histogram;

/// How long a request may wait for its ack.
const ACK_TIMEOUT_MS: f64 = 30_000.0;

/// What every client of one scenario shares.
#[derive(Default)]
pub(crate) struct Shared {
    /// When the restart began; catch-ups after it are the ones measured.
    armed: OnceLock<Instant>,
    /// Clients connected and caught up for the first time (the crowd's gathering).
    pub(crate) ready: AtomicUsize,
    /// Clients caught up again since the restart began.
    pub(crate) caught_up: AtomicUsize,
    stats: Mutex<Stats>,
}

/// What the clients saw after the restart began.
#[derive(Default, Clone)]
pub(crate) struct Stats {
    /// From the restart's start to the namespace's CONNECT answer, per client.
    pub(crate) reconnected: Histogram,
    /// From the restart's start to the last `synced` of the client's conversations.
    pub(crate) caught_up: Histogram,
    /// Connection attempts, and those that failed (refused, reset, timed out).
    pub(crate) attempts: u64,
    pub(crate) failed_attempts: u64,
    /// Namespace CONNECTs answered with `connect_error`.
    pub(crate) refused: u64,
    /// Messages the catch-ups replayed.
    pub(crate) replayed: u64,
    /// `synced` with `gap`: more missed than the catch-up window holds.
    pub(crate) gaps: u64,
    /// Messages missing when their conversation's `synced` arrived.
    pub(crate) missing_at_synced: u64,
    /// Messages delivered to a client that already held them (outside a `sync` it asked for).
    pub(crate) doubled: u64,
    /// `room head` notices: the server dropped a live delivery somewhere.
    pub(crate) room_heads: u64,
}

impl Shared {
    /// The restart begins now: from here on, catch-ups are measured.
    pub(crate) fn arm(&self) {
        let _ = self.armed.set(Instant::now());
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn with(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn since_armed(&self) -> Option<u64> {
        self.armed.get().map(|t| t.elapsed().as_micros() as u64)
    }
}

/// One client's final account, after a last `sync` of every conversation it holds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Report {
    /// Messages still missing after it: lost.
    pub(crate) lost: u64,
    /// Messages that last `sync` brought which live delivery had not: dropped by the server
    /// on the way (a browser syncs when it notices), not lost.
    pub(crate) recovered: u64,
}

/// What the client holds of one conversation.
#[derive(Default)]
struct Track {
    /// Ids of `seq` 1 to `ids.len()`, all held: `ids[s - 1]` is `seq` s's.
    ids: Vec<i64>,
    /// Held beyond a hole: `seq` to id.
    ahead: BTreeMap<i64, i64>,
    /// A `sync` this client asked for is under way: its replay may repeat what is held.
    syncing: bool,
    /// Messages that arrived while syncing and were new.
    filled: u64,
}

impl Track {
    fn upto(&self) -> i64 {
        self.ids.len() as i64
    }

    /// The catch-up cursor: the id of the newest message with nothing missing before it.
    fn cursor(&self) -> i64 {
        self.ids.last().copied().unwrap_or(0)
    }

    /// Records a delivery; whether this client held it already.
    fn arrive(&mut self, seq: i64, id: i64) -> bool {
        if seq <= self.upto() || self.ahead.contains_key(&seq) {
            return true;
        }
        if self.syncing {
            self.filled += 1;
        }
        if seq == self.upto() + 1 {
            self.ids.push(id);
            while let Some(next) = self.ahead.remove(&(self.upto() + 1)) {
                self.ids.push(next);
            }
        } else {
            self.ahead.insert(seq, id);
        }
        false
    }

    /// Messages up to `head` not held.
    fn missing(&self, head: i64) -> u64 {
        let beyond = (head - self.upto()).max(0) as u64;
        beyond - self.ahead.range(..=head).count() as u64
    }

    /// Forgets the newest `n` messages held, as a browser that was away for a while holds less.
    fn forget(&mut self, n: usize) {
        self.ids.truncate(self.ids.len().saturating_sub(n));
        self.ahead.clear();
    }
}

type Reply<T> = oneshot::Sender<Result<T, String>>;

enum Command {
    Create(String, Reply<()>),
    Join(String, Reply<()>),
    /// Follow a conversation from its first message: a `sync` from 0.
    Follow(String, Reply<()>),
    /// Complete every conversation up to its head (a `sync`), then forget up to `forget`
    /// newest messages of each, drawn at random.
    Prepare(usize, Reply<()>),
    /// A last `sync` of every conversation, then the account.
    Finish(Reply<Report>),
}

enum SyncPurpose {
    Follow(Reply<()>),
    Prepare(usize, Reply<()>),
    Finish(Reply<Report>),
}

enum Pending {
    Request(Reply<()>),
    Sync(SyncPurpose),
}

/// A handle on one client; dropping it closes the client.
pub(crate) struct Handle {
    commands: mpsc::UnboundedSender<Command>,
}

impl Handle {
    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| "the client has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the client stopped before answering".to_owned())?
    }

    pub(crate) async fn create(&self, room: String) -> Result<(), String> {
        self.ask(|r| Command::Create(room, r)).await
    }

    pub(crate) async fn join(&self, room: String) -> Result<(), String> {
        self.ask(|r| Command::Join(room, r)).await
    }

    pub(crate) async fn follow(&self, room: String) -> Result<(), String> {
        self.ask(|r| Command::Follow(room, r)).await
    }

    pub(crate) async fn prepare(&self, forget: usize) -> Result<(), String> {
        self.ask(|r| Command::Prepare(forget, r)).await
    }

    pub(crate) async fn finish(&self) -> Result<Report, String> {
        self.ask(Command::Finish).await
    }
}

/// Starts a client named `name` that connects from `source`, following the lobby from its
/// first message. `permit` is released once it has connected and caught up the first time.
pub(crate) fn spawn(
    server: SocketAddr,
    source: Ipv4Addr,
    name: String,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) -> Handle {
    let (commands, inbox) = mpsc::unbounded_channel();
    let mut tracks = HashMap::new();
    tracks.insert(LOBBY.to_owned(), Track::default());
    let actor = Actor {
        server,
        source,
        name,
        token: None,
        shared,
        tracks,
        permit: Some(permit),
        queued: Vec::new(),
        reconnected: false,
        counted: false,
        closed: false,
    };
    tokio::spawn(actor.run(inbox));
    Handle { commands }
}

struct Actor {
    server: SocketAddr,
    source: Ipv4Addr,
    name: String,
    token: Option<String>,
    shared: Arc<Shared>,
    tracks: HashMap<String, Track>,
    /// Held until the first catch-up: the scenario gathers its crowd a few at a time.
    permit: Option<OwnedSemaphorePermit>,
    /// Commands that need a caught-up connection, waiting for one.
    queued: Vec<Command>,
    /// Whether this client's reconnection and catch-up after the restart were counted.
    reconnected: bool,
    counted: bool,
    closed: bool,
}

/// One connection's state.
struct Link {
    conn: Connection,
    main: Ns<Main>,
    /// Conversations whose `synced` has not arrived yet.
    awaiting: HashSet<String>,
    caught_up: bool,
    pending: HashMap<i64, Pending>,
}

/// A `chat message` delivery, read without decoding the text: room, `seq` and id.
pub(crate) fn delivery(frame: &str) -> Option<(String, i64, i64)> {
    #[derive(Deserialize)]
    struct Meta {
        room: Option<String>,
        seq: i64,
    }
    let body = frame.strip_prefix("42")?;
    if !body.starts_with("[\"chat message\",") {
        return None;
    }
    let (_, _, id, meta): (IgnoredAny, IgnoredAny, i64, Meta) = serde_json::from_str(body).ok()?;
    Some((meta.room.unwrap_or_else(|| LOBBY.to_owned()), meta.seq, id))
}

impl Actor {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        let mut backoff = Backoff::default();
        let mut first = true;
        while !self.closed {
            if !first {
                // As the browser: the next attempt after a delay that grows, with jitter.
                let delay = Duration::from_millis(backoff.next_delay(fastrand::f64()));
                let wake = tokio::time::Instant::now() + delay;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(wake) => break,
                        command = inbox.recv() => match command {
                            Some(c) => self.queued.push(c),
                            None => return,
                        },
                    }
                }
            }
            first = false;
            self.connection(&mut inbox, &mut backoff).await;
        }
    }

    fn auth(&self) -> MainAuth {
        let since: Since = self
            .tracks
            .iter()
            .map(|(room, t)| (room.clone(), t.cursor()))
            .collect();
        MainAuth {
            since: Some(since),
            // The token from the last `session` proves who this is; the name only at first.
            name: self.token.is_none().then(|| self.name.clone()),
            token: self.token.clone(),
            ..MainAuth::default()
        }
    }

    /// One connection, from the attempt until it is lost (or the client is closed).
    async fn connection(
        &mut self,
        inbox: &mut mpsc::UnboundedReceiver<Command>,
        backoff: &mut Backoff,
    ) {
        let armed = self.shared.armed.get().is_some();
        if armed {
            self.shared.with(|s| s.attempts += 1);
        }
        let timeout = Duration::from_millis(CONNECT_TIMEOUT as u64);
        let mut ws =
            match tokio::time::timeout(timeout, client::open_ws(self.server, self.source)).await {
                Ok(Ok(ws)) => ws,
                _ => {
                    if armed {
                        self.shared.with(|s| s.failed_attempts += 1);
                    }
                    return;
                }
            };
        let mut conn = Connection::new();
        let main = conn.add_namespace::<Main>();
        conn.handle_connecting(now_ms());
        let mut link = Link {
            conn,
            main,
            awaiting: HashSet::new(),
            caught_up: false,
            pending: HashMap::new(),
        };
        let mut opened = false;
        loop {
            let deadline = link.conn.next_deadline().map(|d| {
                tokio::time::Instant::now() + Duration::from_millis((d - now_ms()).max(0.0) as u64)
            });
            let mut lost = false;
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => match delivery(&text) {
                        Some((room, seq, id)) => self.arrive(&room, seq, id),
                        None => link.conn.handle_frame(&text, now_ms()),
                    },
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => lost = true,
                },
                _ = sleep_until_some(deadline) => link.conn.handle_timeout(now_ms()),
                command = inbox.recv() => match command {
                    Some(c) => self.queued.push(c),
                    None => {
                        self.closed = true;
                        let _ = ws.close(None).await;
                        return;
                    }
                },
            }
            if lost {
                link.conn.handle_close();
            }
            if link.caught_up {
                for command in std::mem::take(&mut self.queued) {
                    self.execute(&mut link, command);
                }
            }
            let mut end = lost;
            while let Some(out) = link.conn.poll_output() {
                match out {
                    Output::Send(frame) => {
                        // A failed write shows up as the connection ending, on the next read.
                        let _ = ws.feed(Message::text(frame)).await;
                    }
                    Output::Opened => {
                        opened = true;
                        backoff.reset();
                        link.awaiting = self.tracks.keys().cloned().collect();
                        let auth = self.auth();
                        if link.conn.connect(link.main, &auth).is_err() {
                            end = true;
                        }
                    }
                    Output::Connected(_) => {
                        if let Some(t) = self.shared.since_armed()
                            && !self.reconnected
                        {
                            self.reconnected = true;
                            self.shared.with(|s| s.reconnected.record(t));
                        }
                    }
                    Output::ConnectError(_, _) => {
                        if armed {
                            self.shared.with(|s| s.refused += 1);
                        }
                        end = true;
                    }
                    Output::Disconnected(_) | Output::CloseTransport => end = true,
                    Output::Event(_, incoming) => match incoming.name.as_str() {
                        ChatMessage::NAME => {
                            if let Ok(m) = incoming.decode::<ChatMessage>() {
                                self.arrive(&m.meta.room, m.meta.seq, m.id);
                            }
                        }
                        Synced::NAME => {
                            if let Ok(synced) = incoming.decode::<Synced>() {
                                self.synced(&mut link, &synced);
                            }
                        }
                        Session::NAME => {
                            if let Ok(session) = incoming.decode::<Session>() {
                                self.token = Some(session.token);
                            }
                        }
                        RoomHead::NAME => self.shared.with(|s| s.room_heads += 1),
                        _ => {}
                    },
                    Output::Ack(id, answer) => {
                        if let Some(p) = link.pending.remove(&id) {
                            self.answered(p, answer.map_err(|e| e.to_string()));
                        }
                    }
                    Output::ProtocolError(_) => {}
                }
            }
            if ws.flush().await.is_err() {
                end = true;
            }
            if end {
                // Whatever was still waiting for an answer on this connection has lost it.
                link.conn.handle_close();
                while let Some(out) = link.conn.poll_output() {
                    if let Output::Ack(id, answer) = out
                        && let Some(p) = link.pending.remove(&id)
                    {
                        self.answered(p, answer.map_err(|e| e.to_string()));
                    }
                }
                for (_, p) in link.pending.drain() {
                    self.answered(p, Err("connection lost".into()));
                }
                if armed && !opened {
                    self.shared.with(|s| s.failed_attempts += 1);
                }
                let _ = ws.close(None).await;
                return;
            }
        }
    }

    fn arrive(&mut self, room: &str, seq: i64, id: i64) {
        let Some(track) = self.tracks.get_mut(room) else {
            return;
        };
        let syncing = track.syncing;
        if track.arrive(seq, id) && !syncing && self.shared.armed.get().is_some() {
            self.shared.with(|s| s.doubled += 1);
        }
    }

    fn synced(&mut self, link: &mut Link, synced: &Synced) {
        let room = &synced.head.room;
        if !link.awaiting.remove(room) {
            return;
        }
        let missing = self
            .tracks
            .get(room)
            .map_or(0, |t| t.missing(synced.head.last_seq));
        if self.shared.armed.get().is_some() {
            self.shared.with(|s| {
                s.replayed += synced.replayed as u64;
                s.gaps += u64::from(synced.gap);
                s.missing_at_synced += missing;
            });
        }
        if link.awaiting.is_empty() && !link.caught_up {
            link.caught_up = true;
            if self.permit.take().is_some() {
                self.shared.ready.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(t) = self.shared.since_armed()
                && !self.counted
            {
                self.counted = true;
                self.shared.with(|s| s.caught_up.record(t));
                self.shared.caught_up.fetch_add(1, Ordering::Relaxed);
            }
            for command in std::mem::take(&mut self.queued) {
                self.execute(link, command);
            }
        }
    }

    fn execute(&mut self, link: &mut Link, command: Command) {
        let now = now_ms();
        match command {
            Command::Create(room, reply) => {
                let event = CreateRoom {
                    name: room,
                    private: false,
                };
                match link
                    .conn
                    .emit_with_ack(link.main, &event, ACK_TIMEOUT_MS, now)
                {
                    Ok(id) => {
                        link.pending.insert(id, Pending::Request(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            Command::Join(room, reply) => {
                let event = JoinRoom { room };
                match link
                    .conn
                    .emit_with_ack(link.main, &event, ACK_TIMEOUT_MS, now)
                {
                    Ok(id) => {
                        link.pending.insert(id, Pending::Request(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            Command::Follow(room, reply) => {
                self.tracks.entry(room.clone()).or_default();
                self.sync(link, vec![room], SyncPurpose::Follow(reply));
            }
            Command::Prepare(forget, reply) => {
                let rooms = self.tracks.keys().cloned().collect();
                self.sync(link, rooms, SyncPurpose::Prepare(forget, reply));
            }
            Command::Finish(reply) => {
                let rooms = self.tracks.keys().cloned().collect();
                self.sync(link, rooms, SyncPurpose::Finish(reply));
            }
        }
    }

    fn sync(&mut self, link: &mut Link, rooms: Vec<String>, purpose: SyncPurpose) {
        let mut since = Since::new();
        for room in rooms {
            if let Some(t) = self.tracks.get_mut(&room) {
                t.syncing = true;
                t.filled = 0;
                since.insert(room, t.cursor());
            }
        }
        let event = Sync {
            since,
            ..Sync::default()
        };
        match link
            .conn
            .emit_with_ack(link.main, &event, ACK_TIMEOUT_MS, now_ms())
        {
            Ok(id) => {
                link.pending.insert(id, Pending::Sync(purpose));
            }
            Err(e) => self.answered(Pending::Sync(purpose), Err(e.to_string())),
        }
    }

    fn answered(&mut self, pending: Pending, answer: Result<socketioxide_core::Value, String>) {
        match pending {
            Pending::Request(reply) => {
                let result = answer.and_then(|v| {
                    Connection::decode_ack::<JoinRoom>(v)
                        .map_err(|e| e.to_string())?
                        .into_result()
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
                let _ = reply.send(result);
            }
            Pending::Sync(purpose) => {
                let heads = answer.and_then(|v| {
                    Connection::decode_ack::<Sync>(v)
                        .map_err(|e| e.to_string())?
                        .into_result()
                        .map_err(|e| e.to_string())
                });
                let mut report = Report::default();
                for t in self.tracks.values_mut() {
                    if t.syncing {
                        t.syncing = false;
                        report.recovered += t.filled;
                    }
                }
                if let Ok(heads) = &heads {
                    for synced in heads {
                        if let Some(t) = self.tracks.get(&synced.head.room) {
                            report.lost += t.missing(synced.head.last_seq);
                        }
                    }
                }
                match purpose {
                    SyncPurpose::Follow(reply) => {
                        let _ = reply.send(heads.map(drop));
                    }
                    SyncPurpose::Prepare(forget, reply) => {
                        if heads.is_ok() {
                            for t in self.tracks.values_mut() {
                                t.forget(fastrand::usize(0..=forget));
                            }
                        }
                        let _ = reply.send(heads.map(drop));
                    }
                    SyncPurpose::Finish(reply) => {
                        let _ = reply.send(heads.map(|_| report));
                    }
                }
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_room_seq_and_id_from_deliveries() {
        let frame = r#"42["chat message","a \"quoted\" text",17,{"room":"r1","author":"a","ts":1,"seq":4}]"#;
        assert_eq!(delivery(frame), Some(("r1".to_owned(), 4, 17)));
        let lobby = r#"42["chat message","hi",3,{"author":"a","ts":1,"seq":2}]"#;
        assert_eq!(delivery(lobby), Some((LOBBY.to_owned(), 2, 3)));
        assert_eq!(delivery(r#"42["synced",{"room":"r"}]"#), None);
        assert_eq!(
            delivery(r#"42/admin,["chat message","x",1,{"seq":1}]"#),
            None
        );
    }

    #[test]
    fn tracks_holes_repeats_and_the_cursor() {
        let mut t = Track::default();
        assert!(!t.arrive(1, 10));
        assert!(!t.arrive(3, 30), "a hole is not a repeat");
        assert_eq!((t.upto(), t.cursor(), t.missing(3)), (1, 10, 1));
        assert!(t.arrive(3, 30));
        assert!(!t.arrive(2, 20));
        assert_eq!((t.upto(), t.cursor(), t.missing(5)), (3, 30, 2));
        assert!(t.arrive(1, 10));
        t.forget(2);
        assert_eq!((t.upto(), t.cursor()), (1, 10));
        t.syncing = true;
        assert!(!t.arrive(2, 20));
        assert_eq!(t.filled, 1);
    }
}
