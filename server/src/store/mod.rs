//! Message persistence: in SQLite (the default, embedded), or in Postgres (for several nodes).
//!
//! The store knows nothing about sockets or HTTP: it takes and returns plain data, and the
//! socket layer translates. Every write is committed before the call returns, so a caller may
//! acknowledge it. Reads are written once, in SQL both backends speak ([`on_pool!`]); writes
//! go through the writer's connection ([`write`]), one per backend.

pub(crate) mod backup;
pub(crate) mod blobs;
pub(crate) mod jobs;
pub(crate) mod write;

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::sync::{Arc, Mutex};

use app::events::{ChatMessage, MessageMeta, Posting, ReplyQuote};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::warn;

use crate::store::write::{WriterConnection, postgres::PostgresWriter, sqlite::SqliteWriter};
use app::events::{LOBBY, MessageKind, RoomKind};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{FromRow, Row as _, SqlitePool};

/// A failure of the store. Opaque outside `store/`: what went wrong is for the log, and a
/// second backend has failures of its own.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(Failure);

impl StoreError {
    /// The writer's transaction failed (it logs why), or the writer has stopped.
    pub(crate) fn not_written() -> StoreError {
        StoreError(Failure::NotWritten)
    }
}

impl StoreError {
    /// A change's outcome of another kind than the change's: a bug, reported rather than
    /// panicked on.
    pub(crate) fn unexpected(outcome: write::Outcome) -> StoreError {
        StoreError(Failure::Unexpected(format!("{outcome:?}")))
    }

    /// A value that could not be encoded for storing (a job's payload).
    pub(crate) fn encode(e: serde_json::Error) -> StoreError {
        StoreError(Failure::Encode(e.to_string()))
    }
}

impl From<Failure> for StoreError {
    fn from(e: Failure) -> StoreError {
        StoreError(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        StoreError(Failure::Sqlx(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> StoreError {
        StoreError(Failure::Migrate(e))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError(Failure::Sqlite(e))
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("cannot reach the database {url}: {source}")]
    Unreachable { url: String, source: sqlx::Error },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "another Palaver server is using the database {path}: stop it first, or give this one \
         its own --database-url"
    )]
    InUse { path: String },
    /// The writer's transaction failed (it logs why), or the writer has stopped.
    #[error("the change was not written")]
    NotWritten,
    #[error("a change had an unexpected outcome: {0}")]
    Unexpected(String),
    #[error("cannot encode a value to store: {0}")]
    Encode(String),
    #[error("the database did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the database file {path}: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot flush the database's write-ahead log to the disk: {0}")]
    SyncWal(std::io::Error),
}

/// A stored message, as the store sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StoredMessage {
    pub(crate) id: i64,
    /// The conversation: a room name or a direct conversation's id.
    pub(crate) room: String,
    pub(crate) author: String,
    pub(crate) text: String,
    pub(crate) client_offset: Option<String>,
    pub(crate) created_at: i64,
    /// Its place in its room, from 1, without holes.
    pub(crate) seq: i64,
    /// `None` for a person's message.
    pub(crate) kind: Option<MessageKind>,
    /// When its author last edited it.
    pub(crate) edited_at: Option<i64>,
    /// The change of its conversation's feed that last touched it; 0 if none did.
    pub(crate) changed_seq: i64,
    /// Its reactions, as the wire shows them (JSON), if it has any.
    pub(crate) reactions: Option<String>,
    /// The message it answers.
    pub(crate) reply: Option<ReplyQuote>,
    /// Its files ([`uploads`]): filled in by the reads that return messages to people.
    pub(crate) files: Vec<app::events::FileInfo>,
}

/// A row of [`COLUMNS`] as a [`StoredMessage`], whichever connection read it: `$row.$get(i)`
/// reads column `i` (sqlx's `try_get`, rusqlite's `get`), and `$kind` is the kind column, read
/// through [`message_kind_of`]. One mapping for both, so that they cannot drift apart.
macro_rules! stored_message {
    ($row:expr, $get:ident, $kind:expr) => {
        StoredMessage {
            id: $row.$get(0)?,
            room: $row.$get(1)?,
            author: $row.$get(2)?,
            text: $row.$get(3)?,
            client_offset: $row.$get(4)?,
            created_at: $row.$get(5)?,
            seq: $row.$get(6)?,
            kind: $kind,
            edited_at: $row.$get(8)?,
            changed_seq: $row.$get(9)?,
            reactions: $row.$get(10)?,
            reply: {
                let id: Option<i64> = $row.$get(11)?;
                let author: Option<String> = $row.$get(12)?;
                let excerpt: Option<String> = $row.$get(13)?;
                id.map(|id| app::events::ReplyQuote {
                    id,
                    author: author.unwrap_or_default(),
                    excerpt: excerpt.unwrap_or_default(),
                })
            },
            files: Vec::new(),
        }
    };
}
pub(crate) use stored_message;

/// The row mappings, for each backend's rows.
macro_rules! from_rows {
    ($($row:ty),*) => {$(
        impl FromRow<'_, $row> for StoredMessage {
            fn from_row(row: &$row) -> Result<StoredMessage, sqlx::Error> {
                let kind = message_kind_of(row.try_get(7)?)?;
                Ok(stored_message!(row, try_get, kind))
            }
        }

        impl FromRow<'_, $row> for RoomRow {
            fn from_row(row: &$row) -> Result<RoomRow, sqlx::Error> {
                Ok(RoomRow {
                    name: row.try_get("name")?,
                    kind: room_kind_of(row.try_get("kind")?)?,
                    members: row.try_get("members")?,
                    joined: row.try_get("joined")?,
                    last_seq: row.try_get("last_seq")?,
                    unread: row.try_get("unread")?,
                    peer: row.try_get("peer")?,
                    private: row.try_get("is_private")?,
                    listed: row.try_get("listed")?,
                    posting: row.try_get("posting")?,
                    owner: row.try_get("created_by")?,
                })
            }
        }
    )*};
}
from_rows!(SqliteRow, PgRow);

/// How `kind` is spelled in `messages.kind`.
pub(crate) fn message_kind_column(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Announcement => "announcement",
        MessageKind::Joined => "joined",
        MessageKind::Left => "left",
        MessageKind::Deleted => "deleted",
        MessageKind::Bot => "bot",
    }
}

/// The kind a `messages.kind` holds; read by both the pool's and the writer's connections.
pub(crate) fn message_kind_of(column: Option<&str>) -> Result<Option<MessageKind>, UnknownKind> {
    let Some(value) = column else {
        return Ok(None);
    };
    [
        MessageKind::Announcement,
        MessageKind::Joined,
        MessageKind::Left,
        MessageKind::Deleted,
        MessageKind::Bot,
    ]
    .into_iter()
    .find(|k| message_kind_column(*k) == value)
    .map(Some)
    .ok_or_else(|| UnknownKind {
        column: "messages.kind",
        value: value.to_owned(),
    })
}

/// A kind in the database that this server does not know (written by a newer one, or by
/// hand): reading it fails rather than passing it off as another kind.
#[derive(Debug, thiserror::Error)]
#[error("unknown {column} {value:?} in the database")]
pub(crate) struct UnknownKind {
    pub(crate) column: &'static str,
    pub(crate) value: String,
}

impl From<UnknownKind> for sqlx::Error {
    fn from(e: UnknownKind) -> sqlx::Error {
        sqlx::Error::ColumnDecode {
            index: e.column.to_owned(),
            source: Box::new(e),
        }
    }
}

/// How `kind` is spelled in `rooms.kind`.
pub(crate) fn room_kind_column(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Room => "room",
        RoomKind::Dm => "dm",
    }
}

/// The kind a `rooms.kind` holds.
pub(crate) fn room_kind_of(column: &str) -> Result<RoomKind, UnknownKind> {
    [RoomKind::Room, RoomKind::Dm]
        .into_iter()
        .find(|k| room_kind_column(*k) == column)
        .ok_or_else(|| UnknownKind {
            column: "rooms.kind",
            value: column.to_owned(),
        })
}

/// A direct conversation and its people: `(person, name)`, one or two of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DmPeople {
    pub(crate) room: String,
    pub(crate) people: Vec<(String, String)>,
    /// The person it was opened with, while it has no message: they have not heard of it.
    pub(crate) unaware: Option<String>,
}

/// A conversation as one person sees it (see [`Store::room_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomRow {
    pub(crate) name: String,
    pub(crate) kind: RoomKind,
    pub(crate) members: i64,
    pub(crate) joined: bool,
    pub(crate) last_seq: i64,
    pub(crate) unread: i64,
    /// For a direct conversation: the other person's name (none when talking to oneself).
    pub(crate) peer: Option<String>,
    pub(crate) private: bool,
    pub(crate) listed: bool,
    pub(crate) posting: String,
    /// Who made it; `None` for the lobby and direct conversations' purposes.
    pub(crate) owner: Option<String>,
}

/// The columns of a [`StoredMessage`] read from `messages` as `$t`: the reply's quote comes from
/// subqueries that must name the outer table, so a query that aliases it needs its own list.
macro_rules! message_columns {
    ($t:literal) => {
        concat!(
            $t,
            ".id, ",
            $t,
            ".room, ",
            $t,
            ".author, ",
            $t,
            ".text, ",
            $t,
            ".client_offset, ",
            $t,
            ".created_at, ",
            $t,
            ".seq, ",
            $t,
            ".kind, ",
            $t,
            ".edited_at, ",
            $t,
            ".changed_seq, ",
            $t,
            ".reactions, ",
            $t,
            ".reply_to, ",
            "(SELECT CASE WHEN p.kind IS NULL OR p.kind IN ('bot', 'announcement') THEN p.author \
             ELSE '' END FROM messages p WHERE p.id = ",
            $t,
            ".reply_to), ",
            "(SELECT CASE WHEN p.kind IS NULL OR p.kind IN ('bot', 'announcement') \
             THEN substr(p.text, 1, 200) ELSE '' END FROM messages p WHERE p.id = ",
            $t,
            ".reply_to)"
        )
    };
}

