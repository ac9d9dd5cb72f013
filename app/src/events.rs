//! The wire contract: every Socket.IO event Palaver speaks, defined once and shared by the
//! server and the browser client.
//!
//! An event is a Rust type. The type carries its name ([`Event::NAME`]), its namespace
//! ([`Event::Namespace`]), its direction (it implements [`ClientEvent`] or [`ServerEvent`]) and,
//! when the receiver answers, its ack type ([`Request::Ack`]). Clients emit only
//! `ClientEvent`s of their namespace, so sending a server event, or the wrong payload, does not
//! compile.
//!
//! Event-name string literals live here and nowhere else. `docs/protocol.md` describes the same
//! contract for people writing other clients.

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// Longest message text accepted, in Unicode scalar values (what JS users call characters,
/// give or take surrogate pairs).
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest client offset accepted; the tutorial client sends `${socket.id}-${counter}`.
pub const MAX_CLIENT_OFFSET_CHARS: usize = 128;
/// Longest nickname accepted.
pub const MAX_NAME_CHARS: usize = 32;
/// How long a session token is valid after it was issued. The server issues a fresh one on
/// every connect, so only a person away this long has to pick their name again.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// The room every socket of the main namespace is in. It cannot be left.
pub const LOBBY: &str = "lobby";
/// Longest room name accepted.
pub const MAX_ROOM_NAME_CHARS: usize = 32;
/// Conversation ids of direct conversations start with this; room names cannot contain `:`.
pub const DM_PREFIX: &str = "dm:";
/// How many messages the server-rendered page and a fresh client start with.
pub const HISTORY_PAGE: usize = 50;
/// The catch-up window: the most messages replayed per conversation on (re)connect or `sync`.
/// A client further behind is told so ([`Synced::gap`]) and reloads recent history instead.
pub const MAX_REPLAY: usize = 1000;
/// The most messages one `history` request returns.
pub const MAX_HISTORY_LIMIT: usize = 100;
/// How many rooms a `browse rooms` page holds unless the request asks otherwise.
pub const BROWSE_PAGE: usize = 50;
/// The most rooms one `browse rooms` page holds.
pub const MAX_BROWSE_LIMIT: usize = 200;
/// Name shown for clients that connect without a name or token, such as the tutorial client.
/// It is reserved: nobody can claim it as a nickname.
pub const ANONYMOUS: &str = "anonymous";
/// Author of announcements from `/admin`; reserved like [`ANONYMOUS`].
pub const ADMIN_AUTHOR: &str = "admin";
/// Author of announcements from `palaver emit` (cron jobs, scripts); reserved like
/// [`ANONYMOUS`].
pub const EMITTER_AUTHOR: &str = "palaver";

/// A Socket.IO namespace and the `auth` payload its clients send on connect.
pub trait Namespace: 'static {
    const PATH: &'static str;
    type Auth: Serialize + DeserializeOwned + Clone + 'static;
}

/// Anything sent over the wire as a Socket.IO event.
pub trait Event: Serialize + DeserializeOwned + 'static {
    const NAME: &'static str;
    type Namespace: Namespace;
}

/// An event the browser sends and the server handles.
pub trait ClientEvent: Event {}

/// An event the server sends and the browser handles.
pub trait ServerEvent: Event {}

/// A client event that the server answers with an ack of type `Ack`.
pub trait Request: ClientEvent {
    type Ack: Serialize + DeserializeOwned + 'static;
}

/// Event names reserved by Socket.IO; no Palaver event may use one.
pub const RESERVED_NAMES: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Every event name of the main namespace, with its direction, for tests and docs.
pub const MAIN_EVENTS: &[(&str, Direction)] = &[
    (SendMessage::NAME, Direction::ClientToServer),
    (Sync::NAME, Direction::ClientToServer),
    (History::NAME, Direction::ClientToServer),
    (StartTyping::NAME, Direction::ClientToServer),
    (CreateRoom::NAME, Direction::ClientToServer),
    (JoinRoom::NAME, Direction::ClientToServer),
    (LeaveRoom::NAME, Direction::ClientToServer),
    (OpenDm::NAME, Direction::ClientToServer),
    (BrowseRooms::NAME, Direction::ClientToServer),
    (MarkRead::NAME, Direction::ClientToServer),
    (ChatMessage::NAME, Direction::ServerToClient),
    (Presence::NAME, Direction::ServerToClient),
    (Typing::NAME, Direction::ServerToClient),
    (Session::NAME, Direction::ServerToClient),
    (Synced::NAME, Direction::ServerToClient),
    (RoomHead::NAME, Direction::ServerToClient),
    (Kicked::NAME, Direction::ServerToClient),
    (RoomList::NAME, Direction::ServerToClient),
    (RoomUpdate::NAME, Direction::ServerToClient),
    (MessageDeleted::NAME, Direction::ServerToClient),
    (ListJobs::NAME, Direction::ClientToServer),
    (StartExport::NAME, Direction::ClientToServer),
    (JobChanged::NAME, Direction::ServerToClient),
    (ListSessions::NAME, Direction::ClientToServer),
    (RoomSettings::NAME, Direction::ClientToServer),
    (AddMember::NAME, Direction::ClientToServer),
    (RemoveMember::NAME, Direction::ClientToServer),
    (SetProfile::NAME, Direction::ClientToServer),
    (ListProfiles::NAME, Direction::ClientToServer),
    (ProfileChanged::NAME, Direction::ServerToClient),
    (EndSession::NAME, Direction::ClientToServer),
    (Account::NAME, Direction::ServerToClient),
    (SignedOut::NAME, Direction::ServerToClient),
    (Search::NAME, Direction::ClientToServer),
    (EditMessage::NAME, Direction::ClientToServer),
    (RemoveMessage::NAME, Direction::ClientToServer),
    (React::NAME, Direction::ClientToServer),
    (MessageChanged::NAME, Direction::ServerToClient),
    (ListMentions::NAME, Direction::ClientToServer),
    (ListMembers::NAME, Direction::ClientToServer),
    (SetNotify::NAME, Direction::ClientToServer),
    (NotifyLevels::NAME, Direction::ClientToServer),
    (NotifyChanged::NAME, Direction::ServerToClient),
    (FileReady::NAME, Direction::ServerToClient),
];

/// Every event name of the `/admin` namespace, with its direction.
pub const ADMIN_EVENTS: &[(&str, Direction)] = &[
    (Kick::NAME, Direction::ClientToServer),
    (Ban::NAME, Direction::ClientToServer),
    (Unban::NAME, Direction::ClientToServer),
    (Announce::NAME, Direction::ClientToServer),
    (DeleteMessage::NAME, Direction::ClientToServer),
    (RecentInRoom::NAME, Direction::ClientToServer),
    (AdminJobs::NAME, Direction::ClientToServer),
    (CreateWebhook::NAME, Direction::ClientToServer),
    (RevokeWebhook::NAME, Direction::ClientToServer),
    (ListWebhooks::NAME, Direction::ClientToServer),
    (CreateBot::NAME, Direction::ClientToServer),
    (RevokeBot::NAME, Direction::ClientToServer),
    (ListBots::NAME, Direction::ClientToServer),
    (CreateOutgoingWebhook::NAME, Direction::ClientToServer),
    (RemoveOutgoingWebhook::NAME, Direction::ClientToServer),
    (ListOutgoingWebhooks::NAME, Direction::ClientToServer),
    (ListDeadLetters::NAME, Direction::ClientToServer),
    (ImportedAuthors::NAME, Direction::ClientToServer),
    (ClaimAuthor::NAME, Direction::ClientToServer),
    (Stats::NAME, Direction::ServerToClient),
    (AdminJobChanged::NAME, Direction::ServerToClient),
    (ListPeople::NAME, Direction::ClientToServer),
    (SetRole::NAME, Direction::ClientToServer),
    (MakeResetLink::NAME, Direction::ClientToServer),
    (CreateInvite::NAME, Direction::ClientToServer),
    (ListInvites::NAME, Direction::ClientToServer),
    (RevokeInvite::NAME, Direction::ClientToServer),
    (AdminIdentity::NAME, Direction::ServerToClient),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

// ---------------------------------------------------------------------------------------------
// The main namespace `/`
// ---------------------------------------------------------------------------------------------

/// The main namespace, `/`: the chat itself.
pub struct Main;

impl Namespace for Main {
    const PATH: &'static str = "/";
    type Auth = MainAuth;
}

/// The `auth` payload of the main namespace.
///
/// `serverOffset` is the Socket.IO tutorial's field: the highest message id the client already
/// has. On connect the server first sends every lobby message with a greater id, oldest first.
///
/// `since` is Palaver's catch-up cursor, one per conversation: the id of the newest message the
/// client holds with nothing missing before it. A client that sends it gets the bounded
/// catch-up of [`Synced`] instead of the tutorial's replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MainAuth {
    #[serde(default)]
    pub server_offset: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
    /// Change cursors, one per conversation: the newest change (its [`MessageMeta::changed`])
    /// the client has applied. With `since`, the catch-up also replays, as
    /// [`MessageChanged`], every change after it to the messages up to `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Since>,
    /// The nickname to claim (see [`validate_name`]), when the client has no session yet or
    /// wants another name. Identity comes from the connection, never from event payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The session token from the last [`Session`]: proves the client is the person who
    /// claimed that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `session`, server to client, right after a connect with a name or token: who the server
/// knows this connection as, and a fresh token to present next time. Keep only the newest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub name: String,
    pub token: String,
    /// Milliseconds since the Unix epoch after which the token is refused.
    pub expires_at: i64,
}

impl Event for Session {
    const NAME: &'static str = "session";
    type Namespace = Main;
}
impl ServerEvent for Session {}

/// Why a namespace refused a connection. Its code is the whole `message` of the
/// `connect_error` packet, so a client can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The `auth` payload is not the namespace's shape.
    #[error("invalid_auth")]
    InvalidAuth,
    /// The nickname breaks the rules of [`validate_name`].
    #[error("invalid_name")]
    InvalidName,
    /// The nickname is, or reads like, one of [`RESERVED_NICKNAMES`] (see [`validate_name`]).
    #[error("reserved_name")]
    ReservedName,
    /// Someone else holds the nickname.
    #[error("name_taken")]
    NameTaken,
    /// The token was not issued by this server (forged, altered, or another server's secret).
    #[error("invalid_token")]
    InvalidToken,
    /// The token is older than [`SESSION_TTL_MS`]; claim the name again.
    #[error("expired_token")]
    ExpiredToken,
    /// The namespace needs credentials this client does not have (`/admin`).
    #[error("unauthorized")]
    Unauthorized,
    /// The server cannot check the credentials right now; try again.
    #[error("unavailable")]
    Unavailable,
    /// A moderator banned the person this token (or name) belongs to ([`Ban`]).
    #[error("banned")]
    Banned,
    /// Too many new names were claimed from the client's address lately; try again later, or
    /// connect with a token (a returning person) or without a name (a guest).
    #[error("too_many_names")]
    TooManyNames,
    /// The session cookie names a session that ended (signed out on another device, a
    /// password reset, a ban) or expired. Drop it (`POST /auth/sign-out`) and sign in again.
    #[error("signed_out")]
    SignedOut,
    /// This needs an account: the server lets no guests in (`--guests off`), or the token's
    /// name has a password now and is signed in with it.
    #[error("sign_in_required")]
    SignInRequired,
    /// The server is invite-only: a new name needs an account made with an invite.
    #[error("sign_up_closed")]
    SignUpClosed,
}

impl Refusal {
    const ALL: [Refusal; 13] = [
        Refusal::InvalidAuth,
        Refusal::InvalidName,
        Refusal::ReservedName,
        Refusal::NameTaken,
        Refusal::InvalidToken,
        Refusal::ExpiredToken,
        Refusal::Unauthorized,
        Refusal::Unavailable,
        Refusal::Banned,
        Refusal::TooManyNames,
        Refusal::SignedOut,
        Refusal::SignInRequired,
        Refusal::SignUpClosed,
    ];

    /// The refusal a `connect_error` message stands for, if it is one of ours.
    pub fn from_message(message: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.to_string() == message)
    }
}

/// `chat message`, client to server: post `text` to a conversation, the lobby by default.
///
/// On the wire it is the tutorial's argument list, `["chat message", text, clientOffset?,
/// room?]`. `client_offset` makes retries idempotent: a repeated offset is stored and broadcast
/// once but acknowledged every time. `room` is a room the sender has joined, or one of their
/// direct conversations; absent (the tutorial's client) means [`LOBBY`]. A fourth argument,
/// an object, may carry `files`: uploads of the sender's to attach ([`MAX_FILES_PER_MESSAGE`]
/// at most); with files, the text may be empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendMessage {
    pub text: String,
    pub client_offset: Option<String>,
    pub room: Option<String>,
    /// The message of the same conversation this one answers: a fourth argument,
    /// `{"replyTo": id}`.
    pub reply_to: Option<i64>,
    /// Ids of uploads ([`FileInfo::id`]) to attach, in the order shown.
    pub files: Vec<i64>,
}

impl Event for SendMessage {
    const NAME: &'static str = "chat message";
    type Namespace = Main;
}
impl ClientEvent for SendMessage {}
impl Request for SendMessage {
    type Ack = Reply<Posted>;
}

/// The ack of [`SendMessage`]: the message is committed under this id, time and room sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Posted {
    pub id: i64,
    /// Milliseconds since the Unix epoch, server clock.
    pub ts: i64,
    /// Its place in its room: 1, 2, 3… with no holes.
    pub seq: i64,
}

/// Catch-up cursors: conversation (room) name to the id of the newest message held with
/// nothing missing before it. `0` means "nothing held". A JSON object on the wire.
///
/// Kept as a list sorted by conversation, each once, rather than a `BTreeMap`: the browser
/// builds one at every connect, and a B-tree of its own key and value types was 5 KB of its
/// wasm. The server reads the conversations in name order, as it did the map's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Since(Vec<(String, i64)>);

impl Since {
    pub fn new() -> Since {
        Since::default()
    }

    /// Sets `room`'s cursor, replacing the one it had.
    pub fn insert(&mut self, room: String, at: i64) {
        match self.find(&room) {
            Ok(i) => self.0[i].1 = at,
            Err(i) => self.0.insert(i, (room, at)),
        }
    }

    pub fn get(&self, room: &str) -> Option<&i64> {
        self.find(room).ok().map(|i| &self.0[i].1)
    }

    /// Where `room` is, or would go.
    fn find(&self, room: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(r, _)| r.as_str().cmp(room))
    }

    /// Conversations and their cursors, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &i64)> {
        self.0.iter().map(|(room, at)| (room, at))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// From cursors in any order, a conversation named twice keeping its last.
    fn from_unsorted(mut all: Vec<(String, i64)>) -> Since {
        // Stable: of a conversation's cursors, the last stays last.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sorted: Vec<(String, i64)> = Vec::with_capacity(all.len());
        for (room, at) in all {
            match sorted.last_mut() {
                Some(last) if last.0 == room => last.1 = at,
                _ => sorted.push((room, at)),
            }
        }
        Since(sorted)
    }
}

