//! The export job: conversations' histories as a ZIP (`docs/export-format.md`), kept in the
//! database as a file of the owner's, offered as a signed download link.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jobs::archive::export::export_to;
use crate::jobs::archive::limits::ArchiveError;
use crate::jobs::files::{self, FILE_LIFETIME_MS};
use crate::jobs::{Claimed, Handler, JobError, JobFuture, report_while};
use crate::store::{Store, now_ms};

/// What an export job is given: the conversations, fixed when it was asked for (what the
/// person could read then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExportPayload {
    pub(crate) conversations: Vec<String>,
    /// The room asked for, or `None` for everything the person may read.
    pub(crate) room: Option<String>,
}

/// Runs `export` jobs.
pub(crate) struct Exports {
    pub(crate) store: Store,
}

impl From<ArchiveError> for JobError {
    fn from(e: ArchiveError) -> JobError {
        if e.is_transient() {
            JobError::Retry(e.to_string())
        } else {
            JobError::Fatal(e.to_string())
        }
    }
}

fn scratch(e: std::io::Error) -> JobError {
    JobError::Retry(format!("cannot make a scratch directory: {e}"))
}

impl Handler for Exports {
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: ExportPayload = job.payload()?;
            let dir = tempfile::tempdir().map_err(scratch)?;
            let out = dir.path().join("export.zip");
            let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
            let seen = counts.clone();
            let mut progress = move |done: u64, total: u64| {
                seen.0.store(done, Ordering::Relaxed);
                seen.1.store(total, Ordering::Relaxed);
            };
            let export = export_to(&self.store, &payload.conversations, &out, &mut progress);
            let summary = report_while(job, &counts, export).await??;
            let name = match &payload.room {
                Some(room) => format!("palaver-{}-{}.zip", room.replace(':', "-"), job.id()),
                None => format!("palaver-export-{}.zip", job.id()),
            };
            let now = now_ms();
            let blob = files::save(
                &self.store,
                &out,
                job.row.owner.as_deref(),
                &name,
                now,
                now + FILE_LIFETIME_MS,
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
            job.progress(summary.messages, Some(summary.messages))
                .await?;
            Ok(Some(json!({
                "summary": format!(
                    "{} message(s) from {} conversation(s), {} KiB",
                    summary.messages,
                    summary.conversations,
                    summary.bytes.div_ceil(1024)
                ),
                "blob": blob.0,
                "messages": summary.messages,
                "bytes": summary.bytes,
            })))
        })
    }
}
