//! Changes to one message (edits, deletions, reactions), as statements on the writer's
//! connection. Each one that changes something takes the next number of its conversation's
//! change feed (`rooms.change_seq`) and stamps the message with it (`messages.changed_seq`),
//! in the same transaction, so that a catch-up replays every change after a client's cursor.

use app::events::{MAX_REACTIONS, MessageKind};
use rusqlite::{Connection, OptionalExtension as _};

use crate::store::write::{MessageOutcome, Refused, Scope, reactions_json};
use crate::store::{COLUMNS, message_kind_column, message_kind_of};

/// The message `id` where `scope` says: its room, its sender and its kind.
struct Target {
    room: String,
    sender: Option<String>,
    kind: Option<MessageKind>,
}

fn target(c: &Connection, id: i64, scope: &Scope) -> rusqlite::Result<Option<Target>> {
    let row: Option<(String, Option<String>, Option<String>)> = match scope {
        Scope::In(room) => c
            .prepare_cached("SELECT room, sender, kind FROM messages WHERE id = ?1 AND room = ?2")?
            .query_row((id, room), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?,
        Scope::Rooms => c
            .prepare_cached(
                "SELECT room, sender, kind FROM messages
                 WHERE id = ?1 AND room IN (SELECT name FROM rooms WHERE kind = 'room')",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?,
    };
    let Some((room, sender, kind)) = row else {
        return Ok(None);
    };
    let kind = message_kind_of(kind.as_deref()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Some(Target { room, sender, kind }))
}

/// The next number of `room`'s change feed.
fn bump(c: &Connection, room: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "UPDATE rooms SET change_seq = change_seq + 1 WHERE name = ?1 RETURNING change_seq",
    )?
    .query_row([room], |r| r.get(0))
}

fn reread(c: &Connection, id: i64) -> rusqlite::Result<crate::store::StoredMessage> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"))?
        .query_row([id], super::sqlite::message_of)
}

/// Whether a person may call the message theirs: their own words, not a notice, a program's,
/// an announcement or a tombstone.
fn owned_by(t: &Target, person: &str) -> bool {
    t.kind.is_none() && t.sender.as_deref() == Some(person)
}

/// Replaces the text of `person`'s own message `id` of `room`, and whom it mentions, and
/// stamps when.
pub(crate) fn edit(
    c: &Connection,
    room: &str,
    id: i64,
    person: &str,
    text: &str,
    mentions: &[String],
    now: i64,
) -> rusqlite::Result<MessageOutcome> {
    let Some(t) = target(c, id, &Scope::In(room.to_owned()))? else {
        return Ok(Err(Refused::Unknown));
    };
    if t.kind == Some(MessageKind::Deleted) {
        return Ok(Err(Refused::Unknown));
    }
    if !owned_by(&t, person) {
        return Ok(Err(Refused::NotYours));
    }
    let seq = bump(c, &t.room)?;
    c.prepare_cached(
        "UPDATE messages SET text = ?1, edited_at = ?2, changed_seq = ?3 WHERE id = ?4",
    )?
    .execute((text, now, seq, id))?;
    c.prepare_cached("DELETE FROM mentions WHERE message = ?1")?
        .execute([id])?;
    for mentioned in mentions {
        c.prepare_cached(
            "INSERT INTO mentions (message, person) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute((id, mentioned))?;
    }
    Ok(Ok(Some(Box::new(reread(c, id)?))))
}

/// Makes message `id` a tombstone: its text, reactions and edit time go, its place (`seq`)
/// stays. `author`: only if it is theirs. Deleting twice changes nothing.
pub(crate) fn delete(
    c: &Connection,
    scope: &Scope,
    id: i64,
    author: Option<&str>,
    now: i64,
) -> rusqlite::Result<MessageOutcome> {
    let Some(t) = target(c, id, scope)? else {
        return Ok(Err(Refused::Unknown));
    };
    if t.kind == Some(MessageKind::Deleted) {
        return Ok(Ok(None));
    }
    if author.is_some_and(|person| !owned_by(&t, person)) {
        return Ok(Err(Refused::NotYours));
    }
    let seq = bump(c, &t.room)?;
    c.prepare_cached(
        "UPDATE messages SET text = '', kind = ?1, deleted_at = COALESCE(deleted_at, ?2),
             reactions = NULL, edited_at = NULL, changed_seq = ?3
         WHERE id = ?4",
    )?
    .execute((message_kind_column(MessageKind::Deleted), now, seq, id))?;
    c.prepare_cached("DELETE FROM reactions WHERE message = ?1")?
        .execute([id])?;
    Ok(Ok(Some(Box::new(reread(c, id)?))))
}

/// Gives (`on`) or takes back `person`'s `emoji` on message `id` of `room`.
pub(crate) fn react(
    c: &Connection,
    room: &str,
    id: i64,
    person: &str,
    emoji: &str,
    on: bool,
    now: i64,
) -> rusqlite::Result<MessageOutcome> {
    let Some(t) = target(c, id, &Scope::In(room.to_owned()))? else {
        return Ok(Err(Refused::Unknown));
    };
    if matches!(
        t.kind,
        Some(MessageKind::Deleted | MessageKind::Joined | MessageKind::Left)
    ) {
        return Ok(Err(Refused::Unknown));
    }
    if on {
        let (given, has_emoji, distinct): (bool, bool, i64) = c
            .prepare_cached(
                "SELECT
                    EXISTS (SELECT 1 FROM reactions WHERE message = ?1 AND emoji = ?2
                                                      AND person = ?3),
                    EXISTS (SELECT 1 FROM reactions WHERE message = ?1 AND emoji = ?2),
                    (SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message = ?1)",
            )?
            .query_row((id, emoji, person), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if given {
            return Ok(Ok(None));
        }
        if !has_emoji && distinct >= MAX_REACTIONS as i64 {
            return Ok(Err(Refused::TooManyReactions));
        }
        c.prepare_cached(
            "INSERT INTO reactions (message, emoji, person, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute((id, emoji, person, now))?;
    } else {
        let taken = c
            .prepare_cached(
                "DELETE FROM reactions WHERE message = ?1 AND emoji = ?2 AND person = ?3",
            )?
            .execute((id, emoji, person))?;
        if taken == 0 {
            return Ok(Ok(None));
        }
    }
    let rows: Vec<(String, String)> = c
        .prepare_cached(
            "SELECT r.emoji, COALESCE(p.name, '') FROM reactions r
             LEFT JOIN people p ON p.person = r.person
             WHERE r.message = ?1 ORDER BY r.created_at, r.person",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let seq = bump(c, &t.room)?;
    c.prepare_cached("UPDATE messages SET reactions = ?1, changed_seq = ?2 WHERE id = ?3")?
        .execute((reactions_json(rows), seq, id))?;
    Ok(Ok(Some(Box::new(reread(c, id)?))))
}
