//! What the other nodes hold: who is in which room there, whose sockets they serve, and their
//! counts for `/admin`. Each node tells the others its own every second (`socket/peers.rs`), so
//! that presence, online counts and statistics are the cluster's; a node not heard from for
//! [`SILENCE`] is forgotten, so a node that died drops out of the counts within it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long a node may go unheard before it is forgotten.
pub(crate) const SILENCE: Duration = Duration::from_secs(3);

/// One node's own, as it tells the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct View {
    /// The node's id, made at its start.
    pub(crate) node: String,
    /// Bumped by the node whenever its rooms changed.
    pub(crate) version: u64,
    /// Who is in each room on that node; `None` in a message that only says the node is alive
    /// and still at `version`.
    pub(crate) rooms: Option<BTreeMap<String, RoomView>>,
    /// The people with a socket on that node.
    #[serde(default)]
    pub(crate) people: Vec<String>,
    /// Sockets per namespace path on that node.
    #[serde(default)]
    pub(crate) sockets: BTreeMap<String, usize>,
    /// Messages that node stored in the last minute.
    #[serde(default)]
    pub(crate) messages_per_minute: u64,
}

/// Who is in one room on one node: sockets per person's name, and guests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoomView {
    pub(crate) people: BTreeMap<String, usize>,
    pub(crate) guests: usize,
}

/// The other nodes' latest views.
#[derive(Debug, Default)]
pub(crate) struct Peers {
    nodes: HashMap<String, Peer>,
}

#[derive(Debug)]
struct Peer {
    heard: Instant,
    view: View,
    people: HashSet<String>,
}

impl Peers {
    /// Takes in what a node told at `now`: the rooms whose presence it changed.
    pub(crate) fn heard(&mut self, view: View, now: Instant) -> Vec<String> {
        match self.nodes.get_mut(&view.node) {
            Some(peer) => {
                peer.heard = now;
                match view.rooms {
                    // A full view: it replaces the one known.
                    Some(_) => {
                        let changed = changed_rooms(&peer.view, &view);
                        peer.people = view.people.iter().cloned().collect();
                        peer.view = view;
                        changed
                    }
                    // Alive, at the version known, with fresh counts.
                    None if view.version == peer.view.version => {
                        peer.view.sockets = view.sockets;
                        peer.view.messages_per_minute = view.messages_per_minute;
                        Vec::new()
                    }
                    // A full view was missed: the next one (at most a few seconds away) fixes it.
                    None => Vec::new(),
                }
            }
            None if view.rooms.is_some() => {
                let changed = view
                    .rooms
                    .iter()
                    .flatten()
                    .map(|(r, _)| r.clone())
                    .collect();
                let people = view.people.iter().cloned().collect();
                self.nodes.insert(
                    view.node.clone(),
                    Peer {
                        heard: now,
                        view,
                        people,
                    },
                );
                changed
            }
            // Not known yet, and no rooms to take in: wait for its next full view.
            None => Vec::new(),
        }
    }

    /// Forgets the nodes not heard from within [`SILENCE`] of `now`: the rooms they were in.
    pub(crate) fn expire(&mut self, now: Instant) -> Expired {
        let mut changed = Vec::new();
        let before = self.nodes.len();
        self.nodes.retain(|node, peer| {
            let alive = now.saturating_duration_since(peer.heard) < SILENCE;
            if !alive {
                tracing::warn!(node, "a node went silent; its sockets no longer count");
                changed.extend(peer.view.rooms.iter().flatten().map(|(r, _)| r.clone()));
            }
            alive
        });
        Expired {
            nodes: before - self.nodes.len(),
            rooms: changed,
        }
    }

