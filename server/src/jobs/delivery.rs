//! Outgoing webhooks through the queue: every second, each live hook whose room has messages
//! past what it delivered gets a `webhook` job (one unfinished job per hook, so a hook's
//! deliveries stay in order), and the job delivers them a page at a time ([`super::hooks`]).
//! A receiver that fails is tried again with the queue's backoff; after the last attempt its
//! page is given up (dead letters, on `/admin`), the job is dead, and the hook goes on with
//! the messages after it.

use std::time::Duration;

use app::events::JobKind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;

use crate::jobs::hooks::{self, Client, Outcome, PAGE, PendingError};
use crate::jobs::{Claimed, Handler, JobError, JobFuture, Queue};
use crate::store::Store;

/// How often hooks are checked for messages to deliver.
const DISPATCH_EVERY: Duration = Duration::from_secs(1);
/// Attempts at one page before it is given up: about 17 minutes of retries.
const ATTEMPTS: u32 = 10;

/// What a `webhook` job is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeliveryPayload {
    pub(crate) hook: String,
}

/// Runs `webhook` jobs.
pub(crate) struct Deliveries {
    pub(crate) store: Store,
    pub(crate) client: Client,
}

impl Handler for Deliveries {
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: DeliveryPayload = job.payload()?;
            let mut delivered = 0u64;
            loop {
                match hooks::deliver_pending(&self.store, &self.client, &payload.hook).await {
                    Ok(Outcome::Delivered(n)) => {
                        delivered += n as u64;
                        if n < PAGE {
                            break;
                        }
                        job.progress(delivered, None).await?;
                    }
                    Ok(Outcome::Gone) => break,
                    Err(PendingError::Store(e)) => return Err(e.into()),
                    Err(PendingError::Delivery {
                        error,
                        hook,
                        messages,
                    }) => {
                        let last = job.row.attempts >= i64::from(ATTEMPTS);
                        if error.is_retryable() && !last {
                            return Err(JobError::Retry(error.to_string()));
                        }
                        let attempts = u32::try_from(job.row.attempts).unwrap_or(ATTEMPTS);
                        hooks::give_up(&self.store, &hook, &messages, attempts, &error).await?;
                        return Err(JobError::Fatal(format!(
                            "gave up on {} message(s) after {attempts} attempt(s): {error}",
                            messages.len()
                        )));
                    }
                }
            }
            Ok(Some(json!({
                "summary": format!("{delivered} message(s) delivered"),
                "delivered": delivered,
            })))
        })
    }

    fn max_attempts(&self) -> u32 {
        ATTEMPTS
    }
}

/// Queues a delivery for every live hook with messages waiting, every [`DISPATCH_EVERY`],
/// forever. Every node does it: the dedupe key keeps one job per hook.
pub(crate) async fn dispatch(store: Store, queue: Queue) {
    let mut tick = tokio::time::interval(DISPATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let hooks = match store.hooks_with_pending().await {
            Ok(hooks) => hooks,
            Err(e) => {
                warn!(error = %e, "looking for webhook deliveries failed");
                continue;
            }
        };
        for hook in hooks {
            let key = format!("webhook:{hook}");
            let payload = DeliveryPayload { hook };
            if let Err(e) = queue
                .enqueue(JobKind::Webhook, None, &payload, Some(&key))
                .await
            {
                warn!(error = %e, "queueing a webhook delivery failed");
            }
        }
    }
}
