//! Work done after the request that asked for it was answered: imports, exports, webhook
//! deliveries, backups. A job is a row of the jobs table (`store::jobs`), queued by whoever
//! asks and claimed by a worker ([`runner`]), in the server or in `palaver worker`; its
//! progress and its end are in the row, which the server passes on to the owner's sockets
//! (`socket::jobs`), whichever process ran it.

pub(crate) mod amqp;
pub(crate) mod archive;
pub(crate) mod backups;
pub(crate) mod delivery;
pub(crate) mod export;
pub(crate) mod files;
pub(crate) mod hooks;
pub(crate) mod import;
pub(crate) mod priority;
pub(crate) mod process;
pub(crate) mod runner;
pub(crate) mod thumbnails;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use app::events::JobKind;

use crate::store::jobs::{JobId, JobRow, NewJob};
use crate::store::{Store, StoreError, now_ms};

/// How a job failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    /// Worth another try later (a receiver down, a database gone for a moment).
    #[error("{0}")]
    Retry(String),
    /// No try can succeed (a corrupt archive, a room that is gone).
    #[error("{0}")]
    Fatal(String),
    /// This worker no longer holds the job: its lease ran out and another worker has it.
    #[error("the job was claimed by another worker")]
    Lost,
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> JobError {
        JobError::Retry(e.to_string())
    }
}

/// What a finished job made: the kind's own JSON (kept in the row's `result`).
pub(crate) type Made = Option<serde_json::Value>;

pub(crate) type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Made, JobError>> + Send + 'a>>;

/// Runs the jobs of one kind.
pub(crate) trait Handler: Send + Sync {
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a>;

    /// Claims after which a job of this kind is dead.
    fn max_attempts(&self) -> u32 {
        5
    }
}

/// The handlers a worker runs, by kind.
#[derive(Clone, Default)]
pub(crate) struct Handlers(BTreeMap<JobKind, Arc<dyn Handler>>);

impl Handlers {
    pub(crate) fn with(mut self, kind: JobKind, handler: impl Handler + 'static) -> Handlers {
        self.0.insert(kind, Arc::new(handler));
        self
    }

    pub(crate) fn kinds(&self) -> Vec<JobKind> {
        self.0.keys().copied().collect()
    }

    fn get(&self, kind: JobKind) -> Option<&Arc<dyn Handler>> {
        self.0.get(&kind)
    }

    /// The most claims any kind allows: a job abandoned that often is dead.
    fn max_attempts(&self) -> u32 {
        self.0.values().map(|h| h.max_attempts()).max().unwrap_or(1)
    }
}

/// Where jobs are queued: the jobs table, which keeps every job, and a nudge to the workers:
/// this process's, and, with `--queue-url`, every worker's through RabbitMQ.
#[derive(Clone)]
pub(crate) struct Queue {
    store: Store,
    wake: Arc<tokio::sync::Notify>,
    broker: Option<Arc<amqp::AmqpQueue>>,
}

impl Queue {
    pub(crate) fn new(store: Store) -> Queue {
        Queue {
            store,
            wake: Arc::new(tokio::sync::Notify::new()),
            broker: None,
        }
    }

    /// A queue that also publishes each job's id to RabbitMQ at `url`; fails when the broker
    /// cannot be reached now.
    pub(crate) async fn through(store: Store, url: &str) -> Result<Queue, StartError> {
        let broker = amqp::AmqpQueue::connect(url)
            .await
            .map_err(|e| StartError::Broker(e.to_string()))?;
        Ok(Queue {
            broker: Some(Arc::new(broker)),
            ..Queue::new(store)
        })
    }

    /// What this process's workers wait on.
    pub(crate) fn wake(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// The broker, if jobs go through one.
    pub(crate) fn broker(&self) -> Option<&Arc<amqp::AmqpQueue>> {
        self.broker.as_ref()
    }

    /// Queues a job of `kind` for `owner` with `payload`, due now: its id. With `dedupe`, a
    /// job with that key that has not finished yet stands for it (and its id is returned), and
    /// the workers are not woken: there is nothing new to claim. (The webhooks' dispatcher
    /// asks again every second for each hook with a delivery waiting; waking the workers each
    /// time had them claim and write under SQLite's write lock, which the writer then waited
    /// for.)
    pub(crate) async fn enqueue(
        &self,
        kind: JobKind,
        owner: Option<&str>,
        payload: &impl serde::Serialize,
        dedupe: Option<&str>,
    ) -> Result<JobId, StoreError> {
        let payload = serde_json::to_string(payload).map_err(StoreError::encode)?;
        let now = now_ms();
        let job = NewJob {
            kind,
            owner,
            payload: &payload,
            dedupe,
            run_at: now,
        };
        let (id, queued) = self.store.enqueue_job(&job, now).await?;
        if !queued {
            return Ok(id);
        }
        self.wake.notify_one();
        if let Some(broker) = &self.broker {
            // The row is the job: a publish that fails only delays it until a worker's next
            // look at the table. Not awaited, so that a broker away never holds up a request.
            let broker = broker.clone();
            tokio::spawn(async move {
                if let Err(e) = broker.publish(id).await {
                    tracing::warn!(job = %id, error = %e, "publishing a job to RabbitMQ failed");
                }
            });
        }
        Ok(id)
    }
}

/// What the job kinds need, in the server or in `palaver worker`.
pub(crate) struct Needs {
    pub(crate) store: Store,
    /// Where imports store their messages.
    pub(crate) sink: import::Sink,
    /// Whether outgoing webhooks may go to loopback and private addresses.
    pub(crate) webhooks_allow_private: bool,
    pub(crate) webhook_timeout: Duration,
}

/// Why the workers cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot make the webhooks' HTTP client: {0}")]
    Webhooks(String),
    #[error("cannot reach the job queue's broker: {0}")]
    Broker(String),
}

