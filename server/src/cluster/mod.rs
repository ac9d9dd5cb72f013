//! Palaver on several nodes: socketioxide's Redis adapter, on a driver of our own
//! ([`driver`]), carries broadcasts, room changes and disconnects to every node.
//!
//! One adapter type serves both one node and several, so that the rest of the server has one
//! type to name: on one node its bus is alone, which publishes nowhere, and every
//! broadcast is the local one it always was.

pub(crate) mod driver;
pub(crate) mod emitter;

use socketioxide::adapter::Emitter;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use driver::{ClusterDriver, ClusterError, Status};
use tokio::sync::watch;

/// The adapter of every namespace.
pub(crate) type Adapter = CustomRedisAdapter<Emitter, Bus>;
pub(crate) type SocketIo = socketioxide::SocketIo<Adapter>;
pub type SocketRef = socketioxide::extract::SocketRef<Adapter>;
pub(crate) type Socket = socketioxide::socket::Socket<Adapter>;
pub(crate) type BroadcastOperators = socketioxide::operators::BroadcastOperators<Adapter>;
pub(crate) type AckSender = socketioxide::extract::AckSender<Adapter>;
/// Why a namespace's adapter could not subscribe to the other nodes' requests.
pub(crate) type AdapterError = socketioxide_redis::InitError<Bus>;

/// Where the adapter's requests to other nodes go.
#[derive(Clone)]
pub struct Bus(Route);

/// The channel on which nodes tell each other who is connected to them (`state::peers`).
const PEERS: &str = "palaver-peers";
/// Views of other nodes waiting to be read; past it, the driver drops them (the next ones,
/// a second later, say the same).
const PEER_BUFFER: usize = 64;

#[derive(Clone)]
enum Route {
    /// One node: there is nobody to tell.
    Alone,
    /// Several nodes, through Redis.
    Redis(ClusterDriver),
}

impl Bus {
    /// The bus the configuration asks for: through Redis at `redis_url`, or none. Several
    /// nodes must share their database, so SQLite, which serves one node, refuses Redis.
    pub(crate) async fn connect(
        redis_url: Option<&str>,
        backend: crate::store::Backend,
    ) -> Result<Bus, ClusterError> {
        let Some(url) = redis_url.filter(|u| !u.is_empty()) else {
            return Ok(Bus(Route::Alone));
        };
        if backend == crate::store::Backend::Sqlite {
            return Err(ClusterError::SqliteIsOneNode);
        }
        Ok(Bus(Route::Redis(ClusterDriver::connect(url).await?)))
    }

    /// The adapter's state for this bus. Requests to other nodes wait for answers at most
    /// `request_timeout` (the adapter's own default is 5 s).
    pub(crate) fn adapter(self) -> RedisAdapterCtr<Bus> {
        RedisAdapterCtr::new_with_driver(self, RedisAdapterConfig::default())
    }

    /// Sends `view` to the other nodes, without waiting on Redis; alone, to nobody.
    pub(crate) async fn tell_peers(&self, view: Vec<u8>) {
        if let Route::Redis(d) = &self.0 {
            // Never fails: the driver queues, or drops and counts.
            let _ = d.publish(PEERS.to_owned(), view).await;
        }
    }

    /// What the other nodes tell (their own included: the caller skips its own); `None` alone.
    pub(crate) async fn peer_views(&self) -> Option<MessageStream<ChanItem>> {
        match &self.0 {
            Route::Alone => None,
            Route::Redis(d) => d.subscribe(PEERS.to_owned(), PEER_BUFFER).await.ok(),
        }
    }

    /// Whether other nodes share this node's rooms (and its database).
    pub(crate) fn linked(&self) -> bool {
        matches!(self.0, Route::Redis(_))
    }

    /// The state of the link to the other nodes; `None` alone.
    pub(crate) fn status(&self) -> Option<watch::Receiver<Status>> {
        match &self.0 {
            Route::Alone => None,
            Route::Redis(d) => Some(d.status()),
        }
    }
}

impl Driver for Bus {
    type Error = ClusterError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), ClusterError> {
        match &self.0 {
            Route::Alone => Ok(()),
            Route::Redis(d) => d.publish(chan, val).await,
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, ClusterError> {
        match &self.0 {
            Route::Alone => Ok(MessageStream::new_empty()),
            Route::Redis(d) => d.subscribe(chan, size).await,
        }
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), ClusterError> {
        match &self.0 {
            Route::Alone => Ok(()),
            Route::Redis(d) => d.unsubscribe(chan).await,
        }
    }

    /// Alone, this node is the only server.
    async fn num_serv(&self, chan: &str) -> Result<u16, ClusterError> {
        match &self.0 {
            Route::Alone => Ok(1),
            Route::Redis(d) => d.num_serv(chan).await,
        }
    }
}