    /// Each other node's view of `room`.
    pub(crate) fn rooms<'a>(&'a self, room: &'a str) -> impl Iterator<Item = &'a RoomView> + 'a {
        self.nodes
            .values()
            .filter_map(move |p| p.view.rooms.as_ref().and_then(|r| r.get(room)))
    }

    /// The rooms any other node has someone in.
    pub(crate) fn room_names(&self) -> HashSet<String> {
        self.nodes
            .values()
            .flat_map(|p| p.view.rooms.iter().flatten().map(|(r, _)| r.clone()))
            .collect()
    }

    /// Whether another node serves a socket of `person`.
    pub(crate) fn serves(&self, person: &str) -> bool {
        self.nodes.values().any(|p| p.people.contains(person))
    }

    /// The other nodes' sockets on the namespace at `path`.
    pub(crate) fn sockets(&self, path: &str) -> usize {
        self.nodes
            .values()
            .map(|p| p.view.sockets.get(path).copied().unwrap_or(0))
            .sum()
    }

    /// Messages the other nodes stored in the last minute.
    pub(crate) fn messages_per_minute(&self) -> u64 {
        self.nodes
            .values()
            .map(|p| p.view.messages_per_minute)
            .sum()
    }
}

/// The nodes [`Peers::expire`] forgot, and the rooms they were in.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expired {
    pub(crate) nodes: usize,
    pub(crate) rooms: Vec<String>,
}

/// The rooms whose presence differs between two views of a node.
fn changed_rooms(before: &View, after: &View) -> Vec<String> {
    let empty = BTreeMap::new();
    let (a, b) = (
        before.rooms.as_ref().unwrap_or(&empty),
        after.rooms.as_ref().unwrap_or(&empty),
    );
    let mut changed: Vec<String> = a
        .iter()
        .filter(|(room, view)| b.get(*room) != Some(view))
        .map(|(room, _)| room.clone())
        .collect();
    changed.extend(b.keys().filter(|room| !a.contains_key(*room)).cloned());
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: &str, version: u64, rooms: &[(&str, &[&str], usize)]) -> View {
        View {
            node: node.to_owned(),
            version,
            rooms: Some(
                rooms
                    .iter()
                    .map(|(room, people, guests)| {
                        let people = people.iter().map(|p| ((*p).to_owned(), 1)).collect();
                        let guests = *guests;
                        ((*room).to_owned(), RoomView { people, guests })
                    })
                    .collect(),
            ),
            people: vec!["id-ann".to_owned()],
            ..View::default()
        }
    }

    #[test]
    fn a_node_is_known_by_its_views_and_forgotten_when_silent() {
        let mut peers = Peers::default();
        let start = Instant::now();
        let changed = peers.heard(view("n2", 1, &[("lobby", &["ann"], 1)]), start);
        assert_eq!(changed, ["lobby"]);
        assert!(peers.serves("id-ann") && !peers.serves("id-bob"));
        assert_eq!(peers.rooms("lobby").map(|r| r.guests).sum::<usize>(), 1);

        // Alive at the same version: nothing changed, and it stays known past the silence.
        let alive = View {
            node: "n2".to_owned(),
            version: 1,
            ..View::default()
        };
        let later = start + SILENCE - Duration::from_millis(1);
        assert!(peers.heard(alive, later).is_empty());
        assert_eq!(
            peers.expire(later + Duration::from_millis(10)),
            Expired::default()
        );

        // A new full view: only the rooms that changed.
        let moved = view("n2", 2, &[("lobby", &["ann"], 1), ("den", &["ann"], 0)]);
        assert_eq!(peers.heard(moved, later), ["den"]);

        // Silent too long: forgotten, with every room it was in.
        let gone = peers.expire(later + SILENCE);
        assert_eq!(gone.nodes, 1);
        let mut gone = gone.rooms;
        gone.sort();
        assert_eq!(gone, ["den", "lobby"]);
        assert!(!peers.serves("id-ann"));
        assert_eq!(peers.rooms("lobby").count(), 0);
    }

    #[test]
    fn an_unknown_node_that_only_says_it_is_alive_is_not_taken_in() {
        let mut peers = Peers::default();
        let alive = View {
            node: "n3".to_owned(),
            version: 4,
            ..View::default()
        };
        assert!(peers.heard(alive, Instant::now()).is_empty());
        assert!(peers.room_names().is_empty());
    }
}