/// The columns of [`StoredMessage`], for every query that reads one (from `messages`, not
/// aliased: a reply's parent is read by correlated subqueries). A deleted parent, or a
/// notice, quotes nothing: empty author and excerpt.
pub(crate) const COLUMNS: &str = message_columns!("messages");
/// [`COLUMNS`] of `messages` named `m`, for queries that join it to another table.
pub(crate) const M_COLUMNS: &str = message_columns!("m");
/// How many [`COLUMNS`] there are: a query's own columns after them start at this index.
pub(crate) const COLUMN_COUNT: usize = 14;

/// A room's settings, as access and posting need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomRules {
    pub(crate) private: bool,
    pub(crate) listed: bool,
    pub(crate) posting: Posting,
    /// Who made it; `None` for the lobby.
    pub(crate) owner: Option<String>,
}

/// What to store.
#[derive(Default)]
pub(crate) struct NewMessage<'a> {
    pub(crate) room: &'a str,
    pub(crate) author: &'a str,
    pub(crate) text: &'a str,
    pub(crate) client_offset: Option<&'a str>,
    /// Whose offset `client_offset` is: offsets are unique per sender. The person's id, or
    /// [`GUEST_SENDER`]. Without it an offset deduplicates nothing.
    pub(crate) sender: Option<&'a str>,
    pub(crate) kind: Option<MessageKind>,
    /// The message of the same conversation it answers, as checked and quoted by the poster.
    pub(crate) reply: Option<&'a ReplyQuote>,
    /// Uploads of `sender`'s to attach ([`uploads::ATTACH`]).
    pub(crate) files: &'a [i64],
}

/// The sender of every guest's offsets. A guest has no stable id (a reconnect is a new
/// socket), and the tutorial's client retries after reconnecting with the offset it first
/// chose, so guests share one space of offsets (see [`OffsetInUse`]).
pub(crate) const GUEST_SENDER: &str = "guest";

/// The sender of the offsets of `palaver emit`'s announcements. Person ids are
/// UUIDs, so it is nobody's.
pub(crate) const EMITTER_SENDER: &str = "emitter";

/// The sender of imported messages' offsets: each record's key is its offset, so that an
/// archive imported again stores nothing new. Person ids are UUIDs, so it is nobody's.
pub(crate) const IMPORT_SENDER: &str = "import";

/// A message from an archive, stored as it was: its author, time and kind kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImportedMessage {
    /// A public room's name: a room the batch may write (see [`ImportBatch`]).
    pub(crate) room: String,
    /// The name it was written under at its source; nobody's name here, necessarily.
    pub(crate) author: String,
    pub(crate) text: String,
    /// Milliseconds since the Unix epoch, at its source.
    pub(crate) created_at: i64,
    /// Stable per source record: the client offset of [`IMPORT_SENDER`].
    pub(crate) key: String,
    pub(crate) kind: Option<MessageKind>,
}

/// Imported messages to store in one transaction, numbered on from each room's newest `seq`
/// in the order given.
#[derive(Debug, Clone)]
pub(crate) struct ImportBatch {
    pub(crate) messages: Vec<ImportedMessage>,
    /// Who imports (a person id, or [`IMPORT_SENDER`] for the server's own): the missing
    /// rooms the batch creates are theirs (`rooms.created_by`), and they may write to them
    /// again in a later batch or a later run.
    pub(crate) importer: String,
    /// Whether messages may also go to public rooms that exist and that `importer` did not
    /// create (a moderator's import). Otherwise those rooms' messages are refused.
    pub(crate) into_existing: bool,
}

/// What storing an [`ImportBatch`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ImportOutcome {
    /// Messages stored now.
    pub(crate) stored: u64,
    /// Messages whose key was stored before (or earlier in the batch): not stored again.
    pub(crate) duplicates: u64,
    /// Messages not stored because their room is refused.
    pub(crate) refused: u64,
    /// Rooms the batch created, by name (as are the other lists).
    pub(crate) rooms_created: Vec<String>,
    /// Rooms whose messages were refused: a direct conversation, or a room that exists and
    /// is not the importer's while the batch may not go into existing rooms.
    pub(crate) rooms_refused: Vec<String>,
    /// Each room that got messages, with its newest message after the batch.
    pub(crate) rooms_touched: Vec<Head>,
}

/// A room's newest message: what a `room head` announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) room: String,
    pub(crate) last_id: i64,
    pub(crate) last_seq: i64,
}

/// A client offset its sender used before for another message (another room or text). Only a
/// retry of the same message gets the stored one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetInUse;

/// The outcome of an insert: the stored row, and whether this call created it (false when the
/// client offset had been stored before, so the caller must not broadcast it again).
#[derive(Debug)]
pub(crate) struct Inserted {
    pub(crate) message: StoredMessage,
    pub(crate) created: bool,
}

/// A stored message as the wire carries it.
impl From<StoredMessage> for ChatMessage {
    fn from(m: StoredMessage) -> ChatMessage {
        let kind = m.kind;
        let deleted = kind == Some(MessageKind::Deleted);
        let reactions = match m.reactions.as_deref() {
            Some(json) if !deleted => serde_json::from_str(json).unwrap_or_else(|e| {
                warn!(id = m.id, error = %e, "unreadable reactions");
                Vec::new()
            }),
            _ => Vec::new(),
        };
        ChatMessage {
            text: m.text,
            id: m.id,
            meta: MessageMeta {
                room: m.room,
                // A tombstone says nothing of what it was, nor whose.
                author: if deleted { String::new() } else { m.author },
                ts: m.created_at,
                seq: m.seq,
                client_offset: if deleted { None } else { m.client_offset },
                kind,
                edited: m.edited_at.filter(|_| !deleted),
                reactions,
                reply: m.reply.filter(|_| !deleted),
                changed: m.changed_seq,
                files: m.files,
                ..Default::default()
            },
        }
    }
}

/// The outcome of claiming a nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    Granted,
    /// Another person holds it.
    Taken,
    /// Held by `holder`, whose claim has lapsed unless they are connected: the caller checks.
    Lapsed {
        holder: String,
    },
    /// The claiming person is banned.
    Banned,
}

/// Cheap to clone: the pool is reference-counted.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    pool: Pool,
}

/// The database the store opened, and what its writer needs to open a connection of its own.
#[derive(Clone, Debug)]
enum Pool {
    Sqlite {
        pool: SqlitePool,
        /// The database file, which the writer opens for itself.
        path: PathBuf,
        in_memory: bool,
        /// A lock on `<database>.lock` while the store is open: a second server on the same
        /// file would number each room's messages on its own, and both would hand out the
        /// same `seq`s.
        lock: Arc<Mutex<Option<File>>>,
    },
    Postgres {
        pool: PgPool,
        options: Box<PgConnectOptions>,
        /// The URL it was opened with, for tools that take one (`pg_dump`).
        url: Arc<str>,
    },
}

/// Runs `$body` with `$p` bound to the store's pool, whichever backend it is: the same SQL,
/// compiled once for each.
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite { pool: $p, .. } => $body,
            $crate::store::Pool::Postgres { pool: $p, .. } => $body,
        }
    };
}
pub(crate) use on_pool;

// After `on_pool!`, which they use.
pub(crate) mod accounts;
pub(crate) mod hooks;
pub(crate) mod imported;
pub(crate) mod mentions;
pub(crate) mod profiles;
pub(crate) mod search;
pub(crate) mod uploads;

/// Where a store's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    SqliteFile(PathBuf),
    /// A SQLite database in memory: nothing outside the process can read it.
    InMemory,
    /// A Postgres database's URL.
    Postgres(String),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One file, one server: the embedded default.
    Sqlite,
    /// A database server that several nodes share.
    Postgres,
}

impl Backend {
    pub(crate) fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Pages the WAL may hold before a commit copies them into the database (SQLite's default is
/// 1,000). A checkpoint runs inside the commit that crosses the mark, and posts to many rooms
/// dirty a page per room: at the default the writer checkpointed several times a second,
/// waiting for each one's fsync, and copied the same hot pages again each time. The WAL takes
/// up to 64 MiB of disk for it.
pub(crate) const WAL_AUTOCHECKPOINT: u32 = 16_000;

/// How long opening a Postgres database may take before the server gives up starting.
/// Each pooled SQLite connection's page cache, in KiB (SQLite's `cache_size` takes KiB as a
/// negative number).
const READ_CACHE_KIB: i32 = -512;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the writer waits to connect to Postgres: its posts wait meanwhile, and with the
/// database away they are answered `unavailable` soon rather than at the request's timeout.
/// (Reads wait for a pooled connection up to [`CONNECT_TIMEOUT`]: a burst of them queues for
/// the pool, and must not be refused for it.)
const WRITER_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `/healthz` waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

// Clients page and catch up by id, and the reads go through the `(room, seq)` index (there is
// no `(room, id)` one: see migration 0006). Within a room seq grows with id, so "id above $2"
// is "seq above the seq of the room's last message with an id up to $2", and "id below $2" is
// "seq below the seq of the room's first message with an id from $2". The first lookup answers
// for a cursor that is a message of the room, as clients' cursors are, in one rowid probe;
// any other id takes a walk down the room's index, which holds ids, from its newest end.

/// The seq of `$1`'s last message with an id up to `$2` (0 when none). Cursor 0, "from the
/// start" (every `latest`), is answered at once: the walk would read the whole room for it.
const SEQ_UP_TO_ID: &str = "CASE WHEN $2 <= 0 THEN 0 ELSE COALESCE(
    (SELECT seq FROM messages WHERE id = $2 AND room = $1),
    (SELECT seq FROM messages WHERE room = $1 AND id <= $2 ORDER BY seq DESC LIMIT 1),
    0) END";

/// One past the seq of `$1`'s last message with an id below `$2` (1 when none).
const SEQ_OF_ID: &str = "COALESCE(
    (SELECT seq FROM messages WHERE id = $2 AND room = $1),
    (SELECT seq + 1 FROM messages WHERE room = $1 AND id < $2 ORDER BY seq DESC LIMIT 1),
    1)";

impl Store {
    /// Opens the database at `url` (`sqlite://…`, created if need be, or `postgres://…`) and
    /// runs its migrations.
    pub(crate) async fn open(url: &str) -> Result<Store, StoreError> {
        match Backend::of(url) {
            Backend::Sqlite => Store::open_sqlite(url).await,
            Backend::Postgres => Store::open_postgres(url).await,
        }
    }

