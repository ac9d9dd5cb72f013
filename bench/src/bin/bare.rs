//! `palaver-bare`: the stack's floor for the benchmark. socketioxide behind axum with Palaver's
//! engine settings (`server/src/lib.rs`) and only the events the idle, fan-out and latency
//! scenarios use, answered as Palaver answers them (the shared wire contract), with nothing
//! stored and nothing else done: `create room`, `join room`, and `chat message` broadcast to
//! the room, sender included, then acknowledged. What Palaver costs beyond this is Palaver's.
//!
//!   palaver-bare [--addr 127.0.0.1:3000]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use app::events::{
    ChatError, ChatMessage, CreateRoom, Event as _, JoinRoom, LOBBY, MessageMeta, Posted, Posting,
    Reply, RoomInfo, RoomKind, SendMessage,
};
use axum::Router;
use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use clap::Parser;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler as _;

/// Palaver's values (`server/src/lib.rs`, `server/src/config.rs`).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
const SOCKET_BUFFER: usize = 2048;
const WS_READ_BUFFER: usize = 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Parser)]
#[command(
    name = "palaver-bare",
    about = "Bare socketioxide with Palaver's settings"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

/// Each room's newest `seq` and member count; one id counter for every message.
#[derive(Clone, Default)]
struct Rooms {
    rooms: Arc<Mutex<HashMap<String, (i64, usize)>>>,
    last_id: Arc<AtomicI64>,
}

impl Rooms {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (i64, usize)>) -> R) -> R {
        f(&mut self.rooms.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn info(room: &str, (last_seq, members): (i64, usize)) -> RoomInfo {
        RoomInfo {
            room: room.to_owned(),
            kind: RoomKind::Room,
            title: room.to_owned(),
            members,
            online: members,
            joined: true,
            unread: 0,
            last_seq,
            private: false,
            listed: true,
            posting: Posting::Members,
            manage: false,
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let (layer, io) = SocketIo::builder()
        .with_state(Rooms::default())
        .max_buffer_size(SOCKET_BUFFER)
        .max_payload(MAX_PAYLOAD_BYTES as u64)
        .ws_max_message_size(MAX_PAYLOAD_BYTES)
        .ws_read_buffer_size(WS_READ_BUFFER)
        .connect_timeout(CONNECT_TIMEOUT)
        .build_layer();
    io.ns("/", connected.with(register));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .layer(layer)
        .layer(middleware::from_fn(detach));
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app).await
}

/// In the connect middleware, as Palaver does: socketioxide sends CONNECT before it spawns the
/// connect handler, and a first event with no handler yet would go unanswered.
async fn register(socket: SocketRef) -> Result<(), ChatError> {
    socket.join(LOBBY);
    socket.on(CreateRoom::NAME, on_create);
    socket.on(JoinRoom::NAME, on_join);
    socket.on(SendMessage::NAME, on_send);
    Ok(())
}

async fn connected() {}

async fn on_create(
    socket: SocketRef,
    TryData(request): TryData<CreateRoom>,
    ack: AckSender,
    State(rooms): State<Rooms>,
) {
    let reply = match request {
        Ok(CreateRoom { name, .. }) => rooms.with(|r| {
            if r.contains_key(&name) {
                return Err(ChatError::RoomExists { room: name });
            }
            r.insert(name.clone(), (0, 1));
            socket.join(name.clone());
            Ok(Rooms::info(&name, (0, 1)))
        }),
        Err(e) => Err(invalid(CreateRoom::NAME, e)),
    };
    let _ = ack.send(&Reply::from(reply));
}

async fn on_join(
    socket: SocketRef,
    TryData(request): TryData<JoinRoom>,
    ack: AckSender,
    State(rooms): State<Rooms>,
) {
    let reply = match request {
        Ok(JoinRoom { room }) => rooms.with(|r| match r.get_mut(&room) {
            Some(state) => {
                state.1 += 1;
                socket.join(room.clone());
                Ok(Rooms::info(&room, *state))
            }
            None => Err(ChatError::UnknownRoom { room }),
        }),
        Err(e) => Err(invalid(JoinRoom::NAME, e)),
    };
    let _ = ack.send(&Reply::from(reply));
}

async fn on_send(
    socket: SocketRef,
    io: SocketIo,
    TryData(message): TryData<SendMessage>,
    ack: AckSender,
    State(rooms): State<Rooms>,
) {
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            let _ = ack.send(&Reply::<Posted>::from(Err(invalid(SendMessage::NAME, e))));
            return;
        }
    };
    let room = message.room.unwrap_or_else(|| LOBBY.to_owned());
    let joined = socket.rooms().iter().any(|r| *r == room);
    let seq = rooms.with(|r| match r.get_mut(&room) {
        Some(state) if joined => {
            state.0 += 1;
            Some(state.0)
        }
        None if joined && room == LOBBY => {
            r.insert(room.clone(), (1, 0));
            Some(1)
        }
        _ => None,
    });
    let Some(seq) = seq else {
        let _ = ack.send(&Reply::<Posted>::from(Err(ChatError::NotMember { room })));
        return;
    };
    let id = rooms.last_id.fetch_add(1, Ordering::Relaxed) + 1;
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let event = ChatMessage {
        text: message.text,
        id,
        meta: MessageMeta {
            room: room.clone(),
            author: "anonymous".to_owned(),
            ts,
            seq,
            client_offset: message.client_offset,
            kind: None,
            ..Default::default()
        },
    };
    let _ = io.within(room).emit(ChatMessage::NAME, &event).await;
    let _ = ack.send(&Reply::from(Ok(Posted { id, ts, seq })));
}

fn invalid(event: &str, e: impl std::fmt::Display) -> ChatError {
    ChatError::InvalidPayload {
        event: event.to_owned(),
        detail: e.to_string(),
    }
}

/// Palaver's `server/src/handshake.rs`: gives the Socket.IO layer owned copies of the
/// handshake's URI and headers, so that hyper's 16 KiB read buffer does not outlive the
/// upgrade. A workaround for the stack, not a feature of Palaver's, so the floor has it too.
async fn detach(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/socket.io/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    parts.uri = owned_uri(&parts.uri);
    parts.headers = owned_headers(&parts.headers);
    if let Some(OriginalUri(uri)) = parts.extensions.get::<OriginalUri>() {
        let uri = owned_uri(uri);
        parts.extensions.insert(OriginalUri(uri));
    }
    next.run(Request::from_parts(parts, body)).await
}

fn owned_uri(uri: &Uri) -> Uri {
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .map(|(name, value)| {
            let mut copy =
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            copy.set_sensitive(value.is_sensitive());
            (name.clone(), copy)
        })
        .collect()
}
