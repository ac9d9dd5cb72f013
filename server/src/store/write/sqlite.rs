//! The writer's own SQLite connection, which stores batches of posts and changes.
//!
//! It is a plain blocking connection (rusqlite), called from the writer's thread, so that a
//! batch is one stretch of work on one thread. Through the pool's connections each statement
//! was a round trip to a worker thread, and with the server on one core every round trip
//! waited for the scheduler (about 1.5 ms for the first of each batch).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::time::Duration;

use app::events::RoomKind;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, Row, TransactionBehavior};

use crate::store::uploads;
use crate::store::write::{Pending, Written, repeat, sqlite_changes};
use crate::store::{
    COLUMNS, Head, IMPORT_SENDER, ImportBatch, ImportOutcome, Inserted, NewMessage, OffsetInUse,
    StoreError, StoredMessage, WAL_AUTOCHECKPOINT, message_kind_column, message_kind_of, now_ms,
    room_kind_column, stored_message,
};

pub(crate) struct SqliteWriter {
    conn: Connection,
    /// Each room's newest seq as this connection stored it, so that a batch need not look it
    /// up with a query per room. Trusted only while `data_version` says that no other
    /// connection has committed since.
    newest: HashMap<String, i64>,
    /// `PRAGMA data_version` when `newest` was last right. It changes when another connection
    /// (the pool's, or another process's) commits, and not for this connection's own commits.
    data_version: i64,
}

/// Rooms whose newest seq is remembered at most; beyond it the memory starts afresh.
const REMEMBERED_ROOMS: usize = 10_000;

/// How long the writer waits for another connection's write lock before its batch fails.
const LOCK_PATIENCE: Duration = Duration::from_secs(5);
/// The writer's first tries at a locked database are this far apart, then [`LONG_WAIT`].
/// The pool's writes (a job's progress, a webhook's delivery queued) hold the lock for a
/// moment; SQLite's own handler (`busy_timeout`) sleeps 1, 2, 5, 10… up to 100 ms between
/// tries, so each such moment cost the writer, and every post waiting on it, up to tens of
/// milliseconds more than the lock was held.
const SHORT_WAIT: Duration = Duration::from_micros(100);
const SHORT_WAITS: u32 = 50;
const LONG_WAIT: Duration = Duration::from_millis(1);

/// How long to wait before the writer's `attempt`-th try (from 0) at a locked database, or
/// `None` when [`LOCK_PATIENCE`] is spent.
fn lock_wait(attempt: i32) -> Option<Duration> {
    let attempt = u32::try_from(attempt).ok()?;
    let (spent, wait) = match attempt.checked_sub(SHORT_WAITS) {
        None => (SHORT_WAIT * attempt, SHORT_WAIT),
        Some(long) => (SHORT_WAIT * SHORT_WAITS + LONG_WAIT * long, LONG_WAIT),
    };
    (spent < LOCK_PATIENCE).then_some(wait)
}

/// The writer's busy handler: waits [`lock_wait`], then tries again.
fn retry_locked(attempt: i32) -> bool {
    match lock_wait(attempt) {
        Some(wait) => {
            std::thread::sleep(wait);
            true
        }
        None => false,
    }
}

