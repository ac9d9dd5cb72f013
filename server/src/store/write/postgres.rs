//! The writer's connection to Postgres, which several nodes may write to at once.
//!
//! Each room's `seq` is numbered under a lock on the room's row, taken for every room of the
//! batch in name order before its messages are numbered: two nodes posting to one room take
//! turns, and a room's numbers stay gapless and unique. A per-room `SEQUENCE` would leave a
//! hole for every rolled-back batch. Lock waits across nodes can still deadlock (a change's
//! trigger locks a room's row too); Postgres then aborts one batch, and it is tried again.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError};
use sqlx::{Connection as _, Executor as _};
use tracing::warn;

use app::events::LOBBY;

use crate::store::uploads;
use crate::store::write::{
    Change, Joining, Outcome, Pending, Written, postgres_import, postgres_messages, repeat,
};
use crate::store::{
    COLUMNS, Claim, ImportBatch, ImportOutcome, Inserted, NewMessage, OffsetInUse, StoreError,
    StoredMessage, message_kind_column, now_ms,
};

/// How often a batch is tried when Postgres aborts it for a conflict with another node's.
const ATTEMPTS: usize = 4;
/// The longest a statement of the writer's may run (Postgres's `statement_timeout`).
const STATEMENT_TIMEOUT: &str = "10s";

pub(crate) struct PostgresWriter {
    conn: PgConnection,
}

