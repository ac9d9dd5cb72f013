//! The client's protocol logic without I/O: frames and the time go in, frames to send and
//! things that happened come out. One [`Connection`] is one Engine.IO session multiplexing any
//! number of Socket.IO namespaces.
//!
//! The browser driver (`browser.rs`) feeds it WebSocket frames and timer ticks; tests feed it
//! strings. Nothing here reads a clock or touches a socket.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;

use socketioxide_core::packet::{Packet, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParserState};
use socketioxide_core::{Str, Value};
use socketioxide_parser_common::CommonParser;

use super::args;
use super::engine::{self, EnginePacket, Handshake};
use crate::events::{ClientEvent, Namespace, Request, ServerEvent};

/// Milliseconds, from whatever monotonic clock the driver uses (`performance.now()`).
pub type Millis = f64;

/// How long a new transport may take to deliver the Engine.IO handshake, as socket.io-client's
/// `timeout` option: a WebSocket stuck connecting can otherwise hang for minutes.
pub const CONNECT_TIMEOUT: Millis = 20_000.0;

/// A namespace added to a [`Connection`], typed by its [`Namespace`] so that only that
/// namespace's client events can be emitted on it. Use it only with the connection that
/// made it.
pub struct Ns<N> {
    index: usize,
    _namespace: PhantomData<fn() -> N>,
}

impl<N> Ns<N> {
    /// Its position in [`Output`]s.
    pub fn index(self) -> usize {
        self.index
    }
}

impl<N> Clone for Ns<N> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<N> Copy for Ns<N> {}
impl<N> fmt::Debug for Ns<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ns({})", self.index)
    }
}

/// Where a namespace stands on the current session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsStatus {
    /// Not joined: never asked, refused, left, or the session closed.
    Idle,
    /// CONNECT sent, no answer yet.
    Connecting,
    /// The server acknowledged the CONNECT; events flow both ways.
    Connected,
}

/// Something the driver must do or deliver.
#[derive(Debug)]
pub enum Output {
    /// Write this text frame to the transport.
    Send(String),
    /// Close the transport: the server closed the session, stopped pinging, or never sent
    /// its handshake. Then report it with [`Connection::handle_close`].
    CloseTransport,
    /// The Engine.IO handshake is done: connect the namespaces now, with fresh auth.
    Opened,
    /// Namespace `index` is connected.
    Connected(usize),
    /// The server refused namespace `index`.
    ConnectError(usize, String),
    /// Namespace `index` lost its connection (transport closed, or server disconnect).
    Disconnected(usize),
    /// An event for namespace `index`.
    Event(usize, Incoming),
    /// The answer to the ack request with this id.
    Ack(i64, Result<Value, AckFailure>),
    /// The server sent something this client does not understand; it was ignored.
    ProtocolError(String),
}

/// An event as received: its name, and its arguments still encoded.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub name: String,
    data: Value,
}

impl Incoming {
    pub fn decode<E: ServerEvent>(&self) -> Result<E, DecodeError> {
        args::decode(text(&self.data)?, true).map_err(|e| DecodeError(e.to_string()))
    }
}

