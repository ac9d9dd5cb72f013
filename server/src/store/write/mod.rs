//! The writer's side of the store: batches of posts and changes, each batch one transaction
//! on the writer's own connection, whichever backend holds the data.
//!
//! A change is data ([`Change`]), not code, so that each backend makes it in its own SQL:
//! SQLite's on a blocking connection ([`sqlite`]), Postgres's on an async one ([`postgres`]).

pub(crate) mod postgres;
pub(crate) mod postgres_import;
pub(crate) mod postgres_messages;
pub(crate) mod sqlite;
pub(crate) mod sqlite_changes;
pub(crate) mod sqlite_messages;

use crate::store::{
    Claim, ImportBatch, ImportOutcome, Inserted, NewMessage, OffsetInUse, StoreError,
};

/// A change to people, rooms or memberships, made in the writer's next transaction. Each is
/// documented where SQLite makes it ([`sqlite_changes`]); Postgres makes the same.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    ClaimName {
        person: String,
        name: String,
        name_key: String,
        now: i64,
        hold_ms: i64,
        evict: Option<String>,
    },
    TouchPerson {
        person: String,
        now: i64,
    },
    CreateRoom {
        name: String,
        person: String,
        now: i64,
        private: bool,
    },
    /// Joining any room, private or not: a member adding someone (`add member`), who checked
    /// that they may. People join by themselves with [`Change::JoinPublic`].
    Join {
        room: String,
        person: String,
        now: i64,
    },
    JoinPublic {
        room: String,
        person: String,
        now: i64,
    },
    Leave {
        room: String,
        person: String,
    },
    OpenDm {
        name: String,
        a: String,
        b: String,
        now: i64,
    },
    MarkRead {
        room: String,
        person: String,
        seq: i64,
    },
    /// Changes to one message, each numbered in its conversation's change feed (see
    /// [`sqlite_messages`]).
    EditMessage {
        room: String,
        id: i64,
        person: String,
        text: String,
        /// Whom the new text mentions (people's ids): they replace whom the old one did.
        mentions: Vec<String>,
        now: i64,
    },
    DeleteMessage {
        id: i64,
        scope: Scope,
        /// Only this person's own message; `None`: anyone's (a moderator).
        author: Option<String>,
        now: i64,
    },
    React {
        room: String,
        id: i64,
        person: String,
        emoji: String,
        on: bool,
        now: i64,
    },
    /// Statements of a test's own, to make a change fail.
    #[cfg(test)]
    Sql(&'static str),
}

/// Where the message a change names must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// In this conversation.
    In(String),
    /// In any room, not a direct conversation (`/admin`'s deletions).
    Rooms,
}

/// Why a change to a message was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No such message where it was looked for (or deleted, or a notice).
    Unknown,
    /// Not the asker's own.
    NotYours,
    /// The message has as many distinct emoji as it may.
    TooManyReactions,
}

/// What a change to a message did: the message as it is now when it changed (to broadcast),
/// `None` when nothing changed (a reaction given twice, a deletion repeated).
pub(crate) type MessageOutcome = Result<Option<Box<crate::store::StoredMessage>>, Refused>;

/// The wire's reactions (JSON) of one message from its `(emoji, name)` rows, in the order
/// given; `None` when it has none.
pub(crate) fn reactions_json(rows: Vec<(String, String)>) -> Option<String> {
    let mut reactions: Vec<app::events::Reaction> = Vec::new();
    for (emoji, name) in rows {
        let at = match reactions.iter().position(|r| r.emoji == emoji) {
            Some(at) => at,
            None => {
                reactions.push(app::events::Reaction {
                    emoji,
                    ..Default::default()
                });
                reactions.len() - 1
            }
        };
        let r = &mut reactions[at];
        r.count += 1;
        if r.names.len() < app::events::MAX_REACTION_NAMES {
            r.names.push(name);
        }
    }
    if reactions.is_empty() {
        None
    } else {
        serde_json::to_string(&reactions).ok()
    }
}

/// What a change gives back, by kind of change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Of [`Change::ClaimName`].
    Claim(Claim),
    /// Of a change that says whether it changed anything (created, joined, left).
    Made(bool),
    /// Of [`Change::JoinPublic`].
    Public(Joining),
    /// Of a change with nothing to say.
    Done,
    /// Of a change to a message.
    Message(MessageOutcome),
}

/// What [`Change::JoinPublic`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Joining {
    /// No such room that the person may join (a private room they are not in is none).
    NoRoom,
    /// They were in it already.
    AlreadyIn,
    /// They are in it now: the room as their list shows it, read in the same transaction (a
    /// newcomer has nothing unread).
    Joined(Box<crate::store::RoomRow>),
}

/// A change and whom to tell of its outcome.
pub(crate) struct Pending {
    pub(crate) change: Change,
    tell: Box<dyn FnOnce(Result<Outcome, StoreError>) + Send>,
}

