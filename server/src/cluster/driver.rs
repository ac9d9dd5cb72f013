//! Cross-node pub/sub over Redis: a [`Driver`] for socketioxide's Redis adapter that never makes
//! local delivery wait on Redis.
//!
//! The adapter publishes a request to the other nodes before it delivers to the node's own
//! sockets, and skips the local delivery when the publish fails. So [`ClusterDriver::publish`]
//! only queues: a background task publishes the queue in order, in pipelined batches. When
//! Redis is too slow and the queue is full, a publish is dropped and counted.
//!
//! While the link is down, the publisher drops what it takes from the queue (counting it)
//! instead of holding it: what waits there is requests for other nodes that would arrive late
//! and stale (a broadcast their clients catch up on anyway, a room change since superseded, a
//! query whose asker stopped waiting), and dropping keeps memory to the queue's bound and the
//! order of what is published as it was queued.
//!
//! One RESP3 connection carries publishes, subscriptions and queries. A supervisor watches it
//! (the connection's disconnection push, failed commands, a periodic PING) and when it is lost
//! reconnects with capped exponential backoff and subscribes again to every channel that has a
//! handler. [`Status`] announces each loss and reconnection, so that the server can catch its
//! clients up: cross-node messages may have been missed meanwhile.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, ErrorKind, FromRedisValue, IntoConnectionInfo, ProtocolVersion,
    PushInfo, PushKind, RedisResult, Value,
};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::{MissedTickBehavior, sleep, timeout};
use tracing::{debug, info, warn};

use crate::logging::Hush;

/// Publishes sent to Redis in one round trip at most.
const BATCH: usize = 256;
/// How often a repeated warning may be logged.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// A publish waiting in the queue: channel and payload.
type Outgoing = (String, Vec<u8>);

/// Bounds and timings of a [`ClusterDriver`].
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Publishes that may wait for Redis; beyond that they are dropped and counted.
    pub(crate) queue: usize,
    /// Payload bytes that may wait for Redis, all publishes together; beyond that likewise.
    pub(crate) queue_bytes: usize,
    /// How long connecting (TCP and handshake) may take.
    pub(crate) connect_timeout: Duration,
    /// How long any command may take: a batch of publishes, SUBSCRIBE, PING, PUBSUB NUMSUB.
    pub(crate) command_timeout: Duration,
    /// How often the link is checked with a PING, to notice a Redis that hangs.
    pub(crate) ping_every: Duration,
    /// The wait after the first failed reconnection attempt; it doubles after each one...
    pub(crate) retry_first: Duration,
    /// ...up to this.
    pub(crate) retry_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            queue: 16_384,
            queue_bytes: 32 << 20,
            connect_timeout: Duration::from_secs(3),
            command_timeout: Duration::from_secs(1),
            ping_every: Duration::from_secs(1),
            retry_first: Duration::from_millis(50),
            retry_max: Duration::from_secs(2),
        }
    }
}

/// Whether the node is connected to Redis and subscribed to its channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    Up,
    /// Reconnecting. Publishes are dropped and counted; no cross-node message arrives.
    Down,
}

/// What a [`ClusterDriver`] last announced about its link, through [`ClusterDriver::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) link: Link,
    /// Reconnections since the driver connected, each announced with `link` turning `Up`. When
    /// it grows, this node's clients may have missed messages from other nodes.
    pub(crate) reconnects: u64,
    /// [`ClusterDriver::dropped`] as of the first publish that got through after drops. When
    /// it grows, other nodes' clients may have missed messages from this node.
    pub(crate) dropped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    #[error("cannot connect to Redis at {addr}: {source}")]
    Unreachable {
        addr: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("Redis at {addr} did not answer within {waited:?}")]
    Unanswered { addr: String, waited: Duration },
    #[error("not connected to Redis")]
    Down,
    #[error("Redis did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(
        "--redis-url is for several nodes, and several nodes must share their database: give \
         them a postgres:// --database-url (a SQLite file serves one node)"
    )]
    SqliteIsOneNode,
}

