//! The one writer of the database: every post is committed, then broadcast, in id order, and
//! posts and changes (name claims, rooms, memberships: see [`crate::store::changes`]) that arrive
//! together share one commit (group commit).
//!
//! With `synchronous=FULL`, each commit waits for an fsync, so committing posts one by one
//! would cap the acknowledged messages per second at the disk's fsyncs, whatever the CPU. The
//! writer takes everything waiting, makes it in one transaction, then broadcasts the new
//! messages in order and answers each caller. While it commits, the next batch gathers.
//! Nothing is acknowledged before its commit.

use crate::cluster::BroadcastOperators;
use std::sync::Arc;

use app::events::{
    ChatError, ChatMessage, MessageChanged, MessageDeleted, MessageKind, Posted, ReplyQuote,
};
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::{debug, error, warn};

use crate::metrics::Metrics;
use crate::socket::emit::broadcast;
use crate::socket::lagging::Lagging;
use crate::socket::recent::Recent;
use crate::store::mentions::Mentioned;
use crate::store::write::{
    self, Change, Joining, MessageOutcome, Pending, WriterConnection, Written,
};
use crate::store::{
    Backend, Claim, ImportBatch, ImportOutcome, NewMessage, OffsetInUse, Store, StoreError,
};

/// Posts stored in one transaction at most. Bounds how long a batch holds the order lock.
const MAX_BATCH: usize = 512;
/// Posts waiting for the writer at most; beyond it, posters wait their turn.
const QUEUE: usize = 4_096;

/// A message to store, owned so that it can wait in the queue.
pub(crate) struct OwnedMessage {
    room: String,
    author: String,
    text: String,
    client_offset: Option<String>,
    sender: Option<String>,
    kind: Option<MessageKind>,
    reply: Option<ReplyQuote>,
    /// Whom it mentions, as the poster's checks found them: stored with it, and named in its
    /// broadcast.
    mentioned: Vec<String>,
    mentioned_names: Vec<String>,
    files: Vec<i64>,
}

impl OwnedMessage {
    pub(crate) fn from(m: &NewMessage<'_>) -> OwnedMessage {
        OwnedMessage {
            room: m.room.to_owned(),
            author: m.author.to_owned(),
            text: m.text.to_owned(),
            client_offset: m.client_offset.map(str::to_owned),
            sender: m.sender.map(str::to_owned),
            kind: m.kind,
            reply: m.reply.cloned(),
            mentioned: Vec::new(),
            mentioned_names: Vec::new(),
            files: m.files.to_vec(),
        }
    }

    /// The message, mentioning `people`.
    pub(crate) fn mentioning(mut self, people: Vec<Mentioned>) -> OwnedMessage {
        (self.mentioned, self.mentioned_names) =
            people.into_iter().map(|m| (m.person, m.name)).unzip();
        self
    }

    fn as_new(&self) -> NewMessage<'_> {
        NewMessage {
            room: &self.room,
            author: &self.author,
            text: &self.text,
            client_offset: self.client_offset.as_deref(),
            sender: self.sender.as_deref(),
            kind: self.kind,
            reply: self.reply.as_ref(),
            files: &self.files,
        }
    }
}

// Posts are most of the traffic: boxing them to shrink the rare change's slot would cost an
// allocation per post.
#[allow(clippy::large_enum_variant)]
enum Job {
    Post(Post),
    Change(Pending),
    Edit(Edit),
    Import(Import),
}

/// A change to a message, whom to tell when it is made, and whom to tell how it went.
struct Edit {
    change: Change,
    to: BroadcastOperators,
    tell: oneshot::Sender<Result<MessageOutcome, StoreError>>,
}

/// An import's batch and whom to tell how it went.
struct Import {
    batch: ImportBatch,
    tell: oneshot::Sender<Result<ImportOutcome, StoreError>>,
}

struct Post {
    message: OwnedMessage,
    to: BroadcastOperators,
    answer: Answer,
}

type Outcome = Box<dyn FnOnce(Result<Posted, ChatError>) + Send>;

/// Who learns how a post ended: called once, on the writer's thread, right after the
/// message's broadcast. A poster's ack sent from here is queued on its socket with its own
/// copy of the message, before the socket's task wakes, so both usually leave in one write;
/// answered from the poster's task, each took a write (and a wake-up) of its own. Dropped
/// uncalled (the writer's thread died with the post in hand), it answers `unavailable`.
pub(crate) struct Answer(Option<Outcome>);

impl Answer {
    pub(crate) fn new(f: impl FnOnce(Result<Posted, ChatError>) + Send + 'static) -> Answer {
        Answer(Some(Box::new(f)))
    }

