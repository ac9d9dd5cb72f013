//! The budgets of costly actions: one bucket per person (per address for guests) and action,
//! and per address for sending and for new names.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::http::peer::Source;
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
    /// Starting a job: an export or an import.
    StartJob,
    /// Changing one's profile, which everyone hears of.
    Profile,
    /// `search`: a read of the full-text index.
    Search,
    /// Uploading a file.
    Upload,
}

#[derive(Debug)]
pub(crate) struct Limits {
    sends: Throttle,
    address_sends: Throttle,
    joins: Throttle,
    creates: Throttle,
    jobs: Throttle,
    dms: Throttle,
    reads: Throttle,
    marks: Throttle,
    names: Throttle,
    profiles: Throttle,
    searches: Throttle,
    uploads: Throttle,
    webhook_posts: Throttle,
    bot_requests: Throttle,
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
            jobs: Throttle::new(config.job_limit),
            dms: Throttle::new(config.dm_limit),
            reads: Throttle::new(config.read_limit),
            marks: Throttle::new(config.mark_limit),
            names: Throttle::new(config.name_limit),
            profiles: Throttle::new(config.profile_limit),
            searches: Throttle::new(config.search_limit),
            uploads: Throttle::new(config.upload_rate),
            webhook_posts: Throttle::new(config.webhook_limit),
            bot_requests: Throttle::new(config.bot_limit),
        }
    }

    /// Charges one message to its sender, and to the address it comes from.
    pub(crate) fn send(&self, payer: &Payer<'_>, now: Instant) -> Result<(), Duration> {
        self.sends.take(&payer.key(), now)?;
        match payer.source {
            Some(source) => self.address_sends.take(&source.to_string(), now),
            None => Ok(()),
        }
    }

    /// Charges `cost` of `action` to its payer.
    pub(crate) fn charge(
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
            Action::StartJob => &self.jobs,
            Action::Profile => &self.profiles,
            Action::Search => &self.searches,
            Action::Upload => &self.uploads,
        };
        throttle.take_n(&payer.key(), cost, now)
    }

    /// Charges a new name to the address claiming it. An address the server did not record
    /// (no TCP peer) is not limited: there is nothing to key it by that the client does not
    /// choose.
    pub(crate) fn new_name(&self, source: Option<Source>, now: Instant) -> Result<(), Duration> {
        match source {
            Some(source) => self.names.take(&source.to_string(), now),
            None => Ok(()),
        }
    }
}

impl Limits {
    /// Charges a post to the incoming webhook `id`.
    pub(crate) fn webhook_post(&self, id: &str, now: Instant) -> Result<(), Duration> {
        self.webhook_posts.take(id, now)
    }

    /// Charges a request to the bot token `id`.
    pub(crate) fn bot_request(&self, id: &str, now: Instant) -> Result<(), Duration> {
        self.bot_requests.take(id, now)
    }
}

/// Who pays for an action.
pub(crate) struct Payer<'a> {
    pub(crate) person: Option<&'a str>,
    pub(crate) source: Option<Source>,
    /// The socket, for a guest whose address is unknown.
    pub(crate) socket: &'a str,
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
