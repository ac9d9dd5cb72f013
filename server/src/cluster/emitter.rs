//! `palaver emit`: a process with no sockets (a cron job, a script) reaching the clients of
//! every node, through the cluster's Postgres and Redis.
//!
//! Every `chat message` a client sees is stored, numbered by its room's `seq`, so the emitter
//! does what a node does with a post: it stores the announcement first (through the writer's
//! own connection, which numbers it under the room's row lock like any node's batch), then
//! publishes the stored message. It publishes a request in the format of socketioxide-redis's
//! adapter, made by `socketioxide-emitter`, on the channel the nodes' adapters listen to
//! (`{prefix}-request#{namespace}#`); each node hands it to its sockets in the room as if one
//! of its own broadcasts. A message stored but not delivered live (no node listening, a socket
//! that missed it) is caught up like any other node's.
//!
//! "To one person" is a catch-up nudge: the `room head` of each of their conversations, sent
//! to all their sockets. A message for one person only would need a sender to hold a direct
//! conversation with them, and anything unstored would need the client to show it; `room head`
//! is an event every client already acts on (it syncs a conversation it is behind in), and
//! harmless to one that is up to date.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::events::{
    self, ChatError, ChatMessage, EMITTER_AUTHOR, MAX_CLIENT_OFFSET_CHARS, Main, MessageKind,
    Namespace as _, RoomHead, RoomKind, ServerEvent,
};
use redis::AsyncCommands as _;
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use socketioxide_emitter::IoEmitter;
use socketioxide_redis::RedisAdapterConfig;
use tokio::time::timeout;

use crate::cluster::driver::ClusterError;
use crate::config::EmitConfig;
use crate::conversation::{ConversationId, person_room};
use crate::store::{Backend, EMITTER_SENDER, NewMessage, Store, StoreError};

/// How long connecting to Redis, and each command, may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

/// What `palaver emit` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emission<'a> {
    /// Store `text` as an announcement in the public room `room`, then deliver it live. With
    /// `offset`, a retry finds the announcement stored before and stores nothing.
    Announce {
        room: &'a str,
        text: &'a str,
        offset: Option<&'a str>,
    },
    /// Tell every socket of the person called `name` the newest message of each of their
    /// conversations, so that their clients catch up.
    Heads { name: &'a str },
}

/// What `palaver emit` did, printed as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Emitted {
    Announced(Announced),
    Heads(HeadsSent),
}

/// The stored announcement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Announced {
    pub room: String,
    pub id: i64,
    pub seq: i64,
    pub ts: i64,
    /// False when its offset had stored it before: then it is not published again (it was
    /// when it was stored), as a node answers a retried post without broadcasting it twice.
    pub created: bool,
    /// How many nodes the request reached (Redis's count of the channel's subscribers).
    pub nodes: u64,
}

/// The `room head`s sent to one person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadsSent {
    /// Their name, as they spell it.
    pub person: String,
    pub heads: Vec<RoomHead>,
    /// How many nodes each request reached.
    pub nodes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(
        "the emitter needs the nodes' shared database (a postgres:// --database-url): a SQLite \
         file belongs to the one server that holds it"
    )]
    NeedsPostgres,
    #[error("the announcement cannot be posted: {0}")]
    Text(ChatError),
    #[error("--offset is longer than {max} characters")]
    OffsetTooLong { max: usize },
    #[error("there is no public room `{room}`")]
    UnknownRoom { room: String },
    #[error("nobody is called `{name}`")]
    UnknownPerson { name: String },
    #[error(
        "the offset `{offset}` was used before for another announcement (another room or \
         text): give this one a new offset"
    )]
    OffsetInUse { offset: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] ClusterError),
    /// Stored, then not published: clients get it when they next catch up (on reconnecting,
    /// or at the room's next message), not live.
    #[error(
        "stored the announcement (id {id}, seq {seq}) but could not publish it: {source}; \
         clients will get it when they next catch up"
    )]
    NotPublished {
        id: i64,
        seq: i64,
        #[source]
        source: ClusterError,
    },
    #[error("cannot encode the event: {0}")]
    Encode(String),
}

