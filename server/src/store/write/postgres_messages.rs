//! Changes to one message on Postgres: what [`super::sqlite_messages`] makes on SQLite, in
//! Postgres's SQL. The feed's number is taken under the conversation's row lock, so that two
//! nodes' changes to one conversation are numbered in the order they commit.

use app::events::{MAX_REACTIONS, MessageKind};
use sqlx::postgres::PgConnection;

use crate::store::write::{MessageOutcome, Refused, Scope, reactions_json};
use crate::store::{COLUMNS, StoredMessage, message_kind_column, message_kind_of};

struct Target {
    room: String,
    sender: Option<String>,
    kind: Option<MessageKind>,
}

async fn target(
    c: &mut PgConnection,
    id: i64,
    scope: &Scope,
) -> Result<Option<Target>, sqlx::Error> {
    let row: Option<(String, Option<String>, Option<String>)> = match scope {
        Scope::In(room) => {
            sqlx::query_as("SELECT room, sender, kind FROM messages WHERE id = $1 AND room = $2")
                .bind(id)
                .bind(room)
                .fetch_optional(&mut *c)
                .await?
        }
        Scope::Rooms => {
            sqlx::query_as(
                "SELECT room, sender, kind FROM messages
                 WHERE id = $1 AND room IN (SELECT name FROM rooms WHERE kind = 'room')",
            )
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
        }
    };
    let Some((room, sender, kind)) = row else {
        return Ok(None);
    };
    let kind = message_kind_of(kind.as_deref())?;
    Ok(Some(Target { room, sender, kind }))
}

async fn bump(c: &mut PgConnection, room: &str) -> Result<i64, sqlx::Error> {
    let (seq,): (i64,) = sqlx::query_as(
        "UPDATE rooms SET change_seq = change_seq + 1 WHERE name = $1 RETURNING change_seq",
    )
    .bind(room)
    .fetch_one(&mut *c)
    .await?;
    Ok(seq)
}

async fn reread(c: &mut PgConnection, id: i64) -> Result<StoredMessage, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM messages WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *c)
        .await
}

fn owned_by(t: &Target, person: &str) -> bool {
    t.kind.is_none() && t.sender.as_deref() == Some(person)
}

pub(crate) async fn edit(
    c: &mut PgConnection,
    room: &str,
    id: i64,
    person: &str,
    text: &str,
    mentions: &[String],
    now: i64,
) -> Result<MessageOutcome, sqlx::Error> {
    let Some(t) = target(c, id, &Scope::In(room.to_owned())).await? else {
        return Ok(Err(Refused::Unknown));
    };
    if t.kind == Some(MessageKind::Deleted) {
        return Ok(Err(Refused::Unknown));
    }
    if !owned_by(&t, person) {
        return Ok(Err(Refused::NotYours));
    }
    let seq = bump(c, &t.room).await?;
    sqlx::query("UPDATE messages SET text = $1, edited_at = $2, changed_seq = $3 WHERE id = $4")
        .bind(text)
        .bind(now)
        .bind(seq)
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM mentions WHERE message = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO mentions (message, person)
         SELECT $1, person FROM UNNEST($2::text[]) AS p(person) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(mentions)
    .execute(&mut *c)
    .await?;
    Ok(Ok(Some(Box::new(reread(c, id).await?))))
}

pub(crate) async fn delete(
    c: &mut PgConnection,
    scope: &Scope,
    id: i64,
    author: Option<&str>,
    now: i64,
) -> Result<MessageOutcome, sqlx::Error> {
    let Some(t) = target(c, id, scope).await? else {
        return Ok(Err(Refused::Unknown));
    };
    if t.kind == Some(MessageKind::Deleted) {
        return Ok(Ok(None));
    }
    if author.is_some_and(|person| !owned_by(&t, person)) {
        return Ok(Err(Refused::NotYours));
    }
    let seq = bump(c, &t.room).await?;
    sqlx::query(
        "UPDATE messages SET text = '', kind = $1, deleted_at = COALESCE(deleted_at, $2),
             reactions = NULL, edited_at = NULL, changed_seq = $3
         WHERE id = $4",
    )
    .bind(message_kind_column(MessageKind::Deleted))
    .bind(now)
    .bind(seq)
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM reactions WHERE message = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(Ok(Some(Box::new(reread(c, id).await?))))
}

pub(crate) async fn react(
    c: &mut PgConnection,
    room: &str,
    id: i64,
    person: &str,
    emoji: &str,
    on: bool,
    now: i64,
) -> Result<MessageOutcome, sqlx::Error> {
    let Some(t) = target(c, id, &Scope::In(room.to_owned())).await? else {
        return Ok(Err(Refused::Unknown));
    };
    if matches!(
        t.kind,
        Some(MessageKind::Deleted | MessageKind::Joined | MessageKind::Left)
    ) {
        return Ok(Err(Refused::Unknown));
    }
    // The conversation's row first, as every change to it takes it: two reactions to one
    // message count its distinct emoji in turn.
    let seq = bump(c, &t.room).await?;
    if on {
        let (given, has_emoji, distinct): (bool, bool, i64) = sqlx::query_as(
            "SELECT
                EXISTS (SELECT 1 FROM reactions WHERE message = $1 AND emoji = $2
                                                  AND person = $3),
                EXISTS (SELECT 1 FROM reactions WHERE message = $1 AND emoji = $2),
                (SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message = $1)",
        )
        .bind(id)
        .bind(emoji)
        .bind(person)
        .fetch_one(&mut *c)
        .await?;
        // Nothing to change: the number taken is given back.
        if given {
            unbump(c, &t.room).await?;
            return Ok(Ok(None));
        }
        if !has_emoji && distinct >= MAX_REACTIONS as i64 {
            unbump(c, &t.room).await?;
            return Ok(Err(Refused::TooManyReactions));
        }
        sqlx::query(
            "INSERT INTO reactions (message, emoji, person, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(emoji)
        .bind(person)
        .bind(now)
        .execute(&mut *c)
        .await?;
    } else {
        let taken =
            sqlx::query("DELETE FROM reactions WHERE message = $1 AND emoji = $2 AND person = $3")
                .bind(id)
                .bind(emoji)
                .bind(person)
                .execute(&mut *c)
                .await?
                .rows_affected();
        if taken == 0 {
            unbump(c, &t.room).await?;
            return Ok(Ok(None));
        }
    }
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.emoji, COALESCE(p.name, '') FROM reactions r
         LEFT JOIN people p ON p.person = r.person
         WHERE r.message = $1 ORDER BY r.created_at, r.person",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    sqlx::query("UPDATE messages SET reactions = $1, changed_seq = $2 WHERE id = $3")
        .bind(reactions_json(rows))
        .bind(seq)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(Ok(Some(Box::new(reread(c, id).await?))))
}

/// Gives back a feed number taken for a change that turned out to change nothing (the row
/// lock is held until the commit, so nobody took the next one meanwhile).
async fn unbump(c: &mut PgConnection, room: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rooms SET change_seq = change_seq - 1 WHERE name = $1")
        .bind(room)
        .execute(&mut *c)
        .await?;
    Ok(())
}
