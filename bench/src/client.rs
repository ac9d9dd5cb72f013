//! One benchmark client: a Socket.IO connection over WebSocket, driven by the browser's own
//! protocol logic (`app::client::Connection`) and typed by the shared wire contract.
//!
//! A connected client is an actor task owning its socket. Scenarios talk to it through a
//! [`Client`] handle; deliveries and acks are recorded straight into the shared [`Recorder`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use app::client::{Connection, Ns, Output};
use app::events::{
    ChatMessage, CreateRoom, Event as _, JoinRoom, Main, MainAuth, RoomInfo, SendMessage, Since,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::probe::{Probe, now_us};
use crate::recorder::{Arrival, Order, Recorder};

/// How long a request may wait for its ack before it counts as failed.
const ACK_TIMEOUT_MS: f64 = 30_000.0;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("TCP connect from {source_ip}: {error}")]
    Tcp {
        source_ip: Ipv4Addr,
        error: std::io::Error,
    },
    #[error("WebSocket handshake: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the server closed the connection during the handshake")]
    Closed,
    #[error("connect_error: {0}")]
    Refused(String),
    #[error("request failed: {0}")]
    Request(String),
}

/// Source addresses to spread clients over: each one has about 28k ephemeral ports.
pub(crate) fn source_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8)
}

/// A source address of its own for the `i`-th client of group `group` (the whole of 127/8 is
/// loopback): the hostile-load scenarios' crowds look like many machines, as they would be,
/// so that a server's per-address limits meet them as they would meet real people.
pub(crate) fn own_ip(group: u8, i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, group, (i / 250) as u8, (i % 250) as u8 + 1)
}

/// Writes a request into the connection; its ack id, or `None` when not connected.
type Frame = Box<dyn FnOnce(&mut Connection, Ns<Main>) -> Option<i64> + Send>;

enum Command {
    Post {
        room: String,
        probe: Probe,
        text: String,
        offset: String,
        done: Option<oneshot::Sender<bool>>,
    },
    Request {
        frame: Frame,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// A handle on a connected client; dropping every handle closes the connection.
#[derive(Clone)]
pub(crate) struct Client {
    commands: mpsc::UnboundedSender<Command>,
}

pub(crate) type Ws = WebSocketStream<TcpStream>;

pub(crate) async fn connect(
    server: SocketAddr,
    source: Ipv4Addr,
    name: Option<String>,
    recorder: Arc<Recorder>,
) -> Result<Client, ClientError> {
    let auth = MainAuth {
        // Cursors, so that a connect replays only what this client lacks (nothing, in a
        // fresh room) instead of the tutorial's newest 1,000 lobby messages.
        since: Some(Since::default()),
        name,
        ..MainAuth::default()
    };
    connect_with(server, source, &auth, recorder).await
}

/// Opens a WebSocket from `source` (no Nagle, small buffers), not yet speaking Engine.IO.
pub(crate) async fn open_ws(server: SocketAddr, source: Ipv4Addr) -> Result<Ws, ClientError> {
    let tcp = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(server).await?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    }
    .await
    .map_err(|error| ClientError::Tcp {
        source_ip: source,
        error,
    })?;
    let url = format!("ws://{server}/socket.io/?EIO=4&transport=websocket");
    // Small buffers: a generator holding 20k connections should not measure itself.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let (ws, _) = client_async_with_config(url, tcp, Some(config)).await?;
    Ok(ws)
}

/// [`connect`] with any `auth`.
pub(crate) async fn connect_with(
    server: SocketAddr,
    source: Ipv4Addr,
    auth: &MainAuth,
    recorder: Arc<Recorder>,
) -> Result<Client, ClientError> {
    let (ws, conn, main) = handshake::<Main>(server, source, auth).await?;
    let (commands, inbox) = mpsc::unbounded_channel();
    tokio::spawn(run(ws, conn, main, inbox, recorder));
    Ok(Client { commands })
}

/// Opens a WebSocket from `source` and connects namespace `N` with `auth`: the connection,
/// ready for requests, once the server has said yes.
pub(crate) async fn handshake<N: app::events::Namespace>(
    server: SocketAddr,
    source: Ipv4Addr,
    auth: &N::Auth,
) -> Result<(Ws, Connection, Ns<N>), ClientError> {
    let mut ws = open_ws(server, source).await?;
    let mut conn = Connection::new();
    let ns = conn.add_namespace::<N>();
    loop {
        let Some(frame) = ws.next().await else {
            return Err(ClientError::Closed);
        };
        let Message::Text(text) = frame? else {
            continue;
        };
        conn.handle_frame(&text, now_ms());
        while let Some(out) = conn.poll_output() {
            match out {
                Output::Opened => conn
                    .connect(ns, auth)
                    .map_err(|e| ClientError::Refused(e.to_string()))?,
                Output::Send(frame) => ws.feed(Message::text(frame)).await?,
                Output::Connected(_) => {
                    ws.flush().await?;
                    return Ok((ws, conn, ns));
                }
                Output::ConnectError(_, reason) => return Err(ClientError::Refused(reason)),
                Output::CloseTransport => return Err(ClientError::Closed),
                _ => {}
            }
        }
        ws.flush().await?;
    }
}

pub(crate) fn now_ms() -> f64 {
    now_us() as f64 / 1000.0
}

impl Client {
    /// Sends a benchmark message; its ack is recorded. `done` learns whether it was acked.
    pub(crate) fn post(&self, room: &str, probe: Probe, done: Option<oneshot::Sender<bool>>) {
        self.post_text(room, probe, probe.encode(), done);
    }

