//! The chat's shared state: the store and the writer, who is where, and what guards the chat.
//! One process owns all of it (see ARCHITECTURE.md, "one process").

pub(crate) mod announcements;
pub(crate) mod arrivals;
pub(crate) mod gates;
pub(crate) mod limits;
pub(crate) mod peers;
pub(crate) mod presence;
pub(crate) mod rules;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::Mutex;

use crate::cluster::Bus;
use crate::http::peer::TrustedProxies;
use crate::metrics::Metrics;
use crate::session::Keys;
use crate::socket::backlog::Backlogs;
use crate::socket::lagging::Lagging;
use crate::socket::notices::Notices;
use crate::socket::recent::Recent;
use crate::socket::writer::{self, Writer};
use crate::store::Store;

/// Shared state of the chat namespace. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Chat {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) lagging: Arc<Lagging>,
    /// Held across "commit, then broadcast" and across "join, then replay", so that every
    /// client sees messages in id order and a connecting client neither misses nor repeats a
    /// message committed while it joins. SQLite serialises writers anyway, so this costs no
    /// write throughput.
    pub(crate) order: Arc<Mutex<()>>,
    /// Signs and checks session tokens.
    pub(crate) keys: Keys,
    /// What each person (or address) may do how often.
    pub(crate) limits: Arc<limits::Limits>,
    /// Whose `X-Forwarded-For` says where a client connects from.
    pub(crate) trusted_proxies: Arc<TrustedProxies>,
    /// Which "joined" and "left" notices are posted, held back, or left out.
    pub(crate) notices: Arc<Notices>,
    /// What `/admin` clients must present.
    pub(crate) admin_token: Arc<str>,
    /// Who is in which room, and who typed when.
    pub(crate) presence: Arc<presence::Rooms>,
    /// Rooms whose counts changed and must be announced.
    pub(crate) announcements: Arc<announcements::Announcements>,
    /// Stores and broadcasts every message, committing those that arrive together at once.
    pub(crate) writer: Writer,
    /// Each room's newest messages, for catch-ups that read without the order lock.
    pub(crate) recent: Arc<Recent>,
    /// What each socket has been sent and not yet read, in bytes.
    pub(crate) backlogs: Backlogs,
    /// Catch-ups under way: reading, or holding what they read until they send it.
    pub(crate) catchups: Arc<gates::Gates>,
    /// How many times a person's sockets were put into a room they had just joined or made:
    /// a connect handler that sees it move while it connects reads the person's rooms again.
    pub(crate) entries: Arc<AtomicU64>,
    /// Sockets being welcomed, and those waiting for their welcome.
    pub(crate) arrivals: Arc<arrivals::Arrivals>,
    /// The other nodes, if any (`socket/peers.rs` talks with them).
    pub(crate) bus: Bus,
    /// This node's id among them, made at start.
    pub(crate) node: Arc<str>,
    /// Where imports, exports, deliveries and backups are queued.
    pub(crate) jobs: crate::jobs::Queue,
    /// What webhooks and bots need of the configuration.
    pub(crate) webhooks: Arc<Webhooks>,
    /// Passwords, sign-in limits, and the sign-up and guest policies.
    pub(crate) accounts: Arc<crate::accounts::Accounts>,
    /// Which rooms are private, and who may post in each.
    pub(crate) rules: Arc<rules::RoomRules>,
}

/// What guards the chat against floods, from the configuration.
pub(crate) struct Guards {
    pub(crate) limits: limits::Limits,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) notice_window: std::time::Duration,
    pub(crate) joined_notices_every: std::time::Duration,
    pub(crate) webhooks: Webhooks,
    pub(crate) accounts: crate::accounts::Accounts,
}

/// What webhooks and bots need of the configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Webhooks {
    /// `scheme://host[:port]` as people reach the server, for the URLs of incoming webhooks;
    /// `None` when it is not known (listening on a wildcard address, no public URL).
    pub(crate) public_base: Option<String>,
    /// Whether outgoing webhooks may go to loopback, private and other non-public addresses.
    pub(crate) allow_private: bool,
}

impl Chat {
    /// The chat's state, and its writer (a thread of its own).
    pub(crate) fn new(
        store: Store,
        keys: Keys,
        guards: Guards,
        admin_token: &str,
        backlogs: Backlogs,
        bus: Bus,
    ) -> Result<Chat, std::io::Error> {
        let metrics: Arc<Metrics> = Arc::default();
        let lagging: Arc<Lagging> = Arc::default();
        let order: Arc<Mutex<()>> = Arc::default();
        let recent: Arc<Recent> = Arc::default();
        let writer = Writer::start(writer::Shared {
            store: store.clone(),
            metrics: metrics.clone(),
            lagging: lagging.clone(),
            order: order.clone(),
            recent: recent.clone(),
        })?;
        Ok(Chat {
            jobs: crate::jobs::Queue::new(store.clone()),
            store,
            keys,
            admin_token: admin_token.into(),
            presence: Arc::default(),
            announcements: Arc::default(),
            limits: Arc::new(guards.limits),
            trusted_proxies: Arc::new(guards.trusted_proxies),
            notices: Arc::new(Notices::new(
                guards.notice_window,
                guards.joined_notices_every,
            )),
            metrics,
            lagging,
            order,
            writer,
            recent,
            backlogs,
            catchups: Arc::default(),
            entries: Arc::default(),
            arrivals: Arc::default(),
            bus,
            node: uuid::Uuid::new_v4().simple().to_string().into(),
            webhooks: Arc::new(guards.webhooks),
            accounts: Arc::new(guards.accounts),
            rules: Arc::default(),
        })
    }
}
