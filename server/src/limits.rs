//! Which budget each costly action is charged to (the buckets are `throttle.rs`'s).
//!
//! - A person's budget is theirs whichever tab or address they use: their id is the key.
//! - A guest has no id and can open any number of sockets, so guests are keyed by the
//!   address they connect from (`peer.rs`'s [`Source`]): two hundred guest sockets from one
//!   address share one budget.
//! - New names are counted per address, since each one comes with fresh budgets; and every
//!   message sent from an address also counts against a generous cap for that address, so
//!   that the names an address may claim cannot multiply what it may send.
//!
//! Over a limit, an event gets `rate_limited` with the time to wait; a connect claiming a new
//! name gets the `too_many_names` refusal.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use app::events::{ChatError, Refusal};
use socketioxide::extract::SocketRef;

use crate::chat::Chat;
use crate::config::Config;
use crate::identity::{self, Identity};
use crate::peer::Source;
use crate::throttle::Throttle;

/// The actions limited per person (per address for guests), besides sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// `join room` and `leave room`, one budget for both.
    JoinOrLeave,
    CreateRoom,
    OpenDm,
    /// `history`, `sync` and `browse rooms`.
    Read,
    /// `read`: moving a read marker, which is a write.
    MarkRead,
}

#[derive(Debug)]
pub(crate) struct Limits {
    sends: Throttle,
    address_sends: Throttle,
    joins: Throttle,
    creates: Throttle,
    dms: Throttle,
    reads: Throttle,
    marks: Throttle,
    names: Throttle,
}

impl Limits {
    pub(crate) fn new(config: &Config) -> Limits {
        Limits {
            sends: Throttle::per_second(config.rate_limit, config.rate_burst),
            // A rate of 0 turns sending's limits off, the address's included: that is what the
            // setting has always meant to those who lift it (benchmarks, bots).
            address_sends: if config.rate_limit > 0.0 {
                Throttle::new(config.address_send_limit)
            } else {
                Throttle::new(crate::throttle::Limit::Off)
            },
            joins: Throttle::new(config.join_limit),
            creates: Throttle::new(config.create_limit),
            dms: Throttle::new(config.dm_limit),
            reads: Throttle::new(config.read_limit),
            marks: Throttle::new(config.mark_limit),
            names: Throttle::new(config.name_limit),
        }
    }

    /// Charges one message to its sender, and to the address it comes from.
    fn send(&self, payer: &Payer<'_>, now: Instant) -> Result<(), Duration> {
        self.sends.take(&payer.key(), now)?;
        match payer.source {
            Some(source) => self.address_sends.take(&source.to_string(), now),
            None => Ok(()),
        }
    }

    /// Charges `cost` of `action` to its payer.
    fn charge(
        &self,
        action: Action,
        payer: &Payer<'_>,
        cost: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        let throttle = match action {
            Action::JoinOrLeave => &self.joins,
            Action::CreateRoom => &self.creates,
            Action::OpenDm => &self.dms,
            Action::Read => &self.reads,
            Action::MarkRead => &self.marks,
        };
        throttle.take_n(&payer.key(), cost, now)
    }

    /// Charges a new name to the address claiming it. An address the server did not record
    /// (no TCP peer) is not limited: there is nothing to key it by that the client does not
    /// choose.
    fn new_name(&self, source: Option<Source>, now: Instant) -> Result<(), Duration> {
        match source {
            Some(source) => self.names.take(&source.to_string(), now),
            None => Ok(()),
        }
    }
}

/// Who pays for an action.
struct Payer<'a> {
    person: Option<&'a str>,
    source: Option<Source>,
    /// The socket, for a guest whose address is unknown.
    socket: &'a str,
}

impl Payer<'_> {
    fn key(&self) -> String {
        match (self.person, self.source) {
            (Some(person), _) => person.to_owned(),
            (None, Some(source)) => format!("guest@{source}"),
            (None, None) => format!("guest:{}", self.socket),
        }
    }
}

fn rate_limited(wait: Duration) -> ChatError {
    ChatError::RateLimited {
        retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1),
    }
}

/// Charges a message about to be stored to `socket`'s person (or address, for a guest).
pub(crate) fn send(socket: &SocketRef, chat: &Chat) -> Result<(), ChatError> {
    let who = identity::of(socket);
    let payer = payer(socket, &who);
    chat.limits.send(&payer, Instant::now()).map_err(|wait| {
        chat.metrics
            .messages_throttled
            .fetch_add(1, Ordering::Relaxed);
        rate_limited(wait)
    })
}