impl SqliteWriter {
    /// A pragma's value on this connection, for tests of its settings.
    #[cfg(test)]
    pub(crate) fn pragma(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.conn.pragma_query_value(None, name, |r| r.get(0))?)
    }

    /// Opens the database that [`crate::store::Store::open`] created and migrated: its file,
    /// or the in-memory database its pool shares.
    pub(crate) fn open(path: &Path, in_memory: bool) -> Result<SqliteWriter, StoreError> {
        let conn = if in_memory {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_MEMORY
                    | OpenFlags::SQLITE_OPEN_SHARED_CACHE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?
        } else {
            Connection::open(path)?
        };
        conn.busy_handler(Some(retry_locked))?;
        // FULL: a commit is fsynced before it returns, so an acknowledged message survives a
        // crash of the machine. WAL is a property of the file, set when the store opened it.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Temporary tables and statement journals in memory: on disk, each was a file created
        // and unlinked in /var/tmp for every batch.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)?;
        Ok(SqliteWriter {
            conn,
            newest: HashMap::new(),
            data_version: 0,
        })
    }

    /// See [`crate::store::write::WriterConnection::write`]: each change in a savepoint of its
    /// own so that one that fails is undone alone, and everything in one transaction, so that
    /// it shares one commit (and its fsync).
    ///
    /// Callers must not insert concurrently: seqs are computed here, from each room's newest,
    /// and the unique (room, seq) index turns a race into an error rather than a hole.
    pub(crate) fn write(
        &mut self,
        changes: Vec<Pending>,
        messages: &[NewMessage<'_>],
        mentions: &[&[String]],
    ) -> Result<Written, StoreError> {
        // IMMEDIATE: take the write lock now. A deferred transaction reads first, and in WAL
        // mode its upgrade to a writer fails at once ("database is locked", no busy wait) if
        // another connection committed meanwhile, as an admin's deletion or ban may.
        let SqliteWriter {
            conn,
            newest,
            data_version,
        } = self;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut told = Vec::with_capacity(changes.len());
        for pending in changes {
            let savepoint = tx.savepoint()?;
            let outcome = sqlite_changes::make(&savepoint, &pending.change);
            if outcome.is_ok() {
                savepoint.commit()?;
            }
            // Otherwise dropped, which rolls the savepoint back.
            told.push(pending.told(outcome.map_err(Into::into)));
        }
        // Read under the write lock: nobody else commits until this transaction ends.
        let version: i64 = tx
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if version != *data_version || newest.len() > REMEMBERED_ROOMS {
            newest.clear();
        }
        let created_at = now_ms();
        let mut outcomes: Vec<Result<Inserted, OffsetInUse>> = Vec::with_capacity(messages.len());
        // Each room's newest seq, as this batch moves it on.
        let mut seqs: HashMap<&str, i64> = HashMap::new();
        {
            let mut by_offset = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages WHERE sender = ?1 AND client_offset = ?2"
            ))?;
            let mut newest_seq =
                tx.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = ?1")?;
            // No `RETURNING id`: it made each insert a statement of its own kind, with a
            // statement journal (a copy of every page it touched) and a temporary table for
            // the returned row; `last_insert_rowid` gives the id for nothing. A stored offset is
            // found by the insert's own uniqueness check, not by a lookup before every insert.
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages
                     (room, author, text, client_offset, created_at, kind, seq, sender, reply_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (client_offset, sender) DO NOTHING",
            )?;
            // The batch's earlier message under a sender's offset, when it stored or found one.
            let mut earlier: HashMap<(&str, &str), usize> = HashMap::new();
            for m in messages {
                let key = m.sender.zip(m.client_offset);
                if let Some(&i) = key.and_then(|key| earlier.get(&key)) {
                    outcomes.push(match &outcomes[i] {
                        Ok(first) => repeat(first.message.clone(), m),
                        Err(e) => Err(*e),
                    });
                    continue;
                }
                let seq = match seqs.entry(m.room) {
                    Entry::Occupied(seq) => seq.into_mut(),
                    Entry::Vacant(seq) => seq.insert(match newest.get(m.room) {
                        Some(&known) => known,
                        None => newest_seq.query_row([m.room], |r| r.get(0))?,
                    }),
                };
                let inserted = insert.execute((
                    m.room,
                    m.author,
                    m.text,
                    m.client_offset,
                    created_at,
                    m.kind.map(message_kind_column),
                    *seq + 1,
                    m.sender,
                    m.reply.map(|r| r.id),
                ))?;
                if let Some(key) = key {
                    if inserted == 0 {
                        // Only the offset can conflict: a (room, seq) clash is an error.
                        let stored = by_offset.query_row(key, message_of)?;
                        let outcome = repeat(stored, m);
                        if outcome.is_ok() {
                            earlier.insert(key, outcomes.len());
                        }
                        outcomes.push(outcome);
                        continue;
                    }
                    earlier.insert(key, outcomes.len());
                }
                *seq += 1;
                let id = tx.last_insert_rowid();
                let files = attach(&tx, m, id)?;
                outcomes.push(Ok(Inserted {
                    message: StoredMessage {
                        id,
                        room: m.room.to_owned(),
                        author: m.author.to_owned(),
                        text: m.text.to_owned(),
                        client_offset: m.client_offset.map(str::to_owned),
                        created_at,
                        seq: *seq,
                        kind: m.kind,
                        reply: m.reply.cloned(),
                        files,
                        ..StoredMessage::default()
                    },
                    created: true,
                }));
            }
        }
        store_mentions(&tx, &outcomes, mentions)?;
        tx.commit()?;
        // Remembered only once committed: a batch rolled back numbered nothing.
        *data_version = version;
        for (room, seq) in seqs {
            match newest.get_mut(room) {
                Some(known) => *known = seq,
                None => {
                    newest.insert(room.to_owned(), seq);
                }
            }
        }
        Ok(Written { told, outcomes })
    }
}

