//! Imported messages' authors, and their claim by people: an archive's authors need not be
//! anyone here, so their messages keep the name they wrote under until a moderator says whose
//! they are.

use app::events::IMPORTED_AUTHORS_PAGE;

use crate::store::{Store, StoreError};

/// Matches imported messages. A literal, not a parameter, so that the partial index
/// `messages_imported_author` (migration 0013) serves the query.
macro_rules! imported {
    () => {
        "sender = 'import'"
    };
}

/// What a claim changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    /// The person's name, as they spell it.
    pub(crate) name: String,
    pub(crate) messages: u64,
    /// The rooms the messages are in.
    pub(crate) rooms: Vec<String>,
}

impl Store {
    /// The authors of imported messages nobody has claimed, with how many messages each
    /// wrote, most first.
    pub(crate) async fn imported_authors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let sql = concat!(
            "SELECT author, COUNT(*) FROM messages WHERE ",
            imported!(),
            " AND claimed_by IS NULL AND author <> ''
             GROUP BY author ORDER BY COUNT(*) DESC, author LIMIT $1"
        );
        let rows: Vec<(String, i64)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(IMPORTED_AUTHORS_PAGE as i64)
            .fetch_all(p)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(a, n)| (a, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Gives the unclaimed imported messages written as `author` to the person whose name key
    /// is `name_key`: they are shown under the person's name from now on. `None` when nobody
    /// holds that name. Their sender stays [`crate::store::IMPORT_SENDER`], so that importing the archive
    /// again still finds them and stores nothing twice.
    pub(crate) async fn claim_author(
        &self,
        author: &str,
        name_key: &str,
    ) -> Result<Option<Claimed>, StoreError> {
        let Some((person, name)) = self.person_named(name_key).await? else {
            return Ok(None);
        };
        let rooms_sql = concat!(
            "SELECT DISTINCT room FROM messages WHERE ",
            imported!(),
            " AND claimed_by IS NULL AND author = $1"
        );
        let rooms: Vec<(String,)> =
            on_pool!(self, p => sqlx::query_as(rooms_sql).bind(author).fetch_all(p).await?);
        let claim_sql = concat!(
            "UPDATE messages SET author = $1, claimed_by = $2 WHERE ",
            imported!(),
            " AND claimed_by IS NULL AND author = $3"
        );
        let messages = on_pool!(self, p => sqlx::query(claim_sql)
            .bind(&name)
            .bind(&person)
            .bind(author)
            .execute(p)
            .await?
            .rows_affected());
        Ok(Some(Claimed {
            name,
            messages,
            rooms: rooms.into_iter().map(|(r,)| r).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::IMPORT_SENDER;

    #[test]
    fn the_literal_is_the_import_sender() {
        assert_eq!(imported!(), format!("sender = '{IMPORT_SENDER}'"));
    }
}
