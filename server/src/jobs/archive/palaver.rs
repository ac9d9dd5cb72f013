//! Reading Palaver's own export ([`crate::jobs::archive::format`]): each room's file a line at
//! a time. A record's key is its room and its id at the source.
//!
//! Direct conversations are not imported (their two people are the other server's, unknown
//! here): each is reported as a record error. Deleted messages are imported as deleted, so that
//! a room imported whole keeps its `seq`s.

use std::io::BufReader;

use app::events::{MessageKind, is_dm, validate_room_name};

use crate::jobs::archive::format::{FORMAT, Line, MANIFEST, Manifest, VERSION};
use crate::jobs::archive::json::{self, next_line};
use crate::jobs::archive::limits::{ArchiveError, At, Problem, RecordError, reading};
use crate::jobs::archive::zipped::Archive;
use crate::jobs::archive::{ImportRecord, Sink, author, text};
use crate::store::message_kind_of;

/// Whether `archive` looks like Palaver's export.
pub(crate) fn is_one(archive: &Archive) -> bool {
    archive.index_of(MANIFEST).is_some()
}

/// Reads every room of the export in `archive` into `out`.
pub(crate) fn read(archive: &mut Archive, out: &mut dyn Sink) -> Result<(), ArchiveError> {
    let index = archive
        .index_of(MANIFEST)
        .ok_or(ArchiveError::WrongFormat)?;
    let bad = |reason: String| ArchiveError::BadDocument {
        entry: MANIFEST.to_owned(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(&archive.document(index, MANIFEST)?)
        .map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "its format is {:?}, not {FORMAT:?}",
            manifest.format
        )));
    }
    if manifest.version != VERSION {
        return Err(ArchiveError::UnsupportedVersion(manifest.version));
    }
    let limits = archive.limits().clone();
    let max = usize::try_from(limits.record_bytes).unwrap_or(usize::MAX);
    for conversation in manifest.conversations {
        let file = conversation.file;
        let whole = |problem| RecordError {
            file: file.clone(),
            at: At::File,
            problem,
        };
        let room = conversation.room;
        if conversation.kind == "dm" || is_dm(&room) {
            out.error(whole(Problem::DirectConversation));
            continue;
        }
        if validate_room_name(&room).ok().as_ref() != Some(&room) {
            out.error(whole(Problem::BadRoomName(room)));
            continue;
        }
        let Some(index) = archive.index_of(&file) else {
            out.error(whole(Problem::Malformed(
                "the manifest names no such file".to_owned(),
            )));
            continue;
        };
        let mut lines = BufReader::with_capacity(64 * 1024, archive.entry(index)?);
        let mut buf = Vec::with_capacity(1024);
        let mut n = 0;
        loop {
            n += 1;
            let at = At::Line(n);
            let line =
                next_line(&mut lines, &mut buf, max).map_err(|e| reading(&file, e, &limits))?;
            let problem = match line {
                json::Line::End => break,
                json::Line::TooLong => Problem::TooBig {
                    max: limits.record_bytes,
                },
                json::Line::Text if buf.iter().all(u8::is_ascii_whitespace) => continue,
                json::Line::Text => match record(&room, &buf) {
                    Ok(record) => {
                        out.record(record)?;
                        continue;
                    }
                    Err(problem) => problem,
                },
            };
            out.error(RecordError {
                file: file.clone(),
                at,
                problem,
            });
        }
    }
    Ok(())
}

/// The record a line of `room`'s file holds.
fn record(room: &str, bytes: &[u8]) -> Result<ImportRecord, Problem> {
    let malformed = |e: &dyn std::fmt::Display| Problem::Malformed(e.to_string());
    let line: Line = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
    let kind = message_kind_of(line.kind.as_deref()).map_err(|e| malformed(&e))?;
    let key = format!("palaver:{room}:{}", line.id);
    if line.deleted || kind == Some(MessageKind::Deleted) {
        return Ok(ImportRecord {
            room: room.to_owned(),
            author: String::new(),
            text: String::new(),
            created_at: line.created_at,
            key,
            kind: Some(MessageKind::Deleted),
        });
    }
    Ok(ImportRecord {
        room: room.to_owned(),
        author: author(&line.author).ok_or_else(|| malformed(&"the message has no author"))?,
        text: text(&line.text)?,
        created_at: line.created_at,
        key,
        kind,
    })
}
