//! The import job: an uploaded archive (Palaver's own export, or Slack's), stored as messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{debug, warn};

use crate::cluster::emitter;
use crate::jobs::archive::import::{
    Format, ImportOptions, ImportSink, ImportSummary, import_from, inspect,
};
use crate::jobs::archive::limits::{Limits, RecordError};
use crate::jobs::files::{self, FileError};
use crate::jobs::{Claimed, Handler, JobError, JobFuture, report_while};
use crate::socket::writer::Writer;
use crate::store::blobs::BlobId;
use crate::store::write::Change;
use crate::store::{Backend, IMPORT_SENDER, ImportBatch, ImportOutcome, Store, StoreError, now_ms};

/// Which archive an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ImportFormat {
    /// Palaver's own export (`docs/export-format.md`).
    Palaver,
    /// A Slack workspace export.
    Slack,
}

/// What an import job is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ImportPayload {
    /// The uploaded archive (`store::blobs`).
    pub(crate) blob: i64,
    pub(crate) format: ImportFormat,
    /// Uploaded with the admin token: it may add to existing public rooms.
    pub(crate) moderator: bool,
}

/// Where an import's messages go.
pub(crate) enum Sink {
    /// The server's writer: on SQLite the only one, and it tells the rooms' members.
    Server(Writer),
    /// A connection of this process's own (`palaver worker`, on Postgres); the rooms' heads
    /// are announced through Redis afterwards, when there is one.
    Own { redis_url: Option<String> },
}

/// Runs `import` jobs.
pub(crate) struct Imports {
    pub(crate) store: Store,
    pub(crate) sink: Sink,
}

/// Record errors kept for the job's summary; the rest are counted.
const ERRORS_KEPT: usize = 20;

impl Handler for Imports {
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: ImportPayload = job.payload()?;
            let dir = tempfile::tempdir()
                .map_err(|e| JobError::Retry(format!("cannot make a scratch directory: {e}")))?;
            let path = dir.path().join("archive.zip");
            match files::spool(&self.store, BlobId(payload.blob), &path).await {
                Ok(_) => {}
                Err(FileError::Missing) => {
                    return Err(JobError::Fatal("the uploaded archive is gone".into()));
                }
                Err(e) => return Err(JobError::Retry(e.to_string())),
            }
            let format = inspect(&path, &Limits::default())?;
            let expected = match payload.format {
                ImportFormat::Palaver => Format::Palaver,
                ImportFormat::Slack => Format::Slack,
            };
            if format != expected {
                return Err(JobError::Fatal(format!(
                    "this archive is {}, not {}: choose its format again",
                    describe(format),
                    describe(expected)
                )));
            }
            let owner = job.row.owner.clone();
            let mut options = ImportOptions::new(owner.as_deref().unwrap_or(IMPORT_SENDER));
            options.into_existing = payload.moderator;
            let mut kept: Vec<String> = Vec::new();
            let mut errors = |e: RecordError| {
                if kept.len() < ERRORS_KEPT {
                    kept.push(e.to_string());
                }
            };
            let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
            let seen = counts.clone();
            let mut progress = move |done: u64, total: u64| {
                seen.0.store(done, Ordering::Relaxed);
                seen.1.store(total, Ordering::Relaxed);
            };
            let summary = match &self.sink {
                Sink::Server(writer) => {
                    if self.store.backend() == Backend::Sqlite {
                        options.batch = SQLITE_BATCH;
                    }
                    let mut writer = Checkpointing::new(writer.clone(), self.store.clone());
                    let import =
                        import_from(&path, &mut writer, &options, &mut errors, &mut progress);
                    report_while(job, &counts, import).await??
                }
                Sink::Own { .. } => {
                    let mut connection = self.store.writer_connection().await?;
                    let import =
                        import_from(&path, &mut connection, &options, &mut errors, &mut progress);
                    report_while(job, &counts, import).await??
                }
            };
            let now = now_ms();
            // The importer sees the rooms the import made in their list, read up to now.
            if let Some(person) = &owner {
                for room in &summary.rooms_created {
                    self.join(room, person, now).await?;
                }
            }
            if let Sink::Own {
                redis_url: Some(url),
            } = &self.sink
                && let Err(e) = emitter::announce_heads(url, &summary.rooms).await
            {
                warn!(error = %e, "announcing the imported rooms' heads failed");
            }
            let total = counts.1.load(Ordering::Relaxed);
            job.progress(total, Some(total)).await?;
            if let Err(e) = self.store.delete_blob(BlobId(payload.blob)).await {
                warn!(error = %e, "deleting an imported archive failed");
            }
            Ok(Some(json!({
                "summary": summarize(&summary),
                "stored": summary.stored,
                "duplicates": summary.duplicates,
                "refused": summary.refused,
                "errors": summary.errors,
                "firstErrors": kept,
                "roomsCreated": summary.rooms_created,
            })))
        })
    }
}

impl Imports {
    async fn join(&self, room: &str, person: &str, now: i64) -> Result<(), JobError> {
        match &self.sink {
            Sink::Server(writer) => {
                writer.join_public(room, person, now).await?;
            }
            Sink::Own { .. } => {
                let change = Change::JoinPublic {
                    room: room.to_owned(),
                    person: person.to_owned(),
                    now,
                };
                self.store.writer_connection().await?.apply(change).await?;
            }
        }
        Ok(())
    }
}