impl ClusterError {
    /// Whether the connection is to be replaced. An error reply from the server is not: the
    /// connection works, and a new one would get the same answer.
    fn breaks_link(&self) -> bool {
        match self {
            ClusterError::Redis(e) => {
                !matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
            }
            _ => true,
        }
    }
}

/// A [`Driver`] over one reconnecting Redis connection. Clones share it; the background tasks
/// stop once every clone is dropped.
#[derive(Clone)]
pub(crate) struct ClusterDriver {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Outgoing>,
}

impl ClusterDriver {
    /// Connects to the Redis at `url` (RESP3 is used whatever the URL says), with the default
    /// [`Settings`]. Fails if Redis does not answer within the connect timeout, so that a node
    /// given a wrong address refuses to start.
    pub(crate) async fn connect(url: &str) -> Result<ClusterDriver, ClusterError> {
        ClusterDriver::connect_with(url, Settings::default()).await
    }

    pub(crate) async fn connect_with(
        url: &str,
        settings: Settings,
    ) -> Result<ClusterDriver, ClusterError> {
        let info = url.into_connection_info().map_err(ClusterError::Url)?;
        let addr = info.addr().to_string();
        // Subscriptions arrive as pushes on the same connection as the commands: RESP3 only.
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client =
            redis::Client::open(info.set_redis_settings(resp3)).map_err(ClusterError::Url)?;
        let (status, _) = watch::channel(Status {
            link: Link::Up,
            reconnects: 0,
            dropped: 0,
        });
        let queue_size = settings.queue.max(1);
        let shared = Arc::new(Shared {
            client,
            addr,
            settings,
            handlers: RwLock::default(),
            live: Mutex::default(),
            lost: Notify::new(),
            status,
            dropped: AtomicU64::new(0),
            queued_bytes: AtomicUsize::new(0),
            drops: Hush::new(WARN_EVERY),
            overflows: Hush::new(WARN_EVERY),
        });
        let conn = shared.open(0).await?;
        shared.set_live(Some(Live {
            generation: 0,
            conn,
        }));
        let (queue, queued) = mpsc::channel(queue_size);
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(publish_queued(shared.clone(), queued, stop));
        tokio::spawn(supervise(shared.clone(), stopped));
        info!(addr = %shared.addr, "connected to Redis");
        Ok(ClusterDriver { shared, queue })
    }

    /// The link's state, announced on every change: on each loss, on each reconnection, and
    /// after drops on the first publish that gets through.
    pub(crate) fn status(&self) -> watch::Receiver<Status> {
        self.shared.status.subscribe()
    }

    /// Publishes dropped since the driver connected: queue full, or the link down.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Driver for ClusterDriver {
    type Error = ClusterError;

    /// Queues the publish and returns at once, always `Ok`: when the queue is full the
    /// message is dropped and counted.
    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), ClusterError> {
        let shared = &self.shared;
        let bytes = val.len();
        let queued = shared.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        if queued.saturating_add(bytes) > shared.settings.queue_bytes {
            shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            shared.drop_publishes(1, "the queue is full");
            return Ok(());
        }
        if let Err(e) = self.queue.try_send((chan, val)) {
            shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => shared.drop_publishes(1, "the queue is full"),
                TrySendError::Closed(_) => shared.drop_publishes(1, "the publisher has stopped"),
            }
        }
        Ok(())
    }

    /// Registers the channel's handler and subscribes. With the link down it still succeeds:
    /// the supervisor subscribes on reconnection.
    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, ClusterError> {
        let (tx, rx) = mpsc::channel(size.max(1));
        // Registered before the connection is read: the supervisor publishes a new connection
        // before it reads the handlers, so one of the two subscribes this channel.
        self.shared.handlers_mut().insert(chan.clone(), tx);
        if let Some(live) = self.shared.live() {
            let mut conn = live.conn.clone();
            if let Err(e) = self.shared.bounded(conn.subscribe(&chan)).await {
                if !e.breaks_link() {
                    self.shared.handlers_mut().remove(&chan);
                    return Err(e);
                }
                self.shared.lose(live.generation, &e);
            }
        }
        Ok(MessageStream::new(rx))
    }

    /// Removes the channel's handler and unsubscribes if connected; never fails.
    async fn unsubscribe(&self, chan: String) -> Result<(), ClusterError> {
        self.shared.handlers_mut().remove(&chan);
        if let Some(live) = self.shared.live() {
            let mut conn = live.conn.clone();
            if let Err(e) = self.shared.bounded(conn.unsubscribe(&chan)).await {
                // A subscription left behind only brings messages that find no handler.
                debug!(chan, error = %e, "UNSUBSCRIBE failed");
            }
        }
        Ok(())
    }

    /// The subscribers of `chan` across all nodes, from `PUBSUB NUMSUB`.
    async fn num_serv(&self, chan: &str) -> Result<u16, ClusterError> {
        let live = self.shared.live().ok_or(ClusterError::Down)?;
        let mut conn = live.conn.clone();
        let mut query = redis::cmd("PUBSUB");
        query.arg("NUMSUB").arg(chan);
        let (_, count): (String, u64) = self
            .shared
            .bounded(query.query_async(&mut conn))
            .await
            .inspect_err(|e| {
                if e.breaks_link() {
                    self.shared.lose(live.generation, e);
                }
            })?;
        Ok(u16::try_from(count).unwrap_or(u16::MAX))
    }
}

