//! Palaver's export format, as written and read: a ZIP holding `manifest.json` and one NDJSON
//! file per conversation. `docs/export-format.md` describes it for everyone else.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::store::{StoredMessage, message_kind_column};

/// `manifest.json`'s `format`.
pub(crate) const FORMAT: &str = "palaver-export";
/// `manifest.json`'s `version`: what this server writes and reads.
pub(crate) const VERSION: u64 = 1;
/// The manifest's name in the archive.
pub(crate) const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: String,
    pub(crate) version: u64,
    /// Milliseconds since the Unix epoch.
    pub(crate) exported_at: i64,
    pub(crate) conversations: Vec<Conversation>,
}

/// A conversation of the export, and where its messages are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Conversation {
    /// A room's name, or a direct conversation's id (`dm:<person>:<person>`).
    pub(crate) room: String,
    /// `room` or `dm`.
    pub(crate) kind: String,
    /// How many lines its file has.
    pub(crate) messages: u64,
    /// The entry that holds it: `conversations/<n>.ndjson`.
    pub(crate) file: String,
}

/// A line of a conversation's file: one message, oldest first by `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Line<'a> {
    pub(crate) id: i64,
    #[serde(borrow)]
    pub(crate) room: Cow<'a, str>,
    pub(crate) seq: i64,
    /// Empty for a deleted message.
    #[serde(borrow)]
    pub(crate) author: Cow<'a, str>,
    /// Empty for a deleted message.
    #[serde(borrow)]
    pub(crate) text: Cow<'a, str>,
    /// `null` for a person's message; `announcement`, `joined`, `left` or `deleted`.
    #[serde(borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_at: i64,
    pub(crate) deleted: bool,
}

impl<'a> From<&'a StoredMessage> for Line<'a> {
    fn from(m: &'a StoredMessage) -> Line<'a> {
        let deleted = m.kind == Some(app::events::MessageKind::Deleted);
        // A tombstone says nothing of what it was, nor whose, as on the wire.
        let (author, text) = if deleted {
            ("", "")
        } else {
            (m.author.as_str(), m.text.as_str())
        };
        Line {
            id: m.id,
            room: Cow::Borrowed(&m.room),
            seq: m.seq,
            author: Cow::Borrowed(author),
            text: Cow::Borrowed(text),
            kind: m.kind.map(|k| Cow::Borrowed(message_kind_column(k))),
            created_at: m.created_at,
            deleted,
        }
    }
}