impl EmitError {
    /// The process's exit code: 2 when the request itself is wrong (as for a bad flag), 1
    /// when something failed on the way.
    pub fn exit_code(&self) -> u8 {
        match self {
            EmitError::NeedsPostgres
            | EmitError::Text(_)
            | EmitError::OffsetTooLong { .. }
            | EmitError::UnknownRoom { .. }
            | EmitError::UnknownPerson { .. }
            | EmitError::OffsetInUse { .. } => 2,
            EmitError::Store(_)
            | EmitError::Redis(_)
            | EmitError::NotPublished { .. }
            | EmitError::Encode(_) => 1,
        }
    }
}

impl EmitConfig {
    /// What the flags ask for; clap lets through exactly one of `--room` (with `--text`) and
    /// `--person`.
    pub fn emission(&self) -> Emission<'_> {
        match (&self.room, &self.person) {
            (Some(room), _) => Emission::Announce {
                room,
                text: self.text.as_deref().unwrap_or_default(),
                offset: self.offset.as_deref(),
            },
            (None, name) => Emission::Heads {
                name: name.as_deref().unwrap_or_default(),
            },
        }
    }
}

/// Runs `palaver emit`: checks the request, opens the database and Redis, and emits.
pub async fn emit(config: &EmitConfig) -> Result<Emitted, EmitError> {
    if Backend::of(&config.database_url) != Backend::Postgres {
        return Err(EmitError::NeedsPostgres);
    }
    let emission = config.emission();
    // What can be checked without a connection is, first.
    if let Emission::Announce { text, offset, .. } = emission {
        events::validate_text(text).map_err(EmitError::Text)?;
        if offset.is_some_and(|o| o.chars().count() > MAX_CLIENT_OFFSET_CHARS) {
            return Err(EmitError::OffsetTooLong {
                max: MAX_CLIENT_OFFSET_CHARS,
            });
        }
    }
    let store = Store::open(&config.database_url).await?;
    let emitted = emit_with(&store, &config.redis_url, emission).await;
    store.close().await;
    emitted
}

async fn emit_with(
    store: &Store,
    redis_url: &str,
    emission: Emission<'_>,
) -> Result<Emitted, EmitError> {
    match emission {
        Emission::Announce { room, text, offset } => {
            let room = public_room(store, room).await?;
            // Redis first: when it cannot be reached, nothing is stored.
            let redis = Publisher::connect(redis_url).await?;
            announce(store, &redis, &room, text, offset)
                .await
                .map(Emitted::Announced)
        }
        Emission::Heads { name } => {
            let (person, name) = store
                .person_named(&events::name_key(name))
                .await?
                .ok_or_else(|| EmitError::UnknownPerson {
                    name: name.to_owned(),
                })?;
            let redis = Publisher::connect(redis_url).await?;
            heads(store, &redis, &person, name)
                .await
                .map(Emitted::Heads)
        }
    }
}

/// `room` if it names an existing public room.
async fn public_room(store: &Store, room: &str) -> Result<ConversationId, EmitError> {
    let unknown = || EmitError::UnknownRoom {
        room: room.to_owned(),
    };
    let id = ConversationId::parse(room).map_err(|_| unknown())?;
    let public =
        id.kind() == RoomKind::Room && store.room_kind(id.as_str()).await? == Some(RoomKind::Room);
    if public { Ok(id) } else { Err(unknown()) }
}