    /// [`Client::post`] with the probe's text padded to `chars` characters.
    pub(crate) fn post_long(
        &self,
        room: &str,
        probe: Probe,
        chars: usize,
        done: Option<oneshot::Sender<bool>>,
    ) {
        self.post_text(room, probe, probe.encode_padded(chars), done);
    }

    fn post_text(
        &self,
        room: &str,
        probe: Probe,
        text: String,
        done: Option<oneshot::Sender<bool>>,
    ) {
        // Time first, fixed-width, like the browser's UUIDv7 keys: offsets then sort by time, so
        // a server's unique index on them grows at one end instead of taking random inserts.
        let offset = format!(
            "{:016x}-b{}-{}",
            probe.scheduled_us, probe.publisher, probe.seq
        );
        let _ = self.commands.send(Command::Post {
            room: room.to_owned(),
            probe,
            text,
            offset,
            done,
        });
    }

    pub(crate) async fn create_room(&self, name: &str) -> Result<(), ClientError> {
        let event = CreateRoom {
            name: name.to_owned(),
            private: false,
        };
        self.request(move |c, ns| c.emit_with_ack(ns, &event, ACK_TIMEOUT_MS, now_ms()).ok())
            .await
    }

    pub(crate) async fn join_room(&self, room: &str) -> Result<(), ClientError> {
        let event = JoinRoom {
            room: room.to_owned(),
        };
        self.request(move |c, ns| c.emit_with_ack(ns, &event, ACK_TIMEOUT_MS, now_ms()).ok())
            .await
    }

    /// [`Client::create_room`], taking the name by value so that the future borrows nothing.
    pub(crate) async fn create_room_owned(&self, name: String) -> Result<(), ClientError> {
        self.create_room(&name).await
    }

    pub(crate) async fn join_room_owned(&self, room: String) -> Result<(), ClientError> {
        self.join_room(&room).await
    }

    async fn request(
        &self,
        frame: impl FnOnce(&mut Connection, Ns<Main>) -> Option<i64> + Send + 'static,
    ) -> Result<(), ClientError> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                frame: Box::new(frame),
                done,
            })
            .map_err(|_| ClientError::Closed)?;
        answer
            .await
            .map_err(|_| ClientError::Closed)?
            .map_err(ClientError::Request)
    }
}

/// A benchmark message's probe, read straight from the frame: decoding every delivery into
/// a `ChatMessage` cost the generator more than the server spent sending it, and made the
/// generator the bottleneck. Anything else (or a text with escapes) goes through the
/// `Connection`, which decodes it properly.
fn delivery(frame: &str) -> Option<Probe> {
    let rest = frame
        .strip_prefix("42[\"")?
        .strip_prefix(ChatMessage::NAME)?;
    let text = rest.strip_prefix("\",\"")?;
    let end = text.find(['"', '\\'])?;
    (text.as_bytes()[end] == b'"').then(|| Probe::parse(&text[..end]))?
}

fn record(recorder: &Recorder, order: &mut Order, probe: Probe, len: usize) {
    let arrival = order.arrive(probe.publisher, probe.seq);
    let latency = now_us().saturating_sub(probe.scheduled_us);
    recorder.with(|t| {
        t.received += 1;
        t.largest_frame = t.largest_frame.max(len);
        match arrival {
            Arrival::InOrder => {}
            Arrival::Duplicate => t.duplicates += 1,
            Arrival::Reordered => t.reordered += 1,
        }
        t.latency.record(latency);
    });
}

enum Pending {
    Post(u64, Option<oneshot::Sender<bool>>),
    Request(oneshot::Sender<Result<(), String>>),
}