    /// Where the data is, for tools that copy it from outside the pool ([`backup`]).
    pub(crate) fn location(&self) -> Location {
        match &self.pool {
            Pool::Sqlite {
                in_memory: true, ..
            } => Location::InMemory,
            Pool::Sqlite { path, .. } => Location::SqliteFile(path.clone()),
            Pool::Postgres { url, .. } => Location::Postgres(url.to_string()),
        }
    }

    /// Which backend holds the data.
    pub(crate) fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite { .. } => Backend::Sqlite,
            Pool::Postgres { .. } => Backend::Postgres,
        }
    }

    async fn open_sqlite(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL: readers (history, SSR) never block the writer.
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is fsynced before it returns, so an acknowledged message survives
            // a crash of the machine, not only of the process.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            // Temporary tables (… RETURNING uses one) in memory, as on the writer's connection.
            .pragma("temp_store", "MEMORY")
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT.to_string())
            // A reader's cache is emptied whenever the writer has committed since its last
            // read, which in a busy chat is nearly every read: a small one costs few reads, and
            // bounds the pool's caches together (SQLite's default is 2 MiB each).
            .pragma("cache_size", READ_CACHE_KIB.to_string())
            .foreign_keys(true);
        // sqlx names an in-memory database `file:sqlx-in-memory-N`, shared by the pool's
        // connections through SQLite's shared cache; the writer joins it by that name.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let path = options.get_filename().to_owned();
        if !in_memory {
            if let Some(dir) = path.parent() {
                create_dir(dir)?;
            }
            create_file(&path)?;
        }
        // Before the migrations, which a second server must not run beside the first either.
        let lock = if in_memory { None } else { Some(lock(&path)?) };
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A file on local disk does not go away under a connection, and the ping before
            // each query doubled the round trips to the connections' threads.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store {
            pool: Pool::Sqlite {
                pool,
                path,
                in_memory,
                lock: Arc::new(Mutex::new(lock)),
            },
        })
    }

    async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("palaver");
        let unreachable = |source| Failure::Unreachable {
            url: redacted(url),
            source,
        };
        // One connection first: a refused one fails at once, where the pool would retry it
        // until its timeout.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(sqlx::Error::PoolTimedOut))?
            .map_err(unreachable)?;
        first.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(unreachable)?;
        // Nodes starting together take turns: sqlx's migrator holds an advisory lock.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store {
            pool: Pool::Postgres {
                pool,
                options: Box::new(options),
                url: url.into(),
            },
        })
    }

    /// Stores a message, or returns the existing one when its sender's `client_offset` was
    /// seen before. The server stores through the writer's batches; tests use this.
    #[cfg(test)]
    pub(crate) async fn try_insert(
        &self,
        m: NewMessage<'_>,
    ) -> Result<Result<Inserted, OffsetInUse>, StoreError> {
        let mut one = self.writer_connection().await?.insert_batch(&[m]).await?;
        Ok(one.remove(0))
    }

    /// [`Store::try_insert`] of a message whose offset, if any, is no other message's.
    #[cfg(test)]
    pub(crate) async fn insert(&self, m: NewMessage<'_>) -> Result<Inserted, StoreError> {
        Ok(self
            .try_insert(m)
            .await?
            .expect("the test's offsets name one message each"))
    }

    /// A connection of the writer's own, outside the pool (see [`write`]). SQLite's also keeps
    /// its page cache warm, where pooled connections each have their own.
    pub(crate) async fn writer_connection(&self) -> Result<WriterConnection, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite {
                path, in_memory, ..
            } => WriterConnection::Sqlite(SqliteWriter::open(path, *in_memory)?),
            Pool::Postgres { options, .. } => WriterConnection::Postgres(
                PostgresWriter::open(options, WRITER_CONNECT_TIMEOUT).await?,
            ),
        })
    }

    /// The value every node shares under `key`: the one stored, or else `candidate`, stored
    /// now. `None` on SQLite, which serves one node: its secrets are files of its own.
    pub(crate) async fn shared_setting(
        &self,
        key: &str,
        candidate: &str,
    ) -> Result<Option<String>, StoreError> {
        let Pool::Postgres { pool, .. } = &self.pool else {
            return Ok(None);
        };
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(key)
            .bind(candidate)
            .execute(pool)
            .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(pool)
            .await?;
        Ok(Some(value))
    }

    /// The newest `limit` messages of `room`, oldest first.
    pub(crate) async fn latest(
        &self,
        room: &str,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.newest_after(room, 0, limit).await
    }

    /// The messages of `room` with an id greater than `after`, oldest first; when there are
    /// more than `limit`, only the newest `limit` of them.
    pub(crate) async fn newest_after(
        &self,
        room: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND seq > {SEQ_UP_TO_ID}
             ORDER BY seq DESC LIMIT $3"
        );
        let mut rows: Vec<StoredMessage> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(room)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(p)
            .await?);
        rows.reverse();
        self.with_files(&mut rows).await?;
        Ok(rows)
    }

    /// The first `limit` messages of `room` with an id greater than `after`, oldest first.
    pub(crate) async fn oldest_after(
        &self,
        room: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND seq > {SEQ_UP_TO_ID}
             ORDER BY seq LIMIT $3"
        );
        let mut rows: Vec<StoredMessage> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(room)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(p)
            .await?);
        self.with_files(&mut rows).await?;
        Ok(rows)
    }

    /// The newest `limit` messages of `room` with an id below `before` (all when `None`),
    /// oldest first, and whether older ones exist.
    pub(crate) async fn page_before(
        &self,
        room: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<StoredMessage>, bool), StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND seq < {SEQ_OF_ID}
             ORDER BY seq DESC LIMIT $3"
        );
        let mut rows: Vec<StoredMessage> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(room)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let more = rows.len() > limit;
        rows.truncate(limit);
        rows.reverse();
        self.with_files(&mut rows).await?;
        Ok((rows, more))
    }

    /// Up to `limit` messages of `room` with a seq above `after` and up to `up_to`, oldest
    /// first: a room read a page at a time, as it stood when its head was `up_to`.
    pub(crate) async fn page_by_seq(
        &self,
        room: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND seq > $2 AND seq <= $3
             ORDER BY seq LIMIT $4"
        );
        let mut rows: Vec<StoredMessage> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(room)
            .bind(after)
            .bind(up_to)
            .bind(limit as i64)
            .fetch_all(p)
            .await?);
        self.with_files(&mut rows).await?;
        Ok(rows)
    }

    /// The newest number of `room`'s change feed (0 when none of its messages ever changed).
    pub(crate) async fn change_head(&self, room: &str) -> Result<i64, StoreError> {
        let sql = "SELECT change_seq FROM rooms WHERE name = $1";
        let row: Option<(i64,)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(room).fetch_optional(p).await?);
        Ok(row.map_or(0, |(n,)| n))
    }

    /// [`Store::change_head`] and [`Store::head`] of `room` in one read, from one snapshot:
    /// `(change head, (id, seq))`.
    pub(crate) async fn heads(&self, room: &str) -> Result<(i64, (i64, i64)), StoreError> {
        let sql = "SELECT COALESCE((SELECT change_seq FROM rooms WHERE name = $1), 0),
                          COALESCE(newest.id, 0), COALESCE(newest.seq, 0)
                   FROM (SELECT 1) AS one
                   LEFT JOIN (SELECT id, seq FROM messages WHERE room = $1
                              ORDER BY seq DESC LIMIT 1) AS newest ON TRUE";
        let (changes, id, seq): (i64, i64, i64) =
            on_pool!(self, p => sqlx::query_as(sql).bind(room).fetch_one(p).await?);
        Ok((changes, (id, seq)))
    }

    /// The first `limit` messages of `room` with an id up to `up_to` that changed after
    /// change `after` of its feed, in the order of their last change: what a client holding
    /// the room up to `up_to` missed of its changes.
    pub(crate) async fn changed_after(
        &self,
        room: &str,
        after: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        // `changed_seq > 0` literally, so that the partial index applies.
        let sql = format!(
            "SELECT {COLUMNS} FROM messages
             WHERE room = $1 AND changed_seq > 0 AND changed_seq > $3
               AND seq <= {SEQ_UP_TO_ID}
             ORDER BY changed_seq LIMIT $4"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(room)
            .bind(up_to)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(p)
            .await?))
    }

    /// The id and seq of the newest message of `room`; `(0, 0)` when it has none.
    pub(crate) async fn head(&self, room: &str) -> Result<(i64, i64), StoreError> {
        let sql = "SELECT id, seq FROM messages WHERE room = $1 ORDER BY seq DESC LIMIT 1";
        let row: Option<(i64, i64)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(room).fetch_optional(p).await?);
        Ok(row.unwrap_or((0, 0)))
    }

    /// Bans the person holding the name whose key is `name_key`, from `now` (or from when they
    /// were banned already): their person id and name, or `None` when nobody holds it.
    pub(crate) async fn ban(
        &self,
        name_key: &str,
        now: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let sql = "UPDATE people SET banned_at = COALESCE(banned_at, $1) WHERE name_key = $2
                   RETURNING person, name";
        Ok(on_pool!(self, p => sqlx::query_as(sql)
            .bind(now)
            .bind(name_key)
            .fetch_optional(p)
            .await?))
    }

    /// Lifts the ban of the person holding the name whose key is `name_key`, and holds their
    /// name for them as if they were seen at `now`: their name, or `None` when nobody holds it.
    pub(crate) async fn unban(
        &self,
        name_key: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let sql = "UPDATE people SET banned_at = NULL,
                       last_seen = CASE WHEN last_seen > $1 THEN last_seen ELSE $1 END
                   WHERE name_key = $2
                   RETURNING name";
        let row: Option<(String,)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(now)
            .bind(name_key)
            .fetch_optional(p)
            .await?);
        Ok(row.map(|(n,)| n))
    }

    /// The kind of the conversation called `name`, if it exists.
    pub(crate) async fn room_kind(&self, name: &str) -> Result<Option<RoomKind>, StoreError> {
        let sql = "SELECT kind FROM rooms WHERE name = $1";
        let kind: Option<(String,)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(name).fetch_optional(p).await?);
        Ok(kind
            .map(|(k,)| room_kind_of(&k))
            .transpose()
            .map_err(sqlx::Error::from)?)
    }

    /// Whether `person` belongs to `room`.
    pub(crate) async fn is_member(&self, room: &str, person: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM members WHERE room = $1 AND person = $2";
        Ok(on_pool!(self, p => sqlx::query(sql)
            .bind(room)
            .bind(person)
            .fetch_optional(p)
            .await?
            .is_some()))
    }

    /// `person`'s own conversations, as `person` sees them: the rooms they belong to and their
    /// direct conversations, with how many messages they have not read. A guest (`None`)
    /// gets the lobby alone. Driven from `person`'s memberships, so it costs the same however
    /// many rooms the server has.
    pub(crate) async fn room_list(&self, person: Option<&str>) -> Result<Vec<RoomRow>, StoreError> {
        let sql = "SELECT r.name, r.kind,
                    r.members,
                    me.person IS NOT NULL AS joined,
                    COALESCE((SELECT MAX(seq) FROM messages x WHERE x.room = r.name), 0)
                        AS last_seq,
                    CASE WHEN me.person IS NULL THEN 0 ELSE
                        (SELECT COUNT(*) FROM messages x
                         WHERE x.room = r.name AND x.seq > me.read_seq
                           AND (x.kind IS NULL OR x.kind IN ($2, $4)))
                    END AS unread,
                    CASE WHEN r.kind = 'dm' THEN
                        (SELECT p.name FROM members o JOIN people p ON p.person = o.person
                         WHERE o.room = r.name AND o.person != me.person)
                    END AS peer,
                    r.is_private, r.listed, r.posting, r.created_by
             FROM rooms r LEFT JOIN members me ON me.room = r.name AND me.person = $1
             WHERE r.name IN (SELECT room FROM members WHERE person = $1 UNION SELECT $3)
               -- A direct conversation someone opened with them, before its first message.
               AND NOT (COALESCE(me.invited, 0) = 1
                        AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.room = r.name))
             ORDER BY r.kind DESC, r.name = $3 DESC, r.name";
        Ok(on_pool!(self, p => sqlx::query_as(sql)
            .bind(person)
            .bind(message_kind_column(MessageKind::Announcement))
            .bind(LOBBY)
            .bind(message_kind_column(MessageKind::Bot))
            .fetch_all(p)
            .await?))
    }

    /// Up to `limit` listed public rooms `person` does not belong to (for a guest: every one
    /// but the lobby), by name, named after `after`, whose name contains `matching`.
    pub(crate) async fn browse(
        &self,
        person: Option<&str>,
        after: Option<&str>,
        matching: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RoomRow>, StoreError> {
        // `replace` finds a part of a name in both dialects (SQLite's `instr`, Postgres's
        // `strpos`).
        let sql = "SELECT r.name, r.kind,
                    r.members,
                    FALSE AS joined,
                    COALESCE((SELECT MAX(seq) FROM messages x WHERE x.room = r.name), 0)
                        AS last_seq,
                    CAST(0 AS BIGINT) AS unread,
                    CAST(NULL AS TEXT) AS peer,
                    r.is_private, r.listed, r.posting, r.created_by
             FROM rooms r
             WHERE r.kind = 'room' AND r.name > $2 AND r.name != $5
               AND NOT r.is_private AND r.listed
               AND ($3 = '' OR replace(r.name, $3, '') != r.name)
               AND NOT EXISTS (SELECT 1 FROM members me WHERE me.room = r.name AND me.person = $1)
             ORDER BY r.name
             LIMIT $4";
        Ok(on_pool!(self, p => sqlx::query_as(sql)
            .bind(person)
            .bind(after.unwrap_or(""))
            .bind(matching.unwrap_or(""))
            .bind(limit as i64)
            .bind(LOBBY)
            .fetch_all(p)
            .await?))
    }

    /// How many people belong to `room`, and whether it is private.
    pub(crate) async fn member_count(&self, room: &str) -> Result<(usize, bool), StoreError> {
        let sql = "SELECT members, is_private FROM rooms WHERE name = $1";
        let row: Option<(i64, bool)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(room).fetch_optional(p).await?);
        Ok(row.map_or((0, false), |(n, private)| (n as usize, private)))
    }

    /// [`Store::member_count`] of each of `rooms`, in one query; rooms that do not exist are
    /// left out.
    pub(crate) async fn member_counts(
        &self,
        rooms: &[String],
    ) -> Result<HashMap<String, (usize, bool)>, StoreError> {
        let names = serde_json::to_string(rooms).unwrap_or_else(|_| "[]".to_owned());
        let rows: Vec<(String, i64, bool)> = match &self.pool {
            Pool::Sqlite { pool, .. } => {
                sqlx::query_as(
                    "SELECT name, members, is_private FROM rooms
                     WHERE name IN (SELECT value FROM json_each($1))",
                )
                .bind(&names)
                .fetch_all(pool)
                .await?
            }
            Pool::Postgres { pool, .. } => {
                sqlx::query_as(
                    "SELECT name, members, is_private FROM rooms
                     WHERE name IN (SELECT json_array_elements_text($1::json))",
                )
                .bind(&names)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(name, n, private)| (name, (n as usize, private)))
            .collect())
    }

    /// The settings of the room `name`, if it is a room (not a direct conversation).
    pub(crate) async fn room_rules(&self, name: &str) -> Result<Option<RoomRules>, StoreError> {
        let sql = "SELECT is_private, listed, posting, created_by FROM rooms
                   WHERE name = $1 AND kind = 'room'";
        let row: Option<(bool, bool, String, Option<String>)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(name).fetch_optional(p).await?);
        Ok(row.map(|(private, listed, posting, owner)| RoomRules {
            private,
            listed,
            posting: Posting::parse(&posting).unwrap_or(Posting::Managers),
            owner,
        }))
    }

    /// Changes the settings of the room `name` (those given).
    pub(crate) async fn set_room_rules(
        &self,
        name: &str,
        listed: Option<bool>,
        posting: Option<Posting>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE rooms SET listed = COALESCE($1, listed), posting = COALESCE($2, posting)
                   WHERE name = $3 AND kind = 'room'";
        on_pool!(self, p => sqlx::query(sql)
            .bind(listed)
            .bind(posting.map(Posting::as_str))
            .bind(name)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The names of every public room (not the private ones).
    pub(crate) async fn public_rooms(&self) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT name FROM rooms WHERE kind = 'room' AND NOT is_private ORDER BY name";
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await?);
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    /// The person holding the name whose key is `name_key`, and the name as they spell it.
    pub(crate) async fn person_named(
        &self,
        name_key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let sql = "SELECT person, name FROM people WHERE name_key = $1";
        Ok(on_pool!(self, p => sqlx::query_as(sql).bind(name_key).fetch_optional(p).await?))
    }

    /// The direct conversations `person` is in, each with its people (`person` included) and
    /// their names.
    pub(crate) async fn dms_of(&self, person: &str) -> Result<Vec<DmPeople>, StoreError> {
        let sql = "SELECT m.room, o.person, p.name,
                    o.invited = 1 AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.room = m.room)
             FROM members m
             JOIN rooms r ON r.name = m.room AND r.kind = 'dm'
             JOIN members o ON o.room = m.room
             JOIN people p ON p.person = o.person
             WHERE m.person = $1
             ORDER BY m.room";
        let rows: Vec<(String, String, String, bool)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(person).fetch_all(p).await?);
        let mut dms: Vec<DmPeople> = Vec::new();
        for (room, person, name, unaware) in rows {
            let unaware = unaware.then(|| person.clone());
            match dms.last_mut() {
                Some(dm) if dm.room == room => {
                    dm.people.push((person, name));
                    dm.unaware = dm.unaware.take().or(unaware);
                }
                _ => dms.push(DmPeople {
                    room,
                    people: vec![(person, name)],
                    unaware,
                }),
            }
        }
        Ok(dms)
    }

    /// The conversation message `id` is in, if it is in a room (not a direct conversation:
    /// those are their two people's alone, and moderators cannot tell their messages from
    /// none).
    pub(crate) async fn room_of(&self, id: i64) -> Result<Option<String>, StoreError> {
        let sql = "SELECT room FROM messages
                   WHERE id = $1 AND room IN (SELECT name FROM rooms WHERE kind = 'room')";
        let row: Option<(String,)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(id).fetch_optional(p).await?);
        Ok(row.map(|(r,)| r))
    }

    /// Deletes message `id` of a room as `/admin` does, through a writer connection of its
    /// own: the room it was in, if it was deleted now.
    #[cfg(test)]
    pub(crate) async fn delete_message(
        &self,
        id: i64,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let change = write::Change::DeleteMessage {
            id,
            scope: write::Scope::Rooms,
            author: None,
            now,
        };
        match self.writer_connection().await?.apply(change).await? {
            write::Outcome::Message(Ok(Some(m))) => Ok(Some(m.room)),
            write::Outcome::Message(_) => Ok(None),
            other => Err(StoreError::unexpected(other)),
        }
    }

    /// The message `id` of `room` that a reply quotes: a person's, a program's or an
    /// announcement, not a notice or a tombstone.
    pub(crate) async fn quote(
        &self,
        room: &str,
        id: i64,
    ) -> Result<Option<ReplyQuote>, StoreError> {
        let sql = format!(
            "SELECT id, author, substr(text, 1, {}) FROM messages
             WHERE id = $1 AND room = $2 AND (kind IS NULL OR kind IN ($3, $4))",
            app::events::REPLY_EXCERPT_CHARS
        );
        let row: Option<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(id)
            .bind(room)
            .bind(message_kind_column(MessageKind::Bot))
            .bind(message_kind_column(MessageKind::Announcement))
            .fetch_optional(p)
            .await?);
        Ok(row.map(|(id, author, excerpt)| ReplyQuote {
            id,
            author,
            excerpt,
        }))
    }

    /// Checks that the database answers, within [`PING_TIMEOUT`]; used by `/healthz`, whose
    /// callers (load balancers) wait a few seconds at most.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let ping =
            async { on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(drop)) };
        tokio::time::timeout(PING_TIMEOUT, ping)
            .await
            .map_err(|_| Failure::TimedOut(PING_TIMEOUT))??;
        Ok(())
    }

    /// Copies what SQLite's WAL holds into the database file on one of the pool's connections,
    /// waiting for neither readers nor the writer (a passive checkpoint): the frames the WAL
    /// holds and how many of them are copied, or `None` when another checkpoint was running.
    /// The writer's own commits checkpoint only once the WAL passes [`WAL_AUTOCHECKPOINT`],
    /// and everything queued behind such a commit waits for it; a long import starts these
    /// instead, off the writer's thread (`jobs::import`). Postgres has nothing to do.
    pub(crate) async fn checkpoint(&self) -> Result<Option<(i64, i64)>, StoreError> {
        match &self.pool {
            Pool::Sqlite { pool, .. } => {
                let (busy, frames, copied): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(pool)
                        .await?;
                Ok((busy == 0).then_some((frames, copied)))
            }
            Pool::Postgres { .. } => Ok(Some((0, 0))),
        }
    }

    /// Flushes SQLite's WAL to the disk, from outside the writer: what the writer committed
    /// without waiting (an import's batches) is then durable. Postgres has nothing to do.
    pub(crate) async fn sync_wal(&self) -> Result<(), StoreError> {
        let Pool::Sqlite {
            path,
            in_memory: false,
            ..
        } = &self.pool
        else {
            return Ok(());
        };
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        tokio::task::spawn_blocking(move || std::fs::File::open(wal)?.sync_data())
            .await
            .map_err(std::io::Error::other)
            .and_then(|synced| synced)
            .map_err(|e| StoreError::from(Failure::SyncWal(e)))
    }

    pub(crate) async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { pool, lock, .. } => {
                pool.close().await;
                // Now, not when the last clone goes (the writer's thread holds one a while
                // longer), so that a server started next on the same file finds it free.
                drop(lock.lock().unwrap_or_else(|p| p.into_inner()).take());
            }
            Pool::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