/// The connection in use, and which one it is: a loss reported for an older one is ignored.
#[derive(Clone)]
struct Live {
    generation: u64,
    conn: MultiplexedConnection,
}

struct Shared {
    client: redis::Client,
    /// Host and port, for logs and errors (the URL may hold a password).
    addr: String,
    settings: Settings,
    handlers: RwLock<HashMap<String, mpsc::Sender<ChanItem>>>,
    /// `None` while the link is down.
    live: Mutex<Option<Live>>,
    /// Woken when `live` is taken away.
    lost: Notify,
    status: watch::Sender<Status>,
    dropped: AtomicU64,
    /// Payload bytes of the publishes in the queue.
    queued_bytes: AtomicUsize,
    /// Warnings of dropped publishes.
    drops: Hush,
    /// Warnings of incoming messages dropped because a handler's channel was full.
    overflows: Hush,
}

impl Shared {
    fn live(&self) -> Option<Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_live(&self, live: Option<Live>) {
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = live;
    }

    fn handlers_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, mpsc::Sender<ChanItem>>> {
        self.handlers.write().unwrap_or_else(|p| p.into_inner())
    }

    fn channels(&self) -> Vec<String> {
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        handlers.keys().cloned().collect()
    }

    /// Takes connection `generation` out of use, if it still is, and wakes the supervisor.
    fn lose(&self, generation: u64, why: &dyn Display) {
        let taken = {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            match &*live {
                Some(l) if l.generation == generation => live.take(),
                _ => None,
            }
        };
        if taken.is_some() {
            warn!(addr = %self.addr, reason = %why, "lost the connection to Redis");
            self.lost.notify_one();
        }
    }

    fn drop_publishes(&self, count: u64, why: &str) {
        let total = self.dropped.fetch_add(count, Ordering::Relaxed) + count;
        if let Some(skipped) = self.drops.speak() {
            warn!(
                total,
                skipped, "a publish to Redis was dropped: {why}; other nodes miss it"
            );
        }
    }

    /// `command`, given at most the command timeout.
    async fn bounded<T>(
        &self,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, ClusterError> {
        let waited = self.settings.command_timeout;
        match timeout(waited, command).await {
            Ok(answer) => Ok(answer?),
            Err(_) => Err(ClusterError::TimedOut(waited)),
        }
    }

    /// A new connection, numbered `generation`, whose pushes come to this.
    async fn open(
        self: &Arc<Self>,
        generation: u64,
    ) -> Result<MultiplexedConnection, ClusterError> {
        let waited = self.settings.connect_timeout;
        // Weak: the connection lives in `self`, and its pushes must not keep `self` alive.
        let shared = Arc::downgrade(self);
        // No timeouts of the crate's own: the one below covers the handshake, and `bounded`
        // each command.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(None)
            .set_push_sender(move |push: PushInfo| {
                if let Some(shared) = shared.upgrade() {
                    shared.on_push(generation, push);
                }
                Ok::<(), Infallible>(())
            });
        let connecting = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match timeout(waited, connecting).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(ClusterError::Unreachable {
                addr: self.addr.clone(),
                source,
            }),
            Err(_) => Err(ClusterError::Unanswered {
                addr: self.addr.clone(),
                waited,
            }),
        }
    }

