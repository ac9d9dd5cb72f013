//! A worker: claims due jobs of the kinds it has handlers for, runs up to `concurrency` at
//! once, renews their claims while they run, and records how each ended. A job that fails is
//! tried again after an exponential backoff, and is dead after its kind's attempts; a job
//! whose worker died is claimed again when its claim runs out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::jobs::amqp::{AmqpQueue, JobDelivery};
use crate::jobs::{Claimed, Handlers, JobError};
use crate::store::jobs::{Ending, JobId, JobRow};
use crate::store::{Store, now_ms};

/// How often an idle worker looks for due jobs (one queued here wakes it at once).
const POLL: Duration = Duration::from_millis(500);
/// How often a worker that takes job ids from RabbitMQ looks at the table.
const BROKER_POLL: Duration = Duration::from_secs(5);
/// The first retry's wait; each further one doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// What a worker needs.
pub(crate) struct Runner {
    pub(crate) store: Store,
    pub(crate) handlers: Handlers,
    /// This worker's name in the rows it claims (node or process, and a random part).
    pub(crate) worker: Arc<str>,
    pub(crate) concurrency: usize,
    /// Notified when a job is queued in this process.
    pub(crate) wake: Arc<Notify>,
    /// How long a claim lasts without being renewed (`--job-lease`).
    pub(crate) lease: Duration,
    /// The first retry's wait.
    pub(crate) first_backoff: Duration,
    /// Job ids from RabbitMQ, when jobs go through it.
    broker: Option<Arc<AmqpQueue>>,
}

impl Runner {
    pub(crate) fn new(
        store: Store,
        handlers: Handlers,
        worker: &str,
        concurrency: usize,
        lease: Duration,
    ) -> Runner {
        Runner {
            store,
            handlers,
            worker: worker.into(),
            concurrency: concurrency.max(1),
            wake: Arc::new(Notify::new()),
            lease,
            first_backoff: FIRST_BACKOFF,
            broker: None,
        }
    }

    /// Wakes when `queue` queues a job, rather than at its next look; takes job ids from its
    /// broker, if it has one.
    pub(crate) fn woken_by(mut self, queue: &crate::jobs::Queue) -> Runner {
        self.wake = queue.wake();
        self.broker = queue.broker().cloned();
        self
    }