impl<const N: usize> From<[(String, i64); N]> for Since {
    fn from(cursors: [(String, i64); N]) -> Since {
        Since::from_unsorted(cursors.into())
    }
}

impl FromIterator<(String, i64)> for Since {
    fn from_iter<I: IntoIterator<Item = (String, i64)>>(cursors: I) -> Since {
        Since::from_unsorted(cursors.into_iter().collect())
    }
}

impl IntoIterator for Since {
    type Item = (String, i64);
    type IntoIter = std::vec::IntoIter<(String, i64)>;

    /// In name order.
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for Since {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Since {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Cursors;
        impl<'de> Visitor<'de> for Cursors {
            type Value = Since;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of conversations' cursors")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Since, A::Error> {
                let mut all = Vec::new();
                while let Some(entry) = map.next_entry::<String, i64>()? {
                    all.push(entry);
                }
                Ok(Since::from_unsorted(all))
            }
        }
        deserializer.deserialize_map(Cursors)
    }
}

/// `sync`, client to server: "replay what I am missing". Sent when the client notices a hole
/// (a `seq` skipped, or a [`RoomHead`] ahead of it). The server sends the missing
/// `chat message`s, oldest first, then answers with one [`Synced`] per room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sync {
    pub since: Since,
    /// Change cursors, as in [`MainAuth::changes`]: the changes after them are replayed too.
    #[serde(default, skip_serializing_if = "Since::is_empty")]
    pub changes: Since,
}

impl Event for Sync {
    const NAME: &'static str = "sync";
    type Namespace = Main;
}
impl ClientEvent for Sync {}
impl Request for Sync {
    type Ack = Reply<Vec<Synced>>;
}

/// `room head`, server to room: the newest message of a room. Sent after the server had to
/// drop a delivery to some member whose buffer was full; a member whose newest contiguous
/// `seq` is below `lastSeq` sends `sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomHead {
    pub room: String,
    /// Id of the room's newest message, 0 when it has none.
    pub last_id: i64,
    /// Its `seq`, 0 when the room has no message.
    pub last_seq: i64,
}

impl Event for RoomHead {
    const NAME: &'static str = "room head";
    type Namespace = Main;
}
impl ServerEvent for RoomHead {}

/// `synced`, server to client: the catch-up of one room is complete. Sent on connect after the
/// replay (for every room when the client sent `since`), and in the ack of [`Sync`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Synced {
    #[serde(flatten)]
    pub head: RoomHead,
    /// More than [`MAX_REPLAY`] messages were missing, so none were replayed: the client
    /// should drop what it holds of this room and reload its recent history.
    pub gap: bool,
    /// How many messages were replayed.
    pub replayed: usize,
    /// The conversation's change counter once the replay is done: the client's change cursor
    /// from now on (see [`MainAuth::changes`]).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub change_seq: i64,
}

impl Event for Synced {
    const NAME: &'static str = "synced";
    type Namespace = Main;
}
impl ServerEvent for Synced {}

/// `history`, client to server: a page of a room's messages, oldest first: the newest
/// `limit` (default [`HISTORY_PAGE`], at most [`MAX_HISTORY_LIMIT`]) with an id below `before`,
/// or the newest of all when `before` is absent. With `around` (a message of the room): that
/// message and about `limit / 2` on each side of it; with `after`: the oldest `limit` with an
/// id above it. At most one of `before`, `around` and `after`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub around: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

impl Event for History {
    const NAME: &'static str = "history";
    type Namespace = Main;
}
impl ClientEvent for History {}
impl Request for History {
    type Ack = Reply<HistoryPage>;
}

/// The ack of [`History`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Oldest first, each in the argument shape of `chat message`: `[text, id, meta]`.
    pub messages: Vec<ChatMessage>,
    /// Whether older messages exist.
    pub more: bool,
    /// Whether newer messages exist: told for `around` and `after` pages only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub newer: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `chat message`, server to client: a stored message of a conversation the client is in.
///
/// On the wire: `["chat message", text, id, meta]`. The first two arguments are exactly what the
/// Socket.IO tutorial's client reads (`(msg, serverOffset)`); it ignores `meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub text: String,
    pub id: i64,
    pub meta: MessageMeta,
}

impl Event for ChatMessage {
    const NAME: &'static str = "chat message";
    type Namespace = Main;
}
impl ServerEvent for ChatMessage {}

/// What Palaver adds to the tutorial's `chat message`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageMeta {
    /// The conversation it belongs to: a room name, or a direct conversation's id.
    #[serde(default = "lobby")]
    pub room: String,
    pub author: String,
    /// Milliseconds since the Unix epoch, server clock.
    pub ts: i64,
    /// Its place in its room: 1, 2, 3… with no holes, so a client can tell it missed one.
    #[serde(default)]
    pub seq: i64,
    /// The sender's client offset, so its own pending copy can be matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_offset: Option<String>,
    /// What kind of message this is, when it is not a person's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// When its author last edited it ([`EditMessage`]), ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<i64>,
    /// Its reactions ([`React`]), each emoji once, in the order they were first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The message it answers, quoted (a `replyTo` of [`SendMessage`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyQuote>,
    /// The conversation's change counter when this message last changed (edited, deleted,
    /// reacted to); 0 if it never did. Of two copies of a message, the higher one is newer.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub changed: i64,
    /// The people it mentions (`@name`) who may read it, by the names they had when it was
    /// sent; on its live delivery (history and catch-up may leave it out: read the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// The files attached to it, in the order shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn lobby() -> String {
    LOBBY.to_owned()
}

/// Messages that are not a person's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Posted from `/admin` with [`Announce`].
    Announcement,
    /// `author` joined the room. Text: "joined".
    Joined,
    /// `author` left the room. Text: "left".
    Left,
    /// Removed by its author ([`RemoveMessage`]) or a moderator ([`DeleteMessage`]): kept as a
    /// tombstone with empty text and author, so the room's `seq` has no hole. Clients show
    /// nothing for it.
    Deleted,
    /// Posted by a program: through an incoming webhook, or with a bot token. Its author is the
    /// name the program gave (checked like a nickname, reserved names refused), which is not a
    /// person's: clients mark it as a bot's.
    Bot,
}

impl MessageKind {
    /// Whether it counts as unread: people's words and announcements do, notices do not.
    pub fn is_unread_worthy(kind: Option<MessageKind>) -> bool {
        matches!(
            kind,
            None | Some(MessageKind::Announcement | MessageKind::Bot)
        )
    }
}

/// How often a person's typing is passed on, at most; more frequent `typing` is dropped.
pub const TYPING_EVERY_MS: u64 = 2_000;
/// How long "is typing…" shows without a fresh `typing`.
pub const TYPING_SHOWS_MS: u64 = 5_000;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How many people `presence` names at most; the rest are counted in [`Presence::more`]. A
/// line of names is read, not searched: more would cost every member's buffers for nothing.
pub const PRESENCE_NAMES: usize = 20;

/// `presence`, server to a room: who is in it now. Sent to the room after a person comes or
/// goes (their first tab opens, their last one closes) or a guest does: coalesced, at most
/// every 200 ms, and less often in big rooms (every 200 ms per 200 people, at most 5 s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub room: String,
    /// People online in the room, each once however many tabs they have, sorted; at most
    /// [`PRESENCE_NAMES`] of them.
    pub online: Vec<String>,
    /// People online beyond those named.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    /// Connected guests (no name), counted by socket.
    pub guests: usize,
}

impl Event for Presence {
    const NAME: &'static str = "presence";
    type Namespace = Main;
}
impl ServerEvent for Presence {}

/// `typing`, client to server: "I am typing in `room`". Volatile: no ack, and a client sends
/// it only while connected, at most once every [`TYPING_EVERY_MS`]. Guests' is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTyping {
    pub room: String,
}

impl Event for StartTyping {
    const NAME: &'static str = "typing";
    type Namespace = Main;
}
impl ClientEvent for StartTyping {}

/// `typing`, server to the room's other sockets: `name` is typing. Show it for
/// [`TYPING_SHOWS_MS`], or until a message from `name` arrives. Volatile: may be dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub room: String,
    pub name: String,
}

impl Event for Typing {
    const NAME: &'static str = "typing";
    type Namespace = Main;
}
impl ServerEvent for Typing {}

/// "ann is typing…", "ann and bob are typing…", "ann, bob and cy are typing…"; more than
/// three read "Several people are typing…". `None` when nobody is.
pub fn typing_phrase(names: &[String]) -> Option<String> {
    Some(match names {
        [] => return None,
        [one] => format!("{one} is typing…"),
        [a, b] => format!("{a} and {b} are typing…"),
        [a, b, c] => format!("{a}, {b} and {c} are typing…"),
        _ => "Several people are typing…".to_owned(),
    })
}

/// `kicked`, server to the sockets of one person: an admin disconnected them. The server
/// closes the connection right after; the client should not reconnect on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kicked {
    pub reason: String,
}

impl Event for Kicked {
    const NAME: &'static str = "kicked";
    type Namespace = Main;
}
impl ServerEvent for Kicked {}

// ---------------------------------------------------------------------------------------------
// Rooms and direct conversations
// ---------------------------------------------------------------------------------------------

/// Whether a conversation is a room anyone may join or a direct conversation of two people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Room,
    Dm,
}

/// One conversation, as the person receiving it sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    /// The conversation id: what `chat message`, `history`, `sync` and `typing` name.
    pub room: String,
    pub kind: RoomKind,
    /// What to call it: the room's name, or the other person's name for a direct conversation.
    pub title: String,
    /// People who belong to it.
    pub members: usize,
    /// Of those, how many are online, plus connected guests (lobby only).
    pub online: usize,
    /// Whether the receiving person belongs to it.
    pub joined: bool,
    /// Messages (not notices) after the receiving person's read marker; 0 when not joined.
    pub unread: u64,
    /// The room's newest `seq`, 0 when empty.
    pub last_seq: i64,
    /// Seen, read and joined by its members alone, who add others by name ([`AddMember`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Shown when browsing rooms; an unlisted room is joined by its name.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub listed: bool,
    /// Who may post in it.
    #[serde(default, skip_serializing_if = "Posting::is_default")]
    pub posting: Posting,
    /// Whether the receiving person may change its settings and remove its members: its
    /// owner, and the server's moderators and administrators.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manage: bool,
}

fn yes() -> bool {
    true
}

/// Who may post in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Posting {
    /// Everyone in it.
    #[default]
    Members,
    /// Its owner (who made it) and the server's moderators and administrators: announcements.
    Managers,
}

impl Posting {
    pub fn as_str(self) -> &'static str {
        match self {
            Posting::Members => "members",
            Posting::Managers => "managers",
        }
    }

    pub fn parse(s: &str) -> Option<Posting> {
        [Posting::Members, Posting::Managers]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    fn is_default(&self) -> bool {
        *self == Posting::Members
    }
}

/// `room settings`, client to server: changes a room's settings (those given), for its owner
/// and the server's moderators and administrators ([`ChatError::NotManager`] otherwise). Its
/// members hear the new settings in a [`RoomUpdate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettings {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting: Option<Posting>,
}

impl Event for RoomSettings {
    const NAME: &'static str = "room settings";
    type Namespace = Main;
}
impl ClientEvent for RoomSettings {}
impl Request for RoomSettings {
    type Ack = Reply<RoomInfo>;
}

/// `add member`, client to server: a member of a room puts the person called `name` in it
/// too (how people come into a private room). Their sockets join it and their list shows it;
/// adding someone who is in it already is not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    pub room: String,
    pub name: String,
}

impl Event for AddMember {
    const NAME: &'static str = "add member";
    type Namespace = Main;
}
impl ClientEvent for AddMember {}
impl Request for AddMember {
    type Ack = Reply<()>;
}

/// `remove member`, client to server: the room's owner, or a moderator or administrator of the
/// server, takes the person called `name` out of the room. Their sockets leave it and their
/// list drops it. Not the lobby.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMember {
    pub room: String,
    pub name: String,
}

impl Event for RemoveMember {
    const NAME: &'static str = "remove member";
    type Namespace = Main;
}
impl ClientEvent for RemoveMember {}
impl Request for RemoveMember {
    type Ack = Reply<()>;
}

/// `rooms`, server to one person (each of their sockets): their own conversations, that is
/// the rooms they belong to (the lobby included) and their direct conversations; a guest's
/// holds the lobby alone. Sent on connect and whenever their memberships change. Rooms to
/// join are found with [`BrowseRooms`], so the list stays small however many rooms exist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    pub rooms: Vec<RoomInfo>,
}

impl Event for RoomList {
    const NAME: &'static str = "rooms";
    type Namespace = Main;
}
impl ServerEvent for RoomList {}

/// `room update`, server to the whole namespace: a room was created, or its member or online
/// count changed; or, to its members, its settings changed (`listed` and `posting` present).
/// Never sent for direct conversations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomUpdate {
    pub room: String,
    pub members: usize,
    pub online: usize,
    /// After a [`RoomSettings`] change: the room's new settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting: Option<Posting>,
}

impl Event for RoomUpdate {
    const NAME: &'static str = "room update";
    type Namespace = Main;
}
impl ServerEvent for RoomUpdate {}

/// `create room`, client to server: creates a room named `name` (see [`validate_room_name`];
/// it is lowercased) and joins it. Named people only. `private`: seen by its members alone
/// (it cannot be made public later, nor a public room private).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

impl Event for CreateRoom {
    const NAME: &'static str = "create room";
    type Namespace = Main;
}
impl ClientEvent for CreateRoom {}
impl Request for CreateRoom {
    type Ack = Reply<RoomInfo>;
}

/// `join room`, client to server: joins an existing room, with every socket of the person.
/// Joining a room one is in already is not an error. Named people only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoom {
    pub room: String,
}

impl Event for JoinRoom {
    const NAME: &'static str = "join room";
    type Namespace = Main;
}
impl ClientEvent for JoinRoom {}
impl Request for JoinRoom {
    type Ack = Reply<RoomInfo>;
}

/// `leave room`, client to server: leaves a room, with every socket of the person. The lobby
/// cannot be left, nor a direct conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveRoom {
    pub room: String,
}

impl Event for LeaveRoom {
    const NAME: &'static str = "leave room";
    type Namespace = Main;
}
impl ClientEvent for LeaveRoom {}
impl Request for LeaveRoom {
    type Ack = Reply<Left>;
}

/// The ack of [`LeaveRoom`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Left {
    pub room: String,
}