/// Stores the announcement, then publishes it to the room, unless it was stored before.
async fn announce(
    store: &Store,
    redis: &Publisher,
    room: &ConversationId,
    text: &str,
    offset: Option<&str>,
) -> Result<Announced, EmitError> {
    let text = events::validate_text(text).map_err(EmitError::Text)?;
    let message = NewMessage {
        room: room.as_str(),
        author: EMITTER_AUTHOR,
        text: &text,
        client_offset: offset,
        sender: offset.map(|_| EMITTER_SENDER),
        kind: Some(MessageKind::Announcement),
        ..Default::default()
    };
    let mut written = store
        .writer_connection()
        .await?
        .write(Vec::new(), &[message])
        .await?;
    let inserted = written
        .outcomes
        .pop()
        .ok_or_else(StoreError::not_written)?
        .map_err(|_| EmitError::OffsetInUse {
            offset: offset.unwrap_or_default().to_owned(),
        })?;
    let stored = inserted.message;
    let mut announced = Announced {
        room: stored.room.clone(),
        id: stored.id,
        seq: stored.seq,
        ts: stored.created_at,
        created: inserted.created,
        nodes: 0,
    };
    // A retry: the first run stored it, and may have died before publishing it. The room's
    // head (harmless to members who hold it) makes any member who missed it sync.
    let sent = if inserted.created {
        redis
            .send(room.audience(), &ChatMessage::from(stored))
            .await
    } else {
        let (last_id, last_seq) = store.head(room.as_str()).await?;
        let head = RoomHead {
            room: stored.room,
            last_id,
            last_seq,
        };
        redis.send(room.audience(), &head).await
    };
    announced.nodes = sent.map_err(|e| match e {
        EmitError::Redis(source) => EmitError::NotPublished {
            id: announced.id,
            seq: announced.seq,
            source,
        },
        other => other,
    })?;
    Ok(announced)
}

/// Sends `person` the head of each of their conversations.
async fn heads(
    store: &Store,
    redis: &Publisher,
    person: &str,
    name: String,
) -> Result<HeadsSent, EmitError> {
    let mut sent = HeadsSent {
        person: name,
        heads: Vec::new(),
        nodes: 0,
    };
    for row in store.room_list(Some(person)).await? {
        let (last_id, last_seq) = store.head(&row.name).await?;
        let head = RoomHead {
            room: row.name,
            last_id,
            last_seq,
        };
        sent.nodes = redis.send(vec![person_room(person)], &head).await?;
        sent.heads.push(head);
    }
    Ok(sent)
}

/// Sends each of `heads` as `room head` to its room's sockets on every node, from a process
/// with no sockets (`palaver worker` after an import), so that members catch up.
pub(crate) async fn announce_heads(
    redis_url: &str,
    heads: &[crate::store::Head],
) -> Result<(), EmitError> {
    let redis = Publisher::connect(redis_url).await?;
    for h in heads {
        let head = RoomHead {
            room: h.room.clone(),
            last_id: h.last_id,
            last_seq: h.last_seq,
        };
        redis.send(vec![h.room.clone()], &head).await?;
    }
    Ok(())
}

/// One connection to the cluster's Redis, publishing the adapter's requests.
struct Publisher {
    conn: MultiplexedConnection,
    /// The prefix of the adapter's channels, as the nodes configure it.
    prefix: String,
}

impl Publisher {
    /// Connects, and checks that Redis answers.
    async fn connect(url: &str) -> Result<Publisher, ClusterError> {
        let client = redis::Client::open(url).map_err(ClusterError::Url)?;
        let addr = client.get_connection_info().addr().to_string();
        let conn = match timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(source)) => return Err(ClusterError::Unreachable { addr, source }),
            Err(_) => {
                return Err(ClusterError::Unanswered {
                    addr,
                    waited: REDIS_TIMEOUT,
                });
            }
        };
        let mut check = conn.clone();
        bounded(check.ping::<String>()).await?;
        Ok(Publisher {
            conn,
            prefix: RedisAdapterConfig::default().prefix.into_owned(),
        })
    }

    /// Publishes `event` to the main namespace's sockets in `rooms`, on every node: how many
    /// nodes received the request.
    async fn send<E: ServerEvent>(&self, rooms: Vec<String>, event: &E) -> Result<u64, EmitError> {
        let to = Reached {
            conn: self.conn.clone(),
            nodes: AtomicU64::new(0),
        };
        IoEmitter::new()
            .prefix(self.prefix.clone())
            .of(Main::PATH)
            .to(rooms)
            .emit(E::NAME, event, &to)
            .await
            .map_err(|e| match e {
                socketioxide_emitter::EmitError::Driver(e) => EmitError::Redis(e),
                socketioxide_emitter::EmitError::Parser(e) => EmitError::Encode(e.to_string()),
            })?;
        Ok(to.nodes.load(Ordering::Relaxed))
    }
}

