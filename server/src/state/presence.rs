//! Who is in each room right now, and who is typing. In memory: it describes connections,
//! which do not survive a restart either. On several nodes, who is in a room is this node's
//! sockets plus what the other nodes told ([`super::peers`]).

use crate::cluster::SocketRef;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::events::{LOBBY, PRESENCE_NAMES, Presence, TYPING_EVERY_MS};

use crate::socket::identity::Identity;
use crate::state::peers::{Peers, RoomView};

/// Sockets per person per room, and guests per room.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    inner: Mutex<HashMap<String, RoomPresence>>,
    /// When each person's typing was last passed on.
    typing: Mutex<HashMap<String, Instant>>,
    /// Bumped whenever this node's rooms change, for the other nodes.
    version: AtomicU64,
    /// What the other nodes told of theirs.
    pub(crate) peers: Mutex<Peers>,
}

#[derive(Debug, Default, Clone)]
struct RoomPresence {
    people: BTreeMap<String, usize>,
    guests: usize,
}

impl Rooms {
    /// Puts `socket` (of `who`) in `room` and counts it in, unless it is there already: the
    /// room's presence when that changed who is in it. The check and the join are one step, so
    /// that a connect handler and a join putting the same socket in the same room at once
    /// count it once.
    pub(crate) fn join(&self, socket: &SocketRef, room: &str, who: &Identity) -> Option<Presence> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A closing socket was counted out of its rooms already (`part_all`), under this lock.
        if !socket.connected() || socket.rooms().iter().any(|r| r == room) {
            return None;
        }
        if room == LOBBY {
            // Borrowed: every socket's own set of rooms holds its name, and an owned one is an
            // allocation each.
            socket.join(LOBBY);
        } else {
            socket.join(room.to_owned());
        }
        self.version.fetch_add(1, Ordering::Relaxed);
        enter(&mut rooms, room, who)
    }

    /// Counts a socket of `who` into `room`; the room's presence when that changed who is in it.
    #[cfg(test)]
    pub(crate) fn enter(&self, room: &str, who: &Identity) -> Option<Presence> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        enter(&mut rooms, room, who)
    }

    /// Takes `socket` (of `who`) out of `room` and counts it out, if it is there: the room's
    /// presence when that changed who is in it (their last tab closed, or a guest left).
    pub(crate) fn part(&self, socket: &SocketRef, room: &str, who: &Identity) -> Option<Presence> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !socket.rooms().iter().any(|r| r == room) {
            return None;
        }
        socket.leave(room.to_owned());
        self.version.fetch_add(1, Ordering::Relaxed);
        leave(&mut rooms, room, who)
    }

    /// Counts a closing `socket` (of `who`) out of every room it is in: each room and its
    /// presence when that changed who is in it. After this, [`Rooms::join`] no longer counts
    /// the socket in anywhere.
    pub(crate) fn part_all(
        &self,
        socket: &SocketRef,
        who: &Identity,
    ) -> Vec<(String, Option<Presence>)> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.version.fetch_add(1, Ordering::Relaxed);
        socket
            .rooms()
            .into_iter()
            .map(|room| {
                let change = leave(&mut rooms, &room, who);
                (room.to_string(), change)
            })
            .collect()
    }

    /// Counts a socket of `who` out of `room`.
    #[cfg(test)]
    pub(crate) fn leave(&self, room: &str, who: &Identity) -> Option<Presence> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        leave(&mut rooms, room, who)
    }

    /// Who is in `room` now, on every node, as `presence` tells it; `None` when nobody is.
    pub(crate) fn snapshot(&self, room: &str) -> Option<Presence> {
        self.merged(room, |r| presence(room, r))
    }

    /// People online in `room` on every node, each once, plus its guests.
    /// Counted without copying the room: the lobby holds everyone, and room lists ask this for
    /// it on every connect and join.
    pub(crate) fn online(&self, room: &str) -> usize {
        let (remote_people, remote_guests) = {
            let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            let mut people = HashSet::new();
            let mut guests = 0;
            for r in peers.rooms(room) {
                people.extend(r.people.keys().cloned());
                guests += r.guests;
            }
            (people, guests)
        };
        let rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let local = rooms.get(room);
        let only_remote = remote_people
            .iter()
            .filter(|p| local.is_none_or(|r| !r.people.contains_key(p.as_str())))
            .count();
        local.map_or(0, |r| r.people.len() + r.guests) + only_remote + remote_guests
    }

    /// `f` of this node's sockets in `room` and the other nodes', together; `None` when
    /// nobody is there. Alone, `f` reads the room in place rather than a copy.
    fn merged<T>(&self, room: &str, f: impl FnOnce(&RoomPresence) -> T) -> Option<T> {
        let remote: Vec<RoomView> = {
            let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.rooms(room).cloned().collect()
        };
        let rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let local = rooms.get(room);
        if remote.is_empty() {
            return local.map(f);
        }
        let mut all = local.cloned().unwrap_or_default();
        drop(rooms);
        for r in remote {
            for (name, n) in r.people {
                *all.people.entry(name).or_default() += n;
            }
            all.guests += r.guests;
        }
        (!all.people.is_empty() || all.guests > 0).then(|| f(&all))
    }

    /// Everyone in `room` on every node by name (guests as `anonymous`), sorted, and how many
    /// sockets they have there; `None` when nobody is.
    pub(crate) fn who_and_sockets(&self, room: &str) -> Option<(Vec<String>, usize)> {
        self.merged(room, |r| {
            let sockets = r.people.values().sum::<usize>() + r.guests;
            let mut names: Vec<String> = r.people.keys().cloned().collect();
            if r.guests > 0 {
                names.push(app::events::ANONYMOUS.to_owned());
                names.sort();
            }
            (names, sockets)
        })
    }

    /// The rooms someone is in, on any node.
    pub(crate) fn room_names(&self) -> Vec<String> {
        let mut names: std::collections::BTreeSet<String> = {
            let rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            rooms.keys().cloned().collect()
        };
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        names.extend(peers.room_names());
        names.into_iter().collect()
    }

    /// This node's rooms, as it tells the other nodes, and their version.
    pub(crate) fn local_view(&self) -> (u64, BTreeMap<String, RoomView>) {
        let rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let version = self.version.load(Ordering::Relaxed);
        let view = rooms
            .iter()
            .map(|(room, r)| {
                let people = r.people.clone();
                (
                    room.clone(),
                    RoomView {
                        people,
                        guests: r.guests,
                    },
                )
            })
            .collect();
        (version, view)
    }

    /// Whether another node serves a socket of `person`.
    pub(crate) fn elsewhere(&self, person: &str) -> bool {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.serves(person)
    }

    /// This node's rooms' version.
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Whether `person`'s typing may be passed on now (at most once per [`TYPING_EVERY_MS`]).
    pub(crate) fn may_type(&self, person: &str, now: Instant) -> bool {
        let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
        let every = Duration::from_millis(TYPING_EVERY_MS);
        // Bounded by the people online: entries older than the interval are spent.
        if typing.len() > 10_000 {
            typing.retain(|_, at| now.saturating_duration_since(*at) < every);
        }
        match typing.get(person) {
            Some(at) if now.saturating_duration_since(*at) < every => false,
            _ => {
                typing.insert(person.to_owned(), now);
                true
            }
        }
    }
}