impl PostgresWriter {
    /// Connects within `within`: the writer's posts wait meanwhile. Each of its statements
    /// may take [`STATEMENT_TIMEOUT`] at most, so that a database that stops answering fails
    /// the batch (answered `unavailable`) rather than holding every post.
    pub(crate) async fn open(
        options: &PgConnectOptions,
        within: std::time::Duration,
    ) -> Result<PostgresWriter, StoreError> {
        // Custom plans: a generic plan of the batch's statements guesses its arrays' sizes,
        // and guessed wrong it cost Postgres twice the CPU per message (BENCHMARKS.md).
        let options = options.clone().options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            ("plan_cache_mode", "force_custom_plan"),
        ]);
        let conn = tokio::time::timeout(within, PgConnection::connect_with(&options))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(PostgresWriter { conn })
    }

    /// See [`crate::store::write::WriterConnection::write`].
    pub(crate) async fn write(
        &mut self,
        changes: Vec<Pending>,
        messages: &[NewMessage<'_>],
        mentions: &[&[String]],
    ) -> Result<Written, StoreError> {
        let mut attempt = 1;
        // The changes alone: their callers' `tell`s need not be shareable across threads.
        let what: Vec<&Change> = changes.iter().map(|p| &p.change).collect();
        loop {
            match self.try_write(&what, messages, mentions).await {
                Ok((made, outcomes)) => {
                    let told = changes
                        .into_iter()
                        .zip(made)
                        .map(|(pending, outcome)| pending.told(outcome))
                        .collect();
                    return Ok(Written { told, outcomes });
                }
                Err(e) if attempt < ATTEMPTS && is_conflict(&e) => {
                    warn!(attempt, error = %e, "a batch met another node's; trying it again");
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// See [`crate::store::write::WriterConnection::import`].
    pub(crate) async fn import(
        &mut self,
        batch: &ImportBatch,
    ) -> Result<ImportOutcome, StoreError> {
        let mut attempt = 1;
        loop {
            let tried = async {
                let mut tx = self.conn.begin().await?;
                let outcome = postgres_import::import(&mut tx, batch).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(outcome)
            };
            match tried.await {
                Ok(outcome) => return Ok(outcome),
                Err(e) if attempt < ATTEMPTS && is_conflict(&e) => {
                    warn!(attempt, error = %e, "an import batch met another node's; trying it again");
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn try_write(
        &mut self,
        changes: &[&Change],
        messages: &[NewMessage<'_>],
        mentions: &[&[String]],
    ) -> Result<
        (
            Vec<Result<Outcome, StoreError>>,
            Vec<Result<Inserted, OffsetInUse>>,
        ),
        sqlx::Error,
    > {
        let mut tx = self.conn.begin().await?;
        let mut made = Vec::with_capacity(changes.len());
        for change in changes {
            tx.execute("SAVEPOINT change").await?;
            match make(&mut tx, change).await {
                Ok(outcome) => {
                    tx.execute("RELEASE SAVEPOINT change").await?;
                    made.push(Ok(outcome));
                }
                Err(e) if is_conflict(&e) => return Err(e),
                Err(e) => {
                    tx.execute("ROLLBACK TO SAVEPOINT change").await?;
                    made.push(Err(e.into()));
                }
            }
        }
        let outcomes = if messages.is_empty() {
            Vec::new()
        } else {
            insert(&mut tx, messages).await?
        };
        store_mentions(&mut tx, &outcomes, mentions).await?;
        tx.commit().await?;
        Ok((made, outcomes))
    }
}

/// Whom each message stored now mentions (see [`crate::store::write::WriterConnection::write_posts`]).
async fn store_mentions(
    tx: &mut PgConnection,
    outcomes: &[Result<Inserted, OffsetInUse>],
    mentions: &[&[String]],
) -> Result<(), sqlx::Error> {
    let (mut ids, mut people): (Vec<i64>, Vec<&str>) = (Vec::new(), Vec::new());
    for (outcome, mentioned) in outcomes.iter().zip(mentions) {
        if let Ok(Inserted {
            message,
            created: true,
        }) = outcome
        {
            for person in mentioned.iter() {
                ids.push(message.id);
                people.push(person);
            }
        }
    }
    if !ids.is_empty() {
        sqlx::query(
            "INSERT INTO mentions (message, person)
             SELECT * FROM UNNEST($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .bind(&people)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn insert(
    tx: &mut PgConnection,
    messages: &[NewMessage<'_>],
) -> Result<Vec<Result<Inserted, OffsetInUse>>, sqlx::Error> {
    let mut rooms: Vec<&str> = messages.iter().map(|m| m.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    // In name order, so that two batches lock their rooms in the same order.
    sqlx::query("SELECT name FROM rooms WHERE name = ANY($1) ORDER BY name FOR UPDATE")
        .bind(&rooms)
        .execute(&mut *tx)
        .await?;
    // A statement of its own, after the locks: it sees what the batch that held them committed.
    let newest: Vec<(String, i64)> = sqlx::query_as(
        "SELECT r, COALESCE((SELECT MAX(seq) FROM messages WHERE room = r), 0)
         FROM UNNEST($1::text[]) AS r",
    )
    .bind(&rooms)
    .fetch_all(&mut *tx)
    .await?;
    let mut seqs: HashMap<String, i64> = newest.into_iter().collect();

    // Offsets stored before, by this node or another.
    let (senders, offsets): (Vec<&str>, Vec<&str>) = messages
        .iter()
        .filter_map(|m| m.sender.zip(m.client_offset))
        .unzip();
    let mut stored: HashMap<(String, String), StoredMessage> = HashMap::new();
    if !senders.is_empty() {
        let found: Vec<(String, StoredMessage)> = sqlx::query_as::<_, SenderAndMessage>(&format!(
            "SELECT sender, {COLUMNS} FROM messages
             WHERE (sender, client_offset) IN
                   (SELECT * FROM UNNEST($1::text[], $2::text[]))"
        ))
        .bind(&senders)
        .bind(&offsets)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.sender, r.message))
        .collect();
        for (sender, m) in found {
            let offset = m.client_offset.clone().unwrap_or_default();
            stored.insert((sender, offset), m);
        }
    }

    let created_at = now_ms();
    let mut outcomes: Vec<Result<Inserted, OffsetInUse>> = Vec::with_capacity(messages.len());
    // The batch's earlier message under a sender's offset.
    let mut earlier: HashMap<(&str, &str), usize> = HashMap::new();
    let mut new = NewRows::default();
    for m in messages {
        let key = m.sender.zip(m.client_offset);
        if let Some(key) = key {
            if let Some(&i) = earlier.get(&key) {
                outcomes.push(match &outcomes[i] {
                    Ok(first) => repeat(first.message.clone(), m),
                    Err(e) => Err(*e),
                });
                continue;
            }
            if let Some(before) = stored.get(&(key.0.to_owned(), key.1.to_owned())) {
                let outcome = repeat(before.clone(), m);
                if outcome.is_ok() {
                    earlier.insert(key, outcomes.len());
                }
                outcomes.push(outcome);
                continue;
            }
            earlier.insert(key, outcomes.len());
        }
        let seq = match seqs.entry(m.room.to_owned()) {
            Entry::Occupied(seq) => seq.into_mut(),
            Entry::Vacant(seq) => seq.insert(0),
        };
        *seq += 1;
        new.push(m, created_at, *seq, outcomes.len());
        outcomes.push(Ok(Inserted {
            message: StoredMessage {
                id: 0,
                room: m.room.to_owned(),
                author: m.author.to_owned(),
                text: m.text.to_owned(),
                client_offset: m.client_offset.map(str::to_owned),
                created_at,
                seq: *seq,
                kind: m.kind,
                reply: m.reply.cloned(),
                ..StoredMessage::default()
            },
            created: true,
        }));
    }
    if !new.at.is_empty() {
        // One statement for the batch; a clash with another node's offset aborts it, and the
        // batch's next attempt finds that node's message.
        let ids: Vec<(i64, String, i64)> = sqlx::query_as(
            "INSERT INTO messages
                 (room, author, text, client_offset, created_at, kind, seq, sender, reply_to)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                                  $6::text[], $7::int8[], $8::text[], $9::int8[])
             RETURNING id, room, seq",
        )
        .bind(&new.room)
        .bind(&new.author)
        .bind(&new.text)
        .bind(&new.offset)
        .bind(&new.created_at)
        .bind(&new.kind)
        .bind(&new.seq)
        .bind(&new.sender)
        .bind(&new.reply_to)
        .fetch_all(&mut *tx)
        .await?;
        let place: HashMap<(String, i64), i64> = ids
            .into_iter()
            .map(|(id, room, seq)| ((room, seq), id))
            .collect();
        for (i, m) in new.at.into_iter().zip(new.messages) {
            if let Ok(inserted) = &mut outcomes[i] {
                let stored = &mut inserted.message;
                stored.id = place
                    .get(&(stored.room.clone(), stored.seq))
                    .copied()
                    .ok_or_else(|| sqlx::Error::RowNotFound)?;
                stored.files = attach(&mut *tx, m, stored.id).await?;
            }
        }
    }
    Ok(outcomes)
}

/// Attaches `m`'s files to it, message `id`: those still its sender's to attach, in order.
async fn attach(
    tx: &mut PgConnection,
    m: &NewMessage<'_>,
    id: i64,
) -> Result<Vec<app::events::FileInfo>, sqlx::Error> {
    let (Some(sender), false) = (m.sender, m.files.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::with_capacity(m.files.len());
    for &file in m.files {
        let row: Option<(i64, String, i64, String, String)> = sqlx::query_as(uploads::ATTACH)
            .bind(m.room)
            .bind(id)
            .bind(file)
            .bind(sender)
            .fetch_optional(&mut *tx)
            .await?;
        files.extend(row.map(|(id, name, bytes, kind, thumb)| {
            uploads::file_info(id, name, bytes, kind, &thumb)
        }));
    }
    Ok(files)
}

/// The new rows of a batch, column by column, for one `INSERT … SELECT FROM UNNEST`.
#[derive(Default)]
struct NewRows<'a, 'b> {
    room: Vec<&'a str>,
    author: Vec<&'a str>,
    text: Vec<&'a str>,
    offset: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    kind: Vec<Option<&'static str>>,
    seq: Vec<i64>,
    sender: Vec<Option<&'a str>>,
    reply_to: Vec<Option<i64>>,
    /// Each row's place among the batch's outcomes.
    at: Vec<usize>,
    /// Each row's message, for its files.
    messages: Vec<&'b NewMessage<'a>>,
}

impl<'a, 'b> NewRows<'a, 'b> {
    fn push(&mut self, m: &'b NewMessage<'a>, created_at: i64, seq: i64, at: usize) {
        self.room.push(m.room);
        self.author.push(m.author);
        self.text.push(m.text);
        self.offset.push(m.client_offset);
        self.created_at.push(created_at);
        self.kind.push(m.kind.map(message_kind_column));
        self.seq.push(seq);
        self.sender.push(m.sender);
        self.reply_to.push(m.reply.map(|r| r.id));
        self.at.push(at);
        self.messages.push(m);
    }
}

/// A row read one column to the right.
struct Shifted<'r>(&'r sqlx::postgres::PgRow);

impl Shifted<'_> {
    fn try_get<'a, T>(&'a self, i: usize) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        use sqlx::Row as _;
        self.0.try_get(i + 1)
    }
}

struct SenderAndMessage {
    sender: String,
    message: StoredMessage,
}

impl sqlx::FromRow<'_, sqlx::postgres::PgRow> for SenderAndMessage {
    fn from_row(row: &sqlx::postgres::PgRow) -> Result<SenderAndMessage, sqlx::Error> {
        use sqlx::Row as _;
        let sender = row.try_get(0)?;
        let kind = crate::store::message_kind_of(row.try_get(8)?)?;
        // The message's columns follow the sender's.
        let shifted = Shifted(row);
        Ok(SenderAndMessage {
            sender,
            message: crate::store::stored_message!(shifted, try_get, kind),
        })
    }
}

/// Whether Postgres aborted the statement for a conflict with another transaction (a
/// deadlock, a serialization failure, or a unique key another node took meanwhile): the whole
/// batch may be tried again.
fn is_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
        .is_some_and(|d| matches!(d.code(), "40P01" | "40001" | "23505"))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Makes `change` on `c`, as [`crate::store::write::sqlite_changes`] does on SQLite.
async fn make(c: &mut PgConnection, change: &Change) -> Result<Outcome, sqlx::Error> {
    Ok(match change {
        Change::ClaimName {
            person,
            name,
            name_key,
            now,
            hold_ms,
            evict,
        } => Outcome::Claim(
            claim_name(c, person, name, name_key, *now, *hold_ms, evict.as_deref()).await?,
        ),
        Change::TouchPerson { person, now } => {
            sqlx::query("UPDATE people SET last_seen = GREATEST(last_seen, $1) WHERE person = $2")
                .bind(now)
                .bind(person)
                .execute(&mut *c)
                .await?;
            Outcome::Done
        }
        Change::CreateRoom {
            name,
            person,
            now,
            private,
        } => {
            let created = sqlx::query(
                "INSERT INTO rooms (name, kind, created_by, created_at, is_private)
                 VALUES ($1, 'room', $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(person)
            .bind(now)
            .bind(private)
            .execute(&mut *c)
            .await?
            .rows_affected()
                == 1;
            if created {
                join(c, name, person, *now).await?;
            }
            Outcome::Made(created)
        }
        Change::Join { room, person, now } => Outcome::Made(join(c, room, person, *now).await?),
        Change::JoinPublic { room, person, now } => {
            let public = sqlx::query(
                "SELECT 1 FROM rooms WHERE name = $1 AND kind = 'room'
                   AND (NOT is_private
                        OR EXISTS (SELECT 1 FROM members WHERE room = $1 AND person = $2))",
            )
            .bind(room)
            .bind(person)
            .fetch_optional(&mut *c)
            .await?
            .is_some();
            Outcome::Public(if !public {
                Joining::NoRoom
            } else if !join(c, room, person, *now).await? {
                Joining::AlreadyIn
            } else {
                // The newcomer's entry: their read marker is the room's head.
                Joining::Joined(Box::new(
                    sqlx::query_as(
                        "SELECT r.name, r.kind, r.members, TRUE AS joined,
                                m.read_seq AS last_seq, 0::BIGINT AS unread, NULL::TEXT AS peer,
                                r.is_private, r.listed, r.posting, r.created_by
                         FROM rooms r JOIN members m ON m.room = r.name AND m.person = $2
                         WHERE r.name = $1",
                    )
                    .bind(room)
                    .bind(person)
                    .fetch_one(&mut *c)
                    .await?,
                ))
            })
        }
        Change::Leave { room, person } => Outcome::Made(
            sqlx::query("DELETE FROM members WHERE room = $1 AND person = $2")
                .bind(room)
                .bind(person)
                .execute(&mut *c)
                .await?
                .rows_affected()
                == 1,
        ),
        Change::OpenDm { name, a, b, now } => {
            sqlx::query(
                "INSERT INTO rooms (name, kind, created_by, created_at) VALUES ($1, 'dm', $2, $3)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(a)
            .bind(now)
            .execute(&mut *c)
            .await?;
            join(&mut *c, name, a, *now).await?;
            sqlx::query(
                "UPDATE members SET invited = 0 WHERE room = $1 AND person = $2 AND invited = 1",
            )
            .bind(name)
            .bind(a)
            .execute(&mut *c)
            .await?;
            if b != a {
                sqlx::query(
                    "INSERT INTO members (room, person, joined_at, read_seq, invited)
                     VALUES ($1, $2, $3, 0, 1)
                     ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(b)
                .bind(now)
                .execute(&mut *c)
                .await?;
            }
            Outcome::Done
        }
        Change::MarkRead { room, person, seq } => {
            sqlx::query(
                "UPDATE members
                 SET read_seq = GREATEST(read_seq, LEAST($1,
                     (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = $2)))
                 WHERE room = $2 AND person = $3",
            )
            .bind(seq)
            .bind(room)
            .bind(person)
            .execute(&mut *c)
            .await?;
            Outcome::Done
        }
        Change::EditMessage {
            room,
            id,
            person,
            text,
            mentions,
            now,
        } => Outcome::Message(
            postgres_messages::edit(c, room, *id, person, text, mentions, *now).await?,
        ),
        Change::DeleteMessage {
            id,
            scope,
            author,
            now,
        } => Outcome::Message(
            postgres_messages::delete(c, scope, *id, author.as_deref(), *now).await?,
        ),
        Change::React {
            room,
            id,
            person,
            emoji,
            on,
            now,
        } => Outcome::Message(
            postgres_messages::react(c, room, *id, person, emoji, *on, *now).await?,
        ),
        #[cfg(test)]
        Change::Sql(sql) => {
            c.execute(*sql).await?;
            Outcome::Done
        }
    })
}

async fn claim_name(
    c: &mut PgConnection,
    person: &str,
    name: &str,
    name_key: &str,
    now: i64,
    hold_ms: i64,
    evict: Option<&str>,
) -> Result<Claim, sqlx::Error> {
    let banned = sqlx::query("SELECT 1 FROM people WHERE person = $1 AND banned_at IS NOT NULL")
        .bind(person)
        .fetch_optional(&mut *c)
        .await?
        .is_some();
    if banned {
        return Ok(Claim::Banned);
    }
    let lapsed: Option<(String,)> = sqlx::query_as(
        "SELECT person FROM people
         WHERE name_key = $1 AND person != $2 AND last_seen < $3 AND banned_at IS NULL
           AND password_hash IS NULL",
    )
    .bind(name_key)
    .bind(person)
    .bind(now.saturating_sub(hold_ms))
    .fetch_optional(&mut *c)
    .await?;
    match lapsed {
        Some((holder,)) if evict == Some(holder.as_str()) => {
            sqlx::query("DELETE FROM people WHERE person = $1")
                .bind(&holder)
                .execute(&mut *c)
                .await?;
        }
        Some((holder,)) => return Ok(Claim::Lapsed { holder }),
        None => {}
    }
    // A savepoint of its own: a name another person holds fails the insert, which would
    // otherwise abort the change's whole savepoint before the answer "taken" is given.
    c.execute("SAVEPOINT claim").await?;
    let claimed = sqlx::query(
        "INSERT INTO people (person, name, name_key, last_seen) VALUES ($1, $2, $3, $4)
         ON CONFLICT (person) DO UPDATE
         SET name = excluded.name, name_key = excluded.name_key,
             last_seen = excluded.last_seen",
    )
    .bind(person)
    .bind(name)
    .bind(name_key)
    .bind(now)
    .execute(&mut *c)
    .await;
    match claimed {
        Ok(_) => {
            c.execute("RELEASE SAVEPOINT claim").await?;
        }
        Err(e) if is_unique_violation(&e) => {
            c.execute("ROLLBACK TO SAVEPOINT claim").await?;
            return Ok(Claim::Taken);
        }
        Err(e) => return Err(e),
    }
    sqlx::query(
        "INSERT INTO members (room, person, joined_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(LOBBY)
    .bind(person)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(Claim::Granted)
}

/// Adds `person` to `room`; false when they were in it already.
async fn join(
    c: &mut PgConnection,
    room: &str,
    person: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    // read_seq starts at the room's head: a newcomer has nothing unread.
    Ok(sqlx::query(
        "INSERT INTO members (room, person, joined_at, read_seq)
         VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = $1))
         ON CONFLICT DO NOTHING",
    )
    .bind(room)
    .bind(person)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected()
        == 1)
}
