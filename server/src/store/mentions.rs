//! Mentions and notification levels: whom messages mention (stored by the writer, with the
//! message: see [`crate::store::write`]), the people a `@` may complete to, and each person's
//! chosen levels.

use app::events::{LOBBY, MessageKind, NotifyLevel};

use crate::store::{M_COLUMNS, Store, StoreError, StoredMessage, message_kind_column};

/// A person a message mentions, who may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mentioned {
    pub(crate) person: String,
    /// Their name as they spell it.
    pub(crate) name: String,
}

impl Store {
    /// The messages mentioning `person` with an id below `before`, newest first, that they
    /// may still read: not deleted, in the lobby or a conversation they belong to; at most
    /// `limit`, and whether more exist.
    pub(crate) async fn mentions_of(
        &self,
        person: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<StoredMessage>, bool), StoreError> {
        let sql = format!(
            "SELECT {M_COLUMNS} FROM mentions n JOIN messages m ON m.id = n.message
             WHERE n.person = $1 AND n.message < $2
               AND (m.kind IS NULL OR m.kind != $3)
               AND (m.room = $4
                    OR EXISTS (SELECT 1 FROM members o WHERE o.room = m.room AND o.person = $1))
             ORDER BY n.message DESC LIMIT $5"
        );
        let mut rows: Vec<StoredMessage> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(person)
            .bind(before.unwrap_or(i64::MAX))
            .bind(message_kind_column(MessageKind::Deleted))
            .bind(LOBBY)
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows, more))
    }

    /// Up to `limit` people (name, display name) who belong to `room` (`None`: everyone, as in
    /// the lobby), not banned, whose name key or lowercased display name starts with
    /// `prefix` (lowercase), by name.
    pub(crate) async fn members_matching(
        &self,
        room: Option<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let sql = "SELECT p.name, p.display_name FROM people p
             WHERE p.banned_at IS NULL
               AND ($1 = '' OR EXISTS
                    (SELECT 1 FROM members o WHERE o.room = $1 AND o.person = p.person))
               AND (substr(p.name_key, 1, length($2)) = $2
                    OR lower(substr(COALESCE(p.display_name, ''), 1, length($2))) = $2)
             ORDER BY p.name_key LIMIT $3";
        Ok(on_pool!(self, p => sqlx::query_as(sql)
            .bind(room.unwrap_or(""))
            .bind(prefix)
            .bind(limit as i64)
            .fetch_all(p)
            .await?))
    }

    /// The person called by the name key `name_key`, if they may read `room` (a room's
    /// members; everyone in the lobby). Direct conversations are judged by their id instead.
    pub(crate) async fn mentionable(
        &self,
        name_key: &str,
        room: &str,
    ) -> Result<Option<Mentioned>, StoreError> {
        let sql = "SELECT p.person, p.name FROM people p
             WHERE p.name_key = $1
               AND ($2 = $3 OR EXISTS
                    (SELECT 1 FROM members o WHERE o.room = $2 AND o.person = p.person))";
        let row: Option<(String, String)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(name_key)
            .bind(room)
            .bind(LOBBY)
            .fetch_optional(p)
            .await?);
        Ok(row.map(|(person, name)| Mentioned { person, name }))
    }

    /// The levels `person` chose, by conversation.
    pub(crate) async fn notify_levels(
        &self,
        person: &str,
    ) -> Result<Vec<(String, NotifyLevel)>, StoreError> {
        let sql = "SELECT room, level FROM notify_levels WHERE person = $1 ORDER BY room";
        let rows: Vec<(String, String)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(person).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(room, level)| Some((room, NotifyLevel::parse(&level)?)))
            .collect())
    }

    /// Keeps `person`'s level for `room`.
    pub(crate) async fn set_notify_level(
        &self,
        person: &str,
        room: &str,
        level: NotifyLevel,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO notify_levels (person, room, level) VALUES ($1, $2, $3)
                   ON CONFLICT (person, room) DO UPDATE SET level = excluded.level";
        on_pool!(self, p => sqlx::query(sql)
            .bind(person)
            .bind(room)
            .bind(level.as_str())
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }
}