/// A packet's arguments as text: binary packets are refused before they are parsed.
fn text(data: &Value) -> Result<&str, DecodeError> {
    data.as_str()
        .map(|s| s.as_str())
        .ok_or_else(|| DecodeError("binary arguments are not supported".into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckFailure {
    #[error("no ack before the timeout")]
    Timeout,
    #[error("the connection closed before the ack")]
    Disconnected,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("the namespace is not connected")]
    NotConnected,
    #[error("cannot encode the event: {0}")]
    Encode(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode the payload: {0}")]
pub struct DecodeError(pub String);

struct NsState {
    path: &'static str,
    status: NsStatus,
}

struct PendingAck {
    id: i64,
    ns: usize,
    deadline: Millis,
}

/// One Engine.IO session over a WebSocket, with its namespaces.
pub struct Connection {
    handshake: Option<Handshake>,
    /// When the transport counts as dead unless the server speaks: [`CONNECT_TIMEOUT`] after
    /// it starts, then `pingInterval + pingTimeout` after the handshake and each ping (the
    /// server pings every `pingInterval` and allows `pingTimeout` for the answer; we allow it
    /// the same margin).
    watchdog: Option<Millis>,
    namespaces: Vec<NsState>,
    next_ack: i64,
    /// In the order sent, so by id; a few at a time.
    acks: Vec<PendingAck>,
    parser_state: ParserState,
    out: VecDeque<Output>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new()
    }
}

impl Connection {
    pub fn new() -> Connection {
        Connection {
            handshake: None,
            watchdog: None,
            namespaces: Vec::new(),
            next_ack: 0,
            acks: Vec::new(),
            parser_state: ParserState::default(),
            out: VecDeque::new(),
        }
    }

    /// Registers namespace `N` (once; registering it again returns the same handle).
    pub fn add_namespace<N: Namespace>(&mut self) -> Ns<N> {
        let index = match self.namespaces.iter().position(|n| n.path == N::PATH) {
            Some(i) => i,
            None => {
                self.namespaces.push(NsState {
                    path: N::PATH,
                    status: NsStatus::Idle,
                });
                self.namespaces.len() - 1
            }
        };
        Ns {
            index,
            _namespace: PhantomData,
        }
    }

    pub fn is_open(&self) -> bool {
        self.handshake.is_some()
    }

    pub fn status<N>(&self, ns: Ns<N>) -> NsStatus {
        self.namespaces[ns.index].status
    }

    /// Sends the namespace CONNECT with `auth`. Needs an open session.
    pub fn connect<N: Namespace>(&mut self, ns: Ns<N>, auth: &N::Auth) -> Result<(), EmitError> {
        if !self.is_open() {
            return Err(EmitError::NotConnected);
        }
        let auth = CommonParser
            .encode_default(auth)
            .map_err(|e| EmitError::Encode(e.to_string()))?;
        self.send_packet(Packet::connect(N::PATH, Some(auth)));
        self.namespaces[ns.index].status = NsStatus::Connecting;
        Ok(())
    }

    /// Leaves the namespace: sends DISCONNECT and fails its pending acks.
    pub fn disconnect<N: Namespace>(&mut self, ns: Ns<N>) {
        if self.namespaces[ns.index].status != NsStatus::Idle && self.is_open() {
            self.send_packet(Packet::disconnect(N::PATH));
        }
        self.lose_namespace(ns.index);
    }

    /// Rejoins the namespace with new auth on the same session: DISCONNECT, then CONNECT.
    /// Its pending acks fail, since the server forgets them with the old socket.
    ///
    /// socketioxide 0.18 ignores a CONNECT that arrives while the disconnect handler of the
    /// previous socket still runs, so the browser driver opens a new session instead.
    pub fn refresh<N: Namespace>(&mut self, ns: Ns<N>, auth: &N::Auth) -> Result<(), EmitError> {
        self.disconnect(ns);
        self.connect(ns, auth)
    }

    /// Emits an event that expects no answer.
    pub fn emit<E: ClientEvent>(
        &mut self,
        ns: Ns<E::Namespace>,
        event: &E,
    ) -> Result<(), EmitError> {
        let packet = self.event_packet(ns, event)?;
        self.send_packet(packet);
        Ok(())
    }

    /// Emits a request; its answer comes out as [`Output::Ack`] with the returned id, or as
    /// a failure at `now + timeout`. Decode the answer with [`Connection::decode_ack`].
    pub fn emit_with_ack<R: Request>(
        &mut self,
        ns: Ns<R::Namespace>,
        event: &R,
        timeout: Millis,
        now: Millis,
    ) -> Result<i64, EmitError> {
        let mut packet = self.event_packet(ns, event)?;
        let id = self.next_ack;
        self.next_ack += 1;
        packet.inner.set_ack_id(id);
        self.send_packet(packet);
        self.acks.push(PendingAck {
            id,
            ns: ns.index,
            deadline: now + timeout,
        });
        Ok(id)
    }

    pub fn decode_ack<R: Request>(answer: Value) -> Result<R::Ack, DecodeError> {
        args::decode(text(&answer)?, false).map_err(|e| DecodeError(e.to_string()))
    }

    /// A transport is being opened: the handshake must arrive within [`CONNECT_TIMEOUT`].
    /// Call it when the transport is created rather than when it opens, so that a connection
    /// attempt that hangs also times out.
    pub fn handle_connecting(&mut self, now: Millis) {
        self.watchdog = Some(now + CONNECT_TIMEOUT);
    }

    /// A text frame arrived.
    pub fn handle_frame(&mut self, frame: &str, now: Millis) {
        match engine::decode(frame) {
            Ok(EnginePacket::Open(handshake)) => {
                self.watchdog = Some(now + ping_margin(&handshake));
                self.handshake = Some(handshake);
                self.out.push_back(Output::Opened);
            }
            Ok(EnginePacket::Ping) => {
                if let Some(h) = &self.handshake {
                    self.watchdog = Some(now + ping_margin(h));
                }
                self.out.push_back(Output::Send(engine::PONG.to_owned()));
            }
            Ok(EnginePacket::Close) => self.out.push_back(Output::CloseTransport),
            Ok(EnginePacket::Pong | EnginePacket::Noop) => {}
            Ok(EnginePacket::Message(packet)) => self.handle_packet(packet),
            Err(e) => self.out.push_back(Output::ProtocolError(e.to_string())),
        }
    }

    /// The transport closed, for whatever reason. Every namespace and pending ack is lost.
    pub fn handle_close(&mut self) {
        self.handshake = None;
        self.watchdog = None;
        self.parser_state = ParserState::default();
        for index in 0..self.namespaces.len() {
            self.lose_namespace(index);
        }
    }

    /// Time passed: expires acks, and notices a server that stopped pinging (or never sent
    /// its handshake).
    pub fn handle_timeout(&mut self, now: Millis) {
        self.fail_acks(&|a| a.deadline <= now, AckFailure::Timeout);
        if self.watchdog.is_some_and(|d| d <= now) {
            self.watchdog = None;
            self.out.push_back(Output::CloseTransport);
        }
    }

    /// When [`Connection::handle_timeout`] next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.acks
            .iter()
            .map(|a| a.deadline)
            .chain(self.watchdog)
            .reduce(f64::min)
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn event_packet<E: ClientEvent>(
        &self,
        ns: Ns<E::Namespace>,
        event: &E,
    ) -> Result<Packet, EmitError> {
        if !self.is_open() || self.namespaces[ns.index].status != NsStatus::Connected {
            return Err(EmitError::NotConnected);
        }
        let data =
            args::encode(Some(E::NAME), event).map_err(|e| EmitError::Encode(e.to_string()))?;
        Ok(Packet::event(
            <E::Namespace as Namespace>::PATH,
            Value::Str(Str::from(data), None),
        ))
    }

    fn send_packet(&mut self, packet: Packet) {
        match CommonParser.encode(packet) {
            Value::Str(s, _) => self.out.push_back(Output::Send(engine::message(&s))),
            // Only binary attachments encode to bytes, and this client sends none.
            Value::Bytes(_) => self.out.push_back(Output::ProtocolError(
                "binary packets are not supported".into(),
            )),
        }
    }

    fn handle_packet(&mut self, packet: &str) {
        // The shared codec parses what a server receives, which excludes CONNECT_ERROR.
        if let Some(rest) = packet.strip_prefix('4') {
            return self.handle_connect_error(rest);
        }
        // Binary packets (5, 6) must not reach the codec: it would wait for attachments, fail
        // every later packet, and stamp the wait with `Instant::now()`, which panics in wasm.
        if packet.starts_with(['5', '6']) {
            return self.out.push_back(Output::ProtocolError(
                "binary packets are not supported".into(),
            ));
        }
        let parsed = CommonParser.decode_str(
            &ParseConfig::default(),
            &self.parser_state,
            Str::from(packet.to_owned()),
        );
        let packet = match parsed {
            Ok(p) => p,
            Err(e) => {
                return self
                    .out
                    .push_back(Output::ProtocolError(format!("bad packet {packet:?}: {e}")));
            }
        };
        let Some(index) = self.namespace_index(&packet.ns) else {
            return self.out.push_back(Output::ProtocolError(format!(
                "packet for unknown namespace {}",
                packet.ns.as_str()
            )));
        };
        match packet.inner {
            // Answers to a CONNECT the client has since withdrawn are stale.
            PacketData::Connect(_) if self.namespaces[index].status != NsStatus::Connecting => {}
            PacketData::Connect(_) => {
                self.namespaces[index].status = NsStatus::Connected;
                self.out.push_back(Output::Connected(index));
            }
            PacketData::Disconnect => self.lose_namespace(index),
            // Stragglers sent before the namespace was left; its handlers expect none now.
            PacketData::Event(..) if self.namespaces[index].status != NsStatus::Connected => {}
            PacketData::Event(data, _) => match CommonParser.read_event(&data) {
                Ok(name) => {
                    let name = name.to_owned();
                    self.out
                        .push_back(Output::Event(index, Incoming { name, data }));
                }
                Err(e) => self
                    .out
                    .push_back(Output::ProtocolError(format!("event without a name: {e}"))),
            },
            PacketData::EventAck(data, id) => {
                // Unknown ids (answers after the timeout was reported, or on another
                // namespace than the request's) are dropped.
                if let Some(i) = self.acks.iter().position(|a| a.id == id && a.ns == index) {
                    self.acks.remove(i);
                    self.out.push_back(Output::Ack(id, Ok(data)));
                }
            }
            PacketData::BinaryEvent(..) | PacketData::BinaryAck(..) => self.out.push_back(
                Output::ProtocolError("binary packets are not supported".into()),
            ),
            PacketData::ConnectError(message) => self.refuse(index, message),
        }
    }

    fn handle_connect_error(&mut self, rest: &str) {
        let (ns, body) = match rest.strip_prefix('/') {
            Some(_) => rest.split_once(',').unwrap_or((rest, "")),
            None => ("/", rest),
        };
        let Some(index) = self.namespace_index(ns) else {
            return self.out.push_back(Output::ProtocolError(format!(
                "connect error for unknown namespace {ns}"
            )));
        };
        // v5 sends `{"message": …}`; older servers a bare string.
        let message = match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(o)) => o
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned(),
            Ok(serde_json::Value::String(s)) => s,
            _ => body.to_owned(),
        };
        self.refuse(index, message);
    }

    fn refuse(&mut self, index: usize, message: String) {
        let ns = &mut self.namespaces[index];
        if ns.status == NsStatus::Connecting {
            ns.status = NsStatus::Idle;
            self.out.push_back(Output::ConnectError(index, message));
        }
    }

    fn namespace_index(&self, path: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n.path == path)
    }

    /// Fails the pending acks that `lost` picks, in the order they were sent.
    fn fail_acks(&mut self, lost: &dyn Fn(&PendingAck) -> bool, failure: AckFailure) {
        // Called at every deadline: most of the time nothing is lost, and nothing is rebuilt.
        if !self.acks.iter().any(lost) {
            return;
        }
        let (failed, kept) = std::mem::take(&mut self.acks)
            .into_iter()
            .partition::<Vec<_>, _>(|a| lost(a));
        self.acks = kept;
        for a in failed {
            self.out.push_back(Output::Ack(a.id, Err(failure)));
        }
    }

    fn lose_namespace(&mut self, index: usize) {
        self.fail_acks(&|a| a.ns == index, AckFailure::Disconnected);
        let ns = &mut self.namespaces[index];
        if ns.status != NsStatus::Idle {
            ns.status = NsStatus::Idle;
            self.out.push_back(Output::Disconnected(index));
        }
    }
}