/// Whom each message stored now mentions (see [`crate::store::write::WriterConnection::write_posts`]).
fn store_mentions(
    tx: &Connection,
    outcomes: &[Result<Inserted, OffsetInUse>],
    mentions: &[&[String]],
) -> Result<(), StoreError> {
    for (outcome, people) in outcomes.iter().zip(mentions) {
        let Ok(Inserted {
            message,
            created: true,
        }) = outcome
        else {
            continue;
        };
        for person in people.iter() {
            tx.prepare_cached(
                "INSERT INTO mentions (message, person) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute((message.id, person))?;
        }
    }
    Ok(())
}

/// Attaches `m`'s files to it, message `id`: those still its sender's to attach, in order.
fn attach(
    tx: &rusqlite::Transaction<'_>,
    m: &NewMessage<'_>,
    id: i64,
) -> Result<Vec<app::events::FileInfo>, StoreError> {
    let (Some(sender), false) = (m.sender, m.files.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut attach = tx.prepare_cached(uploads::ATTACH)?;
    let mut files = Vec::with_capacity(m.files.len());
    for &file in m.files {
        let info = attach
            .query_row((m.room, id, file, sender), |r| {
                let thumbnail: String = r.get(4)?;
                Ok(uploads::file_info(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    &thumbnail,
                ))
            })
            .optional()?;
        files.extend(info);
    }
    Ok(files)
}

impl SqliteWriter {
    /// See [`crate::store::write::WriterConnection::import`]: one transaction, one statement
    /// per message, and no lookup of a repeated key (the insert's own uniqueness check finds
    /// it, and a repeat takes no seq).
    ///
    /// Its commit does not wait for the disk (`synchronous=NORMAL`): the writer holds the one
    /// write lock until its commit returns, and posts queued meanwhile would wait for the
    /// batch's fsync too. The importer flushes the WAL itself every few batches, off the
    /// writer ([`crate::store::Store::sync_wal`]), and so does the next commit that waits;
    /// until then a crash loses the latest batches, never the file's consistency, and the
    /// job run again stores them.
    pub(crate) fn import(&mut self, batch: &ImportBatch) -> Result<ImportOutcome, StoreError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let imported = self.import_in_transaction(batch);
        // Back for the posts, whatever became of the batch; an error here drops the
        // connection (the writer opens a new one, with FULL).
        let restored = self.conn.pragma_update(None, "synchronous", "FULL");
        let outcome = imported?;
        restored?;
        Ok(outcome)
    }

    fn import_in_transaction(&mut self, batch: &ImportBatch) -> Result<ImportOutcome, StoreError> {
        let SqliteWriter {
            conn,
            newest,
            data_version,
        } = self;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if version != *data_version || newest.len() > REMEMBERED_ROOMS {
            newest.clear();
        }
        let now = now_ms();
        let mut outcome = ImportOutcome::default();
        // Each room of the batch: where it stands, or `None` when its messages are refused.
        let mut rooms: HashMap<&str, Option<Head>> = HashMap::new();
        {
            let mut find =
                tx.prepare_cached("SELECT kind, created_by FROM rooms WHERE name = ?1")?;
            let mut create = tx.prepare_cached(
                "INSERT INTO rooms (name, kind, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut newest_seq =
                tx.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages
                     (room, author, text, client_offset, created_at, kind, seq, sender)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (client_offset, sender) DO NOTHING",
            )?;
            let public = room_kind_column(RoomKind::Room);
            for m in &batch.messages {
                let room = match rooms.entry(m.room.as_str()) {
                    Entry::Occupied(room) => room.into_mut(),
                    Entry::Vacant(room) => {
                        let found: Option<(String, Option<String>)> = find
                            .query_row([&m.room], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?;
                        let writable = match found {
                            None => {
                                create.execute((&m.room, public, &batch.importer, now))?;
                                outcome.rooms_created.push(m.room.clone());
                                true
                            }
                            Some((kind, by)) => {
                                kind == public
                                    && (batch.into_existing
                                        || by.as_deref() == Some(batch.importer.as_str()))
                            }
                        };
                        if !writable {
                            outcome.rooms_refused.push(m.room.clone());
                            room.insert(None)
                        } else {
                            let last_seq = match newest.get(&m.room) {
                                Some(&known) => known,
                                None => newest_seq.query_row([&m.room], |r| r.get(0))?,
                            };
                            room.insert(Some(Head {
                                room: m.room.clone(),
                                last_id: 0,
                                last_seq,
                            }))
                        }
                    }
                };
                let Some(head) = room else {
                    outcome.refused += 1;
                    continue;
                };
                let inserted = insert.execute((
                    &m.room,
                    &m.author,
                    &m.text,
                    &m.key,
                    m.created_at,
                    m.kind.map(message_kind_column),
                    head.last_seq + 1,
                    IMPORT_SENDER,
                ))?;
                if inserted == 0 {
                    outcome.duplicates += 1;
                    continue;
                }
                head.last_seq += 1;
                head.last_id = tx.last_insert_rowid();
                outcome.stored += 1;
            }
        }
        tx.commit()?;
        *data_version = version;
        for head in rooms.into_values().flatten() {
            newest.insert(head.room.clone(), head.last_seq);
            if head.last_id != 0 {
                outcome.rooms_touched.push(head);
            }
        }
        // By name, as Postgres's are.
        outcome.rooms_touched.sort_by(|a, b| a.room.cmp(&b.room));
        outcome.rooms_created.sort_unstable();
        outcome.rooms_refused.sort_unstable();
        Ok(outcome)
    }
}

/// A row of [`COLUMNS`].
pub(crate) fn message_of(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let kind = message_kind_of(r.get_ref(7)?.as_str_or_null()?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(stored_message!(r, get, kind))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::Store;
    use crate::store::write::{Change, WriterConnection};

    #[test]
    fn a_locked_database_is_tried_again_often_for_as_long_as_before() {
        let waits: Vec<Duration> = (0..).map_while(lock_wait).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(1)));
        assert!(waits[..10].iter().all(|w| *w < Duration::from_millis(1)));
        let patience: Duration = waits.iter().sum();
        assert!(
            patience >= LOCK_PATIENCE - LONG_WAIT && patience <= LOCK_PATIENCE + LONG_WAIT,
            "{patience:?}"
        );
        assert_eq!(lock_wait(-1), None);
    }

    #[tokio::test]
    async fn the_writer_waits_for_another_connection_s_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let WriterConnection::Sqlite(mut writer) = store.writer_connection().await.unwrap() else {
            unreachable!("a SQLite store")
        };
        // Another connection holds the write lock until the writer is waiting on it.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (waiting, told) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            told.recv().unwrap();
            other.execute_batch("COMMIT").unwrap();
        });
        let (tell, heard) = std::sync::mpsc::channel();
        let add = Pending::new(
            Change::Sql("INSERT INTO rooms (name, kind, created_at) VALUES ('w', 'room', 1)"),
            move |o| tell.send(o.is_ok()).unwrap(),
        );
        // The writer's handler runs only once the writer meets the lock; it lets the holder go.
        writer
            .conn
            .busy_handler(Some(|attempt| {
                if attempt == 0 {
                    WAITING.with(|w| {
                        if let Some(w) = w.borrow_mut().take() {
                            let _ = w.send(());
                        }
                    });
                }
                retry_locked(attempt)
            }))
            .unwrap();
        WAITING.with(|w| *w.borrow_mut() = Some(waiting));
        let written = writer.write(vec![add], &[], &[]).unwrap();
        for tell in written.told {
            tell();
        }
        assert!(heard.recv().unwrap());
        holder.join().unwrap();
    }

    thread_local! {
        /// Told when the writer first finds the database locked (see the test above).
        static WAITING: std::cell::RefCell<Option<std::sync::mpsc::Sender<()>>> =
            const { std::cell::RefCell::new(None) };
    }

    #[tokio::test]
    async fn a_change_whose_batch_fails_is_reported_unwritten() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::open(&url).await.unwrap();
        let WriterConnection::Sqlite(mut conn) = store.writer_connection().await.unwrap() else {
            unreachable!("a SQLite store")
        };
        let heard = Arc::new(Mutex::new(Vec::new()));
        let heard_a = heard.clone();
        let add = Pending::new(
            Change::Sql("INSERT INTO rooms (name, kind, created_at) VALUES ('a', 'room', 1)"),
            move |o| heard_a.lock().unwrap().push(o.is_ok()),
        );
        // A change that ends the transaction under the batch's feet, as a failing disk would.
        let breaking = Pending::new(Change::Sql("ROLLBACK"), |_| {});
        assert!(conn.write(vec![add, breaking], &[], &[]).is_err());
        // Its `Told` was dropped uncalled: `Writer::change` turns that into `NotWritten`.
        assert!(heard.lock().unwrap().is_empty());
        let count: i64 = conn
            .conn
            .query_row("SELECT COUNT(*) FROM rooms WHERE name = 'a'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(count, 0);
    }
}
