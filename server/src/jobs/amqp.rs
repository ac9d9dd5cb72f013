//! Jobs through RabbitMQ (`--queue-url amqp://…`): the broker carries job ids, the jobs
//! table keeps the jobs.
//!
//! A job id is published to the durable queue [`QUEUE`] as a persistent message, and
//! `publish` returns once the broker has confirmed it (publisher confirms): written to disk,
//! it outlives a restart of the broker. A consumer takes ids one by one, with manual
//! acknowledgements: a message is acked when its job has ended, nacked back to the queue for
//! a retry, or nacked without requeueing, which the queue dead-letters into [`DEAD`]. A
//! delivery not acked when the connection goes (a worker killed, the broker restarted) is
//! delivered again, so a job id may arrive twice: the jobs table's lease decides who runs it.
//!
//! When RabbitMQ goes away, both sides reconnect with exponential backoff and declare the
//! queues again. Nothing here panics: each failure is an [`AmqpError`], logged where it is
//! met.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use futures_util::{Stream, StreamExt as _};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::{Mutex, mpsc};
use tracing::{info, warn};

use crate::store::jobs::JobId;

/// The queue of job ids waiting for a worker.
pub(crate) const QUEUE: &str = "palaver.jobs";
/// The dead-letter exchange, and its queue: messages nacked without requeueing.
pub(crate) const DEAD: &str = "palaver.jobs.dead";

/// How long one exchange with the broker (connecting, declaring, a publish's confirm) may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// The first pause before reconnecting, doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long `publish` keeps reconnecting before it gives up (the job stays queued in the
/// table, for the next publish or sweep).
const PUBLISH_PATIENCE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub(crate) enum AmqpError {
    #[error("cannot reach RabbitMQ at {url}: {source}")]
    Unreachable { url: String, source: lapin::Error },
    #[error("RabbitMQ did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not take job {0} (nack)")]
    Refused(JobId),
    #[error("RabbitMQ had no queue for job {0}")]
    Unroutable(JobId),
    /// The delivery's channel closed before it was answered: the broker delivers it again.
    #[error(
        "job {0}'s delivery can no longer be answered (its connection went): RabbitMQ delivers it again"
    )]
    DeliveryGone(JobId),
    #[error("gave up publishing job {job} after {waited:?}: {last}")]
    GaveUp {
        job: JobId,
        waited: Duration,
        #[source]
        last: Box<AmqpError>,
    },
}

/// `future`, or [`AmqpError::TimedOut`] after [`ANSWER_WITHIN`].
async fn answered<T>(
    future: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, AmqpError> {
    Ok(tokio::time::timeout(ANSWER_WITHIN, future)
        .await
        .map_err(|_| AmqpError::TimedOut(ANSWER_WITHIN))??)
}

/// A URL fit for a log: without its password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

/// One connection and its channel, with the queues declared.
struct Link {
    connection: Connection,
    channel: Channel,
}

impl Link {
    /// Connects, opens a channel and declares the queues; `confirm` puts the channel in
    /// publisher-confirm mode, `prefetch` bounds the deliveries it holds unacked.
    async fn open(url: &str, confirm: bool, prefetch: Option<u16>) -> Result<Link, AmqpError> {
        let connection = tokio::time::timeout(
            ANSWER_WITHIN,
            Connection::connect(url, ConnectionProperties::default()),
        )
        .await
        .map_err(|_| AmqpError::TimedOut(ANSWER_WITHIN))?
        .map_err(|source| AmqpError::Unreachable {
            url: redacted(url),
            source,
        })?;
        let channel = answered(connection.create_channel()).await?;
        declare(&channel).await?;
        if confirm {
            answered(channel.confirm_select(ConfirmSelectOptions::default())).await?;
        }
        if let Some(prefetch) = prefetch {
            answered(channel.basic_qos(prefetch, BasicQosOptions::default())).await?;
        }
        Ok(Link {
            connection,
            channel,
        })
    }

    /// [`Link::open`], again and again with exponential backoff until it succeeds or
    /// `patience` (if any) has passed; each failure is logged.
    async fn open_with_backoff(
        url: &str,
        confirm: bool,
        prefetch: Option<u16>,
        patience: Option<Duration>,
    ) -> Result<Link, AmqpError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(MIN_BACKOFF)
            .with_max_delay(MAX_BACKOFF)
            .with_jitter()
            .without_max_times();
        if let Some(patience) = patience {
            backoff = backoff.with_total_delay(Some(patience));
        }
        (|| Link::open(url, confirm, prefetch))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .notify(|e, pause| warn!(error = %e, ?pause, "RabbitMQ unavailable; retrying"))
            .await
    }

    async fn close(self) {
        let _ = tokio::time::timeout(ANSWER_WITHIN, self.connection.close(200, "bye".into())).await;
    }
}