    /// Runs jobs until `stop` turns true; then stops its running jobs and puts them back in
    /// the queue, due at once.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let kinds = self.handlers.kinds();
        if kinds.is_empty() {
            return;
        }
        let max_attempts = i64::from(self.handlers.max_attempts());
        info!(worker = %self.worker, ?kinds, concurrency = self.concurrency, "worker started");
        let mut running: JoinSet<(JobId, bool)> = JoinSet::new();
        let mut held: Vec<JobId> = Vec::new();
        // Deliveries of jobs under way, answered when each ends. Dropped unanswered (the
        // worker stops), RabbitMQ delivers them again.
        let mut delivered: HashMap<JobId, JobDelivery> = HashMap::new();
        let mut deliveries = self
            .broker
            .as_ref()
            .map(|b| b.consume(u16::try_from(self.concurrency).unwrap_or(u16::MAX)));
        // With a broker, the table is looked at only for what it could not carry: retries
        // come due, and jobs whose publish failed.
        let look_every = if deliveries.is_some() {
            BROKER_POLL
        } else {
            POLL
        };
        loop {
            if *stop.borrow() {
                break;
            }
            while running.len() < self.concurrency {
                let now = now_ms();
                let lease_until = now + self.lease.as_millis() as i64;
                match self
                    .store
                    .claim_job(&kinds, &self.worker, now, lease_until, max_attempts)
                    .await
                {
                    Ok(Some(row)) => {
                        debug!(job = %row.id, kind = ?row.kind, attempt = row.attempts, "claimed");
                        held.push(row.id);
                        running.spawn(self.run_one(row));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!(error = %e, "claiming a job failed");
                        break;
                    }
                }
            }
            if let Err(e) = self.store.bury_abandoned_jobs(now_ms(), max_attempts).await {
                warn!(error = %e, "marking abandoned jobs dead failed");
            }
            let brokered = deliveries.is_some();
            let has_room = running.len() < self.concurrency;
            let next_delivery = async {
                match deliveries.as_mut() {
                    Some(d) if has_room => d.next().await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.wake.notified(), if !brokered => {}
                _ = tokio::time::sleep(look_every) => {}
                Some(ended) = running.join_next(), if !running.is_empty() => {
                    if let Ok((id, dead)) = ended {
                        held.retain(|h| *h != id);
                        if let Some(d) = delivered.remove(&id) {
                            // A dead job's id goes to the broker's dead letters too.
                            let answered = if dead { d.dead().await } else { d.ack().await };
                            if let Err(e) = answered {
                                debug!(job = %id, error = %e, "answering RabbitMQ failed");
                            }
                        }
                    }
                }
                Some(delivery) = next_delivery => {
                    let id = delivery.job;
                    let now = now_ms();
                    let lease_until = now + self.lease.as_millis() as i64;
                    match self
                        .store
                        .claim_job_by_id(id, &self.worker, now, lease_until, max_attempts)
                        .await
                    {
                        Ok(Some(row)) if self.handlers.get(row.kind).is_some() => {
                            debug!(
                                job = %id,
                                kind = ?row.kind,
                                redelivered = delivery.redelivered,
                                "claimed from RabbitMQ"
                            );
                            held.push(id);
                            delivered.insert(id, delivery);
                            running.spawn(self.run_one(row));
                        }
                        Ok(Some(row)) => {
                            // Not a kind this worker runs: back to the table's lookers.
                            let back = Ending::Retry { error: "no handler here", retry_at: now };
                            let _ = self.store.end_job(row.id, &self.worker, &back, now).await;
                            let _ = delivery.retry().await;
                        }
                        // Done, dead, or run by another worker (which the table knows):
                        // nothing for the broker to keep.
                        Ok(None) => {
                            let _ = delivery.ack().await;
                        }
                        Err(e) => {
                            warn!(job = %id, error = %e, "claiming a delivered job failed");
                            let _ = delivery.retry().await;
                        }
                    }
                }
                _ = stop.changed() => {}
            }
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
        for id in held {
            let back = Ending::Retry {
                error: "the worker stopped",
                retry_at: now_ms(),
            };
            match self.store.end_job(id, &self.worker, &back, now_ms()).await {
                Ok(_) => debug!(job = %id, "put back"),
                Err(e) => {
                    warn!(job = %id, error = %e, "putting a job back failed: its claim will run out")
                }
            }
        }
        info!(worker = %self.worker, "worker stopped");
    }

    /// Runs one claimed job, renewing its claim meanwhile, and records its end.
    /// Runs `row`'s job: its id, and whether it is dead now.
    fn run_one(&self, row: JobRow) -> impl Future<Output = (JobId, bool)> + Send + 'static {
        let store = self.store.clone();
        let worker = self.worker.clone();
        let handler = self.handlers.get(row.kind).cloned();
        let lease = self.lease;
        let first_backoff = self.first_backoff;
        async move {
            let id = row.id;
            let attempts = row.attempts;
            let claimed = Claimed {
                row,
                store: store.clone(),
                worker: worker.clone(),
                lease,
            };
            let outcome = match &handler {
                Some(h) => {
                    let renew = renew_while_running(store.clone(), id, worker.clone(), lease);
                    tokio::select! {
                        outcome = h.run(&claimed) => outcome,
                        lost = renew => Err(lost),
                    }
                }
                None => Err(JobError::Fatal("no worker runs jobs of this kind".into())),
            };
            let max_attempts = handler.as_ref().map_or(1, |h| h.max_attempts());
            let made;
            let error;
            let ending = match &outcome {
                Ok(m) => {
                    made = m.as_ref().map(|v| v.to_string());
                    Ending::Done {
                        result: made.as_deref(),
                    }
                }
                Err(JobError::Lost) => {
                    info!(job = %id, "another worker has the job now");
                    return (id, false);
                }
                Err(JobError::Retry(e)) if attempts < i64::from(max_attempts) => {
                    error = e.clone();
                    Ending::Retry {
                        error: &error,
                        retry_at: now_ms() + backoff(attempts, first_backoff).as_millis() as i64,
                    }
                }
                Err(e) => {
                    error = e.to_string();
                    Ending::Dead { error: &error }
                }
            };
            match &ending {
                Ending::Done { .. } => info!(job = %id, "job done"),
                Ending::Retry { error, retry_at } => {
                    warn!(job = %id, attempts, error, retry_at, "job failed: will retry")
                }
                Ending::Dead { error } => warn!(job = %id, attempts, error, "job dead"),
            }
            match store.end_job(id, &worker, &ending, now_ms()).await {
                Ok(true) => {}
                Ok(false) => info!(job = %id, "another worker has the job now"),
                Err(e) => warn!(job = %id, error = %e, "recording a job's end failed"),
            }
            (id, matches!(ending, Ending::Dead { .. }))
        }
    }
}

/// Renews the claim on `id` every third of `lease`; returns when the claim is lost.
async fn renew_while_running(
    store: Store,
    id: JobId,
    worker: Arc<str>,
    lease: Duration,
) -> JobError {
    let mut every = tokio::time::interval(lease / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let now = now_ms();
        match store
            .renew_job(id, &worker, now + lease.as_millis() as i64)
            .await
        {
            Ok(true) => {}
            Ok(false) => return JobError::Lost,
            // The claim may still be good: try again at the next tick.
            Err(e) => warn!(job = %id, error = %e, "renewing a job's claim failed"),
        }
    }
}