    /// Connects and subscribes to every channel that has a handler; the number of channels.
    async fn reconnect(self: &Arc<Self>, generation: u64) -> Result<usize, ClusterError> {
        let conn = self.open(generation).await?;
        // In use before the handlers are read; see `subscribe`.
        self.set_live(Some(Live {
            generation,
            conn: conn.clone(),
        }));
        let subscribed = self.resubscribe(conn).await;
        if subscribed.is_err() {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if live.as_ref().is_some_and(|l| l.generation == generation) {
                *live = None;
            }
        }
        subscribed
    }

    async fn resubscribe(&self, mut conn: MultiplexedConnection) -> Result<usize, ClusterError> {
        let channels = self.channels();
        if channels.is_empty() {
            return Ok(0);
        }
        self.bounded(conn.subscribe(&channels)).await?;
        // A channel unsubscribed meanwhile would stay subscribed to no purpose.
        let now: HashSet<String> = self.channels().into_iter().collect();
        let gone: Vec<&String> = channels.iter().filter(|c| !now.contains(*c)).collect();
        if !gone.is_empty() {
            self.bounded(conn.unsubscribe(&gone)).await?;
        }
        Ok(channels.len())
    }

    /// Called by the connection numbered `generation`, without blocking, for each push.
    fn on_push(&self, generation: u64, push: PushInfo) {
        match push.kind {
            PushKind::Message => self.deliver(push.data),
            PushKind::Disconnection => self.lose(generation, &"the connection closed"),
            _ => {}
        }
    }

    fn deliver(&self, data: Vec<Value>) {
        let mut data = data.into_iter();
        let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
            debug!("a pub/sub message without channel or payload");
            return;
        };
        let (Ok(chan), Ok(payload)) = (
            String::from_redis_value(chan),
            Vec::<u8>::from_redis_value(payload),
        ) else {
            debug!("a pub/sub message of unexpected types");
            return;
        };
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        let Some(handler) = handlers.get(&chan) else {
            debug!(chan, "a pub/sub message for a channel without a handler");
            return;
        };
        match handler.try_send((chan, payload)) {
            Ok(()) => {}
            Err(TrySendError::Full((chan, _))) => {
                if let Some(skipped) = self.overflows.speak() {
                    warn!(
                        chan,
                        skipped, "a message from another node was dropped: its channel is full"
                    );
                }
            }
            Err(TrySendError::Closed((chan, _))) => {
                debug!(chan, "a pub/sub message for a closed handler");
            }
        }
    }

    /// Checks the link with a PING; takes the connection out of use if it fails.
    async fn check(&self) {
        let Some(live) = self.live() else { return };
        let mut conn = live.conn.clone();
        if let Err(e) = self.bounded(redis::cmd("PING").exec_async(&mut conn)).await {
            self.lose(live.generation, &e);
        }
    }
}

/// Publishes the queue in order until every [`ClusterDriver`] is dropped; then drops `stop`,
/// which stops the supervisor.
async fn publish_queued(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Outgoing>,
    stop: oneshot::Sender<()>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut announced = 0;
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let count = batch.len() as u64;
        let bytes = batch.iter().map(|(_, payload)| payload.len()).sum();
        shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        let Some(live) = shared.live() else {
            batch.clear();
            shared.drop_publishes(count, "not connected");
            continue;
        };
        let mut pipe = redis::pipe();
        for (chan, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(chan).arg(payload).ignore();
        }
        let mut conn = live.conn.clone();
        match shared.bounded(pipe.exec_async(&mut conn)).await {
            Ok(()) => {
                let dropped = shared.dropped.load(Ordering::Relaxed);
                if dropped != announced {
                    announced = dropped;
                    shared.status.send_modify(|s| s.dropped = dropped);
                }
            }
            Err(e) => {
                shared.drop_publishes(count, "Redis failed to take it");
                if e.breaks_link() {
                    shared.lose(live.generation, &e);
                }
            }
        }
    }
    drop(stop);
}