/// `open dm`, client to server: the direct conversation with the person called `name`
/// (created on first use). Only its two people can read or write it. Named people only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDm {
    pub name: String,
}

impl Event for OpenDm {
    const NAME: &'static str = "open dm";
    type Namespace = Main;
}
impl ClientEvent for OpenDm {}
impl Request for OpenDm {
    type Ack = Reply<RoomInfo>;
}

/// `browse rooms`, client to server: a page of the public rooms the person does not belong
/// to, by name: the first `limit` (default [`BROWSE_PAGE`], at most [`MAX_BROWSE_LIMIT`])
/// named after `after`, or from the first when `after` is absent. With `matching`, only rooms
/// whose name contains it (compared lowercased, at most [`MAX_ROOM_NAME_CHARS`]). Guests may
/// browse too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseRooms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl Event for BrowseRooms {
    const NAME: &'static str = "browse rooms";
    type Namespace = Main;
}
impl ClientEvent for BrowseRooms {}
impl Request for BrowseRooms {
    type Ack = Reply<RoomPage>;
}

/// The ack of [`BrowseRooms`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPage {
    /// By name; each with `joined: false` and `unread: 0`.
    pub rooms: Vec<RoomInfo>,
    /// Whether more rooms follow the last one: ask again with it as `after`.
    pub more: bool,
}

/// `read`, client to server: "I have seen `room` up to `seq`". Moves the person's read marker
/// forward (never back), which is what `unread` in [`RoomInfo`] counts from. No ack needed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub room: String,
    pub seq: i64,
}

impl Event for MarkRead {
    const NAME: &'static str = "read";
    type Namespace = Main;
}
impl ClientEvent for MarkRead {}
impl Request for MarkRead {
    type Ack = Reply<()>;
}

/// `message deleted`, server to the conversation: its author or a moderator removed message
/// `id`. Remove it from view; history and catch-up return it as a [`MessageKind::Deleted`]
/// tombstone. Sent besides [`MessageChanged`], for clients from before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub room: String,
    pub id: i64,
}

impl Event for MessageDeleted {
    const NAME: &'static str = "message deleted";
    type Namespace = Main;
}
impl ServerEvent for MessageDeleted {}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// Longest search query accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The most words a search query may hold.
pub const MAX_SEARCH_TERMS: usize = 16;
/// Hits per page unless the request asks otherwise.
pub const SEARCH_PAGE: usize = 20;
/// The most hits one page holds.
pub const MAX_SEARCH_LIMIT: usize = 50;
/// How deep into the ranked hits a page may start: the rest is for a narrower query.
pub const MAX_SEARCH_OFFSET: usize = 500;

/// `search`, client to server: the messages the asker may read that hold every word of
/// `query` (the last one as a prefix), best first (then newest). Words are letters and digits;
/// everything else in `query` separates them, so no query syntax is ever read from it.
/// Filters: one conversation (`room`), an author's name, and a time range in milliseconds
/// since the Unix epoch (`from` inclusive, `to` exclusive). Paged by `offset` (at most
/// [`MAX_SEARCH_OFFSET`]) and `limit` (default [`SEARCH_PAGE`], at most [`MAX_SEARCH_LIMIT`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl Event for Search {
    const NAME: &'static str = "search";
    type Namespace = Main;
}
impl ClientEvent for Search {}
impl Request for Search {
    type Ack = Reply<SearchResults>;
}

/// The ack of [`Search`]: a page of hits, best first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Whether more hits follow this page (ask again with `offset` moved on).
    pub more: bool,
}

/// One message found, with an excerpt of its text around the words that matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// In the argument shape of `chat message`: `[text, id, meta]`.
    pub message: ChatMessage,
    /// The excerpt, in order: plain text, and the words that matched (`hit`). Text, never
    /// HTML.
    pub snippet: Vec<Snippet>,
}

/// A piece of a [`SearchHit`]'s excerpt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub text: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hit: bool,
}

// ---------------------------------------------------------------------------------------------
// Changes: edits, deletions, reactions and replies
// ---------------------------------------------------------------------------------------------

/// Distinct emoji one message may carry at most.
pub const MAX_REACTIONS: usize = 20;
/// Names a [`Reaction`] lists at most; [`Reaction::count`] counts them all.
pub const MAX_REACTION_NAMES: usize = 50;
/// Longest emoji accepted, in Unicode scalar values (a family with skin tones takes ~10).
pub const MAX_EMOJI_CHARS: usize = 16;
/// Longest excerpt of a parent that a [`ReplyQuote`] carries, in characters.
pub const REPLY_EXCERPT_CHARS: usize = 200;

/// One emoji given to a message, and by whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// How many people gave it.
    pub count: usize,
    /// Their names, in the order they gave it; the first [`MAX_REACTION_NAMES`] only.
    pub names: Vec<String>,
}

/// The message a reply answers, as the reply shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyQuote {
    pub id: i64,
    /// Empty when the parent was deleted.
    pub author: String,
    /// Its text's first [`REPLY_EXCERPT_CHARS`] characters; empty when it was deleted.
    pub excerpt: String,
}

/// `edit message`, client to server: replaces the text of message `id` of `room`, one of the
/// sender's own (not a notice, a program's or an announcement): [`ChatError::NotYours`]
/// otherwise. The text is checked like a post's ([`validate_text`]) and the edit counts
/// against the sender's posting rate. Everyone holding it gets a [`MessageChanged`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessage {
    pub room: String,
    pub id: i64,
    pub text: String,
}

impl Event for EditMessage {
    const NAME: &'static str = "edit message";
    type Namespace = Main;
}
impl ClientEvent for EditMessage {}
impl Request for EditMessage {
    type Ack = Reply<()>;
}

/// `remove message`, client to server: deletes message `id` of `room`: one's own, or, for the
/// server's moderators and administrators, anyone's ([`ChatError::NotYours`] otherwise). It
/// stays a tombstone ([`MessageKind::Deleted`]); everyone holding it gets a
/// [`MessageChanged`] (and, as before, a [`MessageDeleted`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMessage {
    pub room: String,
    pub id: i64,
}

impl Event for RemoveMessage {
    const NAME: &'static str = "remove message";
    type Namespace = Main;
}
impl ClientEvent for RemoveMessage {}
impl Request for RemoveMessage {
    type Ack = Reply<()>;
}

/// `react`, client to server: gives (`on`) or takes back the sender's `emoji` on message `id`
/// of `room`. One of each emoji per person; at most [`MAX_REACTIONS`] distinct emoji per
/// message ([`ChatError::TooManyReactions`]); the emoji is checked by [`validate_emoji`].
/// Giving one twice, or taking back one not given, changes nothing. Named people only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct React {
    pub room: String,
    pub id: i64,
    pub emoji: String,
    pub on: bool,
}

impl Event for React {
    const NAME: &'static str = "react";
    type Namespace = Main;
}
impl ClientEvent for React {}
impl Request for React {
    type Ack = Reply<()>;
}

/// `message changed`, server to the conversation: a message was edited, deleted or reacted
/// to. In the argument shape of `chat message` (`[text, id, meta]`), with the message's whole
/// current state: replace the copy held if `meta.changed` is higher than its own, and ignore
/// it if none is held. Also replayed on catch-up (see [`MainAuth::changes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageChanged(pub ChatMessage);

impl Event for MessageChanged {
    const NAME: &'static str = "message changed";
    type Namespace = Main;
}
impl ServerEvent for MessageChanged {}

/// Checks an emoji for [`React`]: 1 to [`MAX_EMOJI_CHARS`] characters, all of them emoji or
/// the joiners, selectors and modifiers that build one, and no text.
pub fn validate_emoji(emoji: &str) -> Result<&str, ChatError> {
    let emoji = emoji.trim();
    let n = emoji.chars().count();
    let keycap = emoji.contains('\u{20E3}');
    let ok = (1..=MAX_EMOJI_CHARS).contains(&n)
        && (keycap || emoji.chars().any(is_emoji_base))
        && emoji.chars().all(|c| {
            is_emoji_base(c)
                || matches!(
                    c,
                    '\u{200D}' | '\u{FE0E}' | '\u{FE0F}' | '\u{20E3}' | '\u{E0020}'..='\u{E007F}'
                )
                || (keycap && (c.is_ascii_digit() || matches!(c, '#' | '*')))
        });
    if ok {
        Ok(emoji)
    } else {
        Err(ChatError::InvalidEmoji {
            max: MAX_EMOJI_CHARS,
        })
    }
}

/// Characters that are emoji by themselves (pictographs, symbols, flags' letters, skin tones).
fn is_emoji_base(c: char) -> bool {
    matches!(c,
        '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
        | '\u{2194}'..='\u{21AA}' | '\u{231A}'..='\u{23FF}' | '\u{24C2}'
        | '\u{25AA}'..='\u{27BF}' | '\u{2934}' | '\u{2935}' | '\u{2B05}'..='\u{2B55}'
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}' | '\u{1F000}'..='\u{1FAFF}')
}

// ---------------------------------------------------------------------------------------------
// Mentions and notifications
// ---------------------------------------------------------------------------------------------

/// The most entries a [`ListMentions`] page holds.
pub const MAX_MENTIONS_PAGE: usize = 50;
/// The most people a [`ListMembers`] answer holds.
pub const MAX_MEMBERS_LIMIT: usize = 10;

/// `mentions`, client to server: the messages that mention the asker (`@name`) and that they
/// may still read (not deleted, in a conversation they are still in), newest first: the
/// newest `limit` (default and at most [`MAX_MENTIONS_PAGE`]) with an id below `before`.
/// Named people only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMentions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl Event for ListMentions {
    const NAME: &'static str = "mentions";
    type Namespace = Main;
}
impl ClientEvent for ListMentions {}
impl Request for ListMentions {
    type Ack = Reply<MentionPage>;
}

/// The ack of [`ListMentions`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MentionPage {
    /// Newest first, each in the argument shape of `chat message`: `[text, id, meta]`.
    pub messages: Vec<ChatMessage>,
    /// Whether older ones exist: ask again with the last id as `before`.
    pub more: bool,
}

/// `members`, client to server: people who may read conversation `room` whose name or display
/// name starts with `prefix` (compared lowercased), for `@name` autocompletion: online people
/// first, then by name; at most `limit` (default and at most [`MAX_MEMBERS_LIMIT`]). In the
/// lobby, everyone with a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMembers {
    pub room: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl Event for ListMembers {
    const NAME: &'static str = "members";
    type Namespace = Main;
}
impl ClientEvent for ListMembers {}
impl Request for ListMembers {
    type Ack = Reply<Vec<Member>>;
}

/// One person of a [`ListMembers`] answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online: bool,
}

/// Which messages of a conversation notify a person (a browser notification, a sound, the
/// tab title's count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message.
    All,
    /// Messages that mention the person; the others count as unread, quietly.
    Mentions,
    /// None: the conversation adds nothing to the tab title either.
    None,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyLevel> {
        [NotifyLevel::All, NotifyLevel::Mentions, NotifyLevel::None]
            .into_iter()
            .find(|l| l.as_str() == s)
    }

    /// The level of a conversation nobody chose one for: every message of a direct
    /// conversation is meant for its reader; a room's are mostly not, so only mentions
    /// notify there.
    pub fn default_for(kind: RoomKind) -> NotifyLevel {
        match kind {
            RoomKind::Dm => NotifyLevel::All,
            RoomKind::Room => NotifyLevel::Mentions,
        }
    }
}

/// `notify`, client to server: sets the asker's notification level for conversation `room`,
/// one they may read. Kept with their account, so that every device of theirs follows it;
/// each of their sockets hears the change ([`NotifyChanged`]). Named people only (a guest
/// keeps it in the page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetNotify {
    pub room: String,
    pub level: NotifyLevel,
}

impl Event for SetNotify {
    const NAME: &'static str = "notify";
    type Namespace = Main;
}
impl ClientEvent for SetNotify {}
impl Request for SetNotify {
    type Ack = Reply<()>;
}

/// `notify levels`, client to server: the levels the asker chose, by conversation (those not
/// listed have [`NotifyLevel::default_for`] their kind). A guest's list is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyLevels {}

impl Event for NotifyLevels {
    const NAME: &'static str = "notify levels";
    type Namespace = Main;
}
impl ClientEvent for NotifyLevels {}
impl Request for NotifyLevels {
    type Ack = Reply<Levels>;
}

/// [`NotifyLevels`]' answer: levels by conversation, a JSON object on the wire. A list rather
/// than a map: the page puts them in its own, and a map's decoder would be code of its own in
/// its wasm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Levels(pub Vec<(String, NotifyLevel)>);

impl Serialize for Levels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(room, level)| (room, level)))
    }
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ByRoom;
        impl<'de> Visitor<'de> for ByRoom {
            type Value = Levels;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of conversations' notification levels")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Levels, A::Error> {
                let mut all = Vec::new();
                while let Some(entry) = map.next_entry::<String, NotifyLevel>()? {
                    all.push(entry);
                }
                Ok(Levels(all))
            }
        }
        deserializer.deserialize_map(ByRoom)
    }
}

/// `notify level`, server to each socket of a person: they set conversation `room`'s level
/// (on this device or another).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyChanged {
    pub room: String,
    pub level: NotifyLevel,
}

impl Event for NotifyChanged {
    const NAME: &'static str = "notify level";
    type Namespace = Main;
}
impl ServerEvent for NotifyChanged {}

// ---------------------------------------------------------------------------------------------
// Files: uploads attached to messages
// ---------------------------------------------------------------------------------------------

/// Where files are uploaded (`POST`, the file is the body, `?name=` its name) and served from
/// (`GET /uploads/{id}/{name}`, and `/uploads/{id}/thumbnail/{name}` for an image's thumbnail).
pub const UPLOADS_PATH: &str = "/uploads";
/// The most files one message carries.
pub const MAX_FILES_PER_MESSAGE: usize = 10;
/// The most uploads a person may hold that no message carries yet.
pub const MAX_PENDING_UPLOADS: usize = 20;
/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 320;
/// The longest file name kept, in characters; a longer one is cut.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// Where an image's thumbnail is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Thumbnail {
    /// Not an image shown inline: no thumbnail is made.
    #[default]
    None,
    /// Being made in the background; [`FileReady`] tells when it is done.
    Pending,
    /// Made: served at [`FileInfo::thumbnail_url`].
    Ready,
    /// The image could not be read (corrupt, or too large to decode): shown as a file.
    Failed,
}

/// A file as a message carries it (`meta.files`), and as `POST /uploads` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The upload's id: what `chat message` attaches.
    pub id: i64,
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The type the server found in its content (never the name's or the upload's say-so);
    /// `application/octet-stream` when it knows none.
    #[serde(rename = "type")]
    pub content_type: String,
    #[serde(default)]
    pub thumbnail: Thumbnail,
}

