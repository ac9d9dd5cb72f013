//! What a conversation id means: a public room, or the direct conversation of two people; and
//! which socketioxide rooms its messages are delivered to.
//!
//! Direct conversations are named after their two people (`dm:<a>:<b>`, ids sorted), so who
//! may read one follows from its name alone, without a lookup that could be skipped.

use app::events::{self, ChatError, DM_PREFIX, LOBBY, RoomKind};

/// The socketioxide room holding every socket of one person: their tabs share it, and it is
/// how direct messages, room lists and joins reach all of them.
/// What a person's socket room's name starts with.
pub(crate) const PERSON_ROOM_PREFIX: &str = "person:";

pub(crate) fn person_room(person: &str) -> String {
    format!("{PERSON_ROOM_PREFIX}{person}")
}

/// The socketioxide room holding the sockets of one signed-in session (one device): how ending
/// a session reaches its sockets, on every node.
pub(crate) fn session_room(session: &str) -> String {
    format!("session:{session}")
}

/// A conversation id in its canonical spelling, naming a conversation that could exist (which
/// does not say that it exists, nor who may read it: see `access::accessible`). Only
/// [`ConversationId::parse`], where a request arrives, and the constructors below make one, so
/// whoever holds one need not check it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ConversationId {
    id: String,
    shape: Shape,
}

/// Where a valid id's parts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Room,
    /// A direct conversation; its second person's id starts after this byte (a `:`).
    Dm(usize),
}

impl Shape {
    /// The shape of `id`, or `None` when it names no conversation that could exist.
    fn of(id: &str) -> Option<Shape> {
        if let Some(people) = id.strip_prefix(DM_PREFIX) {
            let (a, b) = people.split_once(':')?;
            if a.is_empty() || b.is_empty() || b.contains(':') || a > b {
                return None;
            }
            return Some(Shape::Dm(DM_PREFIX.len() + a.len()));
        }
        // Only the canonical spelling names a room; `Rust` is not `rust` on the wire.
        match events::validate_room_name(id) {
            Ok(name) if name == id => Some(Shape::Room),
            _ => None,
        }
    }

    fn view(self, id: &str) -> Conversation<'_> {
        match self {
            Shape::Room => Conversation::Room(id),
            Shape::Dm(colon) => Conversation::Dm {
                a: &id[DM_PREFIX.len()..colon],
                b: &id[colon + 1..],
            },
        }
    }
}

impl ConversationId {
    /// The conversation `id` names, or `unknown_room` when it names none that could exist.
    pub(crate) fn parse(id: impl AsRef<str> + Into<String>) -> Result<ConversationId, ChatError> {
        match Shape::of(id.as_ref()) {
            Some(shape) => Ok(ConversationId {
                id: id.into(),
                shape,
            }),
            None => Err(ChatError::UnknownRoom { room: id.into() }),
        }
    }

    /// The direct conversation of `a` and `b`.
    pub(crate) fn dm(a: &str, b: &str) -> ConversationId {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        ConversationId {
            id: format!("{DM_PREFIX}{a}:{b}"),
            shape: Shape::Dm(DM_PREFIX.len() + a.len()),
        }
    }

    pub(crate) fn lobby() -> ConversationId {
        ConversationId {
            id: LOBBY.to_owned(),
            shape: Shape::Room,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.id
    }

    pub(crate) fn conversation(&self) -> Conversation<'_> {
        self.shape.view(&self.id)
    }

    pub(crate) fn kind(&self) -> RoomKind {
        match self.shape {
            Shape::Room => RoomKind::Room,
            Shape::Dm(_) => RoomKind::Dm,
        }
    }

    /// Whether `person` is one of a direct conversation's two people.
    pub(crate) fn is_party(&self, person: &str) -> bool {
        self.conversation().is_party(person)
    }

    /// See [`Conversation::audience`].
    pub(crate) fn audience(&self) -> Vec<String> {
        self.conversation().audience()
    }
}

impl std::fmt::Display for ConversationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

impl From<ConversationId> for String {
    fn from(id: ConversationId) -> String {
        id.id
    }
}

/// What a conversation id names: a public room, or the direct conversation of two people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversation<'a> {
    Room(&'a str),
    Dm { a: &'a str, b: &'a str },
}

impl Conversation<'_> {
    /// What `id` names, if anything, for ids that are already the server's own (stored rows,
    /// socketioxide's rooms); a client's go through [`ConversationId::parse`].
    pub(crate) fn of(id: &str) -> Option<Conversation<'_>> {
        Shape::of(id).map(|shape| shape.view(id))
    }

    /// Whether `person` is one of a direct conversation's two people.
    pub(crate) fn is_party(self, person: &str) -> bool {
        matches!(self, Conversation::Dm { a, b } if a == person || b == person)
    }

    /// The socketioxide rooms its messages go to: the room itself, or the two people's own
    /// rooms, which hold their sockets and nobody else's.
    pub(crate) fn audience(self) -> Vec<String> {
        match self {
            Conversation::Room(name) => vec![name.to_owned()],
            Conversation::Dm { a, b } if a == b => vec![person_room(a)],
            Conversation::Dm { a, b } => vec![person_room(a), person_room(b)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let dm = ConversationId::dm("p2", "p1");
        assert_eq!(dm.as_str(), "dm:p1:p2");
        assert_eq!(ConversationId::parse("dm:p1:p2"), Ok(dm.clone()));
        assert_eq!(dm.conversation(), Conversation::Dm { a: "p1", b: "p2" });
        assert_eq!(dm.kind(), RoomKind::Dm);
        let rust = ConversationId::parse("rust").unwrap();
        assert_eq!(rust.conversation(), Conversation::Room("rust"));
        assert_eq!(rust.kind(), RoomKind::Room);
        assert_eq!(ConversationId::parse(LOBBY), Ok(ConversationId::lobby()));
        assert!(dm.is_party("p1") && dm.is_party("p2") && !dm.is_party("p3"));
        assert_eq!(dm.audience(), ["person:p1", "person:p2"]);
        assert_eq!(
            ConversationId::dm("p1", "p1").audience(),
            ["person:p1"],
            "a note to oneself reaches one person"
        );
        assert_eq!(Conversation::of("dm:p1:p2"), Some(dm.conversation()));
    }

    #[test]
    fn nothing_else_names_a_conversation() {
        // Personal rooms, unsorted or malformed DM ids, non-canonical names.
        for bad in [
            "person:p1",
            "dm:p2:p1",
            "dm:p1",
            "dm::p1",
            "dm:a:b:c",
            "Rust",
            " rust",
            "",
        ] {
            assert_eq!(
                ConversationId::parse(bad),
                Err(ChatError::UnknownRoom { room: bad.into() }),
                "{bad}"
            );
            assert_eq!(Conversation::of(bad), None, "{bad}");
        }
    }
}