/// Reconnects whenever the link is lost, until `stop` is dropped; then closes the connection.
async fn supervise(shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let settings = shared.settings.clone();
    let mut ping = tokio::time::interval(settings.ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut generation = 0;
    // A long outage is logged now and then, not at every attempt.
    let failures = Hush::new(Duration::from_secs(30));
    'supervise: loop {
        tokio::select! {
            _ = &mut stop => break,
            () = shared.lost.notified() => {}
            _ = ping.tick() => shared.check().await,
        }
        if shared.live().is_some() {
            continue;
        }
        shared.status.send_modify(|s| s.link = Link::Down);
        let mut wait = settings.retry_first;
        let channels = loop {
            generation += 1;
            let attempt = tokio::select! {
                _ = &mut stop => break 'supervise,
                attempt = shared.reconnect(generation) => attempt,
            };
            match attempt {
                Ok(channels) => break channels,
                Err(e) => match failures.speak() {
                    Some(_) => warn!(error = %e, "reconnecting to Redis failed; retrying"),
                    None => debug!(error = %e, retry_in = ?wait, "reconnecting to Redis failed"),
                },
            }
            tokio::select! {
                _ = &mut stop => break 'supervise,
                () = sleep(wait) => {}
            }
            wait = (wait * 2).min(settings.retry_max);
        };
        shared.status.send_modify(|s| {
            s.link = Link::Up;
            s.reconnects += 1;
        });
        info!(addr = %shared.addr, channels, "reconnected to Redis and subscribed again");
    }
    shared.set_live(None);
}