/// The queue, its dead letters, and the binding between them. Declaring is idempotent: each
/// (re)connection declares them again, so a broker that lost them (a new node) has them back.
async fn declare(channel: &Channel) -> Result<(), AmqpError> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    answered(channel.exchange_declare(
        DEAD.into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    ))
    .await?;
    answered(channel.queue_declare(DEAD.into(), durable, FieldTable::default())).await?;
    answered(channel.queue_bind(
        DEAD.into(),
        DEAD.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD.into()),
    );
    answered(channel.queue_declare(QUEUE.into(), durable, arguments)).await?;
    Ok(())
}

/// Publishes job ids to RabbitMQ and starts consumers; one connection for publishing, one per
/// consumer.
pub(crate) struct AmqpQueue {
    url: String,
    /// The publishing link; `None` after it failed, until the next publish reconnects.
    publisher: Mutex<Option<Link>>,
    patience: Duration,
}

impl AmqpQueue {
    /// Connects to the broker at `url` and declares the queues: fails at once if it cannot,
    /// as the server's start does for its database.
    pub(crate) async fn connect(url: &str) -> Result<AmqpQueue, AmqpError> {
        AmqpQueue::connect_with_patience(url, PUBLISH_PATIENCE).await
    }

    async fn connect_with_patience(url: &str, patience: Duration) -> Result<AmqpQueue, AmqpError> {
        let link = Link::open(url, true, None).await?;
        info!(url = %redacted(url), "connected to RabbitMQ");
        Ok(AmqpQueue {
            url: url.to_owned(),
            publisher: Mutex::new(Some(link)),
            patience,
        })
    }

    /// Publishes `job` as a persistent message, and returns once the broker confirmed it.
    /// With the broker away, it reconnects with backoff for a while, then gives up.
    pub(crate) async fn publish(&self, job: JobId) -> Result<(), AmqpError> {
        let started = tokio::time::Instant::now();
        let mut publisher = self.publisher.lock().await;
        loop {
            let link = match publisher.take() {
                Some(link) => link,
                None => {
                    let left = self.patience.saturating_sub(started.elapsed());
                    Link::open_with_backoff(&self.url, true, None, Some(left))
                        .await
                        .map_err(|last| AmqpError::GaveUp {
                            job,
                            waited: started.elapsed(),
                            last: Box::new(last),
                        })?
                }
            };
            match publish_on(&link.channel, job).await {
                Ok(()) => {
                    *publisher = Some(link);
                    return Ok(());
                }
                // The broker answered, and said no: the link is fine, the job is not taken.
                Err(e @ (AmqpError::Refused(_) | AmqpError::Unroutable(_))) => {
                    *publisher = Some(link);
                    return Err(e);
                }
                Err(e) if started.elapsed() >= self.patience => {
                    link.close().await;
                    return Err(AmqpError::GaveUp {
                        job,
                        waited: started.elapsed(),
                        last: Box::new(e),
                    });
                }
                // The link failed (the broker went away): a new one. A message the broker
                // took without confirming may then be published twice, which a job id
                // allows.
                Err(e) => {
                    warn!(error = %e, job = job.0, "publishing to RabbitMQ failed; reconnecting");
                    link.close().await;
                }
            }
        }
    }

    /// A consumer of job ids, holding at most `prefetch` of them unacknowledged. It
    /// reconnects by itself, with backoff, for as long as it is kept.
    pub(crate) fn consume(&self, prefetch: u16) -> Consumer {
        // Handing over one delivery at a time: the broker holds the rest.
        let (tx, rx) = mpsc::channel(1);
        let task = tokio::spawn(consume_loop(self.url.clone(), prefetch.max(1), tx));
        Consumer { rx, task }
    }

    pub(crate) async fn close(&self) {
        if let Some(link) = self.publisher.lock().await.take() {
            link.close().await;
        }
    }
}

