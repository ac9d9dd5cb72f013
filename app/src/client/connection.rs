//! The client's protocol logic without I/O: frames and the time go in, frames to send and
//! things that happened come out. One [`Connection`] is one Engine.IO session multiplexing any
//! number of Socket.IO namespaces.
//!
//! The browser driver (`browser.rs`) feeds it WebSocket frames and timer ticks; tests feed it
//! strings. Nothing here reads a clock or touches a socket.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;

use socketioxide_core::packet::{Packet, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParserState};
use socketioxide_core::{Str, Value};
use socketioxide_parser_common::CommonParser;

use super::engine::{self, EnginePacket, Handshake};
use crate::events::{ClientEvent, Namespace, Request, ServerEvent};

/// Milliseconds, from whatever monotonic clock the driver uses (`performance.now()`).
pub type Millis = f64;

/// A namespace joined to a [`Connection`], typed by its [`Namespace`] so that only that
/// namespace's client events can be emitted on it.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsStatus {
    Idle,
    Connecting,
    Connected,
}

/// Something the driver must do or deliver.
#[derive(Debug)]
pub enum Output {
    /// Write this text frame to the transport.
    Send(String),
    /// Close the transport (the server closed the session, or stopped pinging).
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
    pub fn decode<E: ServerEvent>(mut self) -> Result<E, DecodeError> {
        CommonParser
            .decode_value(&mut self.data, true)
            .map_err(|e| DecodeError(e.to_string()))
    }
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
    ns: usize,
    deadline: Millis,
}