/// The actor: frames in, frames out, until every handle is dropped or the server leaves.
async fn run(
    mut ws: Ws,
    mut conn: Connection,
    main: Ns<Main>,
    mut inbox: mpsc::UnboundedReceiver<Command>,
    recorder: Arc<Recorder>,
) {
    let mut pending: HashMap<i64, Pending> = HashMap::new();
    let mut order = Order::default();
    let mut closing = false;
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => match delivery(&text) {
                    Some(probe) => record(&recorder, &mut order, probe, text.len()),
                    None => {
                        recorder.with(|t| {
                            t.other_frames += 1;
                            t.largest_frame = t.largest_frame.max(text.len());
                        });
                        conn.handle_frame(&text, now_ms());
                    }
                },
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    recorder.with(|t| t.dropped += 1);
                    break;
                }
            },
            command = inbox.recv() => match command {
                Some(Command::Post { room, probe, text, offset, done }) => {
                    let message = SendMessage {
                        text,
                        client_offset: Some(offset),
                        room: Some(room),
                        ..Default::default()
                    };
                    recorder.with(|t| t.sent += 1);
                    match conn.emit_with_ack(main, &message, ACK_TIMEOUT_MS, now_ms()) {
                        Ok(id) => {
                            pending.insert(id, Pending::Post(probe.scheduled_us, done));
                        }
                        Err(_) => {
                            recorder.with(|t| {
                                t.failed += 1;
                                t.first_failure.get_or_insert_with(|| "not connected".into());
                            });
                            if let Some(done) = done {
                                let _ = done.send(false);
                            }
                        }
                    }
                }
                Some(Command::Request { frame, done }) => match frame(&mut conn, main) {
                    Some(id) => {
                        pending.insert(id, Pending::Request(done));
                    }
                    None => {
                        let _ = done.send(Err("not connected".into()));
                    }
                },
                None => closing = true,
            },
        }
        while let Some(out) = conn.poll_output() {
            match out {
                Output::Send(frame) => {
                    // A failed write shows up as the connection ending, on the next read.
                    let _ = ws.feed(Message::text(frame)).await;
                }
                Output::Event(_, incoming) if incoming.name == ChatMessage::NAME => {
                    let Ok(message) = incoming.decode::<ChatMessage>() else {
                        continue;
                    };
                    if let Some(probe) = Probe::parse(&message.text) {
                        record(&recorder, &mut order, probe, 0);
                    }
                }
                Output::Ack(id, answer) => match pending.remove(&id) {
                    Some(Pending::Post(scheduled, done)) => {
                        let outcome = match answer {
                            Ok(v) => Connection::decode_ack::<SendMessage>(v)
                                .map_err(|e| e.to_string())
                                .and_then(|reply| reply.into_result().map_err(|e| e.to_string())),
                            Err(e) => Err(e.to_string()),
                        };
                        let ok = outcome.is_ok();
                        let latency = now_us().saturating_sub(scheduled);
                        recorder.with(|t| match outcome {
                            Ok(_) => {
                                t.acked += 1;
                                t.ack.record(latency);
                            }
                            Err(e) => {
                                t.failed += 1;
                                t.first_failure.get_or_insert(e);
                            }
                        });
                        if let Some(done) = done {
                            let _ = done.send(ok);
                        }
                    }
                    Some(Pending::Request(done)) => {
                        let result = match answer {
                            Ok(v) => Connection::decode_ack::<JoinRoom>(v)
                                .map_err(|e| e.to_string())
                                .and_then(|r| r.into_result().map_err(|e| e.to_string()))
                                .map(|_: RoomInfo| ()),
                            Err(e) => Err(e.to_string()),
                        };
                        let _ = done.send(result);
                    }
                    None => {}
                },
                Output::CloseTransport => {
                    recorder.with(|t| t.dropped += 1);
                    return;
                }
                _ => {}
            }
        }
        if ws.flush().await.is_err() {
            recorder.with(|t| t.dropped += 1);
            break;
        }
        if closing {
            let _ = ws.close(None).await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_probes_from_deliveries_only() {
        let probe = Probe {
            publisher: 3,
            seq: 9,
            scheduled_us: 1_000,
        };
        let frame = format!(
            r#"42["chat message","{}",17,{{"room":"r","author":"a","ts":1,"seq":4}}]"#,
            probe.encode()
        );
        assert_eq!(delivery(&frame), Some(probe));
        // Other events, namespaces, escapes and plain texts are left to the Connection.
        assert_eq!(
            delivery(&frame.replacen("chat message", "chat messages", 1)),
            None
        );
        assert_eq!(delivery(&frame.replacen("42[", "42/admin,[", 1)), None);
        assert_eq!(
            delivery(r#"42["chat message","3 9 1000 \"quoted\"",1,{}]"#),
            None
        );
        assert_eq!(delivery(r#"42["chat message","hello",1,{}]"#), None);
    }
}
