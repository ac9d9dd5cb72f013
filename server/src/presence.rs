//! Who is in each room right now, and who is typing. In memory: it describes connections,
//! which do not survive a restart either.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::events::{
    Main, Namespace as _, PRESENCE_NAMES, Presence, RoomInfo, RoomList, StartTyping,
    TYPING_EVERY_MS, Typing,
};

use crate::request::broadcast;
use crate::rooms::accessible;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, State, TryData};
use tracing::{debug, warn};

use crate::chat::Chat;
use crate::conversation::{Conversation, ConversationId, person_room};
use crate::directory;
use crate::identity::{self, Identity};
use crate::store::DmPeople;

/// Sockets per person per room, and guests per room.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    inner: Mutex<HashMap<String, RoomPresence>>,
    /// When each person's typing was last passed on.
    typing: Mutex<HashMap<String, Instant>>,
}

#[derive(Debug, Default, Clone)]
struct RoomPresence {
    people: BTreeMap<String, usize>,
    guests: usize,
}

impl Rooms {
    /// Counts a socket of `who` into `room`; the room's presence when that changed who is in it.
    pub(crate) fn enter(&self, room: &str, who: &Identity) -> Option<Presence> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Counts a socket of `who` out of `room`; the room's presence when that changed who is
    /// in it (their last tab closed, or a guest left).
    pub(crate) fn leave(&self, room: &str, who: &Identity) -> Option<Presence> {
        let mut rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Who is in `room` now, as `presence` tells it; `None` when nobody is.
    pub(crate) fn snapshot(&self, room: &str) -> Option<Presence> {
        let rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        rooms.get(room).map(|r| presence(room, r))
    }

    /// People online in `room`, each once, plus its guests.
    pub(crate) fn online(&self, room: &str) -> usize {
        let rooms = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        rooms.get(room).map_or(0, |r| r.people.len() + r.guests)
    }

    /// Whether `person`'s typing may be passed on now (at most once per [`TYPING_EVERY_MS`]).
    fn may_type(&self, person: &str, now: Instant) -> bool {
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

/// Has the room told who is in it, when that changed: soon, coalesced with other changes, by
/// the directory (see `directory.rs`), along with its counts.
pub(crate) fn announce(chat: &Chat, change: Option<Presence>) {
    if let Some(p) = change {
        chat.directory.touch(&p.room);
    }
}

/// Tells a direct conversation's two people which of them are online, as a `presence` of
/// the conversation: the lobby's `presence` names at most 100 people, so it cannot tell whether
/// one particular person is there. `leaving`: a person whose last socket is going; the
/// disconnect handler runs while it still counts as connected.
pub(crate) async fn tell_dm(io: &SocketIo, dm: &DmPeople, leaving: Option<&str>) {
    let Some(main) = io.of(Main::PATH) else {
        return;
    };
    let mut online: Vec<String> = dm
        .people
        .iter()
        .filter(|(p, _)| leaving != Some(p.as_str()) && directory::is_online(io, p))
        .map(|(_, name)| name.clone())
        .collect();
    // Sorted, as every `presence` is.
    online.sort();
    let presence = Presence {
        room: dm.room.clone(),
        online,
        more: 0,
        guests: 0,
    };
    // Not to someone who has not heard of it yet (opened with them, no message so far).
    let audience: Vec<String> = dm
        .people
        .iter()
        .filter(|(p, _)| dm.unaware.as_ref() != Some(p))
        .map(|(p, _)| person_room(p))
        .collect();
    let _ = broadcast(main.to(audience), &presence).await;
}

/// The direct conversation `info` of `who`'s room list, with its people; `None` for a room.
/// While it has no message, the other person may not have heard of it (it was opened with
/// them), so only `who` is told of it; if they did open it too, they learn who is online with
/// their next `rooms`.
pub(crate) fn dm_of(who: &Identity, info: &RoomInfo) -> Option<DmPeople> {
    let me = who.person.as_ref()?;
    let Some(Conversation::Dm { a, b }) = Conversation::of(&info.room) else {
        return None;
    };
    let mut people = vec![(me.clone(), who.name.clone())];
    // A note to oneself has one person; otherwise the list titles it with the other's name.
    let other = if a == me { b } else { a };
    let mut unaware = None;
    if other != me {
        if info.last_seq == 0 {
            unaware = Some(other.to_owned());
        }
        people.push((other.to_owned(), info.title.clone()));
    }
    Some(DmPeople {
        room: info.room.clone(),
        people,
        unaware,
    })
}

/// [`tell_dm`] for each direct conversation of `who`'s room list.
pub(crate) async fn tell_dms(io: &SocketIo, who: &Identity, list: &RoomList) {
    for dm in list.rooms.iter().filter_map(|info| dm_of(who, info)) {
        tell_dm(io, &dm, None).await;
    }
}

/// [`tell_dm`] for each direct conversation of `person`, whose last socket is going.
pub(crate) async fn tell_dms_leaving(chat: &Chat, io: &SocketIo, person: &str) {
    match chat.store.dms_of(person).await {
        Ok(dms) => {
            for dm in &dms {
                tell_dm(io, dm, Some(person)).await;
            }
        }
        Err(e) => warn!(person, error = %e, "direct conversations query failed"),
    }
}

/// `typing`: passed on to the room's other sockets, volatile and throttled per person.
pub(crate) async fn on_typing(
    socket: SocketRef,
    TryData(request): TryData<StartTyping>,
    State(chat): State<Chat>,
) {
    let Ok(StartTyping { room }) = request else {
        debug!(sid = %socket.id, "ignored a malformed typing");
        return;
    };
    let who = identity::of(&socket);
    let Some(person) = &who.person else { return };
    // Throttled before the access check, so a stream of bad ones cannot make the store work.
    if !chat.presence.may_type(person, Instant::now()) {
        return;
    }
    let Ok(room) = ConversationId::parse(room) else {
        return;
    };
    if accessible(&socket, &chat, &room).await.is_err() {
        return;
    }
    let audience = room.audience();
    let typing = Typing {
        room: room.into(),
        name: who.name,
    };
    // Everyone in the conversation but this socket (for a direct one: both people's sockets).
    // Volatile: a socket that cannot take it now does not need it later.
    let _ = broadcast(socket.to(audience), &typing).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str) -> Identity {
        Identity {
            name: name.into(),
            person: Some(format!("id-{name}")),
            source: None,
        }
    }

    fn guest() -> Identity {
        Identity {
            name: "anonymous".into(),
            person: None,
            source: None,
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
    fn a_big_room_names_the_first_hundred_and_counts_the_rest() {
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
    fn typing_passes_at_most_every_two_seconds() {
        let rooms = Rooms::default();
        let now = Instant::now();
        assert!(rooms.may_type("ann", now));
        assert!(!rooms.may_type("ann", now + Duration::from_millis(1_999)));
        assert!(rooms.may_type("bob", now));
        assert!(rooms.may_type("ann", now + Duration::from_millis(TYPING_EVERY_MS)));
    }
}