    fn give(mut self, outcome: Result<Posted, ChatError>) {
        if let Some(f) = self.0.take() {
            f(outcome);
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(Err(ChatError::Unavailable));
        }
    }
}

/// What the writer shares with the rest of the chat.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) lagging: Arc<Lagging>,
    pub(crate) order: Arc<Mutex<()>>,
    pub(crate) recent: Arc<Recent>,
}

/// Hands posts to the writer task. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on a thread of its own; it ends when the last `Writer` is dropped.
    ///
    /// Its own thread and runtime, because it blocks on SQLite for each batch (see
    /// [`crate::store::connection`]), which must not hold up the runtime that serves the sockets.
    pub(crate) fn start(shared: Shared) -> Result<Writer, std::io::Error> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("palaver-writer".into())
            .spawn(move || runtime.block_on(run(jobs, shared)))?;
        Ok(Writer { queue })
    }

    /// Stores `message` (idempotently by client offset) and, when it is new, broadcasts it
    /// with `to`. Returns once it is committed and broadcast.
    pub(crate) async fn post(
        &self,
        message: OwnedMessage,
        to: BroadcastOperators,
    ) -> Result<Posted, ChatError> {
        let (reply, outcome) = oneshot::channel();
        let answer = Answer::new(move |o| {
            let _ = reply.send(o);
        });
        self.enqueue(message, to, answer).await;
        outcome.await.map_err(|_| ChatError::Unavailable)?
    }

    /// Queues `message` for storing and broadcasting; `answer` is given its outcome in every
    /// case. Messages are stored in the order they were queued, so a poster may go on once
    /// this returns.
    pub(crate) async fn enqueue(
        &self,
        message: OwnedMessage,
        to: BroadcastOperators,
        answer: Answer,
    ) {
        let post = Post {
            message,
            to,
            answer,
        };
        if let Err(refused) = self.queue.send(Job::Post(post)).await
            && let Job::Post(post) = refused.0
        {
            post.answer.give(Err(ChatError::Unavailable));
        }
    }

    /// Stores an import's batch (see [`crate::store::write::WriterConnection::import`]) in a
    /// transaction of its own, between the posts' batches, and without broadcasting its
    /// messages: the rooms it touched are announced their new heads instead, so that their
    /// members catch up, and catch-ups read them again. Its outcome, once committed.
    pub(crate) async fn import(&self, batch: ImportBatch) -> Result<ImportOutcome, StoreError> {
        let (tell, told) = oneshot::channel();
        self.queue
            .send(Job::Import(Import { batch, tell }))
            .await
            .map_err(|_| StoreError::not_written())?;
        told.await.map_err(|_| StoreError::not_written())?
    }

    /// Makes `change`, a change to a message, in the writer's next transaction; once it is
    /// committed, and if it changed the message, broadcasts the message's new state with
    /// `to` (as posts are, under the order lock). Its outcome.
    pub(crate) async fn change_message(
        &self,
        change: Change,
        to: BroadcastOperators,
    ) -> Result<MessageOutcome, StoreError> {
        let (tell, told) = oneshot::channel();
        self.queue
            .send(Job::Edit(Edit { change, to, tell }))
            .await
            .map_err(|_| StoreError::not_written())?;
        told.await.map_err(|_| StoreError::not_written())?
    }

    /// Makes `change` in the writer's next transaction: its outcome, once committed. The
    /// typed methods below are what the rest of the server calls.
    async fn change(&self, change: Change) -> Result<write::Outcome, StoreError> {
        let (tell, told) = oneshot::channel();
        let change = Pending::new(change, move |outcome| {
            let _ = tell.send(outcome);
        });
        self.queue
            .send(Job::Change(change))
            .await
            .map_err(|_| StoreError::not_written())?;
        told.await.map_err(|_| StoreError::not_written())?
    }
}

async fn run(mut jobs: mpsc::Receiver<Job>, shared: Shared) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut conn: Option<WriterConnection> = None;
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Held across "commit, then broadcast": see `Chat::order`.
        let _order = shared.order.lock().await;
        let mut posts = Vec::with_capacity(batch.len());
        let mut changes = Vec::new();
        let mut edits = Vec::new();
        let mut imports = Vec::new();
        for job in batch.drain(..) {
            match job {
                Job::Post(post) => posts.push(post),
                Job::Change(change) => changes.push(change),
                Job::Edit(edit) => edits.push(edit),
                Job::Import(import) => imports.push(import),
            }
        }
        // Posts and changes first: an import's batch is long, and they should not wait for it.
        if !(posts.is_empty() && changes.is_empty() && edits.is_empty()) {
            write(&shared, &mut conn, posts, changes, edits).await;
        }
        for import in imports {
            store_import(&shared, &mut conn, import).await;
        }
    }
}