/// Creates `dir` and its missing parents, for their owner only: it holds every message, and
/// (by default) the secrets.
fn create_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    crate::secrets::create_private_dir(dir).map_err(|source| {
        StoreError(Failure::CreateDir {
            path: dir.display().to_string(),
            source,
        })
    })
}

/// Creates the database file, empty (an empty file is an empty database), readable and
/// writable by its owner only, unless it exists. SQLite would create it with the process's
/// umask (usually readable by everyone), and gives its `-wal` and `-shm` files the main
/// file's permissions.
/// Locks `<database>.lock`, created beside the database if need be: the database's own file
/// is SQLite's to lock.
fn lock(database: &Path) -> Result<File, StoreError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|source| Failure::CreateFile {
        path: path.display().to_string(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError(Failure::InUse {
            path: database.display().to_string(),
        })),
        // A file system without locks: nothing to enforce it with.
        Err(TryLockError::Error(e)) => {
            warn!(path = %path.display(), error = %e, "cannot lock the database; make sure no other server uses it");
            Ok(file)
        }
    }
}

fn create_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError(Failure::CreateFile {
            path: path.display().to_string(),
            source,
        })),
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::write::{Change, Outcome};

    use crate::test_services as services;

    async fn open_temp() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sub/palaver.db").display());
        let store = Store::open(&url).await.unwrap();
        (dir, store)
    }

    /// A new, empty store of each backend: SQLite in a temporary directory (kept while the
    /// test runs), and a database of its own in this test process's Postgres.
    pub(super) async fn stores() -> Vec<(Option<tempfile::TempDir>, Store)> {
        let (dir, sqlite) = open_temp().await;
        let postgres = Store::open(&services::database()).await.unwrap();
        vec![(Some(dir), sqlite), (None, postgres)]
    }

    /// The writer's changes, each made in a transaction of its own on a writer's connection.
    impl Store {
        async fn change(&self, change: Change) -> Result<Outcome, StoreError> {
            self.writer_connection().await?.apply(change).await
        }

        /// Runs `sql` on the pool, as a person at the database's console would.
        async fn sql(&self, sql: &str) {
            on_pool!(self, p => sqlx::raw_sql(sql).execute(p).await.map(drop).unwrap());
        }

        async fn claim_name(
            &self,
            person: &str,
            name: &str,
            key: &str,
            now: i64,
            hold: i64,
        ) -> Result<Claim, StoreError> {
            // As the server claims, with nobody connected: a lapsed holder is evicted.
            let claim = |evict: Option<&str>| Change::ClaimName {
                person: person.to_owned(),
                name: name.to_owned(),
                name_key: key.to_owned(),
                now,
                hold_ms: hold,
                evict: evict.map(str::to_owned),
            };
            let claimed = match self.change(claim(None)).await? {
                Outcome::Claim(Claim::Lapsed { holder }) => {
                    self.change(claim(Some(&holder))).await?
                }
                claimed => claimed,
            };
            match claimed {
                Outcome::Claim(c) => Ok(c),
                other => Err(StoreError::unexpected(other)),
            }
        }

        async fn touch_person(&self, person: &str, now: i64) -> Result<(), StoreError> {
            let person = person.to_owned();
            self.change(Change::TouchPerson { person, now }).await?;
            Ok(())
        }

        async fn made(&self, change: Change) -> Result<bool, StoreError> {
            match self.change(change).await? {
                Outcome::Made(made) => Ok(made),
                other => Err(StoreError::unexpected(other)),
            }
        }

        async fn create_room(
            &self,
            room: &str,
            person: &str,
            now: i64,
        ) -> Result<bool, StoreError> {
            let (name, person) = (room.to_owned(), person.to_owned());
            self.made(Change::CreateRoom {
                name,
                person,
                now,
                private: false,
            })
            .await
        }

        async fn join(&self, room: &str, person: &str, now: i64) -> Result<bool, StoreError> {
            let (room, person) = (room.to_owned(), person.to_owned());
            self.made(Change::Join { room, person, now }).await
        }

        async fn leave(&self, room: &str, person: &str) -> Result<bool, StoreError> {
            let (room, person) = (room.to_owned(), person.to_owned());
            self.made(Change::Leave { room, person }).await
        }
    }

    fn msg<'a>(text: &'a str, offset: Option<&'a str>) -> NewMessage<'a> {
        NewMessage {
            room: "lobby",
            author: "ann",
            text,
            client_offset: offset,
            sender: Some("p-ann"),
            kind: None,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn member_counts_follow_claims_joins_and_leaves() {
        for (_dir, store) in stores().await {
            let hold = 1_000;
            for (person, name) in [("p1", "ann"), ("p2", "bob")] {
                store.claim_name(person, name, name, 1, hold).await.unwrap();
            }
            // Claiming again (a reconnect) does not count twice.
            store.claim_name("p1", "ann", "ann", 2, hold).await.unwrap();
            assert!(store.create_room("rust", "p1", 3).await.unwrap());
            assert!(store.join("rust", "p2", 4).await.unwrap());
            assert!(!store.join("rust", "p2", 5).await.unwrap());
            let counts = |store: Store| async move {
                (
                    store.member_count("lobby").await.unwrap().0,
                    store.member_count("rust").await.unwrap().0,
                    store.member_count("nowhere").await.unwrap().0,
                )
            };
            assert_eq!(counts(store.clone()).await, (2, 2, 0));
            assert!(store.leave("rust", "p1").await.unwrap());
            assert!(!store.leave("rust", "p1").await.unwrap());
            assert_eq!(counts(store.clone()).await, (2, 1, 0));
            // All at once, as the announcer asks; a room that does not exist is left out.
            let rooms = ["lobby", "rust", "nowhere"].map(str::to_owned);
            let all = store.member_counts(&rooms).await.unwrap();
            assert_eq!(
                all,
                HashMap::from([
                    ("lobby".to_owned(), (2, false)),
                    ("rust".to_owned(), (1, false))
                ])
            );
            let listed = store.room_list(Some("p2")).await.unwrap();
            let members: Vec<(&str, i64)> = listed
                .iter()
                .map(|r| (r.name.as_str(), r.members))
                .collect();
            assert_eq!(members, [("lobby", 2), ("rust", 1)]);
        }
    }

    /// A database migrated by the migrations before `first_missing` only, as a server of
    /// that time left it, and its URL.
    async fn database_before(dir: &tempfile::TempDir, first_missing: &str) -> (String, SqlitePool) {
        let before = dir.path().join("migrations");
        std::fs::create_dir(&before).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_owned();
            if name.to_str().unwrap() < first_missing {
                std::fs::copy(&path, before.join(name)).unwrap();
            }
        }
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        let pool = SqlitePool::connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        (url, pool)
    }

    #[tokio::test]
    async fn a_database_from_before_member_counts_gets_them_on_upgrade() {
        // The migrations as they were before 0007, applied to a database with people in it.
        let dir = tempfile::tempdir().unwrap();
        let (url, pool) = database_before(&dir, "0007").await;
        for statement in [
            "INSERT INTO rooms (name, kind, created_at) VALUES ('rust', 'room', 1)",
            "INSERT INTO members (room, person, joined_at)
             VALUES ('lobby', 'p1', 1), ('lobby', 'p2', 1), ('rust', 'p1', 1)",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.member_count("lobby").await.unwrap().0, 2);
        assert_eq!(store.member_count("rust").await.unwrap().0, 1);
        // And from then on the triggers keep them.
        assert!(store.join("rust", "p2", 2).await.unwrap());
        assert_eq!(store.member_count("rust").await.unwrap().0, 2);
    }

    #[tokio::test]
    async fn a_database_from_before_offsets_per_sender_keeps_its_messages_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        let (url, pool) = database_before(&dir, "0008").await;
        for statement in [
            "INSERT INTO people (person, name, name_key, last_seen) VALUES ('p-ann', 'Ann', 'ann', 1)",
            "INSERT INTO messages (id, room, author, text, client_offset, created_at, seq)
             VALUES (1, 'lobby', 'Ann', 'by ann', 'o-ann', 1, 1),
                    (2, 'lobby', 'anonymous', 'by a guest', 'o-guest', 1, 2),
                    (3, 'lobby', 'gone', 'by a lapsed name', 'o-gone', 1, 3),
                    (4, 'lobby', 'admin', 'announced', NULL, 1, 4)",
            // Ids once handed out (say, by a batch rolled back) are not handed out again.
            "UPDATE sqlite_sequence SET seq = 100 WHERE name = 'messages'",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = Store::open(&url).await.unwrap();
        let texts: Vec<String> = (store.latest("lobby", 10).await.unwrap())
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(
            texts,
            ["by ann", "by a guest", "by a lapsed name", "announced"]
        );
        let retry = |sender, text, offset| NewMessage {
            sender: Some(sender),
            ..msg(text, Some(offset))
        };
        // Retries across the upgrade find their message, by the name's person or as a guest.
        let ann = store
            .insert(retry("p-ann", "by ann", "o-ann"))
            .await
            .unwrap();
        assert_eq!((ann.message.id, ann.created), (1, false));
        let guest = store
            .insert(retry(GUEST_SENDER, "by a guest", "o-guest"))
            .await
            .unwrap();
        assert_eq!((guest.message.id, guest.created), (2, false));
        // Someone else's offset is no longer theirs to take; new ids carry on from the mark.
        let bob = store.insert(retry("p-bob", "mine", "o-ann")).await.unwrap();
        assert_eq!((bob.message.seq, bob.created), (5, true));
        assert!(
            bob.message.id > 100,
            "id {} was handed out before",
            bob.message.id
        );
    }

    #[tokio::test]
    async fn ids_increase_and_offsets_dedupe() {
        for (_dir, store) in stores().await {
            let a = store.insert(msg("one", Some("c1"))).await.unwrap();
            let b = store.insert(msg("two", None)).await.unwrap();
            let again = store.insert(msg("one", Some("c1"))).await.unwrap();
            assert!(a.created && b.created);
            assert!(!again.created);
            assert_eq!(again.message.id, a.message.id);
            assert!(b.message.id > a.message.id);
            // Messages without an offset are never deduplicated (NULLs are distinct in UNIQUE).
            let c = store.insert(msg("two", None)).await.unwrap();
            assert!(c.created);
            assert_eq!(store.latest("lobby", 10).await.unwrap().len(), 3);
            // Offsets are each sender's own: bob's "c1" is another message; ann's "c1" with other
            // words is refused, not answered with her first message's id.
            let bob = NewMessage {
                sender: Some("p-bob"),
                ..msg("bob's", Some("c1"))
            };
            let bob = store.insert(bob).await.unwrap();
            assert!(bob.created && bob.message.id > c.message.id);
            let reused = store
                .try_insert(msg("other words", Some("c1")))
                .await
                .unwrap();
            assert!(matches!(reused, Err(OffsetInUse)));
            assert_eq!(store.latest("lobby", 10).await.unwrap().len(), 4);
        }
    }

    fn imported(room: &str, key: &str, text: &str, at: i64) -> ImportedMessage {
        ImportedMessage {
            room: room.to_owned(),
            author: "Ann Smith".to_owned(),
            text: text.to_owned(),
            created_at: at,
            key: key.to_owned(),
            kind: None,
        }
    }

    #[tokio::test]
    async fn an_import_numbers_on_keeps_its_times_and_stores_each_key_once() {
        for (_dir, store) in stores().await {
            let old = store.insert(msg("before", None)).await.unwrap().message;
            store.create_room("theirs", "p-bob", 1).await.unwrap();
            let mut conn = store.writer_connection().await.unwrap();
            let batch = |messages, into_existing| ImportBatch {
                messages,
                importer: "p-ann".to_owned(),
                into_existing,
            };
            let joined = ImportedMessage {
                kind: Some(MessageKind::Joined),
                ..imported("general", "k0", "joined", 5)
            };
            let first = vec![
                joined,
                imported("general", "k1", "one", 10),
                imported("lobby", "k2", "hello", 20),
                imported("general", "k1", "one, again in the batch", 10),
                imported("theirs", "k3", "not mine", 30),
                imported("general", "k4", "two", 40),
            ];
            // Not into existing rooms: the lobby and bob's room are refused.
            let outcome = conn.import(&batch(first.clone(), false)).await.unwrap();
            let general = store.head("general").await.unwrap();
            assert_eq!(
                outcome,
                ImportOutcome {
                    stored: 3,
                    duplicates: 1,
                    refused: 2,
                    rooms_created: vec!["general".to_owned()],
                    rooms_refused: vec!["lobby".to_owned(), "theirs".to_owned()],
                    rooms_touched: vec![Head {
                        room: "general".to_owned(),
                        last_id: general.0,
                        last_seq: 3,
                    }],
                }
            );
            let stored = store.latest("general", 10).await.unwrap();
            let seen: Vec<_> = stored
                .iter()
                .map(|m| {
                    (
                        m.seq,
                        m.text.as_str(),
                        m.author.as_str(),
                        m.created_at,
                        m.kind,
                    )
                })
                .collect();
            assert_eq!(
                seen,
                [
                    (1, "joined", "Ann Smith", 5, Some(MessageKind::Joined)),
                    (2, "one", "Ann Smith", 10, None),
                    (3, "two", "Ann Smith", 40, None),
                ]
            );
            assert_eq!(
                store.room_kind("general").await.unwrap(),
                Some(RoomKind::Room)
            );
            // A moderator's import goes into existing rooms too; what was stored is not again.
            let outcome = conn.import(&batch(first, true)).await.unwrap();
            assert_eq!(
                (outcome.stored, outcome.duplicates, outcome.refused),
                (2, 4, 0)
            );
            assert!(outcome.rooms_created.is_empty());
            let lobby = store.latest("lobby", 10).await.unwrap();
            let texts: Vec<(i64, &str)> = lobby.iter().map(|m| (m.seq, m.text.as_str())).collect();
            assert_eq!(texts, [(old.seq, "before"), (old.seq + 1, "hello")]);
            // The room its import created stays the importer's to write to.
            let more = vec![imported("general", "k5", "three", 50)];
            let outcome = conn.import(&batch(more, false)).await.unwrap();
            assert_eq!((outcome.stored, outcome.rooms_touched[0].last_seq), (1, 4));
            // Posts after the import number on from its messages, on the same connection.
            let post = NewMessage {
                room: "general",
                ..msg("live", None)
            };
            let posted = conn.insert_batch(&[post]).await.unwrap().remove(0).unwrap();
            assert_eq!(posted.message.seq, 5);
            // A direct conversation is never imported into.
            store
                .sql("INSERT INTO rooms (name, kind, created_at) VALUES ('dm:a:b', 'dm', 1)")
                .await;
            let dm = vec![imported("dm:a:b", "k6", "psst", 60)];
            let outcome = conn.import(&batch(dm, true)).await.unwrap();
            assert_eq!((outcome.stored, outcome.refused), (0, 1));
        }
    }

    #[tokio::test]
    async fn a_room_is_read_by_seq_a_page_at_a_time_up_to_a_head() {
        for (_dir, store) in stores().await {
            for i in 1..=5 {
                store.insert(msg(&format!("m{i}"), None)).await.unwrap();
            }
            let page = |after, up_to, limit| {
                let store = store.clone();
                async move {
                    let rows = store
                        .page_by_seq("lobby", after, up_to, limit)
                        .await
                        .unwrap();
                    rows.iter().map(|m| m.seq).collect::<Vec<_>>()
                }
            };
            assert_eq!(page(0, 4, 2).await, [1, 2]);
            assert_eq!(page(2, 4, 10).await, [3, 4]);
            assert_eq!(page(4, 4, 10).await, Vec::<i64>::new());
        }
    }

    #[tokio::test]
    async fn latest_and_after_are_oldest_first_and_per_room() {
        for (_dir, store) in stores().await {
            for i in 0..5 {
                store.insert(msg(&format!("m{i}"), None)).await.unwrap();
            }
            store
                .insert(NewMessage {
                    room: "elsewhere",
                    ..msg("x", None)
                })
                .await
                .unwrap();
            let latest = store.latest("lobby", 2).await.unwrap();
            assert_eq!(
                latest.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                ["m3", "m4"]
            );
            let after = store
                .newest_after("lobby", latest[0].id - 2, 10)
                .await
                .unwrap();
            assert_eq!(
                after.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                ["m2", "m3", "m4"]
            );
            // Over the limit, the newest win: a long-absent client gets recent history.
            let capped = store.newest_after("lobby", 0, 2).await.unwrap();
            assert_eq!(
                capped.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                ["m3", "m4"]
            );
        }
    }

    #[tokio::test]
    async fn a_batch_numbers_rooms_on_and_stores_each_offset_once() {
        for (_dir, store) in stores().await {
            let old = store.insert(msg("old", Some("o0"))).await.unwrap().message;
            let m = |room, text, offset| NewMessage {
                room,
                text,
                client_offset: offset,
                ..msg("", None)
            };
            let batch = [
                m("lobby", "a", Some("o1")),
                m("other", "b", None),
                // A retry, in the batch and of an earlier batch.
                m("lobby", "a", Some("o1")),
                m("lobby", "old", Some("o0")),
                m("lobby", "e", None),
                // The same offsets for other messages: refused, in the batch and before it.
                m("lobby", "c", Some("o1")),
                m("other", "old", Some("o0")),
                // Another sender's offsets are theirs.
                NewMessage {
                    sender: Some("p-bob"),
                    ..m("lobby", "f", Some("o1"))
                },
            ];
            let mut conn = store.writer_connection().await.unwrap();
            let out = conn.insert_batch(&batch).await.unwrap();
            type Seen<'a> = Result<(&'a str, &'a str, i64, bool), OffsetInUse>;
            let seen: Vec<Seen> = out
                .iter()
                .map(|i| {
                    i.as_ref().map_err(|e| *e).map(|i| {
                        (
                            i.message.room.as_str(),
                            i.message.text.as_str(),
                            i.message.seq,
                            i.created,
                        )
                    })
                })
                .collect();
            assert_eq!(
                seen,
                [
                    Ok(("lobby", "a", old.seq + 1, true)),
                    Ok(("other", "b", 1, true)),
                    Ok(("lobby", "a", old.seq + 1, false)),
                    Ok(("lobby", "old", old.seq, false)),
                    Ok(("lobby", "e", old.seq + 2, true)),
                    Err(OffsetInUse),
                    Err(OffsetInUse),
                    Ok(("lobby", "f", old.seq + 3, true)),
                ]
            );
            let id = |i: usize| out[i].as_ref().unwrap().message.id;
            assert!(id(0) < id(1) && id(1) < id(4) && id(4) < id(7));
            let lobby = store.latest("lobby", 10).await.unwrap();
            let texts: Vec<&str> = lobby.iter().map(|m| m.text.as_str()).collect();
            assert_eq!(texts, ["old", "a", "e", "f"]);
        }
    }

    /// A retry of a message deleted meanwhile still gets its ack: its text is gone, its room
    /// is not.
    #[tokio::test]
    async fn a_retry_finds_its_message_even_deleted() {
        for (_dir, store) in stores().await {
            let first = store.insert(msg("oops", Some("k"))).await.unwrap().message;
            store.delete_message(first.id, 5).await.unwrap();
            let again = store.try_insert(msg("oops", Some("k"))).await.unwrap();
            assert_eq!(
                again.map(|i| (i.message.id, i.created)),
                Ok((first.id, false))
            );
            let elsewhere = NewMessage {
                room: "other",
                ..msg("oops", Some("k"))
            };
            assert!(matches!(
                store.try_insert(elsewhere).await.unwrap(),
                Err(OffsetInUse)
            ));
        }
    }

    /// The writer remembers each room's newest seq between batches. A message stored
    /// meanwhile through another connection must make it look again, or its next seq would
    /// clash with that message's (and the whole batch would fail).
    #[tokio::test]
    async fn a_writer_numbers_on_after_another_connection_stored() {
        let (_dir, file) = open_temp().await;
        let memory = Store::open("sqlite::memory:").await.unwrap();
        let postgres = Store::open(&services::database()).await.unwrap();
        for store in [file, memory, postgres] {
            let mut writer = store.writer_connection().await.unwrap();
            let a = |text| NewMessage {
                room: "a",
                ..msg(text, None)
            };
            let mut posted = Vec::new();
            for m in [a("1"), a("2")] {
                posted.push(writer.insert_batch(&[m]).await.unwrap().remove(0).unwrap());
            }
            let third = store.insert(a("3")).await.unwrap();
            posted.push(
                writer
                    .insert_batch(&[a("4")])
                    .await
                    .unwrap()
                    .remove(0)
                    .unwrap(),
            );
            let seqs: Vec<i64> = posted.iter().map(|p| p.message.seq).collect();
            assert_eq!((seqs, third.message.seq), (vec![1, 2, 4], 3));
            // A repeated offset is found by the insert itself and takes no seq.
            let mut once = Vec::new();
            for _ in 0..2 {
                let m = msg("x", Some("k"));
                once.push(writer.insert_batch(&[m]).await.unwrap().remove(0).unwrap());
            }
            assert!(once[0].created && !once[1].created);
            assert_eq!(once[1].message.id, once[0].message.id);
            let fifth = writer
                .insert_batch(&[a("5")])
                .await
                .unwrap()
                .remove(0)
                .unwrap();
            assert_eq!(fifth.message.seq, 5);
            let texts: Vec<String> = store
                .latest("a", 10)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.text)
                .collect();
            assert_eq!(texts, ["1", "2", "3", "4", "5"]);
        }
    }

    #[tokio::test]
    async fn seq_counts_each_room_without_holes() {
        for (_dir, store) in stores().await {
            let room = |room, text| NewMessage {
                room,
                ..msg(text, None)
            };
            let a1 = store.insert(room("a", "1")).await.unwrap().message;
            let b1 = store.insert(room("b", "1")).await.unwrap().message;
            let a2 = store.insert(room("a", "2")).await.unwrap().message;
            assert_eq!((a1.seq, b1.seq, a2.seq), (1, 1, 2));
            // A repeat takes no seq.
            store.insert(msg("r", Some("k"))).await.unwrap();
            store.insert(msg("r", Some("k"))).await.unwrap();
            let l2 = store.insert(msg("s", None)).await.unwrap().message;
            assert_eq!(l2.seq, 2);
            assert_eq!(store.head("a").await.unwrap(), (a2.id, 2));
            assert_eq!(store.head("none").await.unwrap(), (0, 0));
            // Both heads in one read, as the two reads give them.
            let change_head = store.change_head("a").await.unwrap();
            assert_eq!(store.heads("a").await.unwrap(), (change_head, (a2.id, 2)));
            assert_eq!(store.heads("none").await.unwrap(), (0, (0, 0)));
        }
    }

    #[tokio::test]
    async fn pages_go_back_from_before() {
        for (_dir, store) in stores().await {
            let mut ids = Vec::new();
            for i in 0..5 {
                ids.push(
                    store
                        .insert(msg(&format!("m{i}"), None))
                        .await
                        .unwrap()
                        .message
                        .id,
                );
            }
            let (newest, more) = store.page_before("lobby", None, 2).await.unwrap();
            assert_eq!(
                (newest.iter().map(|m| m.id).collect::<Vec<_>>(), more),
                (ids[3..].to_vec(), true)
            );
            let (older, more) = store.page_before("lobby", Some(ids[2]), 5).await.unwrap();
            assert_eq!(
                (older.iter().map(|m| m.id).collect::<Vec<_>>(), more),
                (ids[..2].to_vec(), false)
            );
            let after = store.oldest_after("lobby", ids[0], 2).await.unwrap();
            assert_eq!(after.iter().map(|m| m.id).collect::<Vec<_>>(), ids[1..3]);
        }
    }

    /// Cursors are ids, which rooms share; an id of another room (or of no message) still
    /// cuts a room's history where its own ids would.
    #[tokio::test]
    async fn cursors_from_other_rooms_cut_a_room_by_id() {
        for (_dir, store) in stores().await {
            // lobby gets ids 1, 3, 5, 7; "other" gets 2, 4, 6, 8.
            let (mut lobby, mut other) = (Vec::new(), Vec::new());
            for i in 0..4 {
                lobby.push(store.insert(msg(&format!("l{i}"), None)).await.unwrap());
                other.push(
                    store
                        .insert(NewMessage {
                            room: "other",
                            ..msg(&format!("o{i}"), None)
                        })
                        .await
                        .unwrap(),
                );
            }
            let ids = |rows: &[StoredMessage]| rows.iter().map(|m| m.id).collect::<Vec<_>>();
            let lobby: Vec<i64> = lobby.iter().map(|m| m.message.id).collect();
            let cut = other[1].message.id;
            assert!(lobby[1] < cut && cut < lobby[2]);
            let after = store.oldest_after("lobby", cut, 10).await.unwrap();
            assert_eq!(ids(&after), lobby[2..]);
            let newest = store.newest_after("lobby", cut, 1).await.unwrap();
            assert_eq!(ids(&newest), lobby[3..]);
            let (before, more) = store.page_before("lobby", Some(cut), 10).await.unwrap();
            assert_eq!((ids(&before), more), (lobby[..2].to_vec(), false));
            // Beyond every id, and before the first.
            assert!(
                store
                    .oldest_after("lobby", 1_000, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let (all, _) = store.page_before("lobby", Some(1_000), 10).await.unwrap();
            assert_eq!(ids(&all), lobby);
            let (none, more) = store.page_before("lobby", Some(1), 10).await.unwrap();
            assert_eq!((ids(&none), more), (vec![], false));
        }
    }

    #[tokio::test]
    async fn names_are_held_until_their_claim_lapses() {
        for (_dir, store) in stores().await {
            let hold = 1_000;
            let claim = |person, name: &'static str, now| {
                let store = store.clone();
                async move {
                    store
                        .claim_name(person, name, &name.to_lowercase(), now, hold)
                        .await
                        .unwrap()
                }
            };
            assert_eq!(claim("p1", "Ann", 10).await, Claim::Granted);
            // Case-insensitively taken, by someone else, while the hold lasts.
            assert_eq!(claim("p2", "aNN", 500).await, Claim::Taken);
            // The holder may claim it again, and rename.
            assert_eq!(claim("p1", "ann", 600).await, Claim::Granted);
            assert_eq!(claim("p1", "annie", 700).await, Claim::Granted);
            // The old name is free once its person renamed.
            assert_eq!(claim("p2", "ann", 800).await, Claim::Granted);
            // Being seen extends the hold; after it lapses the name can be taken.
            store.touch_person("p2", 1_500).await.unwrap();
            assert_eq!(claim("p3", "ann", 2_400).await, Claim::Taken);
            assert_eq!(claim("p3", "ann", 2_600).await, Claim::Granted);
        }
    }

    #[tokio::test]
    async fn a_banned_person_cannot_claim_and_keeps_their_name() {
        for (_dir, store) in stores().await {
            let hold = 1_000;
            store
                .claim_name("p1", "Ann", "ann", 10, hold)
                .await
                .unwrap();
            assert_eq!(store.ban("nobody", 20).await.unwrap(), None);
            let banned = store.ban("ann", 20).await.unwrap();
            assert_eq!(banned, Some(("p1".to_owned(), "Ann".to_owned())));
            // Neither under their name nor another; and long after, nobody takes theirs.
            assert_eq!(
                store
                    .claim_name("p1", "Ann", "ann", 30, hold)
                    .await
                    .unwrap(),
                Claim::Banned
            );
            assert_eq!(
                store.claim_name("p1", "x", "x", 30, hold).await.unwrap(),
                Claim::Banned
            );
            assert_eq!(
                store
                    .claim_name("p2", "ann", "ann", 1_000_000, hold)
                    .await
                    .unwrap(),
                Claim::Taken
            );
            // Lifted: theirs again, held from then on.
            assert_eq!(
                store.unban("ann", 2_000_000).await.unwrap().as_deref(),
                Some("Ann")
            );
            assert_eq!(
                store
                    .claim_name("p2", "ann", "ann", 2_000_500, hold)
                    .await
                    .unwrap(),
                Claim::Taken
            );
            assert_eq!(
                store
                    .claim_name("p1", "Ann", "ann", 2_000_600, hold)
                    .await
                    .unwrap(),
                Claim::Granted
            );
        }
    }

    /// The writer's own connection joins the in-memory database the pool shares.
    #[tokio::test]
    async fn an_in_memory_store_reads_what_its_writer_stored() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        store.insert(msg("kept", None)).await.unwrap();
        let all = store.latest("lobby", 10).await.unwrap();
        assert_eq!(
            all.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["kept"]
        );
    }

    #[tokio::test]
    async fn a_checkpoint_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = Store::open(&url).await.unwrap();
        for n in 0..20 {
            store
                .insert(msg(&format!("m{n}"), Some(&format!("k{n}"))))
                .await
                .unwrap();
        }
        let (frames, copied) = store.checkpoint().await.unwrap().unwrap();
        assert!(frames > 0, "the inserts are in the WAL");
        assert_eq!(copied, frames, "nobody else reads or writes: all of it");
        store.close().await;
    }

    #[tokio::test]
    async fn survives_reopen_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::open(&url).await.unwrap();
        store.insert(msg("kept", Some("k"))).await.unwrap();
        let Pool::Sqlite { pool, .. } = &store.pool else {
            unreachable!("a SQLite store")
        };
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
        // Both kinds of connection checkpoint at the same, raised mark: a connection left at
        // SQLite's default would checkpoint in its commits.
        let (pooled,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
            .fetch_one(pool)
            .await
            .unwrap();
        let WriterConnection::Sqlite(writer) = store.writer_connection().await.unwrap() else {
            unreachable!("a SQLite store")
        };
        let writer = writer.pragma("wal_autocheckpoint").unwrap();
        let mark = i64::from(WAL_AUTOCHECKPOINT);
        assert_eq!((pooled, writer), (mark, mark));
        store.close().await;
        let store = Store::open(&url).await.unwrap();
        let all = store.latest("lobby", 10).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].text, "kept");
    }

    #[tokio::test]
    async fn kinds_read_back_as_written_and_an_unknown_one_is_an_error() {
        for (_dir, store) in stores().await {
            let kinds = [
                None,
                Some(MessageKind::Announcement),
                Some(MessageKind::Joined),
                Some(MessageKind::Left),
                Some(MessageKind::Deleted),
                Some(MessageKind::Bot),
            ];
            for (i, kind) in kinds.into_iter().enumerate() {
                let offset = format!("k{i}");
                let written = store
                    .insert(NewMessage {
                        kind,
                        ..msg("x", Some(&offset))
                    })
                    .await
                    .unwrap();
                assert_eq!(written.message.kind, kind);
                // Read back by the pool's connections and by the writer's (a retry of the offset).
                let pooled = store.latest("lobby", 1).await.unwrap();
                assert_eq!(pooled[0].kind, kind);
                let again = store.insert(msg("x", Some(&offset))).await.unwrap();
                assert_eq!((again.created, again.message.kind), (false, kind));
            }
            store
                .sql("UPDATE messages SET kind = 'edited' WHERE client_offset = 'k0'")
                .await;
            assert!(matches!(
                store.latest("lobby", 10).await,
                Err(StoreError(Failure::Sqlx(sqlx::Error::ColumnDecode { .. })))
            ));
            assert!(store.try_insert(msg("x", Some("k0"))).await.is_err());
        }
    }

    #[test]
    fn room_kinds_read_back_as_written_and_an_unknown_one_is_an_error() {
        for kind in [RoomKind::Room, RoomKind::Dm] {
            assert_eq!(room_kind_of(room_kind_column(kind)).unwrap(), kind);
        }
        assert!(room_kind_of("channel").is_err());
    }

    #[tokio::test]
    async fn a_lapsed_holder_keeps_the_name_until_the_caller_evicts_them() {
        for (_dir, store) in stores().await {
            let hold = 1_000;
            let claim = |person: &str, now, evict: Option<&str>| Change::ClaimName {
                person: person.to_owned(),
                name: "Ann".to_owned(),
                name_key: "ann".to_owned(),
                now,
                hold_ms: hold,
                evict: evict.map(str::to_owned),
            };
            let granted = Outcome::Claim(Claim::Granted);
            let taken = Outcome::Claim(Claim::Taken);
            assert_eq!(store.change(claim("p1", 10, None)).await.unwrap(), granted);
            assert_eq!(store.change(claim("p2", 500, None)).await.unwrap(), taken);
            // Lapsed, but perhaps still connected: the caller is asked, and nothing changes.
            let lapsed = Outcome::Claim(Claim::Lapsed {
                holder: "p1".to_owned(),
            });
            assert_eq!(
                store.change(claim("p2", 5_000, None)).await.unwrap(),
                lapsed
            );
            let wrong = claim("p2", 5_000, Some("p3"));
            assert_eq!(store.change(wrong).await.unwrap(), lapsed);
            let evicting = claim("p2", 5_000, Some("p1"));
            assert_eq!(store.change(evicting).await.unwrap(), granted);
            assert_eq!(store.change(claim("p1", 5_100, None)).await.unwrap(), taken);
        }
    }

    #[tokio::test]
    async fn a_failed_change_is_undone_alone_and_callers_hear_after_the_commit() {
        use crate::store::write::Pending;
        use std::sync::{Arc, Mutex};
        for (_dir, store) in stores().await {
            let heard = Arc::new(Mutex::new(Vec::new()));
            let add = |room: &'static str, sql: &'static str| {
                let heard = heard.clone();
                Pending::new(Change::Sql(sql), move |outcome| {
                    let told = if outcome.is_ok() { "made" } else { "failed" };
                    heard.lock().unwrap().push(format!("{room} {told}"));
                })
            };
            let changes = vec![
                add(
                    "a",
                    "INSERT INTO rooms (name, kind, created_at) VALUES ('a', 'room', 1)",
                ),
                add(
                    "b",
                    "INSERT INTO rooms (name, kind, created_at) VALUES ('b', 'room', 1);
                     INSERT INTO nowhere VALUES (1)",
                ),
                add(
                    "c",
                    "INSERT INTO rooms (name, kind, created_at) VALUES ('c', 'room', 1)",
                ),
            ];
            let mut conn = store.writer_connection().await.unwrap();
            let written = conn.write(changes, &[msg("after", None)]).await.unwrap();
            assert!(heard.lock().unwrap().is_empty(), "nobody hears before");
            for tell in written.told {
                tell();
            }
            assert_eq!(*heard.lock().unwrap(), ["a made", "b failed", "c made"]);
            assert!(written.outcomes[0].is_ok(), "the batch's message is stored");
            let rooms = store.public_rooms().await.unwrap();
            assert_eq!(rooms, ["a", "c", "lobby"]);
        }
    }

    /// Two nodes' writers on one Postgres database, posting to the same rooms at once, and
    /// retrying each other's offsets: each room's seqs stay gapless and unique, and each
    /// offset is stored once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_writers_on_one_postgres_number_rooms_without_holes_or_doubles() {
        let url = services::database();
        let store = Store::open(&url).await.unwrap();
        let second = Store::open(&url).await.unwrap();
        for room in ["r1", "r2", "r3"] {
            store.create_room(room, "p-ann", 1).await.unwrap();
        }
        const BATCHES: usize = 40;
        let node = |store: Store, node: usize| {
            tokio::spawn(async move {
                let mut conn = store.writer_connection().await.unwrap();
                let mut ids = Vec::new();
                for b in 0..BATCHES {
                    let texts: Vec<String> = (0..6).map(|i| format!("n{node} b{b} m{i}")).collect();
                    // Offsets shared by both nodes: the same message, retried on the other node.
                    let offsets: Vec<String> = (0..6).map(|i| format!("o{b}-{i}")).collect();
                    let batch: Vec<NewMessage> = (0..6)
                        .map(|i| NewMessage {
                            room: ["r1", "r2", "r3"][(i + b) % 3],
                            author: "ann",
                            text: if i % 2 == 0 { "shared" } else { &texts[i] },
                            client_offset: (i % 2 == 0).then_some(offsets[i].as_str()),
                            sender: Some("p-ann"),
                            kind: None,
                            ..Default::default()
                        })
                        .collect();
                    for outcome in conn.insert_batch(&batch).await.unwrap() {
                        ids.push(outcome.unwrap().message.id);
                    }
                }
                ids
            })
        };
        let (a, b) = (node(store.clone(), 1), node(second, 2));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!(a.len() + b.len(), 2 * BATCHES * 6);
        let mut total = 0;
        for room in ["r1", "r2", "r3"] {
            let all = store.latest(room, 10_000).await.unwrap();
            let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
            let expected: Vec<i64> = (1..=all.len() as i64).collect();
            assert_eq!(seqs, expected, "{room}: gapless, unique, in id order");
            total += all.len();
        }
        // Per node and batch: three shared messages (stored once), three of its own.
        assert_eq!(total, BATCHES * 3 + 2 * BATCHES * 3);
        let mut shared: Vec<i64> = a.iter().chain(&b).copied().collect();
        shared.sort_unstable();
        shared.dedup();
        assert_eq!(
            shared.len(),
            total,
            "a retried offset gets the stored message's id"
        );
    }

    #[tokio::test]
    async fn nodes_on_one_postgres_share_their_settings_and_sqlite_keeps_its_own() {
        let url = services::database();
        let first = Store::open(&url).await.unwrap();
        let second = Store::open(&url).await.unwrap();
        let made = first.shared_setting("secret", "one").await.unwrap();
        let found = second.shared_setting("secret", "two").await.unwrap();
        assert_eq!(
            (made.as_deref(), found.as_deref()),
            (Some("one"), Some("one"))
        );
        let (_dir, sqlite) = open_temp().await;
        assert_eq!(sqlite.shared_setting("secret", "x").await.unwrap(), None);
        assert_eq!(sqlite.backend(), Backend::Sqlite);
        assert_eq!(first.backend(), Backend::Postgres);
    }

    #[tokio::test]
    async fn an_unreachable_postgres_is_a_clear_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://palaver:hunter2@127.0.0.1:{port}/palaver");
        let e = Store::open(&url).await.unwrap_err().to_string();
        assert!(e.contains("cannot reach the database"), "{e}");
        assert!(
            !e.contains("hunter2"),
            "the password stays out of messages: {e}"
        );
    }
}