/// The wait before the try after `attempts` failed ones: doubling from `first`, at most
/// [`MAX_BACKOFF`], with up to a fifth more at random so that retries spread out.
pub(crate) fn backoff(attempts: i64, first: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let base = first.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    let mut random = [0u8; 2];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX) * 0.2,
        Err(_) => 0.0,
    };
    base.mul_f64(1.0 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Handler, JobFuture};
    use crate::store::jobs::NewJob;
    use app::events::{JobKind, JobState};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails with a retryable error `failures` times, then reports progress and finishes.
    struct Flaky {
        failures: u32,
        runs: Arc<AtomicU32>,
    }

    impl Handler for Flaky {
        fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
            Box::pin(async move {
                let run = self.runs.fetch_add(1, Ordering::SeqCst);
                if run < self.failures {
                    return Err(JobError::Retry(format!("failure {run}")));
                }
                job.progress(7, Some(7)).await?;
                Ok(Some(serde_json::json!({"summary": "made"})))
            })
        }

        fn max_attempts(&self) -> u32 {
            3
        }
    }

    /// Never ends by itself.
    struct Endless;

    impl Handler for Endless {
        fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
            Box::pin(async move {
                job.progress(1, None).await?;
                std::future::pending().await
            })
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        (dir, Store::open(&url).await.unwrap())
    }

    async fn queue(store: &Store, kind: JobKind) -> JobId {
        let job = NewJob {
            kind,
            owner: None,
            payload: "{}",
            dedupe: None,
            run_at: 0,
        };
        store.enqueue_job(&job, now_ms()).await.unwrap().0
    }

    /// Polls `id`'s row until `done` holds of it.
    async fn until(store: &Store, id: JobId, done: impl Fn(&JobRow) -> bool) -> JobRow {
        loop {
            let row = store.job(id).await.unwrap().unwrap();
            if done(&row) {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn runner(store: &Store, handlers: Handlers) -> Runner {
        let mut runner = Runner::new(store.clone(), handlers, "test", 2, Duration::from_secs(30));
        runner.first_backoff = Duration::from_millis(20);
        runner
    }

    #[tokio::test]
    async fn a_failing_job_is_retried_then_done_and_a_hopeless_one_dies() {
        let (_dir, store) = store().await;
        let runs = Arc::new(AtomicU32::new(0));
        let handlers = Handlers::default().with(
            JobKind::Export,
            Flaky {
                failures: 2,
                runs: runs.clone(),
            },
        );
        let (stop, stopped) = watch::channel(false);
        let worker = tokio::spawn(runner(&store, handlers).run(stopped));
        let ok = queue(&store, JobKind::Export).await;
        let row = until(&store, ok, |r| r.state.is_final()).await;
        assert_eq!((row.state, row.attempts), (JobState::Done, 3));
        assert_eq!((row.progress_done, row.progress_total), (7, Some(7)));
        assert_eq!(row.result.as_deref(), Some("{\"summary\":\"made\"}"));
        // Three failures: dead after its kind's three attempts.
        runs.store(0, Ordering::SeqCst);
        let handlers = Handlers::default().with(
            JobKind::Import,
            Flaky {
                failures: 10,
                runs: runs.clone(),
            },
        );
        let (stop2, stopped2) = watch::channel(false);
        let worker2 = tokio::spawn(runner(&store, handlers).run(stopped2));
        let hopeless = queue(&store, JobKind::Import).await;
        let row = until(&store, hopeless, |r| r.state.is_final()).await;
        assert_eq!((row.state, row.attempts), (JobState::Dead, 3));
        assert_eq!(row.error.as_deref(), Some("failure 2"));
        stop.send(true).unwrap();
        stop2.send(true).unwrap();
        worker.await.unwrap();
        worker2.await.unwrap();
    }

    #[tokio::test]
    async fn a_stopping_worker_puts_its_jobs_back() {
        let (_dir, store) = store().await;
        let handlers = Handlers::default().with(JobKind::Import, Endless);
        let (stop, stopped) = watch::channel(false);
        let worker = tokio::spawn(runner(&store, handlers.clone()).run(stopped));
        let id = queue(&store, JobKind::Import).await;
        until(&store, id, |r| r.progress_done == 1).await;
        stop.send(true).unwrap();
        worker.await.unwrap();
        let row = store.job(id).await.unwrap().unwrap();
        assert_eq!(row.state, JobState::Queued, "back in the queue");
        assert!(row.run_at <= now_ms());
        // The next worker takes it up.
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(runner(&store, handlers).run(stopped));
        let row = until(&store, id, |r| {
            r.state == JobState::Running && r.attempts == 2
        })
        .await;
        assert_eq!(row.progress_done, 1);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let first = Duration::from_secs(2);
        let b1 = backoff(1, first);
        assert!(b1 >= first && b1 <= first.mul_f64(1.2));
        let b3 = backoff(3, first);
        assert!(b3 >= first * 4 && b3 <= (first * 4).mul_f64(1.2));
        assert!(backoff(40, first) <= MAX_BACKOFF.mul_f64(1.2));
    }
}