impl FileInfo {
    /// Where the whole file is served.
    pub fn url(&self) -> String {
        format!("{UPLOADS_PATH}/{}/{}", self.id, path_segment(&self.name))
    }

    /// Where its thumbnail is served, once [`Thumbnail::Ready`].
    pub fn thumbnail_url(&self) -> String {
        format!(
            "{UPLOADS_PATH}/{}/thumbnail/{}",
            self.id,
            path_segment(&self.name)
        )
    }

    /// Whether it is an image shown inline (from its thumbnail).
    pub fn is_inline_image(&self) -> bool {
        is_inline_image(&self.content_type)
    }
}

/// Whether files of `content_type` are images shown inline: PNG, JPEG, GIF and WebP.
pub fn is_inline_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// `name` percent-encoded as one path segment (RFC 3986's unreserved characters kept).
pub fn path_segment(name: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// "12 B", "3.4 KB", "1.2 MB": a size as a person reads it.
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut unit = 0;
    let mut scale = 1u64;
    while bytes >= scale * 1024 && unit < UNITS.len() - 1 {
        scale *= 1024;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    // Tenths in whole numbers, rounded half up: the page then needs no float formatting. The
    // whole units and the rest apart, so that no size overflows (nor needs u128's code).
    let tenths = bytes / scale * 10 + ((bytes % scale) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// `file ready`, server to a conversation (or, before a message carries it, to its uploader):
/// an image's thumbnail was made, or could not be. Later loads of the message carry the same
/// [`Thumbnail`] in `meta.files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReady {
    /// The conversation of the message that carries it; `None` while no message does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// That message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<i64>,
    pub file: FileInfo,
}

impl Event for FileReady {
    const NAME: &'static str = "file ready";
    type Namespace = Main;
}
impl ServerEvent for FileReady {}

// ---------------------------------------------------------------------------------------------
// The admin namespace `/admin`
// ---------------------------------------------------------------------------------------------

/// `/admin`: live statistics and moderation, for holders of the admin token only.
pub struct Admin;

impl Namespace for Admin {
    const PATH: &'static str = "/admin";
    type Auth = AdminAuth;
}

/// The `auth` payload of `/admin`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdminAuth {
    /// The admin token from the server's configuration (or the one it printed on first start).
    /// Empty (and then not sent) to be let in by an administrator's or moderator's session
    /// cookie.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
}

/// `stats`, server to every `/admin` socket, on connect and then every second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Connected sockets per namespace.
    pub namespaces: Vec<NamespaceStats>,
    /// The main namespace's rooms, with who is in them.
    pub rooms: Vec<RoomStats>,
    /// Messages stored in the last 60 seconds.
    pub messages_per_minute: u64,
}

impl Event for Stats {
    const NAME: &'static str = "stats";
    type Namespace = Admin;
}
impl ServerEvent for Stats {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceStats {
    pub path: String,
    pub sockets: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomStats {
    pub room: String,
    /// Names of the people in it, each once however many tabs they have, sorted.
    pub members: Vec<String>,
    /// Its sockets, guests and tabs included.
    pub sockets: usize,
}

/// `kick`, admin to server: disconnect every socket of the person called `name`, after
/// telling them why ([`Kicked`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kick {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event for Kick {
    const NAME: &'static str = "kick";
    type Namespace = Admin;
}
impl ClientEvent for Kick {}
impl Request for Kick {
    type Ack = Reply<KickDone>;
}

/// The ack of [`Kick`] and [`Ban`]: how many sockets were disconnected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KickDone {
    pub sockets: usize,
}

/// `ban`, admin to server: bans the person called `name`. Every socket of theirs is told why
/// ([`Kicked`]) and disconnected, their session tokens are refused from now on
/// ([`Refusal::Banned`]), and their name stays theirs: nobody else can claim it. A person who
/// is not online can be banned too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ban {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event for Ban {
    const NAME: &'static str = "ban";
    type Namespace = Admin;
}
impl ClientEvent for Ban {}
impl Request for Ban {
    type Ack = Reply<KickDone>;
}

/// `unban`, admin to server: lifts the ban of the person called `name`. Their tokens work
/// again, and their name is held for them as if they had just been seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unban {
    pub name: String,
}

impl Event for Unban {
    const NAME: &'static str = "unban";
    type Namespace = Admin;
}
impl ClientEvent for Unban {}
impl Request for Unban {
    type Ack = Reply<Unbanned>;
}

/// The ack of [`Unban`]: the person's name, as they spell it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unbanned {
    pub name: String,
}

/// `announce`, admin to server: post `text` as an announcement to `room`, or to every room
/// when `room` is absent. Stored and delivered like any message ([`MessageKind::Announcement`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    pub text: String,
}

impl Event for Announce {
    const NAME: &'static str = "announce";
    type Namespace = Admin;
}
impl ClientEvent for Announce {}
impl Request for Announce {
    /// One per room it was posted to.
    type Ack = Reply<Vec<Posted>>;
}

/// `delete message`, admin to server: removes message `id` for everyone, live and in history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub id: i64,
}

impl Event for DeleteMessage {
    const NAME: &'static str = "delete message";
    type Namespace = Admin;
}
impl ClientEvent for DeleteMessage {}
impl Request for DeleteMessage {
    type Ack = Reply<MessageDeleted>;
}

/// `recent`, admin to server: the newest messages of a room (not a direct conversation: those
/// stay between their two people), oldest first, so a moderator can pick one to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentInRoom {
    pub room: String,
}

impl Event for RecentInRoom {
    const NAME: &'static str = "recent";
    type Namespace = Admin;
}
impl ClientEvent for RecentInRoom {}
impl Request for RecentInRoom {
    type Ack = Reply<HistoryPage>;
}

// Webhooks and bots, made and revoked by moderators. Tokens and signing secrets are in the
// answer that makes them, and nowhere else: the server keeps a token's hash only.

/// `create webhook`, admin to server: makes an incoming webhook, a URL that posts to the public
/// room `room` (see `docs/bot-api.md`). `name` is the author of its messages when a post names
/// none; it is checked like a nickname ([`validate_bot_name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWebhook {
    pub room: String,
    pub name: String,
}

impl Event for CreateWebhook {
    const NAME: &'static str = "create webhook";
    type Namespace = Admin;
}
impl ClientEvent for CreateWebhook {}
impl Request for CreateWebhook {
    type Ack = Reply<WebhookCreated>;
}

/// An incoming webhook, without its token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub room: String,
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// The ack of [`CreateWebhook`]: the webhook, and the one time its token is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreated {
    pub webhook: Webhook,
    pub token: String,
    /// `/hooks/<id>/<token>`: where to POST.
    pub path: String,
    /// The full URL, when the server knows its address (`PALAVER_PUBLIC_URL`, or the address
    /// it listens on when that is not a wildcard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `revoke webhook`, admin to server: the incoming webhook `id` posts no more (its URL is then
/// answered `410 Gone`). Revoking twice is not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeWebhook {
    pub id: String,
}

impl Event for RevokeWebhook {
    const NAME: &'static str = "revoke webhook";
    type Namespace = Admin;
}
impl ClientEvent for RevokeWebhook {}
impl Request for RevokeWebhook {
    type Ack = Reply<Webhook>;
}

/// `webhooks`, admin to server: the incoming webhooks of `room` (of every room without it),
/// revoked ones included, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

impl Event for ListWebhooks {
    const NAME: &'static str = "webhooks";
    type Namespace = Admin;
}
impl ClientEvent for ListWebhooks {}
impl Request for ListWebhooks {
    type Ack = Reply<Vec<Webhook>>;
}

/// `create bot`, admin to server: makes a token of the bot API. `name` is the author of the
/// bot's messages, checked like a nickname ([`validate_bot_name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBot {
    pub name: String,
}

impl Event for CreateBot {
    const NAME: &'static str = "create bot";
    type Namespace = Admin;
}
impl ClientEvent for CreateBot {}
impl Request for CreateBot {
    type Ack = Reply<BotCreated>;
}

/// A bot token, without the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bot {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// The ack of [`CreateBot`]: the bot, and the one time its token is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotCreated {
    pub bot: Bot,
    /// What the bot sends as `Authorization: Bearer <token>`.
    pub token: String,
}

/// `revoke bot`, admin to server: the bot token `id` is refused from now on. Revoking twice
/// is not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeBot {
    pub id: String,
}

impl Event for RevokeBot {
    const NAME: &'static str = "revoke bot";
    type Namespace = Admin;
}
impl ClientEvent for RevokeBot {}
impl Request for RevokeBot {
    type Ack = Reply<Bot>;
}

/// `bots`, admin to server: every bot token, revoked ones included, oldest first. The
/// argument is `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBots {}

impl Event for ListBots {
    const NAME: &'static str = "bots";
    type Namespace = Admin;
}
impl ClientEvent for ListBots {}
impl Request for ListBots {
    type Ack = Reply<Vec<Bot>>;
}

/// `create outgoing webhook`, admin to server: from now on each new message of the public room
/// `room` is POSTed to `url` (`http` or `https`), signed with a secret of its own (see
/// `docs/bot-api.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOutgoingWebhook {
    pub room: String,
    pub url: String,
}

impl Event for CreateOutgoingWebhook {
    const NAME: &'static str = "create outgoing webhook";
    type Namespace = Admin;
}
impl ClientEvent for CreateOutgoingWebhook {}
impl Request for CreateOutgoingWebhook {
    type Ack = Reply<OutgoingWebhookCreated>;
}

/// An outgoing webhook, without its secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingWebhook {
    pub id: String,
    pub room: String,
    pub url: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<i64>,
    /// The id of the last message of the room delivered (or given up on).
    pub delivered_up_to: i64,
    /// How many messages it gave up on ([`ListDeadLetters`]).
    #[serde(default)]
    pub dead_letters: u64,
}

/// The ack of [`CreateOutgoingWebhook`]: the webhook, and the one time its signing secret is
/// shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingWebhookCreated {
    pub webhook: OutgoingWebhook,
    pub secret: String,
}

/// `remove outgoing webhook`, admin to server: nothing more is delivered to the outgoing
/// webhook `id`. It stays listed, with its dead letters. Removing twice is not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveOutgoingWebhook {
    pub id: String,
}

impl Event for RemoveOutgoingWebhook {
    const NAME: &'static str = "remove outgoing webhook";
    type Namespace = Admin;
}
impl ClientEvent for RemoveOutgoingWebhook {}
impl Request for RemoveOutgoingWebhook {
    type Ack = Reply<OutgoingWebhook>;
}

/// `outgoing webhooks`, admin to server: the outgoing webhooks of `room` (of every room
/// without it), removed ones included, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOutgoingWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

impl Event for ListOutgoingWebhooks {
    const NAME: &'static str = "outgoing webhooks";
    type Namespace = Admin;
}
impl ClientEvent for ListOutgoingWebhooks {}
impl Request for ListOutgoingWebhooks {
    type Ack = Reply<Vec<OutgoingWebhook>>;
}

/// The most dead letters one [`ListDeadLetters`] answers with.
pub const DEAD_LETTERS_PAGE: usize = 100;

/// `dead letters`, admin to server: the newest messages that the outgoing webhook `hook` (every
/// outgoing webhook, without it) gave up delivering, newest first, [`DEAD_LETTERS_PAGE`] at most.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDeadLetters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
}

impl Event for ListDeadLetters {
    const NAME: &'static str = "dead letters";
    type Namespace = Admin;
}
impl ClientEvent for ListDeadLetters {}
impl Request for ListDeadLetters {
    type Ack = Reply<Vec<DeadLetter>>;
}

/// The most authors one [`ImportedAuthors`] answers with.
pub const IMPORTED_AUTHORS_PAGE: usize = 500;

/// `imported authors`, admin to server: the authors of imported messages that nobody has
/// claimed yet, with how many messages each wrote, most first ([`IMPORTED_AUTHORS_PAGE`] at
/// most).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedAuthors {}

impl Event for ImportedAuthors {
    const NAME: &'static str = "imported authors";
    type Namespace = Admin;
}
impl ClientEvent for ImportedAuthors {}
impl Request for ImportedAuthors {
    type Ack = Reply<Vec<ImportedAuthor>>;
}

/// An author of imported messages: the name they wrote under at the source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedAuthor {
    pub author: String,
    pub messages: u64,
}

/// `claim author`, admin to server: the imported messages written as `author` become those of
/// the person called `name`, shown under their name from now on. Claiming again, or an author
/// with nothing left to claim, is not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimAuthor {
    pub author: String,
    pub name: String,
}

impl Event for ClaimAuthor {
    const NAME: &'static str = "claim author";
    type Namespace = Admin;
}
impl ClientEvent for ClaimAuthor {}
impl Request for ClaimAuthor {
    type Ack = Reply<AuthorClaimed>;
}

/// The ack of [`ClaimAuthor`]: the person's name as they spell it, and how many messages
/// became theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorClaimed {
    pub author: String,
    pub name: String,
    pub messages: u64,
}

/// A message an outgoing webhook gave up delivering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub hook: String,
    /// The message's id.
    pub message: i64,
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: String,
    /// When it was given up on, in milliseconds since the Unix epoch.
    pub at: i64,
}

// ---------------------------------------------------------------------------------------------
// Accounts: sessions, roles, invites and password resets. Signing up, in and out is HTTP
// (`crate::auth`): only an HTTP answer can set the HttpOnly session cookie.
// ---------------------------------------------------------------------------------------------

/// What an account may do beyond chatting. The first account on a server is its
/// administrator; everyone after is a member until an administrator says otherwise.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chats; owns the rooms they make.
    #[default]
    Member,
    /// Uses `/admin` to keep order: kicks, bans, deletes messages, announces.
    Moderator,
    /// Everything a moderator does, and manages the server: roles, invites, password resets,
    /// webhooks, bots and imports.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::Moderator, Role::Admin];

    /// The role's name, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role opens `/admin`.
    pub fn moderates(self) -> bool {
        self >= Role::Moderator
    }
}

/// `account`, server to client, right after a connect signed in by the session cookie: who
/// the connection belongs to. A connection by token gets [`Session`] instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub name: String,
    pub role: Role,
    /// This device's session, as [`SessionInfo::id`] names it.
    pub session: String,
}

impl Event for Account {
    const NAME: &'static str = "account";
    type Namespace = Main;
}
impl ServerEvent for Account {}

/// `sessions`, client to server: the signed-in person's sessions (one per device signed in),
/// newest use first. Refused with [`ChatError::SignInRequired`] without an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSessions {}

impl Event for ListSessions {
    const NAME: &'static str = "sessions";
    type Namespace = Main;
}
impl ClientEvent for ListSessions {}
impl Request for ListSessions {
    type Ack = Reply<Vec<SessionInfo>>;
}

