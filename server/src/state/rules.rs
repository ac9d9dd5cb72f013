//! Each room's rules (whether it is private, who may post), read from the store and kept for
//! [`FRESH`]: a post is checked without a query of its own, and a change of a room's settings
//! reaches every node within that time (at once on the node that made it).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::events::{Posting, Role};

use crate::store::{Store, StoreError};

/// How long a room's rule is trusted before it is read again.
const FRESH: Duration = Duration::from_secs(5);
/// Rooms remembered at most; past it, the memory starts over.
const MAX_ROOMS: usize = 10_000;

#[derive(Debug, Clone)]
struct Rule {
    read_at: Instant,
    private: bool,
    posting: Posting,
    owner: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct RoomRules {
    rooms: Mutex<HashMap<String, Rule>>,
}

impl RoomRules {
    /// Whether `person` (with `role`) may post in the room `room`.
    pub(crate) async fn may_post(
        &self,
        store: &Store,
        room: &str,
        person: Option<&str>,
        role: Role,
    ) -> Result<bool, StoreError> {
        let rule = self.rule(store, room).await?;
        Ok(match rule.posting {
            Posting::Members => true,
            Posting::Managers => {
                role.moderates() || (person.is_some() && rule.owner.as_deref() == person)
            }
        })
    }

    /// Whether `room` is private (a room that does not exist is not).
    pub(crate) async fn is_private(&self, store: &Store, room: &str) -> Result<bool, StoreError> {
        Ok(self.rule(store, room).await?.private)
    }

    async fn rule(&self, store: &Store, room: &str) -> Result<Rule, StoreError> {
        let now = Instant::now();
        let known = self
            .lock()
            .get(room)
            .filter(|r| now - r.read_at < FRESH)
            .cloned();
        let rule = match known {
            Some(rule) => rule,
            None => {
                let read = store.room_rules(room).await?;
                let rule = Rule {
                    read_at: now,
                    private: read.as_ref().is_some_and(|r| r.private),
                    posting: read.as_ref().map_or(Posting::Members, |r| r.posting),
                    owner: read.and_then(|r| r.owner),
                };
                let mut rooms = self.lock();
                if rooms.len() >= MAX_ROOMS {
                    rooms.clear();
                }
                rooms.insert(room.to_owned(), rule.clone());
                rule
            }
        };
        Ok(rule)
    }

    /// Forgets what is known of `room`, whose settings just changed here.
    pub(crate) fn forget(&self, room: &str) {
        self.lock().remove(room);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Rule>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}