/// Charges `cost` of `action` to `socket`'s person (or address, for a guest).
pub(crate) fn charge(
    socket: &SocketRef,
    chat: &Chat,
    action: Action,
    cost: u32,
) -> Result<(), ChatError> {
    let who = identity::of(socket);
    let payer = payer(socket, &who);
    chat.limits
        .charge(action, &payer, cost, Instant::now())
        .map_err(|wait| {
            chat.metrics
                .requests_throttled
                .fetch_add(1, Ordering::Relaxed);
            rate_limited(wait)
        })
}

/// Charges a new name (a new person) to the address claiming it.
pub(crate) fn new_name(chat: &Chat, source: Option<Source>) -> Result<(), Refusal> {
    chat.limits
        .new_name(source, Instant::now())
        .map_err(|wait| {
            chat.metrics.names_throttled.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                source = %source.map(|s| s.to_string()).unwrap_or_default(),
                retry_after_s = wait.as_secs(),
                "too many new names from one address"
            );
            Refusal::TooManyNames
        })
}

fn payer<'a>(socket: &'a SocketRef, who: &'a Identity) -> Payer<'a> {
    Payer {
        person: who.person.as_deref(),
        source: who.source,
        socket: socket.id.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::Limit;

    fn config() -> Config {
        let mut c = Config::with_database("sqlite::memory:");
        c.rate_limit = 1.0;
        c.rate_burst = 2;
        c.address_send_limit = Limit::every(3, Duration::from_secs(3));
        c.join_limit = Limit::every(2, Duration::from_secs(60));
        c.name_limit = Limit::every(2, Duration::from_secs(60));
        c
    }

    fn from(ip: &str) -> Option<Source> {
        Some(Source::of(ip.parse().unwrap()))
    }

    fn person<'a>(id: &'a str, source: Option<Source>) -> Payer<'a> {
        Payer {
            person: Some(id),
            source,
            socket: "s1",
        }
    }

    fn guest(socket: &str, source: Option<Source>) -> Payer<'_> {
        Payer {
            person: None,
            source,
            socket,
        }
    }

    #[test]
    fn guests_from_one_address_share_one_budget() {
        let limits = Limits::new(&config());
        let now = Instant::now();
        let here = from("203.0.113.9");
        limits.send(&guest("a", here), now).unwrap();
        limits.send(&guest("b", here), now).unwrap();
        assert!(limits.send(&guest("c", here), now).is_err());
        // Elsewhere, and a guest whose address is unknown, have budgets of their own.
        limits.send(&guest("d", from("198.51.100.1")), now).unwrap();
        limits.send(&guest("e", None), now).unwrap();
        limits.send(&guest("f", None), now).unwrap();
        // An IPv6 host's other addresses in its /64 are the same guest.
        let v6 = |ip| guest("g", from(ip));
        limits.send(&v6("2001:db8::1"), now).unwrap();
        limits.send(&v6("2001:db8::2"), now).unwrap();
        assert!(limits.send(&v6("2001:db8::3"), now).is_err());
    }

    #[test]
    fn people_have_their_own_budgets_under_their_address_s() {
        let limits = Limits::new(&config());
        let now = Instant::now();
        let here = from("203.0.113.9");
        limits.send(&person("ann", here), now).unwrap();
        limits.send(&person("ann", here), now).unwrap();
        assert!(limits.send(&person("ann", here), now).is_err(), "ann's own");
        limits.send(&person("bob", here), now).unwrap();
        // The address's cap (3 at once) is spent, however many names it has.
        assert!(limits.send(&person("cy", here), now).is_err());
        limits
            .send(&person("cy", from("198.51.100.1")), now)
            .unwrap();
        // The same person from a second address: still their own budget.
        assert!(
            limits
                .send(&person("ann", from("198.51.100.2")), now)
                .is_err()
        );
    }

    #[test]
    fn actions_have_budgets_of_their_own() {
        let limits = Limits::new(&config());
        let now = Instant::now();
        let ann = person("ann", from("203.0.113.9"));
        limits.charge(Action::JoinOrLeave, &ann, 1, now).unwrap();
        limits.charge(Action::JoinOrLeave, &ann, 1, now).unwrap();
        let wait = limits
            .charge(Action::JoinOrLeave, &ann, 1, now)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        limits.charge(Action::Read, &ann, 1, now).unwrap();
        limits.send(&ann, now).unwrap();
    }

    #[test]
    fn new_names_are_counted_per_address() {
        let limits = Limits::new(&config());
        let now = Instant::now();
        limits.new_name(from("203.0.113.9"), now).unwrap();
        limits.new_name(from("203.0.113.9"), now).unwrap();
        assert!(limits.new_name(from("203.0.113.9"), now).is_err());
        limits.new_name(from("198.51.100.1"), now).unwrap();
        limits
            .new_name(from("203.0.113.9"), now + Duration::from_secs(30))
            .unwrap();
    }
}
