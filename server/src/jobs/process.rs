//! `palaver worker`: a process that runs jobs and nothing else, beside the servers, on any
//! node. It shares the nodes' Postgres (jobs, files and messages are there) and needs no
//! sockets: the servers read the jobs table and tell each job's owner.

use std::future::Future;

use tokio::sync::watch;
use tracing::info;

use crate::config::WorkerConfig;
use crate::jobs::runner::Runner;
use crate::jobs::{self, Queue};
use crate::store::{Backend, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "it needs the Postgres database that several nodes share \
         (--database-url postgres://…); on SQLite the server runs jobs itself (--workers)"
    )]
    NeedsPostgres,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Start(#[from] jobs::StartError),
}

/// Runs jobs until `shutdown` completes; then puts the ones in hand back in the queue.
pub async fn work(
    config: &WorkerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), WorkerError> {
    if Backend::of(&config.database_url) != Backend::Postgres {
        return Err(WorkerError::NeedsPostgres);
    }
    let store = Store::open(&config.database_url).await?;
    let handlers = jobs::handlers(jobs::Needs {
        store: store.clone(),
        sink: jobs::import::Sink::Own {
            redis_url: config.redis_url.clone(),
        },
        webhooks_allow_private: config.webhooks_allow_private,
        webhook_timeout: config.webhook_timeout,
    })?;
    let queue = match config.queue_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Queue::through(store.clone(), url).await?,
        None => Queue::new(store.clone()),
    };
    let name = format!("worker-{}", uuid::Uuid::new_v4().simple());
    let (stop, stopped) = watch::channel(false);
    let runner = Runner::new(
        store.clone(),
        handlers,
        &name,
        config.concurrency,
        config.job_lease,
    )
    .woken_by(&queue);
    let running = tokio::spawn(runner.run(stopped));
    info!(
        worker = name,
        concurrency = config.concurrency,
        lease = ?config.job_lease,
        "palaver worker running"
    );
    shutdown.await;
    info!("shutting down: putting jobs in hand back in the queue");
    let _ = stop.send(true);
    let _ = running.await;
    if let Some(broker) = queue.broker() {
        broker.close().await;
    }
    store.close().await;
    Ok(())
}
