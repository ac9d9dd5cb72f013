//! Changes to people, rooms and memberships, as statements on the writer's connection.
//!
//! The writer makes each one inside the transaction of its next batch ([the writer](crate::socket::writer)), so
//! that a crowd's name claims and joins share commits (and their fsyncs) with one another
//! and with posts, and never contend with the writer for SQLite's write lock: through the
//! pool, each was a commit of its own, and a collision slept in SQLite's busy handler.

use app::events::LOBBY;
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, ffi};

use crate::store::Claim;

/// Gives `name` to `person` (renaming them if they had another), unless `person` is banned
/// or another person holds it: someone seen within `hold_ms` of `now`, or banned. A holder
/// whose claim has lapsed is removed only when the caller names them in `evict` (having
/// checked that they are not connected: a connected person's `last_seen` is when they came);
/// otherwise the answer is [`Claim::Lapsed`], so that the caller can check.
pub(crate) fn claim_name(
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
             WHERE name_key = ?1 AND person != ?2 AND last_seen < ?3 AND banned_at IS NULL",
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
pub(crate) fn touch_person(c: &Connection, person: &str, now: i64) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE people SET last_seen = MAX(last_seen, ?1) WHERE person = ?2")?
        .execute((now, person))?;
    Ok(())
}

/// Creates a public room with `person` as its first member; false when the name is taken.
pub(crate) fn create_room(
    c: &Connection,
    name: &str,
    person: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let created = c
        .prepare_cached(
            "INSERT INTO rooms (name, kind, created_by, created_at) VALUES (?1, 'room', ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
        )?
        .execute((name, person, now))?
        == 1;
    if created {
        join(c, name, person, now)?;
    }
    Ok(created)
}

/// Adds `person` to `room`; false when they were in it already.
pub(crate) fn join(c: &Connection, room: &str, person: &str, now: i64) -> rusqlite::Result<bool> {
    // read_seq starts at the room's head: a newcomer has nothing unread.
    Ok(c.prepare_cached(
        "INSERT INTO members (room, person, joined_at, read_seq)
         VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = ?1))
         ON CONFLICT DO NOTHING",
    )?
    .execute((room, person, now))?
        == 1)
}

/// Adds `person` to the public room `room`: whether they were not in it already, or `None`
/// when there is no such public room.
pub(crate) fn join_public(
    c: &Connection,
    room: &str,
    person: &str,
    now: i64,
) -> rusqlite::Result<Option<bool>> {
    let public = c
        .prepare_cached("SELECT 1 FROM rooms WHERE name = ?1 AND kind = 'room'")?
        .exists([room])?;
    if !public {
        return Ok(None);
    }
    join(c, room, person, now).map(Some)
}

/// Takes `person` out of `room`; false when they were not in it.
pub(crate) fn leave(c: &Connection, room: &str, person: &str) -> rusqlite::Result<bool> {
    Ok(
        c.prepare_cached("DELETE FROM members WHERE room = ?1 AND person = ?2")?
            .execute((room, person))?
            == 1,
    )
}

/// Creates the direct conversation `name` that `a` opens with `b`, unless it exists. `b` is
/// only invited: it is not in their list until its first message (see
/// [`crate::store::Store::room_list`]).
pub(crate) fn open_dm(
    c: &Connection,
    name: &str,
    a: &str,
    b: &str,
    now: i64,
) -> rusqlite::Result<()> {
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
pub(crate) fn mark_read(
    c: &Connection,
    room: &str,
    person: &str,
    seq: i64,
) -> rusqlite::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn a_lapsed_holder_keeps_the_name_until_the_caller_evicts_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::open(&url).await.unwrap();
        let mut conn = store.writer_connection().unwrap();
        let hold = 1_000;
        let mut claim = |person: &str, now, evict: Option<&str>| {
            conn.apply(|c| claim_name(c, person, "Ann", "ann", now, hold, evict))
                .unwrap()
        };
        assert_eq!(claim("p1", 10, None), Claim::Granted);
        assert_eq!(claim("p2", 500, None), Claim::Taken);
        // Lapsed, but perhaps still connected: the caller is asked, and nothing changes.
        let lapsed = Claim::Lapsed {
            holder: "p1".to_owned(),
        };
        assert_eq!(claim("p2", 5_000, None), lapsed);
        assert_eq!(claim("p2", 5_000, Some("p3")), lapsed);
        assert_eq!(claim("p2", 5_000, Some("p1")), Claim::Granted);
        assert_eq!(claim("p1", 5_100, None), Claim::Taken);
    }
}