/// Records an import stores between two checkpoints.
const CHECKPOINT_EVERY: u64 = 8_000;

/// Records in one of an import's transactions on SQLite, where they commit without waiting
/// for the disk: few, so that a post arriving meanwhile waits little for the writer (a batch
/// of 250 held it about 1.5 ms).
const SQLITE_BATCH: usize = 50;

/// Records stored between the importer's flushes of the WAL. Between them, a post's commit
/// flushes what the import wrote since the last one along with its own; so few that this
/// costs a post little, so many that the importer's flushes seldom meet a post's.
const SYNC_EVERY: u64 = 1_000;

/// The server's writer as an import's sink, which checkpoints SQLite's WAL on the pool every
/// [`CHECKPOINT_EVERY`] records. An import fills the WAL fast, and left to itself the writer
/// checkpointed in the commit that crossed the mark: a stall of tens of milliseconds for every
/// post queued behind it. The import waits for its checkpoint (posts do not: the writer serves
/// them meanwhile), so that the checkpoint finds no import batch half written, copies the whole
/// WAL, and the writer's next transaction starts the WAL afresh: it never reaches the mark.
/// It also flushes the WAL every [`SYNC_EVERY`] records, since the writer commits an import's
/// batches without waiting for the disk.
pub(crate) struct Checkpointing {
    writer: Writer,
    store: Store,
    /// Records stored since the last checkpoint.
    since: u64,
    /// Records stored since the WAL was last flushed.
    unsynced: u64,
    /// Checkpoints made.
    made: u64,
}

impl Checkpointing {
    pub(crate) fn new(writer: Writer, store: Store) -> Checkpointing {
        Checkpointing {
            writer,
            store,
            since: 0,
            unsynced: 0,
            made: 0,
        }
    }
}

impl ImportSink for Checkpointing {
    async fn store(&mut self, batch: ImportBatch) -> Result<ImportOutcome, StoreError> {
        let records = batch.messages.len() as u64;
        let outcome = self.writer.import(batch).await?;
        // On SQLite the writer committed it without waiting for the disk, so that the posts
        // queued behind it need not wait either; the import waits for it here instead, and
        // the job's record of its end, a commit that waits, flushes the rest.
        self.unsynced += records;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            self.store.sync_wal().await?;
        }
        self.since += records;
        if self.since >= CHECKPOINT_EVERY {
            self.since = 0;
            self.made += 1;
            // A checkpoint that fails leaves the WAL to the writer's own, as before.
            match self.store.checkpoint().await {
                Ok(copied) => debug!(?copied, made = self.made, "checkpointed during an import"),
                Err(e) => warn!(error = %e, "a checkpoint during an import failed"),
            }
        }
        Ok(outcome)
    }
}

fn describe(format: Format) -> &'static str {
    match format {
        Format::Palaver => "a Palaver export",
        Format::Slack => "a Slack export",
    }
}

/// The line people read of how an import went.
fn summarize(s: &ImportSummary) -> String {
    let mut line = format!("{} message(s) imported", s.stored);
    if s.duplicates > 0 {
        line.push_str(&format!(", {} already there", s.duplicates));
    }
    if !s.rooms_created.is_empty() {
        line.push_str(&format!(", {} room(s) made", s.rooms_created.len()));
    }
    if s.refused > 0 {
        line.push_str(&format!(
            ", {} refused (rooms that exist already: only a moderator may add to them)",
            s.refused
        ));
    }
    if s.errors > 0 {
        line.push_str(&format!(", {} record(s) with errors", s.errors));
    }
    line
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::socket::writer::Shared;
    use crate::store::ImportedMessage;

    #[tokio::test]
    async fn an_import_through_the_writer_checkpoints_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("i.db");
        let store = Store::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let writer = Writer::start(Shared {
            store: store.clone(),
            metrics: Arc::default(),
            lagging: Arc::default(),
            order: Arc::default(),
            recent: Arc::default(),
        })
        .unwrap();
        // Whatever the WAL held so far in the database file, so that its growth is the import's.
        store.checkpoint().await.unwrap().unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        let mut sink = Checkpointing::new(writer, store.clone());
        let (batches, per_batch) = (20, CHECKPOINT_EVERY / 8);
        let mut stored = 0;
        for b in 0..batches {
            let messages = (0..per_batch)
                .map(|m| ImportedMessage {
                    room: "imported".into(),
                    author: "ann".into(),
                    text: format!("{b}.{m} {}", "x".repeat(100)),
                    created_at: 1,
                    key: format!("test:{b}.{m}"),
                    kind: None,
                })
                .collect();
            let batch = ImportBatch {
                messages,
                importer: IMPORT_SENDER.into(),
                into_existing: true,
            };
            stored += sink.store(batch).await.unwrap().stored;
        }
        assert_eq!(stored, batches * per_batch);
        assert_eq!(sink.made, stored / CHECKPOINT_EVERY);
        // The writer alone would have left all of it in the WAL (far below its mark).
        let after = std::fs::metadata(&file).unwrap().len();
        assert!(
            after >= before + 1_000_000,
            "the imported pages are in the database file: {before} → {after}"
        );
    }
}
