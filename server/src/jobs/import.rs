//! The import job: an uploaded archive (Palaver's own export, or Slack's), stored as messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;

use crate::cluster::emitter;
use crate::jobs::archive::import::{Format, ImportOptions, ImportSummary, import_from, inspect};
use crate::jobs::archive::limits::{Limits, RecordError};
use crate::jobs::files::{self, FileError};
use crate::jobs::{Claimed, Handler, JobError, JobFuture, report_while};
use crate::socket::writer::Writer;
use crate::store::blobs::BlobId;
use crate::store::write::Change;
use crate::store::{IMPORT_SENDER, Store, now_ms};

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
                    let mut writer = writer.clone();
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