#[cfg(test)]
use crate::test_services as services;

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
    use std::time::Instant;

    /// Enough to fail promptly and come back quickly.
    fn quick(queue: usize) -> Settings {
        Settings {
            queue,
            queue_bytes: 1 << 20,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_millis(300),
            ping_every: Duration::from_millis(100),
            retry_first: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
        }
    }

    async fn driver(redis: &services::Service, queue: usize) -> ClusterDriver {
        ClusterDriver::connect_with(&redis.redis_url(), quick(queue))
            .await
            .expect("connect to the test's Redis")
    }

    /// Waits until the driver's status satisfies `what`.
    async fn until(driver: &ClusterDriver, what: impl FnMut(&Status) -> bool) -> Status {
        let mut status = driver.status();
        let seen = timeout(Duration::from_secs(10), status.wait_for(what))
            .await
            .expect("the status within 10 s")
            .expect("the driver's supervisor is running");
        *seen
    }

    /// The next message on `stream` whose payload is `payload`, skipping others.
    async fn receive(stream: &mut MessageStream<ChanItem>, payload: &[u8]) -> ChanItem {
        let found = async {
            while let Some(item) = stream.next().await {
                if item.1 == payload {
                    return Some(item);
                }
            }
            None
        };
        timeout(Duration::from_secs(10), found)
            .await
            .expect("the message within 10 s")
            .expect("the stream stays open")
    }

    /// Polls `cond` until it holds, for at most 10 s.
    async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "{what} within 10 s");
            sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_message_published_by_one_node_reaches_the_others_subscription() {
        let redis = services::redis();
        let (a, b) = (driver(&redis, 64).await, driver(&redis, 64).await);
        let mut on_a = a.subscribe("room".into(), 16).await.expect("subscribe");
        let _on_b = b.subscribe("room".into(), 16).await.expect("subscribe");
        assert_eq!(b.num_serv("room").await.expect("num_serv"), 2);
        assert_eq!(b.num_serv("elsewhere").await.expect("num_serv"), 0);

        b.publish("room".into(), b"hello".to_vec())
            .await
            .expect("publish");
        let (chan, payload) = receive(&mut on_a, b"hello").await;
        assert_eq!((chan.as_str(), payload.as_slice()), ("room", &b"hello"[..]));

        a.unsubscribe("room".into()).await.expect("unsubscribe");
        assert_eq!(b.num_serv("room").await.expect("num_serv"), 1);
        assert_eq!(a.dropped(), 0);
        assert_eq!(b.dropped(), 0);
    }

    #[tokio::test]
    async fn publish_returns_at_once_and_drops_while_redis_is_down() {
        let mut redis = services::redis();
        let d = driver(&redis, 4).await;
        redis.stop();
        until(&d, |s| s.link == Link::Down).await;

        for i in 0..100u8 {
            let publish = d.publish("room".into(), vec![i]).now_or_never();
            assert!(
                matches!(publish, Some(Ok(()))),
                "publish {i} waited or failed"
            );
        }
        eventually("all 100 publishes counted as dropped", || {
            d.dropped() == 100
        })
        .await;
        assert!(matches!(d.num_serv("room").await, Err(ClusterError::Down)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_drops_publishes_while_redis_hangs_and_says_so_once_through() {
        let redis = services::redis();
        let (a, b) = (driver(&redis, 4).await, driver(&redis, 4).await);
        let mut on_b = b.subscribe("room".into(), 16).await.expect("subscribe");
        // Redis takes no command for 2 s: the publisher's batch hangs and the queue fills.
        let mut admin = redis::Client::open(redis.redis_url())
            .expect("a client")
            .get_multiplexed_async_connection()
            .await
            .expect("a connection");
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(2000)
            .arg("ALL")
            .exec_async(&mut admin)
            .await
            .expect("CLIENT PAUSE");

        for i in 0..100u8 {
            let publish = a.publish("room".into(), vec![i]).now_or_never();
            assert!(
                matches!(publish, Some(Ok(()))),
                "publish {i} waited or failed"
            );
        }
        // At most one queue-full waiting and one in the hanging batch.
        assert!(a.dropped() >= 100 - 2 * 4, "dropped {}", a.dropped());

        // Once Redis answers again, a publish gets through and the drops are announced.
        until(&b, |s| s.link == Link::Up && s.reconnects > 0).await;
        until(&a, |s| s.link == Link::Up && s.reconnects > 0).await;
        a.publish("room".into(), b"after".to_vec())
            .await
            .expect("publish");
        receive(&mut on_b, b"after").await;
        let announced = until(&a, |s| s.dropped > 0).await;
        assert!(announced.dropped >= 100 - 2 * 4, "{announced:?}");
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_bytes_too() {
        let redis = services::redis();
        let settings = Settings {
            queue_bytes: 1024,
            ..quick(64)
        };
        let d = ClusterDriver::connect_with(&redis.redis_url(), settings)
            .await
            .expect("connect");
        let mut on_d = d.subscribe("room".into(), 16).await.expect("subscribe");
        // On this single-threaded runtime the publisher runs only once the test awaits: two
        // payloads of 512 bytes fill the queue, and the third is dropped.
        for i in 0..3u8 {
            let publish = d.publish("room".into(), vec![i; 512]).now_or_never();
            assert!(matches!(publish, Some(Ok(()))), "publish {i}");
        }
        assert_eq!(d.dropped(), 1);
        receive(&mut on_d, &[0; 512]).await;
        receive(&mut on_d, &[1; 512]).await;
        // Published, the first two no longer count against the bound.
        d.publish("room".into(), vec![3; 512])
            .await
            .expect("publish");
        receive(&mut on_d, &[3; 512]).await;
        assert_eq!(d.dropped(), 1);
    }

    #[tokio::test]
    async fn after_a_redis_restart_the_driver_reconnects_and_subscribes_again() {
        let mut redis = services::redis();
        let port = redis.port;
        let a = driver(&redis, 64).await;
        let mut before = a.subscribe("before".into(), 16).await.expect("subscribe");

        redis.stop();
        let down = until(&a, |s| s.link == Link::Down).await;
        assert_eq!(down.reconnects, 0);
        // Subscribing while down succeeds, and takes effect on reconnection.
        let mut during = a
            .subscribe("during".into(), 16)
            .now_or_never()
            .expect("subscribe does not wait while down")
            .expect("subscribe while down");

        let redis = services::redis_on(port);
        let up = until(&a, |s| s.link == Link::Up).await;
        assert_eq!(up.reconnects, 1);

        let b = driver(&redis, 64).await;
        assert_eq!(b.num_serv("before").await.expect("num_serv"), 1);
        assert_eq!(b.num_serv("during").await.expect("num_serv"), 1);
        b.publish("before".into(), b"one".to_vec())
            .await
            .expect("publish");
        b.publish("during".into(), b"two".to_vec())
            .await
            .expect("publish");
        receive(&mut before, b"one").await;
        receive(&mut during, b"two").await;
    }

    #[tokio::test]
    async fn connecting_where_nothing_listens_fails_promptly() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let started = Instant::now();
        let refused = ClusterDriver::connect(&format!("redis://127.0.0.1:{port}")).await;
        assert!(
            matches!(refused, Err(ClusterError::Unreachable { .. })),
            "{:?}",
            refused.err()
        );
        assert!(started.elapsed() < Duration::from_secs(3));

        // A listener that never answers: the handshake times out.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a listener");
        let url = format!("redis://{}", silent.local_addr().expect("its address"));
        let unanswered = ClusterDriver::connect_with(&url, quick(4)).await;
        assert!(
            matches!(unanswered, Err(ClusterError::Unanswered { .. })),
            "{:?}",
            unanswered.err()
        );

        assert!(matches!(
            ClusterDriver::connect("no-such-scheme://x").await,
            Err(ClusterError::Url(_))
        ));
    }

    /// socketioxide's Redis adapter with this driver: a broadcast reaches the node's own socket
    /// at once while Redis is down.
    #[tokio::test]
    async fn the_adapter_delivers_locally_while_redis_is_down() {
        use socketioxide::SocketIo;
        use socketioxide::extract::SocketRef;
        use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
        use tokio_tungstenite::tungstenite::Message;
        type Adapter = CustomRedisAdapter<socketioxide::adapter::Emitter, ClusterDriver>;

        let mut redis = services::redis();
        let d = driver(&redis, 64).await;
        let (layer, io) = SocketIo::builder()
            .with_adapter::<Adapter>(RedisAdapterCtr::new_with_driver(
                d.clone(),
                RedisAdapterConfig::default(),
            ))
            .build_layer();
        io.ns("/", async |_: SocketRef<Adapter>| {})
            .await
            .expect("the namespace's adapter subscribes");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a listener");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(axum::serve(listener, axum::Router::new().layer(layer)).into_future());

        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("a WebSocket");
        async fn next_text<S>(ws: &mut S) -> String
        where
            S: futures_util::Stream<Item = tokio_tungstenite::tungstenite::Result<Message>> + Unpin,
        {
            loop {
                let frame = timeout(Duration::from_secs(5), ws.next())
                    .await
                    .expect("a frame within 5 s")
                    .expect("the socket stays open")
                    .expect("a frame");
                let text = frame.into_text().expect("a text frame").to_string();
                // Engine.IO's heartbeat.
                if text != "2" {
                    return text;
                }
            }
        }
        assert!(next_text(&mut ws).await.starts_with('0'), "Engine.IO open");
        ws.send(Message::Text("40".into()))
            .await
            .expect("Socket.IO connect");
        assert!(
            next_text(&mut ws).await.starts_with("40"),
            "Socket.IO connected"
        );

        redis.stop();
        until(&d, |s| s.link == Link::Down).await;
        timeout(Duration::from_secs(1), io.emit("hello", "world"))
            .await
            .expect("the broadcast does not wait on Redis")
            .expect("the broadcast succeeds");
        assert_eq!(next_text(&mut ws).await, r#"42["hello","world"]"#);
    }
}
