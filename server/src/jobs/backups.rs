//! Scheduled backups through the queue: every `--backup-every`, a `backup` job copies the
//! database into `--backup-dir` (`store::backup`) and keeps the newest `--backup-keep`. The
//! job's summary (where, how big) is what `/admin` shows of the last backup.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use app::events::JobKind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;

use crate::jobs::{Claimed, Handler, JobError, JobFuture, Queue};
use crate::store::backup::{BackupError, take_scheduled};
use crate::store::{Store, now_ms};

/// What a `backup` job is given: where, and how many to keep (the queueing server's settings,
/// so that a `palaver worker` needs none of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BackupPayload {
    pub(crate) dir: PathBuf,
    pub(crate) keep: u32,
}

/// Runs `backup` jobs.
pub(crate) struct Backups {
    pub(crate) store: Store,
}

impl Handler for Backups {
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: BackupPayload = job.payload()?;
            let keep = usize::try_from(payload.keep.max(1)).unwrap_or(1);
            let summary = take_scheduled(&self.store, &payload.dir, keep, SystemTime::now())
                .await
                .map_err(|e| match e {
                    BackupError::Exists { .. } | BackupError::BadUrl { .. } => {
                        JobError::Fatal(e.to_string())
                    }
                    _ => JobError::Retry(e.to_string()),
                })?;
            Ok(Some(json!({
                "summary": format!(
                    "{:.1} MiB in {}",
                    summary.bytes as f64 / (1024.0 * 1024.0),
                    summary.path.display()
                ),
                "path": summary.path,
                "bytes": summary.bytes,
                "tookMs": summary.took_ms,
            })))
        })
    }

    fn max_attempts(&self) -> u32 {
        3
    }
}

/// Queues a backup whenever the last one is `every` old, forever. Every node does it; the
/// dedupe key keeps one unfinished backup at a time, and the age check one per period.
pub(crate) async fn schedule(store: Store, queue: Queue, payload: BackupPayload, every: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(60).min(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let last = match store.newest_job_of(JobKind::Backup).await {
            Ok(last) => last,
            Err(e) => {
                warn!(error = %e, "looking for the last backup failed");
                continue;
            }
        };
        if last.is_some_and(|created| now_ms() - created < every.as_millis() as i64) {
            continue;
        }
        if let Err(e) = queue
            .enqueue(JobKind::Backup, None, &payload, Some("backup"))
            .await
        {
            warn!(error = %e, "queueing a backup failed");
        }
    }
}