impl Pending {
    pub(crate) fn new(
        change: Change,
        tell: impl FnOnce(Result<Outcome, StoreError>) + Send + 'static,
    ) -> Pending {
        Pending {
            change,
            tell: Box::new(tell),
        }
    }

    /// What tells the caller `outcome`, to be called once the transaction has committed.
    pub(crate) fn told(self, outcome: Result<Outcome, StoreError>) -> Told {
        let tell = self.tell;
        Box::new(move || tell(outcome))
    }
}

/// Tells a change's caller how it ended; called only after the commit. Dropped uncalled (the
/// transaction failed), the caller learns that the change was not made.
pub(crate) type Told = Box<dyn FnOnce() + Send>;

/// What a committed batch gives back.
pub(crate) struct Written {
    /// What tells each change's caller its outcome, in order.
    pub(crate) told: Vec<Told>,
    /// Each message's outcome, in order.
    pub(crate) outcomes: Vec<Result<Inserted, OffsetInUse>>,
}

/// The writer's own connection to whichever database the store opened.
pub(crate) enum WriterConnection {
    Sqlite(sqlite::SqliteWriter),
    Postgres(postgres::PostgresWriter),
}

impl WriterConnection {
    /// Makes `changes`, each undone alone if it fails, then stores `messages`, all in one
    /// transaction. A message whose sender stored its client offset already (or earlier in
    /// the batch) is not stored again: when it is the same message (its room and text; a
    /// retry), its outcome is the stored one, with `created: false`; when it is another,
    /// [`OffsetInUse`]. Each room's messages are numbered on from its newest `seq`, without
    /// holes. All or nothing: on error, nothing is stored.
    ///
    /// SQLite's blocks the thread (the writer's own: see [`crate::socket::writer`]).
    pub(crate) async fn write(
        &mut self,
        changes: Vec<Pending>,
        messages: &[NewMessage<'_>],
    ) -> Result<Written, StoreError> {
        self.write_posts(changes, messages, &[]).await
    }

    /// [`WriterConnection::write`], and for each message stored now, that it mentions the
    /// people whose ids `mentions` holds at its index (a shorter list: the rest mention
    /// nobody), in the same transaction.
    pub(crate) async fn write_posts(
        &mut self,
        changes: Vec<Pending>,
        messages: &[NewMessage<'_>],
        mentions: &[&[String]],
    ) -> Result<Written, StoreError> {
        match self {
            WriterConnection::Sqlite(c) => c.write(changes, messages, mentions),
            WriterConnection::Postgres(c) => c.write(changes, messages, mentions).await,
        }
    }

    /// Stores an import's batch in one transaction of its own, creating its missing rooms (see
    /// [`ImportBatch`]). A message whose key was stored before, by any import, is not stored
    /// again: the same source record imported twice is stored once. Each room's messages are
    /// numbered on from its newest `seq`, without holes, whatever their `created_at`. All or
    /// nothing: on error, nothing is stored.
    ///
    /// Nothing is broadcast: the caller tells the rooms their new heads. SQLite's blocks the
    /// thread, as [`WriterConnection::write`] does.
    pub(crate) async fn import(
        &mut self,
        batch: &ImportBatch,
    ) -> Result<ImportOutcome, StoreError> {
        match self {
            WriterConnection::Sqlite(c) => c.import(batch),
            WriterConnection::Postgres(c) => c.import(batch).await,
        }
    }

    /// [`WriterConnection::write`] of messages alone.
    #[cfg(test)]
    pub(crate) async fn insert_batch(
        &mut self,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<Result<Inserted, OffsetInUse>>, StoreError> {
        Ok(self.write(Vec::new(), messages).await?.outcomes)
    }

    /// Makes one change in a transaction of its own.
    pub(crate) async fn apply(&mut self, change: Change) -> Result<Outcome, StoreError> {
        let (tell, told) = std::sync::mpsc::channel();
        let pending = Pending::new(change, move |o| {
            let _ = tell.send(o);
        });
        for tell in self.write(vec![pending], &[]).await?.told {
            tell();
        }
        told.recv().map_err(|_| StoreError::not_written())?
    }
}

/// The outcome of `m`, whose sender stored its offset before as `stored`: a retry of the same
/// message gets it back; anything else under that offset is refused.
pub(crate) fn repeat(
    stored: crate::store::StoredMessage,
    m: &NewMessage<'_>,
) -> Result<Inserted, OffsetInUse> {
    // A deleted message's text is gone, so its retry is recognised by its room alone.
    let same = stored.room == m.room
        && (stored.text == m.text || stored.kind == Some(app::events::MessageKind::Deleted));
    if same {
        Ok(Inserted {
            message: stored,
            created: false,
        })
    } else {
        Err(OffsetInUse)
    }
}