/// Opens the writer's connection unless it is open.
async fn connect<'c>(
    shared: &Shared,
    conn: &'c mut Option<WriterConnection>,
) -> Option<&'c mut WriterConnection> {
    if conn.is_none() {
        match shared.store.writer_connection().await {
            Ok(c) => *conn = Some(c),
            Err(e) => error!(error = %e, "the writer cannot open its connection"),
        }
    }
    conn.as_mut()
}

/// Stores an import's batch, then tells the rooms it touched (see [`Writer::import`]).
async fn store_import(shared: &Shared, conn: &mut Option<WriterConnection>, import: Import) {
    let Import { batch, tell } = import;
    let stored = match connect(shared, conn).await {
        Some(c) => c.import(&batch).await,
        None => Err(StoreError::not_written()),
    };
    match &stored {
        Ok(outcome) => {
            for head in &outcome.rooms_touched {
                // A catch-up that read the room before must read it again, and its members
                // hear its head once the writer pauses.
                shared.recent.edited(&head.room);
                shared.lagging.mark(&head.room);
            }
            debug!(
                stored = outcome.stored,
                duplicates = outcome.duplicates,
                "import batch written"
            );
        }
        Err(e) => {
            error!(messages = batch.messages.len(), error = %e, "storing an import batch failed");
            *conn = None;
        }
    }
    let _ = tell.send(stored);
}

/// Stores `posts` and makes `changes` in one transaction, then broadcasts the new messages in
/// order and answers every caller.
async fn write(
    shared: &Shared,
    conn: &mut Option<WriterConnection>,
    posts: Vec<Post>,
    mut changes: Vec<Pending>,
    edits: Vec<Edit>,
) {
    let started = std::time::Instant::now();
    // The edits' outcomes come back through these once committed; their callers are told
    // after the broadcast.
    let mut edited = Vec::with_capacity(edits.len());
    for Edit { change, to, tell } in edits {
        let (outcome_tx, outcome_rx) = std::sync::mpsc::channel();
        changes.push(Pending::new(change, move |o| {
            let _ = outcome_tx.send(o);
        }));
        edited.push((outcome_rx, to, tell));
    }
    let made = changes.len();
    let messages: Vec<NewMessage> = posts.iter().map(|p| p.message.as_new()).collect();
    let mentions: Vec<&[String]> = posts.iter().map(|p| &p.message.mentioned[..]).collect();
    // Blocking, and meant to be: this thread has nothing else to do meanwhile.
    let written = match connect(shared, conn).await {
        Some(conn) => conn.write_posts(changes, &messages, &mentions).await,
        // The changes' callers learn it as their `Pending` is dropped.
        None => Err(StoreError::not_written()),
    };
    if written.is_err() {
        // Start afresh with a new connection next time.
        *conn = None;
    }
    drop(messages);
    drop(mentions);
    let Written { told, outcomes } = match written {
        Ok(written) => written,
        Err(e) => {
            // The changes' callers learn it as their `Told` is dropped.
            error!(posts = posts.len(), changes = made, error = %e, "committing a batch failed");
            for post in posts {
                post.answer.give(Err(ChatError::Unavailable));
            }
            return;
        }
    };
    let committed = started.elapsed();
    for tell in told {
        tell();
    }
    for (outcome, to, tell) in edited {
        let outcome = match outcome.try_recv() {
            Ok(Ok(write::Outcome::Message(outcome))) => Ok(outcome),
            Ok(Ok(other)) => Err(StoreError::unexpected(other)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::not_written()),
        };
        if let Ok(Ok(Some(message))) = &outcome {
            changed(shared, to, (**message).clone()).await;
        }
        let _ = tell.send(outcome);
    }
    let stored = posts.len();
    for (job, outcome) in posts.into_iter().zip(outcomes) {
        let inserted = match outcome {
            Ok(inserted) => inserted,
            Err(OffsetInUse) => {
                job.answer.give(Err(ChatError::OffsetInUse));
                continue;
            }
        };
        let stored = inserted.message;
        let posted = Posted {
            id: stored.id,
            ts: stored.created_at,
            seq: stored.seq,
        };
        // A repeated offset is not broadcast again; only the ack repeats. On Postgres its
        // first commit may never have been broadcast, though: its node died right after
        // it, or the commit's answer was lost on the way back. The room's head is
        // announced instead, and members without it sync. (On SQLite the commit and its
        // broadcast are one step of one process, whose death every socket sees.)
        if inserted.created {
            shared.metrics.record_stored();
            let room = stored.room.clone();
            let mut event = ChatMessage::from(stored);
            event.meta.mentions = job.message.mentioned_names;
            shared.recent.appended(&event);
            let sent = broadcast(job.to, &event).await;
            shared.lagging.record(&shared.metrics, &room, sent);
        } else if shared.store.backend() == Backend::Postgres {
            shared.lagging.mark(&stored.room);
        }
        job.answer.give(Ok(posted));
    }
    debug!(posts = stored, changes = made, ?committed, total = ?started.elapsed(), "batch written");
}