fn ping_margin(h: &Handshake) -> Millis {
    (h.ping_interval + h.ping_timeout) as Millis
}

#[cfg(test)]
mod tests {
    //! Raw frames in, raw frames out. Event names come from the contract (`NAME`), so the
    //! frames are built with `format!`; everything else is the exact bytes on the wire.

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::events::{
        ChatError, ChatMessage, Event, Main, MainAuth, MessageMeta, Posted, Reply, SendMessage,
    };

    /// A second namespace, to check multiplexing on one session.
    struct Admin;
    impl Namespace for Admin {
        const PATH: &'static str = "/admin";
        type Auth = AdminAuth;
    }

    #[derive(Clone, Serialize, Deserialize)]
    struct AdminAuth {
        token: String,
    }

    /// A client event of `/admin`. It borrows a contract name: names live in `events.rs`.
    #[derive(Debug, Serialize, Deserialize)]
    struct AdminSay {
        text: String,
    }
    impl Event for AdminSay {
        const NAME: &'static str = SendMessage::NAME;
        type Namespace = Admin;
    }
    impl ClientEvent for AdminSay {}
    impl Request for AdminSay {
        type Ack = Reply<Posted>;
    }

    /// A server event of `/admin`.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AdminNotice {
        text: String,
    }
    impl Event for AdminNotice {
        const NAME: &'static str = ChatMessage::NAME;
        type Namespace = Admin;
    }
    impl ServerEvent for AdminNotice {}

    const OPEN: &str = r#"0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#;

    /// The JSON array of an event: its name, then the arguments (already JSON).
    fn event(name: &str, args: &str) -> String {
        format!(r#"["{name}",{args}]"#)
    }

    fn drain(c: &mut Connection) -> Vec<Output> {
        std::iter::from_fn(|| c.poll_output()).collect()
    }

    fn sent(outputs: &[Output]) -> Vec<&str> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    fn say(text: &str) -> AdminSay {
        AdminSay { text: text.into() }
    }

    fn admin_auth() -> AdminAuth {
        AdminAuth { token: "t".into() }
    }

    /// An open session with `/` and `/admin` connected, everything drained.
    fn connected() -> (Connection, Ns<Main>, Ns<Admin>) {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        let admin = c.add_namespace::<Admin>();
        c.handle_connecting(0.0);
        c.handle_frame(OPEN, 0.0);
        assert!(matches!(drain(&mut c)[..], [Output::Opened]));
        c.connect(main, &MainAuth::default()).unwrap();
        c.connect(admin, &admin_auth()).unwrap();
        c.handle_frame(r#"40{"sid":"m"}"#, 0.0);
        c.handle_frame(r#"40/admin,{"sid":"a"}"#, 0.0);
        drain(&mut c);
        assert_eq!(c.status(main), NsStatus::Connected);
        assert_eq!(c.status(admin), NsStatus::Connected);
        (c, main, admin)
    }

    fn send_message(text: &str) -> SendMessage {
        SendMessage {
            text: text.into(),
            client_offset: Some("c1".into()),
            room: None,
            ..Default::default()
        }
    }

    #[test]
    fn handshake_then_namespaces_connect_with_auth() {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        let admin = c.add_namespace::<Admin>();
        assert_eq!(
            c.add_namespace::<Main>().index(),
            main.index(),
            "added once"
        );
        assert_ne!(main.index(), admin.index());
        let auth = MainAuth {
            server_offset: 7,
            name: Some("ann".into()),
            since: None,
            changes: None,
            token: None,
        };
        assert_eq!(c.connect(main, &auth), Err(EmitError::NotConnected));
        assert!(
            drain(&mut c).is_empty(),
            "nothing sent before the handshake"
        );

        c.handle_frame(OPEN, 0.0);
        assert!(c.is_open());
        assert!(matches!(drain(&mut c)[..], [Output::Opened]));
        c.connect(main, &auth).unwrap();
        c.connect(admin, &admin_auth()).unwrap();
        let out = drain(&mut c);
        assert_eq!(
            sent(&out),
            [
                r#"40{"serverOffset":7,"name":"ann"}"#,
                r#"40/admin,{"token":"t"}"#
            ]
        );
        assert_eq!(c.status(main), NsStatus::Connecting);
        assert_eq!(c.status(admin), NsStatus::Connecting);

        // The server answers in any order.
        c.handle_frame(r#"40/admin,{"sid":"a"}"#, 1.0);
        assert_eq!(c.status(admin), NsStatus::Connected);
        assert_eq!(c.status(main), NsStatus::Connecting);
        c.handle_frame(r#"40{"sid":"m"}"#, 1.0);
        let out = drain(&mut c);
        assert!(
            matches!(out[..], [Output::Connected(1), Output::Connected(0)]),
            "{out:?}"
        );
        assert_eq!(c.status(main), NsStatus::Connected);
    }

    #[test]
    fn events_are_encoded_per_namespace() {
        let (mut c, main, admin) = connected();
        c.emit(main, &send_message("hi")).unwrap();
        let bare = SendMessage {
            text: "yo".into(),
            client_offset: None,
            room: None,
            ..Default::default()
        };
        c.emit(main, &bare).unwrap();
        c.emit(admin, &say("psst")).unwrap();
        let out = drain(&mut c);
        assert_eq!(
            sent(&out),
            [
                format!("42{}", event(SendMessage::NAME, r#""hi","c1""#)),
                format!("42{}", event(SendMessage::NAME, r#""yo""#)),
                format!("42/admin,{}", event(AdminSay::NAME, r#"{"text":"psst"}"#)),
            ]
        );
        assert_eq!(out.len(), 3, "only frames: {out:?}");
    }

    #[test]
    fn emitting_needs_a_connected_namespace() {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        assert_eq!(
            c.emit(main, &send_message("x")),
            Err(EmitError::NotConnected)
        );
        c.handle_frame(OPEN, 0.0);
        assert_eq!(
            c.emit(main, &send_message("x")),
            Err(EmitError::NotConnected)
        );
        c.connect(main, &MainAuth::default()).unwrap();
        drain(&mut c);
        assert_eq!(
            c.emit(main, &send_message("x")),
            Err(EmitError::NotConnected),
            "not before the CONNECT is acknowledged"
        );
        assert_eq!(
            c.emit_with_ack(main, &send_message("x"), 1_000.0, 0.0),
            Err(EmitError::NotConnected)
        );
        assert!(drain(&mut c).is_empty(), "nothing buffered, nothing sent");
        assert_eq!(c.next_deadline(), Some(45_000.0), "no ack pending");
    }

    #[test]
    fn incoming_events_reach_their_namespace_and_decode() {
        let (mut c, _main, _admin) = connected();
        let chat = event(
            ChatMessage::NAME,
            r#""hey",12,{"author":"bo","ts":5,"seq":1}"#,
        );
        c.handle_frame(&format!("42{chat}"), 1.0);
        let notice = event(AdminNotice::NAME, r#"{"text":"restarting"}"#);
        c.handle_frame(&format!("42/admin,{notice}"), 1.0);

        let mut out = drain(&mut c).into_iter();
        let Some(Output::Event(0, incoming)) = out.next() else {
            panic!("expected an event of `/`")
        };
        assert_eq!(incoming.name, ChatMessage::NAME);
        let m: ChatMessage = incoming.decode().unwrap();
        assert_eq!(
            m,
            ChatMessage {
                text: "hey".into(),
                id: 12,
                meta: MessageMeta {
                    room: "lobby".into(),
                    author: "bo".into(),
                    ts: 5,
                    seq: 1,
                    client_offset: None,
                    kind: None,
                    ..Default::default()
                }
            }
        );
        let Some(Output::Event(1, incoming)) = out.next() else {
            panic!("expected an event of `/admin`")
        };
        assert_eq!(
            incoming.decode::<AdminNotice>().unwrap(),
            AdminNotice {
                text: "restarting".into()
            }
        );
        assert!(out.next().is_none());

        // A payload of the wrong shape is a decode error, not a panic.
        c.handle_frame(&format!("42{}", event(ChatMessage::NAME, "42")), 2.0);
        let Some(Output::Event(0, bad)) = c.poll_output() else {
            panic!("expected an event")
        };
        assert!(bad.decode::<ChatMessage>().is_err());
    }

    #[test]
    fn events_of_a_namespace_left_are_dropped() {
        let (mut c, _main, admin) = connected();
        c.disconnect(admin);
        drain(&mut c);
        let notice = event(AdminNotice::NAME, r#"{"text":"late"}"#);
        c.handle_frame(&format!("42/admin,{notice}"), 1.0);
        assert!(c.poll_output().is_none());
    }

    #[test]
    fn acks_match_their_ids_and_decode() {
        let (mut c, main, admin) = connected();
        let ids = [
            c.emit_with_ack(main, &send_message("a"), 5_000.0, 10.0)
                .unwrap(),
            c.emit_with_ack(main, &send_message("b"), 5_000.0, 10.0)
                .unwrap(),
            c.emit_with_ack(admin, &say("c"), 5_000.0, 10.0).unwrap(),
        ];
        assert_eq!(ids, [0, 1, 2], "one counter per connection");
        assert_eq!(
            sent(&drain(&mut c)),
            [
                format!("420{}", event(SendMessage::NAME, r#""a","c1""#)),
                format!("421{}", event(SendMessage::NAME, r#""b","c1""#)),
                format!("42/admin,2{}", event(AdminSay::NAME, r#"{"text":"c"}"#)),
            ]
        );
        assert_eq!(c.next_deadline(), Some(5_010.0));

        // An answer must come from the request's namespace.
        c.handle_frame(r#"43/admin,0[{"data":{"id":9,"ts":9}}]"#, 15.0);
        assert!(c.poll_output().is_none());

        c.handle_frame(r#"431[{"data":{"id":1,"ts":2,"seq":1}}]"#, 20.0);
        c.handle_frame(
            r#"430[{"error":{"code":"empty","message":"message is empty"}}]"#,
            20.0,
        );
        c.handle_frame(r#"43/admin,2[{"data":{"id":3,"ts":4,"seq":2}}]"#, 20.0);
        let answers: Vec<(i64, Reply<Posted>)> = drain(&mut c)
            .into_iter()
            .map(|o| match o {
                Output::Ack(id, Ok(v)) => (id, Connection::decode_ack::<SendMessage>(v).unwrap()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            answers,
            [
                (
                    1,
                    Reply::Data(Posted {
                        id: 1,
                        ts: 2,
                        seq: 1
                    })
                ),
                (0, Err(ChatError::Empty).into()),
                (
                    2,
                    Reply::Data(Posted {
                        id: 3,
                        ts: 4,
                        seq: 2
                    })
                ),
            ]
        );
        assert_eq!(c.next_deadline(), Some(45_000.0), "only the watchdog left");

        // An unknown or repeated ack id is ignored.
        c.handle_frame(r#"431[{"data":{"id":1,"ts":2}}]"#, 30.0);
        assert!(c.poll_output().is_none());
        // The counter keeps going.
        let next = c.emit_with_ack(main, &send_message("d"), 5_000.0, 30.0);
        assert_eq!(next, Ok(3));
    }

    #[test]
    fn an_ack_of_the_wrong_shape_is_a_decode_error() {
        let (mut c, main, _) = connected();
        let id = c
            .emit_with_ack(main, &send_message("a"), 5_000.0, 0.0)
            .unwrap();
        drain(&mut c);
        c.handle_frame(&format!(r#"43{id}["ok"]"#), 1.0);
        let Some(Output::Ack(answered, Ok(value))) = c.poll_output() else {
            panic!("expected an ack")
        };
        assert_eq!(answered, id);
        assert!(Connection::decode_ack::<SendMessage>(value).is_err());
    }

    #[test]
    fn acks_time_out() {
        let (mut c, main, _) = connected();
        let id = c
            .emit_with_ack(main, &send_message("a"), 1_000.0, 100.0)
            .unwrap();
        drain(&mut c);
        assert_eq!(c.next_deadline(), Some(1_100.0));
        c.handle_timeout(1_099.0);
        assert!(c.poll_output().is_none(), "not yet");
        c.handle_timeout(1_100.0);
        assert!(matches!(
            c.poll_output(),
            Some(Output::Ack(i, Err(AckFailure::Timeout))) if i == id
        ));
        assert!(c.poll_output().is_none());
        assert_eq!(c.next_deadline(), Some(45_000.0));
        // The late answer is dropped.
        c.handle_frame(&format!(r#"43{id}[{{"data":{{"id":1,"ts":1}}}}]"#), 1_200.0);
        assert!(c.poll_output().is_none());
    }

    #[test]
    fn closing_fails_acks_and_disconnects_namespaces() {
        let (mut c, main, admin) = connected();
        let first = c
            .emit_with_ack(main, &send_message("a"), 5_000.0, 0.0)
            .unwrap();
        let second = c.emit_with_ack(admin, &say("b"), 5_000.0, 0.0).unwrap();
        drain(&mut c);
        c.handle_close();
        let out = drain(&mut c);
        assert!(
            matches!(
                out[..],
                [
                    Output::Ack(a, Err(AckFailure::Disconnected)),
                    Output::Disconnected(0),
                    Output::Ack(b, Err(AckFailure::Disconnected)),
                    Output::Disconnected(1),
                ] if a == first && b == second
            ),
            "{out:?}"
        );
        assert!(!c.is_open());
        assert_eq!(c.status(main), NsStatus::Idle);
        assert_eq!(c.status(admin), NsStatus::Idle);
        assert_eq!(c.next_deadline(), None);
        assert_eq!(
            c.emit(main, &send_message("x")),
            Err(EmitError::NotConnected)
        );
        // Closing twice reports nothing new.
        c.handle_close();
        assert!(c.poll_output().is_none());
    }

    #[test]
    fn pings_are_answered_and_silence_closes_the_transport() {
        let (mut c, _, _) = connected();
        // OPEN at 0: the margin is pingInterval + pingTimeout = 45 s.
        assert_eq!(c.next_deadline(), Some(45_000.0));
        c.handle_frame("2", 25_000.0);
        assert_eq!(sent(&drain(&mut c)), ["3"]);
        assert_eq!(c.next_deadline(), Some(70_000.0));
        // Other traffic does not count as a sign of life.
        c.handle_frame("6", 60_000.0);
        assert_eq!(c.next_deadline(), Some(70_000.0));
        c.handle_timeout(69_999.0);
        assert!(c.poll_output().is_none());
        c.handle_timeout(70_000.0);
        assert!(matches!(c.poll_output(), Some(Output::CloseTransport)));
        assert!(c.poll_output().is_none());
        assert_eq!(c.next_deadline(), None, "requested once");
    }

    #[test]
    fn a_missing_handshake_closes_the_transport() {
        let mut c = Connection::new();
        c.add_namespace::<Main>();
        c.handle_connecting(1_000.0);
        assert_eq!(c.next_deadline(), Some(1_000.0 + CONNECT_TIMEOUT));
        c.handle_timeout(CONNECT_TIMEOUT);
        assert!(c.poll_output().is_none());
        c.handle_timeout(1_000.0 + CONNECT_TIMEOUT);
        assert!(matches!(c.poll_output(), Some(Output::CloseTransport)));

        // In time, the handshake replaces the connect deadline with the ping one.
        let mut c = Connection::new();
        c.handle_connecting(0.0);
        c.handle_frame(OPEN, 500.0);
        assert_eq!(c.next_deadline(), Some(45_500.0));
    }

    #[test]
    fn connect_errors_are_reported_per_namespace() {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        let admin = c.add_namespace::<Admin>();
        c.handle_frame(OPEN, 0.0);
        c.connect(main, &MainAuth::default()).unwrap();
        c.connect(admin, &admin_auth()).unwrap();
        drain(&mut c);
        c.handle_frame(r#"44/admin,{"message":"unauthorized"}"#, 1.0);
        assert_eq!(c.status(admin), NsStatus::Idle);
        assert_eq!(c.status(main), NsStatus::Connecting);
        c.handle_frame(r#"44{"message":"invalid auth payload: x"}"#, 1.0);
        let out = drain(&mut c);
        assert!(matches!(&out[0], Output::ConnectError(1, m) if m == "unauthorized"));
        assert!(matches!(&out[1], Output::ConnectError(0, m) if m == "invalid auth payload: x"));
        assert_eq!(out.len(), 2);
        assert_eq!(c.status(main), NsStatus::Idle);
        assert_eq!(
            c.emit(main, &send_message("x")),
            Err(EmitError::NotConnected)
        );

        // A refusal of a CONNECT no longer pending is stale.
        c.handle_frame(r#"44{"message":"again"}"#, 2.0);
        assert!(c.poll_output().is_none());
    }

    /// v5's object, an older server's bare string, and anything else as it came.
    #[test]
    fn a_refusal_reads_in_each_shape() {
        for (body, said) in [
            (r#"{"message":"go away","data":{"x":1}}"#, "go away"),
            (r#"{"data":1}"#, ""),
            (r#""not allowed""#, "not allowed"),
            ("not json", "not json"),
        ] {
            let mut c = Connection::new();
            let main = c.add_namespace::<Main>();
            c.handle_frame(OPEN, 0.0);
            c.connect(main, &MainAuth::default()).unwrap();
            drain(&mut c);
            c.handle_frame(&format!("44{body}"), 1.0);
            let out = drain(&mut c);
            assert!(
                matches!(&out[..], [Output::ConnectError(0, m)] if m == said),
                "{body}: {out:?}"
            );
        }
    }

    #[test]
    fn the_server_disconnects_one_namespace() {
        let (mut c, main, admin) = connected();
        let on_main = c
            .emit_with_ack(main, &send_message("a"), 5_000.0, 0.0)
            .unwrap();
        let on_admin = c.emit_with_ack(admin, &say("b"), 5_000.0, 0.0).unwrap();
        drain(&mut c);

        c.handle_frame("41/admin,", 1.0);
        let out = drain(&mut c);
        assert!(
            matches!(
                out[..],
                [Output::Ack(id, Err(AckFailure::Disconnected)), Output::Disconnected(1)]
                    if id == on_admin
            ),
            "{out:?}"
        );
        assert_eq!(c.status(admin), NsStatus::Idle);
        assert_eq!(
            c.status(main),
            NsStatus::Connected,
            "the other is untouched"
        );
        c.handle_frame(
            &format!(r#"43{on_main}[{{"data":{{"id":1,"ts":1}}}}]"#),
            2.0,
        );
        assert!(matches!(c.poll_output(), Some(Output::Ack(id, Ok(_))) if id == on_main));

        c.handle_frame("41", 3.0);
        assert!(matches!(c.poll_output(), Some(Output::Disconnected(0))));
        assert!(c.is_open(), "the session outlives its namespaces");
    }

    #[test]
    fn refreshing_auth_rejoins_one_namespace() {
        let (mut c, main, admin) = connected();
        let pending = c
            .emit_with_ack(main, &send_message("a"), 5_000.0, 0.0)
            .unwrap();
        drain(&mut c);

        let auth = MainAuth {
            server_offset: 3,
            name: Some("new".into()),
            since: None,
            changes: None,
            token: None,
        };
        c.refresh(main, &auth).unwrap();
        let out = drain(&mut c);
        assert_eq!(sent(&out), ["41", r#"40{"serverOffset":3,"name":"new"}"#]);
        assert!(
            matches!(
                out[..],
                [
                    Output::Send(_),
                    Output::Ack(id, Err(AckFailure::Disconnected)),
                    Output::Disconnected(0),
                    Output::Send(_),
                ] if id == pending
            ),
            "{out:?}"
        );
        assert_eq!(c.status(main), NsStatus::Connecting);
        assert_eq!(
            c.status(admin),
            NsStatus::Connected,
            "the other is untouched"
        );

        c.handle_frame(r#"40{"sid":"m2"}"#, 1.0);
        assert!(matches!(drain(&mut c)[..], [Output::Connected(0)]));
        assert!(c.emit(main, &send_message("b")).is_ok());
    }

    /// The shared codec wrote a newtype without its event name, a frame the server answers by
    /// closing the session; here a newtype is its one argument, after the name.
    #[test]
    fn a_newtype_event_keeps_its_name() {
        #[derive(Serialize, Deserialize)]
        struct Newtype(String);
        impl Event for Newtype {
            const NAME: &'static str = SendMessage::NAME;
            type Namespace = Admin;
        }
        impl ClientEvent for Newtype {}

        let (mut c, _, admin) = connected();
        c.emit(admin, &Newtype("x".into())).unwrap();
        match c.poll_output() {
            Some(Output::Send(frame)) => {
                assert!(frame.ends_with(r#"["chat message","x"]"#), "{frame}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Every prefix of real frames, and every one-character corruption of them, is survived.
    #[test]
    fn mangled_frames_never_panic() {
        let frames = [
            OPEN.to_owned(),
            format!(
                "42{}",
                event(ChatMessage::NAME, r#""hey",12,{"author":"bo","ts":5}"#)
            ),
            format!("42/admin,{}", event(AdminNotice::NAME, r#"{"text":"x"}"#)),
            r#"43/admin,12[{"data":{"id":1,"ts":2}}]"#.to_owned(),
            r#"44/admin,{"message":"no"}"#.to_owned(),
            r#"40/admin,{"sid":"a"}"#.to_owned(),
            "41/admin,".to_owned(),
        ];
        let (mut c, main, _) = connected();
        for frame in &frames {
            let chars: Vec<char> = frame.chars().collect();
            for end in 0..=chars.len() {
                let prefix: String = chars[..end].iter().collect();
                c.handle_frame(&prefix, 1.0);
                for replacement in ['"', ',', '/', '[', ']', '{', '0', '9', '-', 'é'] {
                    let mut mangled = chars.clone();
                    if end < mangled.len() {
                        mangled[end] = replacement;
                    }
                    c.handle_frame(&mangled.iter().collect::<String>(), 1.0);
                }
            }
        }
        drain(&mut c);
        // Still usable: a fresh session works as before.
        c.handle_close();
        c.handle_frame(OPEN, 2.0);
        c.connect(main, &MainAuth::default()).unwrap();
        c.handle_frame(r#"40{"sid":"m"}"#, 2.0);
        drain(&mut c);
        assert_eq!(c.status(main), NsStatus::Connected);
    }

    #[test]
    fn garbage_is_reported_not_fatal() {
        let (mut c, main, _) = connected();
        let unknown_ns = format!("42/nowhere,{}", event(SendMessage::NAME, "1"));
        let binary = format!(
            "451-{}",
            event(SendMessage::NAME, r#"{"_placeholder":true,"num":0}"#)
        );
        for frame in [
            "",
            "9",
            "0{",
            "4",
            "49",
            "42[",
            "42{}",
            "42[1]",
            "43[1]",
            "44/nowhere,{}",
            unknown_ns.as_str(),
            binary.as_str(),
            r#"461-0[{"_placeholder":true,"num":0}]"#,
        ] {
            c.handle_frame(frame, 1.0);
            let out = drain(&mut c);
            assert!(
                matches!(out[..], [Output::ProtocolError(_)]),
                "{frame:?} gave {out:?}"
            );
        }
        assert!(c.is_open());
        assert_eq!(c.status(main), NsStatus::Connected);
        assert!(c.emit(main, &send_message("still here")).is_ok());
        drain(&mut c);
        // Nothing lingers in the codec: the next event still arrives.
        let chat = event(ChatMessage::NAME, r#""ok",1,{"author":"a","ts":1}"#);
        c.handle_frame(&format!("42{chat}"), 1.0);
        assert!(matches!(c.poll_output(), Some(Output::Event(0, _))));
        // The server's own close is not garbage: the transport goes.
        c.handle_frame("1", 2.0);
        assert!(matches!(c.poll_output(), Some(Output::CloseTransport)));
    }
}