/// One signed-in device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Names the session; not a secret (the cookie holds one of its own).
    pub id: String,
    /// The browser and system it was signed in from, as its `User-Agent` says ("Chrome on
    /// Linux").
    pub device: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it last connected, milliseconds since the Unix epoch.
    pub last_seen: i64,
    /// Whether it is the session of the connection that asked.
    pub current: bool,
}

/// `end session`, client to server: signs one of the person's own sessions out. Its sockets
/// get [`SignedOut`] and are disconnected at once, on every node; its cookie is refused from
/// then on ([`Refusal::SignedOut`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndSession {
    pub id: String,
}

impl Event for EndSession {
    const NAME: &'static str = "end session";
    type Namespace = Main;
}
impl ClientEvent for EndSession {}
impl Request for EndSession {
    type Ack = Reply<()>;
}

/// `signed out`, server to the sockets of one session, before it disconnects them: the session
/// ended (from another device, by a password reset, or a ban). The client should drop its
/// cookie (`POST /auth/sign-out`) and not reconnect as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOut {
    pub reason: String,
}

impl Event for SignedOut {
    const NAME: &'static str = "signed out";
    type Namespace = Main;
}
impl ServerEvent for SignedOut {}

/// `whoami`, server to an `/admin` socket right after it connects: how it was let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminIdentity {
    /// The account's name; `None` for the admin token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it may do: the admin token counts as [`Role::Admin`].
    pub role: Role,
}

impl Event for AdminIdentity {
    const NAME: &'static str = "whoami";
    type Namespace = Admin;
}
impl ServerEvent for AdminIdentity {}

/// `people`, admin to server: people by name, after `after`, whose name contains `matching`
/// ([`PEOPLE_PAGE`] at most).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPeople {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// People one [`ListPeople`] answer holds at most.
pub const PEOPLE_PAGE: usize = 100;

impl Event for ListPeople {
    const NAME: &'static str = "people";
    type Namespace = Admin;
}
impl ClientEvent for ListPeople {}
impl Request for ListPeople {
    type Ack = Reply<Vec<PersonInfo>>;
}

/// One person, as `/admin` sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonInfo {
    pub name: String,
    pub role: Role,
    /// Whether they have a password (an account), or only a name held by a browser's token.
    pub account: bool,
    pub banned: bool,
    /// Milliseconds since the Unix epoch.
    pub last_seen: i64,
}

/// `set role`, admin to server (administrators only): gives the account called `name` a role.
/// The last administrator cannot be made anything less ([`ChatError::LastAdmin`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRole {
    pub name: String,
    pub role: Role,
}

impl Event for SetRole {
    const NAME: &'static str = "set role";
    type Namespace = Admin;
}
impl ClientEvent for SetRole {}
impl Request for SetRole {
    type Ack = Reply<PersonInfo>;
}

/// `reset link`, admin to server (administrators only): a one-time code with which the
/// person called `name` sets a new password (`POST /auth/reset`), valid for
/// [`RESET_TTL_MS`]. The page's link is `/#reset=<code>`. Using it signs every device of
/// theirs out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakeResetLink {
    pub name: String,
}

/// How long a password reset code works.
pub const RESET_TTL_MS: i64 = 24 * 60 * 60 * 1000;

impl Event for MakeResetLink {
    const NAME: &'static str = "reset link";
    type Namespace = Admin;
}
impl ClientEvent for MakeResetLink {}
impl Request for MakeResetLink {
    type Ack = Reply<ResetLink>;
}

/// The ack of [`MakeResetLink`]: the code, shown once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetLink {
    pub name: String,
    pub code: String,
    pub expires_at: i64,
}

/// `create invite`, admin to server (administrators only): a join link's code. The page's
/// link is `/#invite=<code>`; signing up with it works on an invite-only server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInvite {
    /// How long it works; for ever without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
    /// How many sign-ups it allows; any number without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

impl Event for CreateInvite {
    const NAME: &'static str = "create invite";
    type Namespace = Admin;
}
impl ClientEvent for CreateInvite {}
impl Request for CreateInvite {
    type Ack = Reply<InviteCreated>;
}

/// The ack of [`CreateInvite`]: the invite and its code, shown this once (only its hash is
/// kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteCreated {
    pub invite: Invite,
    pub code: String,
}

/// A join link, as `/admin` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    pub id: String,
    /// The name of who made it; `None` for the admin token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub revoked: bool,
}

/// `invites`, admin to server (administrators only): every invite, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInvites {}

impl Event for ListInvites {
    const NAME: &'static str = "invites";
    type Namespace = Admin;
}
impl ClientEvent for ListInvites {}
impl Request for ListInvites {
    type Ack = Reply<Vec<Invite>>;
}

/// `revoke invite`, admin to server (administrators only): the link stops working.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeInvite {
    pub id: String,
}

impl Event for RevokeInvite {
    const NAME: &'static str = "revoke invite";
    type Namespace = Admin;
}
impl ClientEvent for RevokeInvite {}
impl Request for RevokeInvite {
    type Ack = Reply<Invite>;
}

// ---------------------------------------------------------------------------------------------
// Profiles: how people show, besides their unique name
// ---------------------------------------------------------------------------------------------

/// Longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Longest status accepted, in characters.
pub const MAX_STATUS_CHARS: usize = 100;
/// The largest picture `POST /avatar` takes, in bytes.
pub const MAX_AVATAR_BYTES: usize = 256 * 1024;
/// The most names one [`ListProfiles`] asks for.
pub const MAX_PROFILES_ASKED: usize = 200;

/// How a person shows: their unique `name` (what messages' `author` holds), and what they chose
/// to show besides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub name: String,
    /// Shown on their messages instead of `name`; any text (not unique: show `name` beside it
    /// where it matters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A short status ("on holiday until Monday").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Their uploaded picture's version, when they have one: it is at
    /// `/avatars/<name>?v=<avatar>`. Without one, clients draw initials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<i64>,
    /// In a [`ProfileChanged`] after a rename: the name they had, which their messages held
    /// until now and hold `name` from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// `set profile`, client to server: the asker's display name and status (absent or blank:
/// none). Named people only. Everyone hears of it ([`ProfileChanged`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Event for SetProfile {
    const NAME: &'static str = "set profile";
    type Namespace = Main;
}
impl ClientEvent for SetProfile {}
impl Request for SetProfile {
    type Ack = Reply<Profile>;
}

/// `profiles`, client to server: the profiles of the people called `names` (at most
/// [`MAX_PROFILES_ASKED`]); names nobody holds are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListProfiles {
    pub names: Vec<String>,
}

impl Event for ListProfiles {
    const NAME: &'static str = "profiles";
    type Namespace = Main;
}
impl ClientEvent for ListProfiles {}
impl Request for ListProfiles {
    type Ack = Reply<Vec<Profile>>;
}

/// `profile`, server to everyone: a person's profile changed, or they renamed
/// ([`Profile::renamed_from`]: their stored messages now hold the new name; show them so).
// Transparent: socketioxide's encoder reads a newtype struct as the whole argument list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileChanged(pub Profile);

impl Event for ProfileChanged {
    const NAME: &'static str = "profile";
    type Namespace = Main;
}
impl ServerEvent for ProfileChanged {}

/// A display name or status as the server keeps it: control characters and surrounding
/// whitespace gone, nothing visible meaning none; [`ChatError::TooLong`] over `max`.
pub fn validate_profile_text(text: Option<&str>, max: usize) -> Result<Option<String>, ChatError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let kept: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let kept = kept.trim();
    if !kept.chars().any(is_visible) {
        return Ok(None);
    }
    if kept.chars().count() > max {
        return Err(ChatError::TooLong { max });
    }
    Ok(Some(kept.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Jobs: work done after its request was answered (imports, exports, deliveries, backups)
// ---------------------------------------------------------------------------------------------

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A room's history, or everything a person may read, as a download.
    Export,
    /// An archive (Palaver's own export, or Slack's) stored as messages.
    Import,
    /// New messages of a room POSTed to an outgoing webhook.
    Webhook,
    /// A copy of the database.
    Backup,
    /// The thumbnail of an uploaded image ([`FileReady`] tells when it is made).
    Thumbnail,
}

impl JobKind {
    pub const ALL: [JobKind; 5] = [
        JobKind::Export,
        JobKind::Import,
        JobKind::Webhook,
        JobKind::Backup,
        JobKind::Thumbnail,
    ];

    /// How it is spelled on the wire and in the jobs table.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Export => "export",
            JobKind::Import => "import",
            JobKind::Webhook => "webhook",
            JobKind::Backup => "backup",
            JobKind::Thumbnail => "thumbnail",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (a retry waits until `runAt`).
    Queued,
    /// A worker has it.
    Running,
    /// Finished.
    Done,
    /// Failed for good: every attempt failed, or it cannot succeed.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Dead,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether it will change no more.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Dead)
    }
}

/// A job as its owner (and `/admin`) sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    /// Claims by a worker so far (1 on the first run).
    pub attempts: u32,
    /// Records (messages) done so far, and of how many when known.
    pub done: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// A line that says what it made or why it failed, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Where to fetch what it made (an export), while the link is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<String>,
    /// The owner's name, for `/admin`; `None` for the server's own jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
}

/// `job`, server to client: one of the person's jobs changed (progress, or its end). Also on
/// `/admin`, for every job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobChanged {
    #[serde(flatten)]
    pub job: JobInfo,
}

impl Event for JobChanged {
    const NAME: &'static str = "job";
    type Namespace = Main;
}
impl ServerEvent for JobChanged {}

/// `jobs`, client to server: the person's jobs, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListJobs {}

impl Event for ListJobs {
    const NAME: &'static str = "jobs";
    type Namespace = Main;
}
impl ClientEvent for ListJobs {}
impl Request for ListJobs {
    type Ack = Reply<JobList>;
}

/// The ack of [`ListJobs`] and of [`AdminJobs`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    pub jobs: Vec<JobInfo>,
}

/// `start export`, client to server: an export of `room`'s history, or, without a room, of
/// every conversation the person may read (their rooms and direct conversations), as a ZIP of
/// NDJSON with a manifest (`docs/export-format.md`). Answered at once with the job's id; the
/// download link comes with the job's end (`job`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartExport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

impl Event for StartExport {
    const NAME: &'static str = "start export";
    type Namespace = Main;
}
impl ClientEvent for StartExport {}
impl Request for StartExport {
    type Ack = Reply<JobStarted>;
}

/// The ack of a request that starts a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStarted {
    pub job: i64,
}

/// `jobs`, admin to server: every job, newest first (the newest [`ADMIN_JOBS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminJobs {}

impl Event for AdminJobs {
    const NAME: &'static str = "jobs";
    type Namespace = Admin;
}
impl ClientEvent for AdminJobs {}
impl Request for AdminJobs {
    type Ack = Reply<JobList>;
}

/// `job`, server to admin: any job changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminJobChanged {
    #[serde(flatten)]
    pub job: JobInfo,
}

impl Event for AdminJobChanged {
    const NAME: &'static str = "job";
    type Namespace = Admin;
}
impl ServerEvent for AdminJobChanged {}

/// Jobs a person's list shows at most.
pub const PERSON_JOBS: usize = 50;
/// Jobs `/admin`'s list shows at most.
pub const ADMIN_JOBS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Acks and errors
// ---------------------------------------------------------------------------------------------

/// The envelope of every ack: `{ "data": T }` or `{ "error": { "code", "message", … } }`.
/// Decoded by hand (below), encoded by serde.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply<T> {
    Data(T),
    Error(WireError),
}

impl<T> Reply<T> {
    pub fn into_result(self) -> Result<T, ChatError> {
        match self {
            Reply::Data(t) => Ok(t),
            Reply::Error(e) => Err(e.error),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Reply<T> {
    /// Reads the envelope as a JSON map of one entry, then `T` or the error from its value.
    /// serde's derived decoder for an enum is a visitor and a variant reader for each `T`, and
    /// the browser decodes a dozen kinds of answer.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        match envelope(fields).map_err(de::Error::custom)? {
            Ok(data) => T::deserialize(data)
                .map(Reply::Data)
                .map_err(de::Error::custom),
            Err(error) => Ok(Reply::Error(error)),
        }
    }
}

/// An answer's envelope opened: the value of `data`, or the error. Apart from `Reply`'s
/// decoder, which is generic, so that the wasm holds it once.
fn envelope(
    fields: serde_json::Map<String, serde_json::Value>,
) -> Result<Result<serde_json::Value, WireError>, serde_json::Error> {
    let count = fields.len();
    let mut entries = fields.into_iter();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        return Err(de::Error::invalid_length(count, &"`data` or `error`"));
    };
    match key.as_str() {
        "data" => Ok(Ok(value)),
        "error" => WireError::deserialize(value).map(Err),
        other => Err(de::Error::unknown_variant(other, &["data", "error"])),
    }
}

impl<T> From<Result<T, ChatError>> for Reply<T> {
    fn from(r: Result<T, ChatError>) -> Self {
        match r {
            Ok(t) => Reply::Data(t),
            Err(e) => Reply::Error(e.into()),
        }
    }
}

/// An error as sent on the wire: the typed error plus a human-readable `message`.
/// Decoded by hand (below), encoded by serde.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireError {
    #[serde(flatten)]
    pub error: ChatError,
    pub message: String,
}

impl From<ChatError> for WireError {
    fn from(error: ChatError) -> Self {
        WireError {
            message: error.to_string(),
            error,
        }
    }
}