/// [`Rooms::enter`] on the rooms already locked.
fn enter(
    rooms: &mut HashMap<String, RoomPresence>,
    room: &str,
    who: &Identity,
) -> Option<Presence> {
    let r = rooms.entry(room.to_owned()).or_default();
    let changed = match &who.person {
        Some(_) => {
            let n = r.people.entry(who.name.clone()).or_default();
            *n += 1;
            *n == 1
        }
        None => {
            r.guests += 1;
            true
        }
    };
    changed.then(|| presence(room, r))
}

/// [`Rooms::leave`] on the rooms already locked.
fn leave(
    rooms: &mut HashMap<String, RoomPresence>,
    room: &str,
    who: &Identity,
) -> Option<Presence> {
    let r = rooms.get_mut(room)?;
    let changed = match &who.person {
        Some(_) => match r.people.get_mut(&who.name) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                r.people.remove(&who.name);
                true
            }
            None => false,
        },
        None => {
            r.guests = r.guests.saturating_sub(1);
            true
        }
    };
    let snapshot = presence(room, r);
    if r.people.is_empty() && r.guests == 0 {
        rooms.remove(room);
    }
    changed.then_some(snapshot)
}

/// The room's presence, naming at most [`PRESENCE_NAMES`] people (the first in name order):
/// the event goes to everyone in the room, so a full list would cost the square of its size.
fn presence(room: &str, r: &RoomPresence) -> Presence {
    Presence {
        room: room.to_owned(),
        online: r.people.keys().take(PRESENCE_NAMES).cloned().collect(),
        more: r.people.len().saturating_sub(PRESENCE_NAMES),
        guests: r.guests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::peers::View;

    fn person(name: &str) -> Identity {
        Identity {
            name: name.into(),
            person: Some(format!("id-{name}")),
            source: None,
            session: None,
            role: app::events::Role::Member,
        }
    }

    fn guest() -> Identity {
        Identity {
            name: "anonymous".into(),
            person: None,
            source: None,
            session: None,
            role: app::events::Role::Member,
        }
    }

    #[test]
    fn tabs_count_as_one_person() {
        let rooms = Rooms::default();
        let ann = person("ann");
        let first = rooms.enter("lobby", &ann).unwrap();
        assert_eq!(first.online, ["ann"]);
        assert_eq!(
            rooms.enter("lobby", &ann),
            None,
            "a second tab changes nothing"
        );
        let with_guest = rooms.enter("lobby", &guest()).unwrap();
        assert_eq!((with_guest.online.len(), with_guest.guests), (1, 1));
        assert_eq!(rooms.leave("lobby", &ann), None, "one tab is still open");
        let gone = rooms.leave("lobby", &ann).unwrap();
        assert_eq!((gone.online.len(), gone.guests), (0, 1));
        rooms.leave("lobby", &guest()).unwrap();
        assert!(
            rooms.inner.lock().unwrap().is_empty(),
            "empty rooms are forgotten"
        );
        assert_eq!(rooms.leave("lobby", &ann), None);
    }

    #[test]
    fn a_big_room_names_the_first_few_and_counts_the_rest() {
        let rooms = Rooms::default();
        for i in 0..PRESENCE_NAMES + 5 {
            rooms.enter("lobby", &person(&format!("p{i:03}")));
        }
        let p = rooms.snapshot("lobby").unwrap();
        assert_eq!(p.online.len(), PRESENCE_NAMES);
        assert_eq!((p.online[0].as_str(), p.more), ("p000", 5));
        assert_eq!(rooms.online("lobby"), PRESENCE_NAMES + 5);
        assert!(rooms.snapshot("elsewhere").is_none());
    }

    #[test]
    fn online_counts_a_person_on_two_nodes_once_and_adds_the_others() {
        let rooms = Rooms::default();
        rooms.enter("lobby", &person("ann"));
        rooms.enter("lobby", &guest());
        let view = |node: &str, people: &[&str], guests| View {
            node: node.into(),
            version: 1,
            rooms: Some(BTreeMap::from([(
                "lobby".to_owned(),
                RoomView {
                    people: people.iter().map(|p| ((*p).to_owned(), 1)).collect(),
                    guests,
                },
            )])),
            people: people.iter().map(|p| (*p).to_owned()).collect(),
            sockets: BTreeMap::new(),
            messages_per_minute: 0,
        };
        {
            let mut peers = rooms.peers.lock().unwrap();
            peers.heard(view("b", &["ann", "bob"], 2), Instant::now());
            peers.heard(view("c", &["bob", "cat"], 0), Instant::now());
        }
        // ann (here and on b), bob (on b and c), cat; one guest here, two on b.
        assert_eq!(rooms.online("lobby"), 3 + 3);
        let merged = rooms.snapshot("lobby").unwrap();
        assert_eq!(merged.online.len() + merged.guests, rooms.online("lobby"));
        assert_eq!(rooms.online("elsewhere"), 0);
    }

    #[test]
    fn typing_passes_at_most_every_two_seconds() {
        let rooms = Rooms::default();
        let now = Instant::now();
        assert!(rooms.may_type("ann", now));
        assert!(!rooms.may_type("ann", now + Duration::from_millis(1_999)));
        assert!(rooms.may_type("bob", now));
        assert!(rooms.may_type("ann", now + Duration::from_millis(TYPING_EVERY_MS)));
    }
}