/// One Engine.IO session over a WebSocket, with its namespaces.
pub struct Connection {
    handshake: Option<Handshake>,
    /// When the session counts as dead if no ping arrives: the server pings every
    /// `pingInterval` and allows `pingTimeout` for the answer; we allow it the same margin.
    ping_deadline: Option<Millis>,
    namespaces: Vec<NsState>,
    next_ack: i64,
    acks: BTreeMap<i64, PendingAck>,
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
            ping_deadline: None,
            namespaces: Vec::new(),
            next_ack: 0,
            acks: BTreeMap::new(),
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
        self.acks.insert(
            id,
            PendingAck {
                ns: ns.index,
                deadline: now + timeout,
            },
        );
        Ok(id)
    }

    pub fn decode_ack<R: Request>(mut answer: Value) -> Result<R::Ack, DecodeError> {
        CommonParser
            .decode_value(&mut answer, false)
            .map_err(|e| DecodeError(e.to_string()))
    }

    /// A text frame arrived.
    pub fn handle_frame(&mut self, frame: &str, now: Millis) {
        match engine::decode(frame) {
            Ok(EnginePacket::Open(handshake)) => {
                self.ping_deadline = Some(now + ping_margin(&handshake));
                self.handshake = Some(handshake);
                self.out.push_back(Output::Opened);
            }
            Ok(EnginePacket::Ping) => {
                if let Some(h) = &self.handshake {
                    self.ping_deadline = Some(now + ping_margin(h));
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
        self.ping_deadline = None;
        self.parser_state = ParserState::default();
        for index in 0..self.namespaces.len() {
            self.lose_namespace(index);
        }
    }

    /// Time passed: expires acks, and notices a server that stopped pinging.
    pub fn handle_timeout(&mut self, now: Millis) {
        let expired: Vec<i64> = self
            .acks
            .iter()
            .filter(|(_, a)| a.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.acks.remove(&id);
            self.out
                .push_back(Output::Ack(id, Err(AckFailure::Timeout)));
        }
        if self.ping_deadline.is_some_and(|d| d <= now) {
            self.ping_deadline = None;
            self.out.push_back(Output::CloseTransport);
        }
    }

    /// When [`Connection::handle_timeout`] next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.acks
            .values()
            .map(|a| a.deadline)
            .chain(self.ping_deadline)
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
        let data = CommonParser
            .encode_value(event, Some(E::NAME))
            .map_err(|e| EmitError::Encode(e.to_string()))?;
        Ok(Packet::event(<E::Namespace as Namespace>::PATH, data))
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
            PacketData::Connect(_) => {
                self.namespaces[index].status = NsStatus::Connected;
                self.out.push_back(Output::Connected(index));
            }
            PacketData::Disconnect => self.lose_namespace(index),
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
                // An ack after its timeout was already reported; drop it.
                if self.acks.remove(&id).is_some() {
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
        self.namespaces[index].status = NsStatus::Idle;
        self.out.push_back(Output::ConnectError(index, message));
    }

    fn namespace_index(&self, path: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n.path == path)
    }

    fn lose_namespace(&mut self, index: usize) {
        let failed: Vec<i64> = self
            .acks
            .iter()
            .filter(|(_, a)| a.ns == index)
            .map(|(id, _)| *id)
            .collect();
        for id in failed {
            self.acks.remove(&id);
            self.out
                .push_back(Output::Ack(id, Err(AckFailure::Disconnected)));
        }
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
    use super::*;
    use crate::events::{
        ChatMessage, Event, Main, MainAuth, MessageMeta, Posted, Reply, SendMessage,
    };

    /// A second namespace, to check multiplexing.
    struct Admin;
    impl Namespace for Admin {
        const PATH: &'static str = "/admin";
        type Auth = serde_json::Value;
    }

    const OPEN: &str = r#"0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#;

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

    /// An open session with `/` connected.
    fn connected() -> (Connection, Ns<Main>) {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        c.handle_frame(OPEN, 0.0);
        assert!(matches!(drain(&mut c)[..], [Output::Opened]));
        c.connect(main, &MainAuth::default()).unwrap();
        c.handle_frame(r#"40{"sid":"x"}"#, 1.0);
        drain(&mut c);
        assert_eq!(c.status(main), NsStatus::Connected);
        (c, main)
    }

    fn send_message(text: &str) -> SendMessage {
        SendMessage {
            text: text.into(),
            client_offset: Some("c1".into()),
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
            "registered once"
        );
        let auth = MainAuth {
            server_offset: 7,
            name: Some("ann".into()),
        };
        assert_eq!(c.connect(main, &auth), Err(EmitError::NotConnected));

        c.handle_frame(OPEN, 0.0);
        assert!(matches!(drain(&mut c)[..], [Output::Opened]));
        c.connect(main, &auth).unwrap();
        c.connect(admin, &serde_json::json!({"token": "t"}))
            .unwrap();
        let out = drain(&mut c);
        assert_eq!(
            sent(&out),
            [
                r#"40{"serverOffset":7,"name":"ann"}"#,
                r#"40/admin,{"token":"t"}"#
            ]
        );
        assert_eq!(c.status(main), NsStatus::Connecting);

        c.handle_frame(r#"40/admin,{"sid":"a"}"#, 1.0);
        c.handle_frame(r#"40{"sid":"m"}"#, 1.0);
        let out = drain(&mut c);
        assert!(matches!(
            out[..],
            [Output::Connected(1), Output::Connected(0)]
        ));
        assert_eq!(c.status(admin), NsStatus::Connected);
    }

    #[test]
    fn events_are_encoded_per_namespace() {
        let (mut c, main) = connected();
        c.emit(main, &send_message("hi")).unwrap();
        let bare = SendMessage {
            text: "yo".into(),
            client_offset: None,
        };
        c.emit(main, &bare).unwrap();
        let out = drain(&mut c);
        assert_eq!(
            sent(&out),
            [
                r#"42["chat message","hi","c1"]"#,
                r#"42["chat message","yo"]"#
            ]
        );
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
        assert!(sent(&drain(&mut c)).is_empty());
    }

    #[test]
    fn incoming_events_reach_their_namespace_and_decode() {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        let _admin = c.add_namespace::<Admin>();
        c.handle_frame(OPEN, 0.0);
        c.connect(main, &MainAuth::default()).unwrap();
        c.handle_frame(r#"40{"sid":"m"}"#, 0.0);
        drain(&mut c);

        c.handle_frame(r#"42["chat message","hey",12,{"author":"bo","ts":5}]"#, 1.0);
        c.handle_frame(r#"42/admin,["stats",{"n":1}]"#, 1.0);
        let mut out = drain(&mut c).into_iter();
        let Some(Output::Event(0, incoming)) = out.next() else {
            panic!("expected a main event")
        };
        assert_eq!(incoming.name, ChatMessage::NAME);
        let m: ChatMessage = incoming.decode().unwrap();
        assert_eq!(
            m,
            ChatMessage {
                text: "hey".into(),
                id: 12,
                meta: MessageMeta {
                    author: "bo".into(),
                    ts: 5,
                    client_offset: None
                }
            }
        );
        let Some(Output::Event(1, incoming)) = out.next() else {
            panic!("expected an admin event")
        };
        assert_eq!(incoming.name, "stats");

        // A payload of the wrong shape is an error, not a panic.
        c.handle_frame(r#"42["chat message",42]"#, 2.0);
        let Some(Output::Event(0, bad)) = c.poll_output() else {
            panic!("expected an event")
        };
        assert!(bad.decode::<ChatMessage>().is_err());
    }

    #[test]
    fn acks_match_their_ids_and_decode() {
        let (mut c, main) = connected();
        let first = c
            .emit_with_ack(main, &send_message("a"), 5_000.0, 10.0)
            .unwrap();
        let second = c
            .emit_with_ack(main, &send_message("b"), 5_000.0, 10.0)
            .unwrap();
        assert_eq!((first, second), (0, 1));
        assert_eq!(
            sent(&drain(&mut c)),
            [
                r#"420["chat message","a","c1"]"#,
                r#"421["chat message","b","c1"]"#
            ]
        );
        assert_eq!(c.next_deadline(), Some(5_010.0));

        c.handle_frame(r#"431[{"data":{"id":9,"ts":2}}]"#, 20.0);
        c.handle_frame(
            r#"430[{"error":{"code":"empty","message":"message is empty"}}]"#,
            20.0,
        );
        let out = drain(&mut c);
        let answers: Vec<(i64, Reply<Posted>)> = out
            .into_iter()
            .map(|o| match o {
                Output::Ack(id, Ok(v)) => (id, Connection::decode_ack::<SendMessage>(v).unwrap()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(answers[0], (1, Reply::Data(Posted { id: 9, ts: 2 })));
        assert_eq!(answers[1].0, 0);
        assert_eq!(
            answers[1].1.clone().into_result(),
            Err(crate::events::ChatError::Empty)
        );
        // An unknown or repeated ack id is ignored.
        c.handle_frame(r#"431[{"data":{"id":9,"ts":2}}]"#, 30.0);
        assert!(c.poll_output().is_none());
    }

    #[test]
    fn acks_time_out() {
        let (mut c, main) = connected();
        let id = c
            .emit_with_ack(main, &send_message("a"), 1_000.0, 100.0)
            .unwrap();
        drain(&mut c);
        c.handle_timeout(1_099.0);
        assert!(c.poll_output().is_none(), "not yet");
        c.handle_timeout(1_100.0);
        assert!(matches!(
            c.poll_output(),
            Some(Output::Ack(i, Err(AckFailure::Timeout))) if i == id
        ));
        // The late answer is dropped.
        c.handle_frame(r#"430[{"data":{"id":1,"ts":1}}]"#, 1_200.0);
        assert!(c.poll_output().is_none());
    }

    #[test]
    fn closing_fails_acks_and_disconnects_namespaces() {
        let (mut c, main) = connected();
        let id = c
            .emit_with_ack(main, &send_message("a"), 5_000.0, 0.0)
            .unwrap();
        drain(&mut c);
        c.handle_close();
        let out = drain(&mut c);
        assert!(matches!(out[0], Output::Ack(i, Err(AckFailure::Disconnected)) if i == id));
        assert!(matches!(out[1], Output::Disconnected(0)));
        assert_eq!(out.len(), 2);
        assert!(!c.is_open());
        assert_eq!(c.status(main), NsStatus::Idle);
        assert_eq!(c.next_deadline(), None);
        assert_eq!(
            c.emit(main, &send_message("x")),
            Err(EmitError::NotConnected)
        );
    }

    #[test]
    fn pings_are_answered_and_silence_closes_the_transport() {
        let (mut c, _) = connected();
        // OPEN at 0: the margin is pingInterval + pingTimeout = 45 s.
        assert_eq!(c.next_deadline(), Some(45_000.0));
        c.handle_frame("2", 25_000.0);
        assert_eq!(sent(&drain(&mut c)), ["3"]);
        assert_eq!(c.next_deadline(), Some(70_000.0));
        c.handle_timeout(69_999.0);
        assert!(c.poll_output().is_none());
        c.handle_timeout(70_000.0);
        assert!(matches!(c.poll_output(), Some(Output::CloseTransport)));
    }

    #[test]
    fn connect_errors_are_reported_per_namespace() {
        let mut c = Connection::new();
        let main = c.add_namespace::<Main>();
        let admin = c.add_namespace::<Admin>();
        c.handle_frame(OPEN, 0.0);
        c.connect(main, &MainAuth::default()).unwrap();
        c.connect(admin, &serde_json::json!({})).unwrap();
        drain(&mut c);
        c.handle_frame(r#"44/admin,{"message":"unauthorized"}"#, 1.0);
        c.handle_frame(r#"44{"message":"invalid auth payload: x"}"#, 1.0);
        let out = drain(&mut c);
        assert!(matches!(&out[0], Output::ConnectError(1, m) if m == "unauthorized"));
        assert!(matches!(&out[1], Output::ConnectError(0, m) if m.starts_with("invalid auth")));
        assert_eq!(c.status(admin), NsStatus::Idle);
    }

    #[test]
    fn server_disconnect_and_reconnecting_one_namespace() {
        let (mut c, main) = connected();
        let admin = c.add_namespace::<Admin>();
        c.connect(admin, &serde_json::json!({})).unwrap();
        c.handle_frame(r#"40/admin,{"sid":"a"}"#, 0.0);
        drain(&mut c);

        // The client refreshes `/` (new auth): DISCONNECT then CONNECT; /admin is untouched.
        c.disconnect(main);
        c.connect(
            main,
            &MainAuth {
                server_offset: 3,
                name: Some("new".into()),
            },
        )
        .unwrap();
        let out = drain(&mut c);
        assert_eq!(sent(&out), ["41", r#"40{"serverOffset":3,"name":"new"}"#]);
        assert!(matches!(out[1], Output::Disconnected(0)));
        assert_eq!(c.status(admin), NsStatus::Connected);

        // The server kicks /admin.
        c.handle_frame("41/admin,", 1.0);
        assert!(matches!(c.poll_output(), Some(Output::Disconnected(1))));
        assert_eq!(c.status(admin), NsStatus::Idle);
    }

    #[test]
    fn garbage_is_reported_not_fatal() {
        let (mut c, main) = connected();
        for frame in [
            "",
            "9",
            "0{",
            "4",
            "49",
            "42[",
            "42/nowhere,[\"x\"]",
            "43[1]",
            "451-[\"x\"]",
        ] {
            c.handle_frame(frame, 1.0);
            let out = drain(&mut c);
            assert!(
                matches!(out[..], [Output::ProtocolError(_)]),
                "{frame:?} gave {out:?}"
            );
        }
        assert_eq!(c.status(main), NsStatus::Connected);
        c.handle_frame("1", 2.0);
        assert!(matches!(c.poll_output(), Some(Output::CloseTransport)));
    }
}