impl<'de> Deserialize<'de> for WireError {
    /// Reads the error's object as a JSON map, then picks the variant by `code` and takes the
    /// fields that variant carries. serde's derived decoder for a flattened, internally tagged
    /// enum buffers the whole object first, and that generic machinery was a twentieth of the
    /// browser's wasm; a derived struct of every optional field was still 10 KB of it.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        let fields = serde_json::Map::<String, Value>::deserialize(deserializer)?;
        // Each variant's fields, required only by the codes that carry them.
        let field = |name: &'static str| {
            fields
                .get(name)
                .ok_or_else(|| de::Error::missing_field(name))
        };
        let text = |name| -> Result<String, D::Error> {
            let value = field(name)?;
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| wrong(name, "a string"))
        };
        let int = |name| -> Result<i64, D::Error> {
            let value = field(name)?;
            value.as_i64().ok_or_else(|| wrong(name, "an integer"))
        };
        let count = |name| -> Result<u64, D::Error> {
            let value = field(name)?;
            value.as_u64().ok_or_else(|| wrong(name, "a count"))
        };
        fn wrong<E: de::Error>(name: &str, expected: &str) -> E {
            E::custom(format_args!("`{name}` is not {expected}"))
        }
        let max = || -> Result<usize, D::Error> {
            usize::try_from(count("max")?).map_err(|_| de::Error::custom("max is too large"))
        };
        let event = || text("event");
        let room = || text("room");
        let code = text("code")?;
        let message = text("message")?;
        let error = match code.as_str() {
            "empty" => ChatError::Empty,
            "too_long" => ChatError::TooLong { max: max()? },
            "offset_too_long" => ChatError::OffsetTooLong { max: max()? },
            "offset_in_use" => ChatError::OffsetInUse,
            "invalid_payload" => ChatError::InvalidPayload {
                event: event()?,
                detail: text("detail")?,
            },
            "unknown_event" => ChatError::UnknownEvent { event: event()? },
            "unknown_room" => ChatError::UnknownRoom { room: room()? },
            "not_member" => ChatError::NotMember { room: room()? },
            "room_exists" => ChatError::RoomExists { room: room()? },
            "invalid_room_name" => ChatError::InvalidRoomName { max: max()? },
            "cannot_leave" => ChatError::CannotLeave { room: room()? },
            "name_required" => ChatError::NameRequired,
            "unknown_person" => ChatError::UnknownPerson {
                name: text("name")?,
            },
            "unknown_message" => ChatError::UnknownMessage { id: int("id")? },
            "admin_only" => ChatError::AdminOnly { event: event()? },
            "rate_limited" => ChatError::RateLimited {
                retry_after_ms: count("retry_after_ms")?,
            },
            "overloaded" => ChatError::Overloaded {
                retry_after_ms: count("retry_after_ms")?,
            },
            "unavailable" => ChatError::Unavailable,
            "unknown_webhook" => ChatError::UnknownWebhook {
                webhook: text("webhook")?,
            },
            "unknown_bot" => ChatError::UnknownBot { bot: text("bot")? },
            "invalid_bot_name" => ChatError::InvalidBotName { max: max()? },
            "invalid_webhook_url" => ChatError::InvalidWebhookUrl {
                detail: text("detail")?,
            },
            "sign_in_required" => ChatError::SignInRequired,
            "role_required" => ChatError::RoleRequired {
                role: text("role")?,
            },
            "unknown_session" => ChatError::UnknownSession {
                session: text("session")?,
            },
            "unknown_invite" => ChatError::UnknownInvite {
                invite: text("invite")?,
            },
            "no_account" => ChatError::NoAccount {
                name: text("name")?,
            },
            "last_admin" => ChatError::LastAdmin,
            "read_only_room" => ChatError::ReadOnlyRoom { room: room()? },
            "not_manager" => ChatError::NotManager { room: room()? },
            "invalid_query" => ChatError::InvalidQuery {
                detail: text("detail")?,
            },
            "not_yours" => ChatError::NotYours { id: int("id")? },
            "too_many_reactions" => ChatError::TooManyReactions { max: max()? },
            "invalid_emoji" => ChatError::InvalidEmoji { max: max()? },
            "unknown_file" => ChatError::UnknownFile { id: int("id")? },
            "too_many_files" => ChatError::TooManyFiles { max: max()? },
            other => {
                return Err(de::Error::custom(format_args!(
                    "unknown error code `{other}`"
                )));
            }
        };
        Ok(WireError { error, message })
    }
}

/// Every error a client can get in an ack. `code` is the stable, machine-readable part.
/// Only encoded on its own; [`WireError`] decodes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ChatError {
    #[error("message is empty")]
    Empty,
    #[error("message is longer than {max} characters")]
    TooLong { max: usize },
    #[error("client offset is longer than {max} characters")]
    OffsetTooLong { max: usize },
    /// The sender used this client offset before for another message (another room or text).
    /// Only a retry of the same message gets the stored one's ack; send anything else under a
    /// new offset.
    #[error("this client offset was used for another message; use a new one")]
    OffsetInUse,
    #[error("invalid payload for `{event}`: {detail}")]
    InvalidPayload { event: String, detail: String },
    #[error("unknown event `{event}`")]
    UnknownEvent { event: String },
    /// No such room, or a direct conversation that is not the asker's (the two are not told
    /// apart, so a stranger learns nothing of other people's conversations).
    #[error("no room named `{room}`")]
    UnknownRoom { room: String },
    #[error("you are not in `{room}`; join it first")]
    NotMember { room: String },
    #[error("a room named `{room}` exists already")]
    RoomExists { room: String },
    #[error("a room name is 1 to {max} lowercase letters, digits, `-` or `_`")]
    InvalidRoomName { max: usize },
    #[error("`{room}` cannot be left")]
    CannotLeave { room: String },
    #[error("pick a name first: guests can only read and write in the lobby")]
    NameRequired,
    #[error("nobody is called `{name}`")]
    UnknownPerson { name: String },
    #[error("no message {id}")]
    UnknownMessage { id: i64 },
    /// An `/admin` action sent to the main namespace.
    #[error("`{event}` is for moderators, on the /admin namespace")]
    AdminOnly { event: String },
    /// The sender is over a rate limit (of messages, joins, new rooms, direct conversations
    /// or pages); nothing was done. Ask again after the wait.
    #[error("too many at once; try again in {}", wait_text(*retry_after_ms))]
    RateLimited { retry_after_ms: u64 },
    /// The answer would exceed what the server holds unread for this client (or for all
    /// clients together); nothing was done. Ask again after the wait.
    #[error("the server is busy sending you data; try again in {retry_after_ms} ms")]
    Overloaded { retry_after_ms: u64 },
    #[error("the server could not do that just now; try again")]
    Unavailable,
    /// No incoming or outgoing webhook has this id.
    #[error("no webhook `{webhook}`")]
    UnknownWebhook { webhook: String },
    /// No bot token has this id.
    #[error("no bot `{bot}`")]
    UnknownBot { bot: String },
    /// A bot's or a webhook's name (or the `username` a webhook's post gives) breaks the rules
    /// of nicknames, or reads as a reserved one.
    #[error(
        "a bot's name is 1 to {max} ASCII letters, digits, `-`, `_` or `.`, and reads as no \
         reserved name"
    )]
    InvalidBotName { max: usize },
    /// An outgoing webhook's URL is not one the server will send to.
    #[error("invalid webhook URL: {detail}")]
    InvalidWebhookUrl { detail: String },
    /// Only an account can do this; guests and name-only holders cannot.
    #[error("sign in first")]
    SignInRequired,
    /// The event needs a higher role than the asker's (a moderator asking for an
    /// administrator's action).
    #[error("only an {role} can do that")]
    RoleRequired { role: String },
    /// None of the asker's sessions has this id.
    #[error("no session `{session}`")]
    UnknownSession { session: String },
    /// No invite has this id.
    #[error("no invite `{invite}`")]
    UnknownInvite { invite: String },
    /// The name is held without a password: only an account can have a role or a reset link.
    #[error("`{name}` has no account")]
    NoAccount { name: String },
    /// The change would leave the server without an administrator.
    #[error("the last administrator must stay one")]
    LastAdmin,
    /// Only the room's owner and the server's moderators post in it.
    #[error("only its owner and moderators post in `{room}`")]
    ReadOnlyRoom { room: String },
    /// Only the room's owner and the server's moderators can do that.
    #[error("only the owner of `{room}` and moderators can do that")]
    NotManager { room: String },
    /// A `search` the server cannot run: no word in it, too long, or a filter that is not one.
    #[error("cannot search for that: {detail}")]
    InvalidQuery { detail: String },
    /// Only its author may edit message `id`, and only its author or a moderator delete it;
    /// notices, programs' messages and announcements are nobody's to edit.
    #[error("message {id} is not yours")]
    NotYours { id: i64 },
    /// The message carries [`MAX_REACTIONS`] distinct emoji already.
    #[error("a message takes at most {max} different reactions")]
    TooManyReactions { max: usize },
    /// Not an emoji (see [`validate_emoji`]).
    #[error("a reaction is one emoji of at most {max} characters")]
    InvalidEmoji { max: usize },
    /// No upload of the sender's has this id, or a message carries it already.
    #[error("no file {id} to attach: upload it again")]
    UnknownFile { id: i64 },
    /// A message carries at most `max` files.
    #[error("a message carries at most {max} files")]
    TooManyFiles { max: usize },
}

/// A wait as a person reads it: "1 s", "30 s", "2 min" (rounded up, never "0").
fn wait_text(ms: u64) -> String {
    let secs = ms.div_ceil(1000).max(1);
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

/// Checks message text as the server does; the browser calls it before sending.
///
/// Returns the text to store: control characters other than newline and tab removed (a
/// carriage return, alone or before a newline, becomes one newline), then surrounding
/// whitespace trimmed. Text with no visible character (only whitespace, controls, or
/// invisible characters such as zero-width spaces) is [`ChatError::Empty`].
pub fn validate_text(text: &str) -> Result<Cow<'_, str>, ChatError> {
    let text = text.trim();
    let text = if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        let mut kept = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' | '\t' => kept.push(c),
                '\r' => {
                    chars.next_if_eq(&'\n');
                    kept.push('\n');
                }
                c if c.is_control() => {}
                c => kept.push(c),
            }
        }
        Cow::Owned(kept.trim().to_owned())
    } else {
        Cow::Borrowed(text)
    };
    if !text.chars().any(is_visible) {
        return Err(ChatError::Empty);
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ChatError::TooLong {
            max: MAX_MESSAGE_CHARS,
        });
    }
    Ok(text)
}

/// Whether `c` shows as something: not whitespace, not a control, and not one of the
/// characters that render as nothing (Unicode's default-ignorable code points: zero-width
/// spaces and joiners, direction marks, variation selectors, tags…; and the blank fillers
/// that render as empty space without being whitespace).
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Checks a nickname: 1 to [`MAX_NAME_CHARS`] ASCII letters, digits, `-`, `_` or `.`.
/// ASCII only, so that no two names look alike but differ (Latin `a` and Cyrillic `а`).
/// Names that read as the server's own or its staff's ([`RESERVED_NICKNAMES`], also spelled
/// with digits for letters or with punctuation, such as `Adm1n.` or `r-o-o-t`) are
/// [`Refusal::ReservedName`].
pub fn validate_name(name: &str) -> Result<&str, Refusal> {
    let ok = (1..=MAX_NAME_CHARS).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(Refusal::InvalidName);
    }
    let look = looks_like(name);
    // Punctuation alone (`.`, `--`) reads as nobody, and as nothing in a list of names.
    if look.is_empty() || RESERVED_NICKNAMES.iter().any(|r| looks_like(r) == look) {
        return Err(Refusal::ReservedName);
    }
    Ok(name)
}

/// Checks the name of a bot or webhook, or the `username` a webhook's post gives: the rules of
/// nicknames ([`validate_name`]), reserved names refused alike. Its messages are marked
/// [`MessageKind::Bot`], so a person's name on them passes for nobody.
pub fn validate_bot_name(name: &str) -> Result<&str, ChatError> {
    let name = name.trim();
    validate_name(name).map_err(|_| ChatError::InvalidBotName {
        max: MAX_NAME_CHARS,
    })
}

/// Names nobody may claim, because they would pass for the server or its moderators (or, for
/// [`ANONYMOUS`], for the guests).
pub const RESERVED_NICKNAMES: &[&str] = &[
    ANONYMOUS,
    ADMIN_AUTHOR,
    "admins",
    "administrator",
    "sysadmin",
    "moderator",
    "mod",
    "mods",
    "staff",
    "system",
    "sysop",
    "root",
    EMITTER_AUTHOR,
];

/// How a name reads: lowercased, digits that pass for letters read as those letters (`1` and
/// `l` alike as `i`), punctuation dropped. Two names that read alike can be told apart only by
/// looking closely.
fn looks_like(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_lowercase() {
            '0' => 'o',
            '1' | 'l' => 'i',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

/// Checks a room name and returns its canonical form: trimmed, lowercased, 1 to
/// [`MAX_ROOM_NAME_CHARS`] ASCII letters, digits, `-` or `_`, starting with a letter or digit.
pub fn validate_room_name(name: &str) -> Result<String, ChatError> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (1..=MAX_ROOM_NAME_CHARS).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(name)
    } else {
        Err(ChatError::InvalidRoomName {
            max: MAX_ROOM_NAME_CHARS,
        })
    }
}

/// What `browse rooms` matches room names against: `matching` trimmed and lowercased, as
/// names are; `None` when blank. Longer than any room name is a bad request.
pub fn browse_matching(matching: &str) -> Result<Option<String>, ChatError> {
    let text = matching.trim();
    if text.chars().count() > MAX_ROOM_NAME_CHARS {
        return Err(ChatError::InvalidPayload {
            event: BrowseRooms::NAME.to_owned(),
            detail: format!("`matching` is longer than {MAX_ROOM_NAME_CHARS} characters"),
        });
    }
    Ok((!text.is_empty()).then(|| text.to_ascii_lowercase()))
}

/// Whether a conversation id names a direct conversation.
pub fn is_dm(room: &str) -> bool {
    room.starts_with(DM_PREFIX)
}

/// The form under which nicknames are compared: two names are the same when their keys are.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Multi-argument events. Socket.IO sends `emit(name, a, b, c)` as `[name, a, b, c]`; the shared
// parser maps tuple-like serde types onto those arguments, so these types (de)serialize as tuples.
// ---------------------------------------------------------------------------------------------

impl Serialize for SendMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The room goes third, so the offset is always written when a room is (null if none);
        // the options fourth, after both.
        let options = self.reply_to.is_some() || !self.files.is_empty();
        let len = match (&self.client_offset, &self.room, options) {
            (_, _, true) => 4,
            (_, Some(_), false) => 3,
            (Some(_), None, false) => 2,
            (None, None, false) => 1,
        };
        let mut t = s.serialize_tuple(len)?;
        t.serialize_element(&self.text)?;
        if len >= 2 {
            t.serialize_element(&self.client_offset)?;
        }
        if len >= 3 {
            t.serialize_element(&self.room)?;
        }
        if len >= 4 {
            t.serialize_element(&SendOptions {
                reply_to: self.reply_to,
                files: self.files.clone(),
            })?;
        }
        t.end()
    }
}

/// The fourth argument of `chat message`: what a message carries besides its text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply_to: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<i64>,
}