/// `command`, or [`ClusterError::TimedOut`] if Redis does not answer in time.
async fn bounded<T>(
    command: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ClusterError> {
    match timeout(REDIS_TIMEOUT, command).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(ClusterError::TimedOut(REDIS_TIMEOUT)),
    }
}

/// The emitter's driver for one request: publishes it, and keeps how many subscribers (nodes)
/// Redis says received it.
struct Reached {
    conn: MultiplexedConnection,
    nodes: AtomicU64,
}

impl socketioxide_emitter::Driver for Reached {
    type Error = ClusterError;

    async fn emit(&self, channel: String, data: Vec<u8>) -> Result<(), ClusterError> {
        let mut conn = self.conn.clone();
        let nodes: u64 = bounded(conn.publish(channel, data)).await?;
        self.nodes.store(nodes, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use app::events::{Event as _, MessageMeta};
    use socketioxide_core::Value;
    use socketioxide_core::adapter::remote_packet::{
        RequestIn, RequestOut, RequestTypeIn, RequestTypeOut,
    };
    use socketioxide_core::adapter::{BroadcastFlags, BroadcastOptions};
    use socketioxide_core::packet::PacketData;

    use super::*;

    /// Keeps what the emitter publishes.
    #[derive(Default)]
    struct Kept(Mutex<Vec<(String, Vec<u8>)>>);

    impl socketioxide_emitter::Driver for Kept {
        type Error = std::io::Error;

        async fn emit(&self, channel: String, data: Vec<u8>) -> Result<(), std::io::Error> {
            self.0.lock().unwrap().push((channel, data));
            Ok(())
        }
    }

    /// socketioxide-emitter is built on socketioxide-core 0.16; the nodes' adapter reads its
    /// requests with 0.20's types. They must agree byte for byte.
    #[tokio::test]
    async fn the_emitter_s_request_is_the_one_a_node_s_adapter_publishes() {
        let message = ChatMessage {
            text: "maintenance at 22:00 é".into(),
            id: 7,
            meta: MessageMeta {
                room: "lobby".into(),
                author: EMITTER_AUTHOR.into(),
                ts: 1,
                seq: 3,
                client_offset: Some("cron-1".into()),
                kind: Some(MessageKind::Announcement),
                ..Default::default()
            },
        };
        let kept = Kept::default();
        IoEmitter::new()
            .prefix(RedisAdapterConfig::default().prefix)
            .of(Main::PATH)
            .to(vec!["lobby".to_owned()])
            .emit(ChatMessage::NAME, &message, &kept)
            .await
            .unwrap();
        let (channel, bytes) = kept.0.lock().unwrap().pop().unwrap();
        assert_eq!(channel, "socket.io-request#/#");

        let request: RequestIn = rmp_serde::from_slice(&bytes).unwrap();
        let RequestTypeIn::Broadcast(packet) = &request.r#type else {
            panic!("not a broadcast: {request:?}");
        };
        let PacketData::Event(Value::Str(payload, None), None) = &packet.inner else {
            panic!("not an event: {packet:?}");
        };
        let args: serde_json::Value = serde_json::from_str(payload).unwrap();
        let mut expected = vec![serde_json::json!(ChatMessage::NAME)];
        expected.extend(
            serde_json::to_value(&message)
                .unwrap()
                .as_array()
                .unwrap()
                .clone(),
        );
        assert_eq!(args, serde_json::Value::Array(expected));
        assert_eq!(&*packet.ns, Main::PATH);
        let mut opts = BroadcastOptions::default();
        opts.add_flag(BroadcastFlags::Broadcast);
        opts.rooms.push("lobby".into());
        assert_eq!(request.opts.as_ref(), Some(&opts));

        let mut again = RequestOut::new(request.node_id, RequestTypeOut::Broadcast(packet), &opts);
        again.id = request.id;
        assert_eq!(rmp_serde::to_vec(&again).unwrap(), bytes);
    }
}