/// Tells a message's conversation its new state, under the order lock: a catch-up that read
/// the conversation before reads it again (see [`Recent::edited`]).
async fn changed(shared: &Shared, to: BroadcastOperators, message: crate::store::StoredMessage) {
    let room = message.room.clone();
    let id = message.id;
    let deleted = message.kind == Some(MessageKind::Deleted);
    shared.recent.edited(&room);
    let event = MessageChanged(ChatMessage::from(message));
    if let Err(e) = broadcast(to.clone(), &event).await {
        warn!(id, error = %e, "a change was not delivered to everyone");
    }
    // What clients from before changes know of a deletion.
    if deleted && let Err(e) = broadcast(to, &MessageDeleted { room, id }).await {
        warn!(id, error = %e, "a deletion notice was not delivered to everyone");
    }
}

/// The changes, as the rest of the server asks for them: plain values in, plain values out,
/// each made in the writer's next batch and answered once committed. Each is documented where
/// SQLite makes it (`store/write/sqlite_changes.rs`).
impl Writer {
    pub(crate) async fn claim_name(
        &self,
        person: &str,
        name: &str,
        name_key: &str,
        now: i64,
        hold_ms: i64,
        evict: Option<&str>,
    ) -> Result<Claim, StoreError> {
        let change = Change::ClaimName {
            person: person.to_owned(),
            name: name.to_owned(),
            name_key: name_key.to_owned(),
            now,
            hold_ms,
            evict: evict.map(str::to_owned),
        };
        match self.change(change).await? {
            write::Outcome::Claim(claim) => Ok(claim),
            other => Err(StoreError::unexpected(other)),
        }
    }

    pub(crate) async fn touch_person(&self, person: &str, now: i64) -> Result<(), StoreError> {
        let person = person.to_owned();
        self.change(Change::TouchPerson { person, now }).await?;
        Ok(())
    }

    pub(crate) async fn create_room(
        &self,
        name: &str,
        person: &str,
        now: i64,
        private: bool,
    ) -> Result<bool, StoreError> {
        let (name, person) = (name.to_owned(), person.to_owned());
        made(
            self.change(Change::CreateRoom {
                name,
                person,
                now,
                private,
            })
            .await?,
        )
    }

    /// Puts `person` in `room`, private or not: whether they were not in it already.
    pub(crate) async fn add_member(
        &self,
        room: &str,
        person: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (room, person) = (room.to_owned(), person.to_owned());
        made(self.change(Change::Join { room, person, now }).await?)
    }

    pub(crate) async fn join_public(
        &self,
        room: &str,
        person: &str,
        now: i64,
    ) -> Result<Joining, StoreError> {
        let (room, person) = (room.to_owned(), person.to_owned());
        match self
            .change(Change::JoinPublic { room, person, now })
            .await?
        {
            write::Outcome::Public(joining) => Ok(joining),
            other => Err(StoreError::unexpected(other)),
        }
    }

    pub(crate) async fn leave(&self, room: &str, person: &str) -> Result<bool, StoreError> {
        let (room, person) = (room.to_owned(), person.to_owned());
        made(self.change(Change::Leave { room, person }).await?)
    }

    pub(crate) async fn open_dm(
        &self,
        name: &str,
        a: &str,
        b: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let (name, a, b) = (name.to_owned(), a.to_owned(), b.to_owned());
        self.change(Change::OpenDm { name, a, b, now }).await?;
        Ok(())
    }

    pub(crate) async fn mark_read(
        &self,
        room: &str,
        person: &str,
        seq: i64,
    ) -> Result<(), StoreError> {
        let (room, person) = (room.to_owned(), person.to_owned());
        self.change(Change::MarkRead { room, person, seq }).await?;
        Ok(())
    }
}

fn made(outcome: write::Outcome) -> Result<bool, StoreError> {
    match outcome {
        write::Outcome::Made(made) => Ok(made),
        other => Err(StoreError::unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn an_answer_is_given_once_and_never_forgotten() {
        let (told, heard) = mpsc::channel();
        let t = told.clone();
        Answer::new(move |o| t.send(o).unwrap()).give(Ok(Posted {
            id: 1,
            ts: 2,
            seq: 3,
        }));
        assert_eq!(heard.try_recv().unwrap().unwrap().id, 1);
        assert!(heard.try_recv().is_err(), "answered once");
        drop(Answer::new(move |o| told.send(o).unwrap()));
        assert_eq!(heard.try_recv().unwrap(), Err(ChatError::Unavailable));
    }
}