impl<'de> Deserialize<'de> for SendMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SendMessage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "arguments (text: string, clientOffset?: string, room?: string, \
                     options?: {replyTo?: number, files?: number[]})",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SendMessage, A::Error> {
                let text: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                // The tutorial's client sends a string; a number is taken as its decimal
                // form (so `7` and `"7"` are one offset). Anything else would deduplicate
                // nothing, and is refused rather than taken as absent.
                let client_offset = match seq.next_element::<serde_json::Value>()? {
                    Some(serde_json::Value::String(s)) => Some(s),
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    None | Some(serde_json::Value::Null) => None,
                    Some(_) => {
                        return Err(de::Error::custom(
                            "clientOffset must be a string, a number or null",
                        ));
                    }
                };
                // A room must be a string when given; null means the lobby.
                let room = seq.next_element::<Option<String>>()?.flatten();
                let options = seq
                    .next_element::<Option<SendOptions>>()?
                    .flatten()
                    .unwrap_or_default();
                // Extra arguments are ignored, as Socket.IO handlers ignore them.
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(SendMessage {
                    text,
                    client_offset,
                    room,
                    reply_to: options.reply_to,
                    files: options.files,
                })
            }
        }
        d.deserialize_tuple(4, V)
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.text)?;
        t.serialize_element(&self.id)?;
        t.serialize_element(&self.meta)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for ChatMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ChatMessage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("arguments (text: string, id: number, meta: object)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChatMessage, A::Error> {
                let text = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let id = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let meta = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(2, &self))?;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(ChatMessage { text, id, meta })
            }
        }
        d.deserialize_tuple(3, V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn send_message_reads_tutorial_arguments() {
        let m: SendMessage = serde_json::from_value(json!(["hi", "abc-1"])).unwrap();
        assert_eq!(m.text, "hi");
        assert_eq!(m.client_offset.as_deref(), Some("abc-1"));

        let m: SendMessage = serde_json::from_value(json!(["hi"])).unwrap();
        assert_eq!(m.client_offset, None);

        let m: SendMessage =
            serde_json::from_value(json!(["hi", 7, null, {"extra": true}])).unwrap();
        assert_eq!(m.client_offset.as_deref(), Some("7"));
        assert_eq!(m.room, None);

        let m: SendMessage = serde_json::from_value(json!(["hi", null, "rust"])).unwrap();
        assert_eq!((m.client_offset, m.room.as_deref()), (None, Some("rust")));
        // An offset that is neither would deduplicate nothing: a bad request.
        for offset in [json!(true), json!({"a": 1}), json!(["x"])] {
            assert!(serde_json::from_value::<SendMessage>(json!(["hi", offset])).is_err());
        }
        // A room that is not a string is a bad request, not a lobby message.
        assert!(serde_json::from_value::<SendMessage>(json!(["hi", "o", 5])).is_err());

        assert!(serde_json::from_value::<SendMessage>(json!([42])).is_err());
        assert!(serde_json::from_value::<SendMessage>(json!([])).is_err());
    }

    #[test]
    fn send_message_round_trips() {
        let m = SendMessage {
            text: "hello".into(),
            client_offset: Some("c1".into()),
            room: None,
            ..Default::default()
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v, json!(["hello", "c1"]));
        assert_eq!(serde_json::from_value::<SendMessage>(v).unwrap(), m);

        let bare = SendMessage {
            text: "x".into(),
            client_offset: None,
            room: None,
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&bare).unwrap(), json!(["x"]));

        let in_room = SendMessage {
            text: "x".into(),
            client_offset: None,
            room: Some("rust".into()),
            ..Default::default()
        };
        let v = serde_json::to_value(&in_room).unwrap();
        assert_eq!(v, json!(["x", null, "rust"]));
        assert_eq!(serde_json::from_value::<SendMessage>(v).unwrap(), in_room);

        // Files go fourth, after a room (null for the lobby).
        let with_files = SendMessage {
            text: String::new(),
            client_offset: Some("c2".into()),
            room: None,
            files: vec![4, 5],
            ..Default::default()
        };
        let v = serde_json::to_value(&with_files).unwrap();
        assert_eq!(v, json!(["", "c2", null, {"files": [4, 5]}]));
        assert_eq!(
            serde_json::from_value::<SendMessage>(v).unwrap(),
            with_files
        );
        // Files that are not ids are a bad request, not a message without them.
        assert!(
            serde_json::from_value::<SendMessage>(json!(["x", null, null, {"files": ["a"]}]))
                .is_err()
        );
    }

    #[test]
    fn chat_message_is_tutorial_shaped() {
        let m = ChatMessage {
            text: "hey".into(),
            id: 12,
            meta: MessageMeta {
                room: LOBBY.into(),
                author: "ann".into(),
                ts: 1_700_000_000_000,
                seq: 4,
                client_offset: None,
                kind: None,
                ..Default::default()
            },
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!(["hey", 12, {"room": "lobby", "author": "ann", "ts": 1_700_000_000_000_i64, "seq": 4}])
        );
        assert_eq!(serde_json::from_value::<ChatMessage>(v).unwrap(), m);
        // Older servers sent no room: it was the lobby.
        let old = json!(["hey", 12, {"author": "ann", "ts": 1_700_000_000_000_i64, "seq": 4}]);
        assert_eq!(serde_json::from_value::<ChatMessage>(old).unwrap(), m);
    }

    #[test]
    fn reply_envelope_shapes() {
        let ok: Reply<Posted> = Ok(Posted {
            id: 3,
            ts: 9,
            seq: 2,
        })
        .into();
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"data": {"id": 3, "ts": 9, "seq": 2}})
        );
        let err: Reply<Posted> = Err(ChatError::TooLong { max: 4000 }).into();
        let v = serde_json::to_value(&err).unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": "too_long", "max": 4000,
                             "message": "message is longer than 4000 characters"}})
        );
        let back: Reply<Posted> = serde_json::from_value(v).unwrap();
        assert_eq!(back.into_result(), Err(ChatError::TooLong { max: 4000 }));
        let back: Reply<Posted> =
            serde_json::from_value(serde_json::to_value(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
        let unit = serde_json::to_string(&Reply::from(Ok(()))).unwrap();
        assert_eq!(unit, r#"{"data":null}"#);
        assert_eq!(
            serde_json::from_str::<Reply<()>>(&unit).unwrap(),
            Reply::Data(())
        );
        // An envelope is one entry, `data` or `error`, holding what its kind holds.
        for bad in [
            json!({}),
            json!({"data": {"id": 3, "ts": 9, "seq": 2}, "error": {"code": "empty", "message": "m"}}),
            json!({"result": {"id": 3, "ts": 9, "seq": 2}}),
            json!({"data": {"id": "3", "ts": 9, "seq": 2}}),
            json!({"error": {"code": "empty"}}),
            json!("data"),
            json!([{"id": 3, "ts": 9, "seq": 2}]),
        ] {
            assert!(
                serde_json::from_value::<Reply<Posted>>(bad.clone()).is_err(),
                "{bad} read as an answer"
            );
        }
    }

    /// The hand-written decoder reads back what serde's derived encoder writes, for every code.
    #[test]
    fn every_error_round_trips_through_the_wire() {
        let text = || "x".to_string();
        let every = [
            ChatError::Empty,
            ChatError::TooLong { max: 1 },
            ChatError::OffsetTooLong { max: 2 },
            ChatError::OffsetInUse,
            ChatError::InvalidPayload {
                event: text(),
                detail: "d".into(),
            },
            ChatError::UnknownEvent { event: text() },
            ChatError::UnknownRoom { room: text() },
            ChatError::NotMember { room: text() },
            ChatError::RoomExists { room: text() },
            ChatError::InvalidRoomName { max: 3 },
            ChatError::CannotLeave { room: text() },
            ChatError::NameRequired,
            ChatError::UnknownPerson { name: text() },
            ChatError::UnknownMessage { id: -4 },
            ChatError::AdminOnly { event: text() },
            ChatError::RateLimited { retry_after_ms: 5 },
            ChatError::Overloaded { retry_after_ms: 6 },
            ChatError::Unavailable,
            ChatError::UnknownWebhook { webhook: text() },
            ChatError::UnknownBot { bot: text() },
            ChatError::InvalidBotName { max: 7 },
            ChatError::InvalidWebhookUrl { detail: text() },
            ChatError::SignInRequired,
            ChatError::RoleRequired { role: text() },
            ChatError::UnknownSession { session: text() },
            ChatError::UnknownInvite { invite: text() },
            ChatError::NoAccount { name: text() },
            ChatError::LastAdmin,
            ChatError::ReadOnlyRoom { room: text() },
            ChatError::NotManager { room: text() },
            ChatError::InvalidQuery { detail: text() },
            ChatError::NotYours { id: 8 },
            ChatError::TooManyReactions { max: 9 },
            ChatError::InvalidEmoji { max: 10 },
            ChatError::UnknownFile { id: 8 },
            ChatError::TooManyFiles { max: 9 },
        ];
        for error in every {
            // A new variant that is missing here fails this match, so the list stays complete.
            match &error {
                ChatError::Empty
                | ChatError::TooLong { .. }
                | ChatError::OffsetTooLong { .. }
                | ChatError::OffsetInUse
                | ChatError::InvalidPayload { .. }
                | ChatError::UnknownEvent { .. }
                | ChatError::UnknownRoom { .. }
                | ChatError::NotMember { .. }
                | ChatError::RoomExists { .. }
                | ChatError::InvalidRoomName { .. }
                | ChatError::CannotLeave { .. }
                | ChatError::NameRequired
                | ChatError::UnknownPerson { .. }
                | ChatError::UnknownMessage { .. }
                | ChatError::AdminOnly { .. }
                | ChatError::RateLimited { .. }
                | ChatError::Overloaded { .. }
                | ChatError::Unavailable
                | ChatError::UnknownWebhook { .. }
                | ChatError::UnknownBot { .. }
                | ChatError::InvalidBotName { .. }
                | ChatError::InvalidWebhookUrl { .. }
                | ChatError::SignInRequired
                | ChatError::RoleRequired { .. }
                | ChatError::UnknownSession { .. }
                | ChatError::UnknownInvite { .. }
                | ChatError::NoAccount { .. }
                | ChatError::NotYours { .. }
                | ChatError::TooManyReactions { .. }
                | ChatError::InvalidEmoji { .. }
                | ChatError::LastAdmin
                | ChatError::ReadOnlyRoom { .. }
                | ChatError::NotManager { .. }
                | ChatError::InvalidQuery { .. }
                | ChatError::UnknownFile { .. }
                | ChatError::TooManyFiles { .. } => {}
            }
            let wire = serde_json::to_string(&Reply::<Posted>::from(Err(error.clone()))).unwrap();
            let back: Reply<Posted> = serde_json::from_str(&wire).unwrap();
            assert_eq!(back.into_result(), Err(error), "{wire}");
        }
    }

    #[test]
    fn a_malformed_error_is_a_decoding_error_not_a_panic() {
        for bad in [
            json!({"error": {"code": "too_long", "message": "m"}}),
            json!({"error": {"code": "no_such_code", "message": "m"}}),
            json!({"error": {"code": "empty"}}),
            json!({"error": {"code": "unknown_message", "id": "seven", "message": "m"}}),
        ] {
            let err = serde_json::from_value::<Reply<Posted>>(bad.clone()).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
        let known = serde_json::from_value::<Reply<Posted>>(
            json!({"error": {"code": "empty", "message": "m", "added_later": 1}}),
        )
        .unwrap();
        assert_eq!(known.into_result(), Err(ChatError::Empty));
    }

    #[test]
    fn auth_uses_tutorial_field_names() {
        let a: MainAuth = serde_json::from_value(json!({"serverOffset": 5})).unwrap();
        assert_eq!(a.server_offset, 5);
        assert_eq!(a.name, None);
        let a: MainAuth = serde_json::from_value(json!({})).unwrap();
        assert_eq!(a.server_offset, 0);
        let a = MainAuth {
            server_offset: 2,
            name: Some("bo".into()),
            since: Some(Since::from([(LOBBY.to_owned(), 9)])),
            changes: None,
            token: None,
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"serverOffset": 2, "name": "bo", "since": {"lobby": 9}})
        );
    }

    /// Levels are an object on the wire, by conversation, read from a `Value` as the page
    /// reads every answer; anything but an object of levels is refused.
    #[test]
    fn levels_are_an_object_by_conversation() {
        let levels = Levels(vec![
            ("dm:ann:bob".to_owned(), NotifyLevel::None),
            ("general".to_owned(), NotifyLevel::All),
        ]);
        let wire = serde_json::to_value(&levels).unwrap();
        assert_eq!(wire, json!({"dm:ann:bob": "none", "general": "all"}));
        assert_eq!(serde_json::from_value::<Levels>(wire).unwrap(), levels);
        assert_eq!(
            serde_json::from_value::<Levels>(json!({})).unwrap(),
            Levels::default()
        );
        for bad in [json!([]), json!({"general": "loud"}), json!({"general": 1})] {
            assert!(
                serde_json::from_value::<Levels>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    /// Cursors are an object on the wire, kept in conversation order with each conversation
    /// once (its last cursor), however they were put in or read.
    #[test]
    fn cursors_are_one_per_conversation_in_name_order() {
        let mut since = Since::new();
        for (room, at) in [
            ("general", 4),
            ("dm:ann:bob", 9),
            ("lobby", 2),
            ("general", 6),
        ] {
            since.insert(room.to_owned(), at);
        }
        let order: Vec<(&String, &i64)> = since.iter().collect();
        assert_eq!(
            order,
            [
                (&"dm:ann:bob".to_owned(), &9),
                (&"general".to_owned(), &6),
                (&"lobby".to_owned(), &2)
            ]
        );
        assert_eq!(
            (since.get("general"), since.get("random")),
            (Some(&6), None)
        );
        let wire = serde_json::to_string(&since).unwrap();
        assert_eq!(wire, r#"{"dm:ann:bob":9,"general":6,"lobby":2}"#);
        assert_eq!(serde_json::from_str::<Since>(&wire).unwrap(), since);
        // Read in any order, a conversation twice keeping the last, as a map would.
        let read: Since = serde_json::from_str(r#"{"lobby":1,"general":3,"lobby":2}"#).unwrap();
        assert_eq!(
            read,
            Since::from([("general".into(), 3), ("lobby".into(), 2)])
        );
        let collected: Since = [
            ("b".to_owned(), 1),
            ("a".to_owned(), 2),
            ("b".to_owned(), 3),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            collected.into_iter().collect::<Vec<_>>(),
            [("a".into(), 2), ("b".into(), 3)]
        );
        for bad in [
            r#"[["lobby",1]]"#,
            r#"{"lobby":"1"}"#,
            r#"{"lobby":1.5}"#,
            "3",
        ] {
            assert!(serde_json::from_str::<Since>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn catch_up_shapes() {
        let synced = Synced {
            head: RoomHead {
                room: LOBBY.into(),
                last_id: 40,
                last_seq: 31,
            },
            gap: false,
            replayed: 3,
            change_seq: 0,
        };
        let v = serde_json::to_value(&synced).unwrap();
        assert_eq!(
            v,
            json!({"room": "lobby", "lastId": 40, "lastSeq": 31, "gap": false, "replayed": 3})
        );
        assert_eq!(serde_json::from_value::<Synced>(v).unwrap(), synced);
        // A change cursor, and a field added later, read back as written.
        let changed = Synced {
            change_seq: 7,
            ..synced
        };
        let mut v = serde_json::to_value(&changed).unwrap();
        assert_eq!(v["changeSeq"], 7);
        v["addedLater"] = json!(true);
        assert_eq!(serde_json::from_value::<Synced>(v).unwrap(), changed);
        let h: History = serde_json::from_value(json!({"room": "lobby"})).unwrap();
        assert_eq!((h.before, h.limit), (None, None));
        let page = HistoryPage {
            messages: vec![],
            more: true,
            newer: false,
        };
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            json!({"messages": [], "more": true})
        );
    }

    #[test]
    fn a_room_search_is_normalised_like_names() {
        assert_eq!(browse_matching("  RuSt "), Ok(Some("rust".into())));
        assert_eq!(browse_matching(" \t"), Ok(None));
        let long = "a".repeat(MAX_ROOM_NAME_CHARS + 1);
        assert!(matches!(
            browse_matching(&long),
            Err(ChatError::InvalidPayload { .. })
        ));
        assert!(browse_matching(&long[1..]).is_ok());
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(size_text(0), "0 B");
        assert_eq!(size_text(1023), "1023 B");
        assert_eq!(size_text(1024), "1.0 KB");
        assert_eq!(size_text(3_500), "3.4 KB");
        assert_eq!(size_text(10 * 1024 * 1024), "10.0 MB");
        assert_eq!(size_text(1_288_490_189), "1.2 GB");
        assert_eq!(size_text(u64::MAX), "17179869184.0 GB");
        assert_eq!(size_text(1024 + 51), "1.0 KB");
        assert_eq!(size_text(1024 + 52), "1.1 KB");
        // Tenths rounded half up, exactly, at every size: as computed without overflow in
        // 128 bits, near each unit's edges and the largest sizes.
        let exact = |bytes: u64| {
            let unit = [1u128, 1 << 10, 1 << 20, 1 << 30]
                .into_iter()
                .rposition(|scale| u128::from(bytes) >= scale)
                .unwrap_or(0);
            let scale = 1u128 << (10 * unit);
            let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
            match unit {
                0 => format!("{bytes} B"),
                _ => format!(
                    "{}.{} {}",
                    tenths / 10,
                    tenths % 10,
                    ["", "KB", "MB", "GB"][unit]
                ),
            }
        };
        for edge in [1u64 << 10, 1 << 20, 1 << 30, u64::MAX / 10, u64::MAX] {
            for bytes in edge.saturating_sub(600)..=edge.saturating_add(600) {
                assert_eq!(size_text(bytes), exact(bytes), "{bytes}");
            }
        }
    }

    /// A job's events hold a `JobInfo`; the codec takes a newtype struct for an argument list
    /// and drops the event's name, so they must serialize as a map: `["job", {…}]`.
    #[test]
    fn job_events_encode_as_their_name_and_the_job() {
        use socketioxide_core::parser::Parse as _;
        use socketioxide_parser_common::CommonParser;

        fn frame<E: ServerEvent>(event: &E) -> serde_json::Value {
            let data = CommonParser
                .encode_value(event, Some(E::NAME))
                .expect("encodes");
            serde_json::from_str(data.as_str().expect("text")).expect("JSON")
        }
        let info = JobInfo {
            id: 7,
            kind: JobKind::Export,
            state: JobState::Running,
            attempts: 1,
            done: 2,
            total: Some(3),
            summary: None,
            download: None,
            owner: Some("ann".into()),
            created_at: 1,
            updated_at: 2,
            finished_at: None,
        };
        let expected = json!({
            "id": 7, "kind": "export", "state": "running", "attempts": 1, "done": 2, "total": 3,
            "owner": "ann", "createdAt": 1, "updatedAt": 2,
        });
        let job = info.clone();
        assert_eq!(frame(&JobChanged { job }), json!(["job", expected]));
        let job = info.clone();
        assert_eq!(frame(&AdminJobChanged { job }), json!(["job", expected]));
        // And the client reads it back.
        let read: JobChanged = serde_json::from_value(expected).unwrap();
        assert_eq!(read, JobChanged { job: info });
    }

    #[test]
    fn no_event_uses_a_reserved_name() {
        for (name, _) in MAIN_EVENTS.iter().chain(ADMIN_EVENTS) {
            assert!(!RESERVED_NAMES.contains(name), "{name} is reserved");
        }
    }

    #[test]
    fn validation() {
        assert_eq!(validate_text("  hi \n").as_deref(), Ok("hi"));
        assert_eq!(validate_text(" \t\n"), Err(ChatError::Empty));
        let long = "é".repeat(MAX_MESSAGE_CHARS);
        assert!(validate_text(&long).is_ok());
        assert_eq!(
            validate_text(&format!("{long}x")),
            Err(ChatError::TooLong {
                max: MAX_MESSAGE_CHARS
            })
        );
    }

    #[test]
    fn nicknames_follow_the_rules() {
        for good in ["ann", "Bob_2", "x.y-z", &"a".repeat(MAX_NAME_CHARS)] {
            assert_eq!(validate_name(good), Ok(good), "{good}");
        }
        for bad in ["", " ann", "ann bob", "аnn", "a/b", &"a".repeat(33)] {
            assert_eq!(validate_name(bad), Err(Refusal::InvalidName), "{bad}");
        }
        assert_eq!(name_key("AnN"), name_key("aNn"));
    }

    #[test]
    fn names_that_pass_for_staff_are_reserved() {
        for reserved in [
            "Anonymous",
            "admin",
            "ADMIN",
            "admin.",
            "adm1n",
            "4dm1n",
            "a.d.m.i.n",
            "_admin_",
            "administrator",
            "Administrat0r",
            "system",
            "5y5t3m",
            "root",
            "r00t",
            "moderator",
            "m0derat0r",
            "mod",
            "palaver",
            "Pa1aver",
            "PALAVER",
            ".",
            "-_.",
        ] {
            assert_eq!(
                validate_name(reserved),
                Err(Refusal::ReservedName),
                "{reserved}"
            );
        }
        // Names that merely contain one, or resemble one less closely, are people's.
        for fine in [
            "admiral",
            "badminton",
            "roots",
            "ann.admin",
            "modest",
            "sys",
            "Ro0tbeer",
        ] {
            assert_eq!(validate_name(fine), Ok(fine), "{fine}");
        }
    }

    #[test]
    fn text_must_show_something_and_carries_no_controls() {
        for blank in [
            "",
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
            " \u{200B} \n\t",
            "\0",
            "\u{1}\u{7}\u{1b}\u{7f}\u{85}\u{9f}",
            "\u{2800}\u{3164}\u{115F}",
            "\u{FE0F}\u{E0041}\u{00AD}",
            "\r\n",
        ] {
            assert_eq!(validate_text(blank), Err(ChatError::Empty), "{blank:?}");
        }
        // Newlines and tabs stay inside visible text; other controls go, CR becomes LF.
        assert_eq!(validate_text("a\n\tb").as_deref(), Ok("a\n\tb"));
        assert_eq!(
            validate_text("\u{1}one\0\r\ntwo\rthree\u{1b}[31m\u{9b}").as_deref(),
            Ok("one\ntwo\nthree[31m")
        );
        assert_eq!(validate_text("\u{7} hi \u{7}").as_deref(), Ok("hi"));
        // Invisible characters inside visible text are the writer's business (emoji use ZWJ).
        let family = "\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(validate_text(family).as_deref(), Ok(family));
        // Whatever is removed does not count against the limit, and what stays does.
        let long = format!("{}{}", "x".repeat(MAX_MESSAGE_CHARS), "\0".repeat(10));
        assert!(validate_text(&long).is_ok());
    }

    #[test]
    fn typists_read_naturally() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(typing_phrase(&[]), None);
        assert_eq!(typing_phrase(&names(&["ann"])).unwrap(), "ann is typing…");
        assert_eq!(
            typing_phrase(&names(&["ann", "bob"])).unwrap(),
            "ann and bob are typing…"
        );
        assert_eq!(
            typing_phrase(&names(&["ann", "bob", "cy"])).unwrap(),
            "ann, bob and cy are typing…"
        );
        assert_eq!(
            typing_phrase(&names(&["a", "b", "c", "d"])).unwrap(),
            "Several people are typing…"
        );
    }

    #[test]
    fn room_names_follow_the_rules() {
        assert_eq!(
            validate_room_name(" Rust-Lang_2 ").as_deref(),
            Ok("rust-lang_2")
        );
        assert_eq!(validate_room_name("lobby").as_deref(), Ok("lobby"));
        for bad in ["", "-x", "a b", "dm:x", "é", "a.b", &"r".repeat(33)] {
            assert_eq!(
                validate_room_name(bad),
                Err(ChatError::InvalidRoomName {
                    max: MAX_ROOM_NAME_CHARS
                }),
                "{bad}"
            );
        }
        // No room name can pass for a direct conversation.
        assert!(is_dm("dm:a:b") && !is_dm("dmx"));
    }

    #[test]
    fn room_shapes() {
        let info = RoomInfo {
            room: "rust".into(),
            kind: RoomKind::Room,
            title: "rust".into(),
            members: 3,
            online: 2,
            joined: true,
            unread: 4,
            last_seq: 9,
            private: false,
            listed: true,
            posting: Posting::Members,
            manage: false,
        };
        // The settings of an ordinary room are left out: the entry is what it always was.
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"room": "rust", "kind": "room", "title": "rust", "members": 3, "online": 2,
                   "joined": true, "unread": 4, "lastSeq": 9})
        );
        let back: RoomInfo = serde_json::from_value(serde_json::to_value(&info).unwrap()).unwrap();
        assert_eq!(back, info);
        let secret = RoomInfo {
            private: true,
            listed: false,
            posting: Posting::Managers,
            manage: true,
            ..info.clone()
        };
        let wire = serde_json::to_value(&secret).unwrap();
        assert_eq!(
            (
                &wire["private"],
                &wire["listed"],
                &wire["posting"],
                &wire["manage"]
            ),
            (
                &json!(true),
                &json!(false),
                &json!("managers"),
                &json!(true)
            )
        );
        assert_eq!(serde_json::from_value::<RoomInfo>(wire).unwrap(), secret);
        let err = serde_json::to_value(Reply::<Left>::from(Err(ChatError::NotMember {
            room: "x".into(),
        })))
        .unwrap();
        assert_eq!(err["error"]["code"], "not_member");
        assert_eq!(
            serde_json::to_value(MessageKind::Deleted).unwrap(),
            json!("deleted")
        );
        assert!(MessageKind::is_unread_worthy(None));
        assert!(!MessageKind::is_unread_worthy(Some(MessageKind::Joined)));
        assert!(MessageKind::is_unread_worthy(Some(MessageKind::Bot)));
        assert_eq!(
            serde_json::to_value(MessageKind::Bot).unwrap(),
            json!("bot")
        );
    }

    #[test]
    fn refusals_are_their_codes() {
        for r in Refusal::ALL {
            assert_eq!(Refusal::from_message(&r.to_string()), Some(r));
        }
        assert_eq!(Refusal::Unauthorized.to_string(), "unauthorized");
        assert_eq!(Refusal::from_message("something else"), None);
        assert_eq!(
            Refusal::from_message("too_many_names"),
            Some(Refusal::TooManyNames)
        );
    }

    #[test]
    fn a_wait_reads_in_seconds_or_minutes() {
        let text = |ms| ChatError::RateLimited { retry_after_ms: ms }.to_string();
        assert_eq!(text(5), "too many at once; try again in 1 s");
        assert_eq!(text(30_000), "too many at once; try again in 30 s");
        assert_eq!(text(30_001), "too many at once; try again in 31 s");
        assert_eq!(text(600_000), "too many at once; try again in 10 min");
    }

    #[test]
    fn profile_text_is_trimmed_one_line_and_bounded() {
        assert_eq!(validate_profile_text(None, 5), Ok(None));
        assert_eq!(validate_profile_text(Some("  \u{200B} "), 5), Ok(None));
        assert_eq!(
            validate_profile_text(Some(" Ann\nSmith "), 20),
            Ok(Some("Ann Smith".to_owned()))
        );
        assert_eq!(
            validate_profile_text(Some("abcdef"), 5),
            Err(ChatError::TooLong { max: 5 })
        );
        let changed = ProfileChanged(Profile {
            name: "ann".into(),
            display_name: Some("Ann Smith".into()),
            status: None,
            avatar: None,
            renamed_from: Some("annie".into()),
        });
        assert_eq!(
            serde_json::to_value(&changed).unwrap(),
            json!({"name": "ann", "displayName": "Ann Smith", "renamedFrom": "annie"})
        );
    }

    #[test]
    fn a_reply_goes_as_a_fourth_argument_and_old_shapes_still_read() {
        let reply = SendMessage {
            text: "me".into(),
            client_offset: None,
            room: None,
            reply_to: Some(7),
            ..Default::default()
        };
        let v = serde_json::to_value(&reply).unwrap();
        assert_eq!(v, json!(["me", null, null, {"replyTo": 7}]));
        assert_eq!(serde_json::from_value::<SendMessage>(v).unwrap(), reply);
        let plain: SendMessage = serde_json::from_value(json!(["x", "o", "rust", null])).unwrap();
        assert_eq!(plain.reply_to, None);
        assert!(
            serde_json::from_value::<SendMessage>(json!(["x", "o", "r", {"replyTo": "7"}]))
                .is_err()
        );
    }

    #[test]
    fn a_change_is_a_chat_message_under_another_name() {
        let m = ChatMessage {
            text: "edited".into(),
            id: 3,
            meta: MessageMeta {
                room: LOBBY.into(),
                author: "ann".into(),
                ts: 1,
                seq: 2,
                edited: Some(5),
                changed: 4,
                ..Default::default()
            },
        };
        let v = serde_json::to_value(MessageChanged(m.clone())).unwrap();
        assert_eq!(v[0], "edited");
        assert_eq!(v[1], 3);
        assert_eq!(v[2]["edited"], 5);
        assert_eq!(v[2]["changed"], 4);
        assert!(v[2].get("reactions").is_none(), "empty fields are left out");
        assert_eq!(serde_json::from_value::<MessageChanged>(v).unwrap().0, m);
    }

    #[test]
    fn emoji_are_emoji_and_nothing_else() {
        for ok in ["👍", "❤️", "🇫🇷", "👩🏽‍💻", "1️⃣", "#️⃣", " 🎉 "]
        {
            assert!(validate_emoji(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", " ", "a", "ok", "👍x", "1", "<b>", "\u{200D}", "👍 👍"] {
            assert_eq!(
                validate_emoji(bad),
                Err(ChatError::InvalidEmoji {
                    max: MAX_EMOJI_CHARS
                }),
                "{bad:?}"
            );
        }
        assert!(validate_emoji(&"👍".repeat(MAX_EMOJI_CHARS + 1)).is_err());
    }
}
