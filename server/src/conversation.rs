//! What a conversation id means: a public room, or the direct conversation of two people; and
//! which socketioxide rooms its messages are delivered to.
//!
//! Direct conversations are named after their two people (`dm:<a>:<b>`, ids sorted), so who
//! may read one follows from its name alone, without a lookup that could be skipped.

use app::events::{self, ChatError, DM_PREFIX};

/// The socketioxide room holding every socket of one person: their tabs share it, and it is
/// how direct messages, room lists and joins reach all of them.
pub(crate) fn person_room(person: &str) -> String {
    format!("person:{person}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conversation {
    Room(String),
    Dm { a: String, b: String },
}

impl Conversation {
    /// The conversation `id` names, or `unknown_room` when it names none that could exist.
    pub(crate) fn parse(id: &str) -> Result<Conversation, ChatError> {
        let unknown = || ChatError::UnknownRoom {
            room: id.to_owned(),
        };
        if let Some(people) = id.strip_prefix(DM_PREFIX) {
            let (a, b) = people.split_once(':').ok_or_else(unknown)?;
            if a.is_empty() || b.is_empty() || b.contains(':') || a > b {
                return Err(unknown());
            }
            return Ok(Conversation::Dm {
                a: a.to_owned(),
                b: b.to_owned(),
            });
        }
        // Only the canonical spelling names a room; `Rust` is not `rust` on the wire.
        match events::validate_room_name(id) {
            Ok(name) if name == id => Ok(Conversation::Room(name)),
            _ => Err(unknown()),
        }
    }

    /// The direct conversation of `a` and `b`.
    pub(crate) fn dm(a: &str, b: &str) -> Conversation {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        Conversation::Dm {
            a: a.to_owned(),
            b: b.to_owned(),
        }
    }

    pub(crate) fn id(&self) -> String {
        match self {
            Conversation::Room(name) => name.clone(),
            Conversation::Dm { a, b } => format!("{DM_PREFIX}{a}:{b}"),
        }
    }

    /// Whether `person` is one of a direct conversation's two people.
    pub(crate) fn is_party(&self, person: &str) -> bool {
        matches!(self, Conversation::Dm { a, b } if a == person || b == person)
    }

    /// The socketioxide rooms its messages go to: the room itself, or the two people's own
    /// rooms, which hold their sockets and nobody else's.
    pub(crate) fn audience(&self) -> Vec<String> {
        match self {
            Conversation::Room(name) => vec![name.clone()],
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
        let dm = Conversation::dm("p2", "p1");
        assert_eq!(dm.id(), "dm:p1:p2");
        assert_eq!(Conversation::parse("dm:p1:p2"), Ok(dm.clone()));
        assert_eq!(
            Conversation::parse("rust"),
            Ok(Conversation::Room("rust".into()))
        );
        assert!(dm.is_party("p1") && dm.is_party("p2") && !dm.is_party("p3"));
        assert_eq!(dm.audience(), ["person:p1", "person:p2"]);
        assert_eq!(
            Conversation::dm("p1", "p1").audience(),
            ["person:p1"],
            "a note to oneself reaches one person"
        );
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
                Conversation::parse(bad),
                Err(ChatError::UnknownRoom { room: bad.into() }),
                "{bad}"
            );
        }
    }
}
