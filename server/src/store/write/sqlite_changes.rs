//! Changes to people, rooms and memberships, as statements on the writer's connection.
//!
//! The writer makes each one inside the transaction of its next batch ([the writer](crate::socket::writer)), so
//! that a crowd's name claims and joins share commits (and their fsyncs) with one another
//! and with posts, and never contend with the writer for SQLite's write lock: through the
//! pool, each was a commit of its own, and a collision slept in SQLite's busy handler.

use app::events::{LOBBY, RoomKind};
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, ffi};

use crate::store::write::{Change, Joining, Outcome, sqlite_messages};
use crate::store::{Claim, RoomRow};

/// Makes `change` on `c`.
pub(crate) fn make(c: &Connection, change: &Change) -> rusqlite::Result<Outcome> {
    Ok(match change {
        Change::ClaimName {
            person,
            name,
            name_key,
            now,
            hold_ms,
            evict,
        } => Outcome::Claim(claim_name(
            c,
            person,
            name,
            name_key,
            *now,
            *hold_ms,
            evict.as_deref(),
        )?),
        Change::TouchPerson { person, now } => {
            touch_person(c, person, *now)?;
            Outcome::Done
        }
        Change::CreateRoom {
            name,
            person,
            now,
            private,
        } => Outcome::Made(create_room(c, name, person, *now, *private)?),
        Change::Join { room, person, now } => Outcome::Made(join(c, room, person, *now)?),
        Change::JoinPublic { room, person, now } => {
            Outcome::Public(join_public(c, room, person, *now)?)
        }
        Change::Leave { room, person } => Outcome::Made(leave(c, room, person)?),
        Change::OpenDm { name, a, b, now } => {
            open_dm(c, name, a, b, *now)?;
            Outcome::Done
        }
        Change::MarkRead { room, person, seq } => {
            mark_read(c, room, person, *seq)?;
            Outcome::Done
        }
        Change::EditMessage {
            room,
            id,
            person,
            text,
            mentions,
            now,
        } => Outcome::Message(sqlite_messages::edit(
            c, room, *id, person, text, mentions, *now,
        )?),
        Change::DeleteMessage {
            id,
            scope,
            author,
            now,
        } => Outcome::Message(sqlite_messages::delete(
            c,
            scope,
            *id,
            author.as_deref(),
            *now,
        )?),
        Change::React {
            room,
            id,
            person,
            emoji,
            on,
            now,
        } => Outcome::Message(sqlite_messages::react(
            c, room, *id, person, emoji, *on, *now,
        )?),
        #[cfg(test)]
        Change::Sql(sql) => {
            c.execute_batch(sql)?;
            Outcome::Done
        }
    })
}

/// Gives `name` to `person` (renaming them if they had another), unless `person` is banned
/// or another person holds it: an account (a name with a password, which never lapses),
/// someone seen within `hold_ms` of `now`, or banned. A holder
/// whose claim has lapsed is removed only when the caller names them in `evict` (having
/// checked that they are not connected: a connected person's `last_seen` is when they came);
/// otherwise the answer is [`Claim::Lapsed`], so that the caller can check.
fn claim_name(
    c: &Connection,
    person: &str,
    name: &str,
    name_key: &str,
    now: i64,
    hold_ms: i64,
    evict: Option<&str>,
) -> rusqlite::Result<Claim> {
    let banned = c
        .prepare_cached("SELECT 1 FROM people WHERE person = ?1 AND banned_at IS NOT NULL")?
        .exists([person])?;
    if banned {
        return Ok(Claim::Banned);
    }
    // The name key is unique: there is one holder at most.
    let lapsed: Option<String> = c
        .prepare_cached(
            "SELECT person FROM people
             WHERE name_key = ?1 AND person != ?2 AND last_seen < ?3 AND banned_at IS NULL
               AND password_hash IS NULL",
        )?
        .query_row((name_key, person, now.saturating_sub(hold_ms)), |r| {
            r.get(0)
        })
        .optional()?;
    match lapsed {
        Some(holder) if evict == Some(holder.as_str()) => {
            c.prepare_cached("DELETE FROM people WHERE person = ?1")?
                .execute([&holder])?;
        }
        Some(holder) => return Ok(Claim::Lapsed { holder }),
        None => {}
    }
    let claimed = c
        .prepare_cached(
            "INSERT INTO people (person, name, name_key, last_seen) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (person) DO UPDATE
             SET name = excluded.name, name_key = excluded.name_key,
                 last_seen = excluded.last_seen",
        )?
        .execute((person, name, name_key, now));
    match claimed {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Ok(Claim::Taken),
        Err(e) => return Err(e),
    }
    // Everyone with a name belongs to the lobby.
    c.prepare_cached(
        "INSERT INTO members (room, person, joined_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?
    .execute((LOBBY, person, now))?;
    Ok(Claim::Granted)
}

/// Records that `person` was seen at `now`, extending their hold on their name.
fn touch_person(c: &Connection, person: &str, now: i64) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE people SET last_seen = MAX(last_seen, ?1) WHERE person = ?2")?
        .execute((now, person))?;
    Ok(())
}

