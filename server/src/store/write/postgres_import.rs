//! Imported messages on Postgres: a batch in a few statements, numbered under the rooms' row
//! locks as the writer's posts are ([`crate::store::write::postgres`]).

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgConnection;

use crate::store::{Head, IMPORT_SENDER, ImportBatch, ImportOutcome, message_kind_column, now_ms};

/// Stores `batch` on `tx`, a transaction the caller commits. A key another node stores
/// meanwhile fails the insert with a unique violation: the caller tries the batch again, and
/// finds it then.
pub(crate) async fn import(
    tx: &mut PgConnection,
    batch: &ImportBatch,
) -> Result<ImportOutcome, sqlx::Error> {
    let mut outcome = ImportOutcome::default();
    let mut names: Vec<&str> = batch.messages.iter().map(|m| m.room.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    // In name order, as the writer's posts lock them.
    let created: Vec<(String,)> = sqlx::query_as(
        "INSERT INTO rooms (name, kind, created_by, created_at)
         SELECT r, 'room', $2, $3 FROM UNNEST($1::text[]) AS r ORDER BY r
         ON CONFLICT (name) DO NOTHING
         RETURNING name",
    )
    .bind(&names)
    .bind(&batch.importer)
    .bind(now_ms())
    .fetch_all(&mut *tx)
    .await?;
    outcome.rooms_created = created.into_iter().map(|(n,)| n).collect();
    outcome.rooms_created.sort_unstable();
    let found: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT name, kind, created_by FROM rooms WHERE name = ANY($1) ORDER BY name FOR UPDATE",
    )
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    let writable: Vec<&str> = found
        .iter()
        .filter(|(_, kind, by)| {
            kind == "room"
                && (batch.into_existing || by.as_deref() == Some(batch.importer.as_str()))
        })
        .map(|(name, _, _)| name.as_str())
        .collect();
    // After the locks: what the batches that held them committed.
    let newest: Vec<(String, i64)> = sqlx::query_as(
        "SELECT r, COALESCE((SELECT MAX(seq) FROM messages WHERE room = r), 0)
         FROM UNNEST($1::text[]) AS r",
    )
    .bind(&writable)
    .fetch_all(&mut *tx)
    .await?;
    let mut seqs: HashMap<String, i64> = newest.into_iter().collect();
    outcome.rooms_refused = names
        .iter()
        .filter(|n| !seqs.contains_key(**n))
        .map(|n| (*n).to_owned())
        .collect();

    let keys: Vec<&str> = batch
        .messages
        .iter()
        .filter(|m| seqs.contains_key(&m.room))
        .map(|m| m.key.as_str())
        .collect();
    let stored: Vec<(String,)> = sqlx::query_as(
        "SELECT client_offset FROM messages WHERE sender = $1 AND client_offset = ANY($2)",
    )
    .bind(IMPORT_SENDER)
    .bind(&keys)
    .fetch_all(&mut *tx)
    .await?;
    let mut seen: HashSet<&str> = HashSet::with_capacity(keys.len());
    let stored: HashSet<String> = stored.into_iter().map(|(k,)| k).collect();
    let mut rows = Rows::default();
    for m in &batch.messages {
        let Some(seq) = seqs.get_mut(&m.room) else {
            outcome.refused += 1;
            continue;
        };
        if stored.contains(&m.key) || !seen.insert(&m.key) {
            outcome.duplicates += 1;
            continue;
        }
        *seq += 1;
        rows.room.push(&m.room);
        rows.author.push(&m.author);
        rows.text.push(&m.text);
        rows.key.push(&m.key);
        rows.created_at.push(m.created_at);
        rows.kind.push(m.kind.map(message_kind_column));
        rows.seq.push(*seq);
    }
    if rows.seq.is_empty() {
        return Ok(outcome);
    }
    outcome.stored = rows.seq.len() as u64;
    let inserted: Vec<(i64, String, i64)> = sqlx::query_as(
        "INSERT INTO messages (room, author, text, client_offset, created_at, kind, seq, sender)
         SELECT r, a, t, o, c, k, s, $8
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[],
                     $7::int8[]) AS x (r, a, t, o, c, k, s)
         RETURNING id, room, seq",
    )
    .bind(&rows.room)
    .bind(&rows.author)
    .bind(&rows.text)
    .bind(&rows.key)
    .bind(&rows.created_at)
    .bind(&rows.kind)
    .bind(&rows.seq)
    .bind(IMPORT_SENDER)
    .fetch_all(&mut *tx)
    .await?;
    let mut heads: HashMap<String, Head> = HashMap::new();
    for (id, room, seq) in inserted {
        let head = heads.entry(room.clone()).or_insert(Head {
            room,
            last_id: id,
            last_seq: seq,
        });
        if seq > head.last_seq {
            (head.last_id, head.last_seq) = (id, seq);
        }
    }
    outcome.rooms_touched = heads.into_values().collect();
    outcome.rooms_touched.sort_by(|a, b| a.room.cmp(&b.room));
    Ok(outcome)
}

/// The new rows, column by column, for one `INSERT … SELECT FROM UNNEST`.
#[derive(Default)]
struct Rows<'a> {
    room: Vec<&'a str>,
    author: Vec<&'a str>,
    text: Vec<&'a str>,
    key: Vec<&'a str>,
    created_at: Vec<i64>,
    kind: Vec<Option<&'static str>>,
    seq: Vec<i64>,
}
