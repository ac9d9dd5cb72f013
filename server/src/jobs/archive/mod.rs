//! Archives in and out: Palaver's own export (a ZIP of NDJSON, `docs/export-format.md`), and
//! imports of it or of a Slack export, read a record at a time and stored in large batches
//! through the writer.

pub(crate) mod export;
pub(crate) mod format;
pub(crate) mod import;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod palaver;
pub(crate) mod slack;
pub(crate) mod slack_text;
pub(crate) mod zipped;

#[cfg(test)]
mod tests;

use app::events::{ChatError, MessageKind};

use crate::jobs::archive::limits::{ArchiveError, Problem, RecordError};
use crate::store::ImportedMessage;

/// A message read from an archive, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportRecord {
    /// A valid room name (see [`app::events::validate_room_name`]).
    pub(crate) room: String,
    /// The name it was written under at its source.
    pub(crate) author: String,
    /// Valid text (see [`app::events::validate_text`]); empty for a deleted message.
    pub(crate) text: String,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_at: i64,
    /// Stable per source record, so that importing it again stores nothing new.
    pub(crate) key: String,
    pub(crate) kind: Option<MessageKind>,
}

impl From<ImportRecord> for ImportedMessage {
    fn from(r: ImportRecord) -> ImportedMessage {
        ImportedMessage {
            room: r.room,
            author: r.author,
            text: r.text,
            created_at: r.created_at,
            key: r.key,
            kind: r.kind,
        }
    }
}

/// Where a reader puts what it reads, in the archive's order.
pub(crate) trait Sink {
    /// A record to import. An error stops the reader (the import has stopped).
    fn record(&mut self, record: ImportRecord) -> Result<(), ArchiveError>;
    /// A record that is not imported, and why.
    fn error(&mut self, error: RecordError);
    /// A record left out on purpose, as its reader documents.
    fn skipped(&mut self);
}

/// The longest author's name kept; Slack's display names go up to 80 characters.
pub(crate) const MAX_AUTHOR_CHARS: usize = 80;

/// `name` as an imported message's author: without control characters, trimmed, and at most
/// [`MAX_AUTHOR_CHARS`]; `None` when nothing is left.
pub(crate) fn author(name: &str) -> Option<String> {
    let kept: String = name
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_AUTHOR_CHARS)
        .collect();
    let kept = kept.trim_end().to_owned();
    (!kept.is_empty()).then_some(kept)
}

/// `text` as an imported message's text, checked as a posted message's is.
pub(crate) fn text(text: &str) -> Result<String, Problem> {
    match app::events::validate_text(text) {
        Ok(text) => Ok(text.into_owned()),
        Err(ChatError::TooLong { max }) => Err(Problem::TooLong { max }),
        Err(ChatError::Empty) => Err(Problem::Empty),
        Err(e) => Err(Problem::Malformed(e.to_string())),
    }
}