async fn publish_on(channel: &Channel, job: JobId) -> Result<(), AmqpError> {
    let confirm = answered(
        channel.basic_publish(
            "".into(),
            QUEUE.into(),
            // Mandatory: a message no queue takes comes back, rather than vanishing.
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            job.0.to_string().as_bytes(),
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("text/plain".into()),
        ),
    )
    .await?;
    match answered(confirm).await? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(AmqpError::Unroutable(job)),
        Confirmation::Nack(_) | Confirmation::NotRequested => Err(AmqpError::Refused(job)),
    }
}

/// Job ids as RabbitMQ delivers them; a stream that reconnects by itself. Dropping it stops
/// its connection (what it held unacked goes back to the queue).
pub(crate) struct Consumer {
    rx: mpsc::Receiver<JobDelivery>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream for Consumer {
    type Item = JobDelivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<JobDelivery>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One delivered job id, to be answered once its job has ended (or failed).
#[derive(Debug)]
pub(crate) struct JobDelivery {
    pub(crate) job: JobId,
    /// Delivered before, and not acknowledged then (its worker or connection went away).
    pub(crate) redelivered: bool,
    acker: lapin::Acker,
}

impl JobDelivery {
    /// Done: the broker forgets it.
    pub(crate) async fn ack(self) -> Result<(), AmqpError> {
        let sent = answered(self.acker.ack(BasicAckOptions::default())).await?;
        self.answered(sent)
    }

    /// Back to the queue, for another try.
    pub(crate) async fn retry(self) -> Result<(), AmqpError> {
        self.nack(true).await
    }

    /// To the dead letters ([`DEAD`]).
    pub(crate) async fn dead(self) -> Result<(), AmqpError> {
        self.nack(false).await
    }

    async fn nack(self, requeue: bool) -> Result<(), AmqpError> {
        let sent = answered(self.acker.nack(BasicNackOptions {
            requeue,
            ..BasicNackOptions::default()
        }))
        .await?;
        self.answered(sent)
    }

    /// lapin answers `false` for an acker whose channel has closed.
    fn answered(&self, sent: bool) -> Result<(), AmqpError> {
        if sent {
            Ok(())
        } else {
            Err(AmqpError::DeliveryGone(self.job))
        }
    }
}

/// Connects, consumes and hands each delivery to `tx`; when the connection fails, connects
/// again with backoff. Ends when the [`Consumer`] is dropped.
async fn consume_loop(url: String, prefetch: u16, tx: mpsc::Sender<JobDelivery>) {
    loop {
        let link = tokio::select! {
            () = tx.closed() => return,
            link = Link::open_with_backoff(&url, false, Some(prefetch), None) => link,
        };
        let Ok(link) = link else {
            // Without a limit the backoff does not give up; should it, start over.
            continue;
        };
        let consumer = answered(link.channel.basic_consume(
            QUEUE.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ))
        .await;
        let mut consumer = match consumer {
            Ok(consumer) => consumer,
            Err(e) => {
                warn!(error = %e, "cannot consume from RabbitMQ; reconnecting");
                link.close().await;
                continue;
            }
        };
        info!(url = %redacted(&url), "consuming jobs from RabbitMQ");
        loop {
            let delivery = tokio::select! {
                () = tx.closed() => {
                    link.close().await;
                    return;
                }
                delivery = consumer.next() => delivery,
            };
            match delivery {
                Some(Ok(delivery)) => {
                    let Some(job) = job_id(&delivery.data) else {
                        warn!(
                            message = %String::from_utf8_lossy(&delivery.data).escape_debug(),
                            "a message in {QUEUE} that is not a job id: dead-lettered"
                        );
                        let nack = delivery.acker.nack(BasicNackOptions::default());
                        if let Err(e) = answered(nack).await {
                            warn!(error = %e, "cannot dead-letter it");
                        }
                        continue;
                    };
                    let job = JobDelivery {
                        job,
                        redelivered: delivery.redelivered,
                        acker: delivery.acker,
                    };
                    if tx.send(job).await.is_err() {
                        link.close().await;
                        return;
                    }
                }
                Some(Err(e)) => {
                    warn!(error = %e, "lost RabbitMQ; reconnecting");
                    break;
                }
                None => {
                    warn!("RabbitMQ ended the consumer; reconnecting");
                    break;
                }
            }
        }
        link.close().await;
    }
}

fn job_id(data: &[u8]) -> Option<JobId> {
    std::str::from_utf8(data).ok()?.parse().ok().map(JobId)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_services::RabbitMq;

    /// Upper bound for anything that should happen promptly.
    const PATIENCE: Duration = Duration::from_secs(30);

    async fn next(consumer: &mut Consumer) -> JobDelivery {
        tokio::time::timeout(PATIENCE, consumer.next())
            .await
            .expect("a delivery in time")
            .expect("the consumer goes on")
    }

    /// Stops or starts the broker from a blocking thread, the test's runtime going on.
    fn blocking(f: impl FnOnce()) {
        tokio::task::block_in_place(f)
    }

    /// The ids waiting in `queue`, taken off it.
    async fn drain(url: &str, queue: &str) -> Vec<i64> {
        let link = Link::open(url, false, None).await.unwrap();
        let mut ids = Vec::new();
        while let Some(message) = link
            .channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
        {
            ids.push(job_id(&message.delivery.data).unwrap().0);
        }
        link.close().await;
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_published_before_a_broker_restart_are_delivered_after_it() {
        let mut rabbit = RabbitMq::own();
        let queue = AmqpQueue::connect_with_patience(&rabbit.amqp_url(), Duration::from_secs(2))
            .await
            .unwrap();
        for id in [1, 2, 3] {
            queue.publish(JobId(id)).await.unwrap();
        }
        // Taken by a consumer, not acknowledged, when the broker stops: delivered again.
        let mut consumer = queue.consume(1);
        let first = next(&mut consumer).await;
        assert_eq!((first.job, first.redelivered), (JobId(1), false));

        blocking(|| rabbit.stop());
        let refused = queue.publish(JobId(4)).await;
        assert!(
            matches!(refused, Err(AmqpError::GaveUp { .. })),
            "a publish with the broker away gives up: {refused:?}"
        );
        let late = first.ack().await;
        assert!(
            matches!(late, Err(AmqpError::DeliveryGone(JobId(1)))),
            "its connection is gone: {late:?}"
        );
        blocking(|| rabbit.start());

        // The consumer reconnected by itself, and the publisher does on its next publish.
        let again = next(&mut consumer).await;
        assert_eq!((again.job, again.redelivered), (JobId(1), true));
        again.ack().await.unwrap();
        queue.publish(JobId(5)).await.unwrap();
        let two = next(&mut consumer).await;
        assert_eq!(two.job, JobId(2));
        two.retry().await.unwrap();
        let two = next(&mut consumer).await;
        assert_eq!((two.job, two.redelivered), (JobId(2), true));
        two.dead().await.unwrap();
        for id in [3, 5] {
            let delivery = next(&mut consumer).await;
            assert_eq!(delivery.job, JobId(id));
            delivery.ack().await.unwrap();
        }
        drop(consumer);

        assert_eq!(drain(&rabbit.amqp_url(), DEAD).await, [2], "dead-lettered");
        assert!(drain(&rabbit.amqp_url(), QUEUE).await.is_empty());
        queue.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_that_is_not_a_job_id_is_dead_lettered() {
        let rabbit = RabbitMq::own();
        let queue = AmqpQueue::connect(&rabbit.amqp_url()).await.unwrap();
        {
            let publisher = queue.publisher.lock().await;
            let channel = &publisher.as_ref().unwrap().channel;
            let confirm = channel
                .basic_publish(
                    "".into(),
                    QUEUE.into(),
                    BasicPublishOptions::default(),
                    b"not a number",
                    BasicProperties::default(),
                )
                .await
                .unwrap();
            confirm.await.unwrap();
        }
        queue.publish(JobId(7)).await.unwrap();
        let mut consumer = queue.consume(4);
        let seven = next(&mut consumer).await;
        assert_eq!(seven.job, JobId(7));
        seven.ack().await.unwrap();
        drop(consumer);
        let link = Link::open(&rabbit.amqp_url(), false, None).await.unwrap();
        let dead = link
            .channel
            .basic_get(
                DEAD.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
            .expect("dead-lettered");
        assert_eq!(dead.delivery.data, b"not a number");
        link.close().await;
    }

    #[test]
    fn job_ids_are_decimal() {
        assert_eq!(job_id(b"42"), Some(JobId(42)));
        assert_eq!(job_id(b"-1"), Some(JobId(-1)));
        for bad in [&b""[..], b"4 2", b"x", b"\xff", b"99999999999999999999"] {
            assert_eq!(job_id(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_a_typed_error() {
        let error = AmqpQueue::connect("amqp://guest:secret@127.0.0.1:1/%2f")
            .await
            .err()
            .expect("nothing listens on port 1");
        assert!(matches!(error, AmqpError::Unreachable { .. }), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