/// Creates a room with `person` as its first member; false when the name is taken.
fn create_room(
    c: &Connection,
    name: &str,
    person: &str,
    now: i64,
    private: bool,
) -> rusqlite::Result<bool> {
    let created = c
        .prepare_cached(
            "INSERT INTO rooms (name, kind, created_by, created_at, is_private)
             VALUES (?1, 'room', ?2, ?3, ?4)
             ON CONFLICT (name) DO NOTHING",
        )?
        .execute((name, person, now, private))?
        == 1;
    if created {
        join(c, name, person, now)?;
    }
    Ok(created)
}

/// Adds `person` to `room`; false when they were in it already.
fn join(c: &Connection, room: &str, person: &str, now: i64) -> rusqlite::Result<bool> {
    // read_seq starts at the room's head: a newcomer has nothing unread.
    Ok(c.prepare_cached(
        "INSERT INTO members (room, person, joined_at, read_seq)
         VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = ?1))
         ON CONFLICT DO NOTHING",
    )?
    .execute((room, person, now))?
        == 1)
}

/// Adds `person` to the room `room`, unless there is no such room they may join (a private
/// room takes only those a member adds).
fn join_public(c: &Connection, room: &str, person: &str, now: i64) -> rusqlite::Result<Joining> {
    let public = c
        .prepare_cached(
            "SELECT 1 FROM rooms WHERE name = ?1 AND kind = 'room'
               AND (NOT is_private
                    OR EXISTS (SELECT 1 FROM members WHERE room = ?1 AND person = ?2))",
        )?
        .exists([room, person])?;
    if !public {
        return Ok(Joining::NoRoom);
    }
    if !join(c, room, person, now)? {
        return Ok(Joining::AlreadyIn);
    }
    // The newcomer's entry: their read marker is the room's head.
    c.prepare_cached(
        "SELECT r.members, r.is_private, r.listed, r.posting, r.created_by, m.read_seq
         FROM rooms r JOIN members m ON m.room = r.name AND m.person = ?2
         WHERE r.name = ?1",
    )?
    .query_row([room, person], |row| {
        Ok(Joining::Joined(Box::new(RoomRow {
            name: room.to_owned(),
            kind: RoomKind::Room,
            members: row.get(0)?,
            joined: true,
            last_seq: row.get(5)?,
            unread: 0,
            peer: None,
            private: row.get(1)?,
            listed: row.get(2)?,
            posting: row.get(3)?,
            owner: row.get(4)?,
        })))
    })
}

/// Takes `person` out of `room`; false when they were not in it.
fn leave(c: &Connection, room: &str, person: &str) -> rusqlite::Result<bool> {
    Ok(
        c.prepare_cached("DELETE FROM members WHERE room = ?1 AND person = ?2")?
            .execute((room, person))?
            == 1,
    )
}

/// Creates the direct conversation `name` that `a` opens with `b`, unless it exists. `b` is
/// only invited: it is not in their list until its first message (see
/// [`crate::store::Store::room_list`]).
fn open_dm(c: &Connection, name: &str, a: &str, b: &str, now: i64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO rooms (name, kind, created_by, created_at) VALUES (?1, 'dm', ?2, ?3)
         ON CONFLICT (name) DO NOTHING",
    )?
    .execute((name, a, now))?;
    join(c, name, a, now)?;
    // Opening it oneself is hearing of it.
    c.prepare_cached(
        "UPDATE members SET invited = 0 WHERE room = ?1 AND person = ?2 AND invited = 1",
    )?
    .execute((name, a))?;
    if b != a {
        c.prepare_cached(
            "INSERT INTO members (room, person, joined_at, read_seq, invited)
             VALUES (?1, ?2, ?3, 0, 1)
             ON CONFLICT DO NOTHING",
        )?
        .execute((name, b, now))?;
    }
    Ok(())
}

/// Moves `person`'s read marker in `room` forward to `seq` (never back, and never past the
/// room's newest message, so a bogus `seq` cannot hide messages yet to come).
fn mark_read(c: &Connection, room: &str, person: &str, seq: i64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "UPDATE members
         SET read_seq = MAX(read_seq,
                            MIN(?1, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = ?2)))
         WHERE room = ?2 AND person = ?3",
    )?
    .execute((seq, room, person))?;
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation
            && f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE)
}