/// A handler for every kind of job.
pub(crate) fn handlers(needs: Needs) -> Result<Handlers, StartError> {
    let client = hooks::Client::new(needs.webhooks_allow_private, needs.webhook_timeout)
        .map_err(|e| StartError::Webhooks(e.to_string()))?;
    Ok(Handlers::default()
        .with(
            JobKind::Webhook,
            delivery::Deliveries {
                store: needs.store.clone(),
                client,
            },
        )
        .with(
            JobKind::Export,
            export::Exports {
                store: needs.store.clone(),
            },
        )
        .with(
            JobKind::Thumbnail,
            thumbnails::Thumbnails {
                store: needs.store.clone(),
            },
        )
        .with(
            JobKind::Backup,
            backups::Backups {
                store: needs.store.clone(),
            },
        )
        .with(
            JobKind::Import,
            import::Imports {
                store: needs.store.clone(),
                sink: needs.sink,
            },
        ))
}

/// How often a long step's progress is recorded.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// Runs `step`, recording the progress it keeps in `counts` (done, total) every
/// [`REPORT_EVERY`] meanwhile; [`JobError::Lost`] if another worker takes the job over.
pub(crate) async fn report_while<T>(
    job: &Claimed,
    counts: &Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
    step: impl Future<Output = T>,
) -> Result<T, JobError> {
    use std::sync::atomic::Ordering;
    let report = async {
        let mut every = tokio::time::interval(REPORT_EVERY);
        let mut told = None;
        loop {
            every.tick().await;
            let now = (
                counts.0.load(Ordering::Relaxed),
                counts.1.load(Ordering::Relaxed),
            );
            if told != Some(now) {
                job.progress(now.0, Some(now.1)).await?;
                told = Some(now);
            }
        }
    };
    tokio::select! {
        done = step => Ok(done),
        lost = report => lost,
    }
}

/// A job a worker holds: its row, and the way to report progress (which renews the claim).
pub(crate) struct Claimed {
    pub(crate) row: JobRow,
    store: Store,
    worker: Arc<str>,
    lease: Duration,
}

impl Claimed {
    pub(crate) fn id(&self) -> JobId {
        self.row.id
    }

    /// The job's payload, as the kind's own type.
    pub(crate) fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_str(&self.row.payload)
            .map_err(|e| JobError::Fatal(format!("the job's payload cannot be read: {e}")))
    }

    /// Records `done` of `total`, and renews the claim. [`JobError::Lost`] when another
    /// worker has the job now: stop.
    pub(crate) async fn progress(&self, done: u64, total: Option<u64>) -> Result<(), JobError> {
        let now = now_ms();
        let held = self
            .store
            .job_progress(
                self.row.id,
                &self.worker,
                i64::try_from(done).unwrap_or(i64::MAX),
                total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
                now,
                now + self.lease.as_millis() as i64,
            )
            .await?;
        if held { Ok(()) } else { Err(JobError::Lost) }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    #[tokio::test]
    async fn the_workers_are_woken_for_a_job_queued_and_not_for_one_that_stands_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let queue = Queue::new(Store::open(&url).await.unwrap());
        let wake = queue.wake();
        let first = queue
            .enqueue(JobKind::Webhook, None, &"a", Some("webhook:a"))
            .await
            .unwrap();
        assert!(wake.notified().now_or_never().is_some(), "woken");
        let again = queue
            .enqueue(JobKind::Webhook, None, &"a", Some("webhook:a"))
            .await
            .unwrap();
        assert_eq!(again, first);
        assert!(wake.notified().now_or_never().is_none(), "not woken");
        queue
            .enqueue(JobKind::Webhook, None, &"b", Some("webhook:b"))
            .await
            .unwrap();
        assert!(wake.notified().now_or_never().is_some(), "woken");
    }
}
