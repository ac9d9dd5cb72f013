//! Imported messages' authors, and their claim by people: an archive's authors need not be
//! anyone here, so their messages keep the name they wrote under until a moderator says whose
//! they are.
//!
//! Nothing indexes the authors (see migration 0013): listing and claiming read the table.

use app::events::IMPORTED_AUTHORS_PAGE;

use crate::store::{Store, StoreError};

/// Matches imported messages.
macro_rules! imported {
    () => {
        "sender = 'import'"
    };
}

/// Messages a claim looks at in one statement, by id: without an index on authors, a claim
/// reads the whole table, and on SQLite each statement holds the one write lock that posts
/// wait for.
const CLAIM_SPAN: i64 = 20_000;

/// Who claims, and what: the person's id and name, the author, and the rooms their messages
/// are in (see [`Store::claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) person: String,
    /// The person's name, as they spell it.
    pub(crate) name: String,
    pub(crate) author: String,
    pub(crate) rooms: Vec<String>,
    /// The newest message's id when the claim began: messages imported after it are left for
    /// another claim.
    newest: i64,
}

impl Claim {
    /// The spans of ids to claim one after the other, each a statement of its own.
    pub(crate) fn spans(&self) -> impl Iterator<Item = (i64, i64)> + use<> {
        spans(self.newest)
    }
}

/// Ids `(from, to]` up to `newest`, [`CLAIM_SPAN`] at a time: a change to many messages made
/// a statement at a time, so that posts go on between them.
pub(crate) fn spans(newest: i64) -> impl Iterator<Item = (i64, i64)> {
    (0..)
        .map(|n| (n * CLAIM_SPAN, (n + 1) * CLAIM_SPAN))
        .take_while(move |(from, _)| *from < newest)
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

    /// Begins a claim of the unclaimed imported messages written as `author` by the person
    /// whose name key is `name_key`; `None` when nobody holds that name. The caller then
    /// claims [`Claim::spans`] one by one ([`Store::claim_span`]).
    pub(crate) async fn claim(
        &self,
        author: &str,
        name_key: &str,
    ) -> Result<Option<Claim>, StoreError> {
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
        let (newest,): (Option<i64>,) = on_pool!(self, p => sqlx::query_as(
            "SELECT MAX(id) FROM messages"
        )
        .fetch_one(p)
        .await?);
        Ok(Some(Claim {
            person,
            name,
            author: author.to_owned(),
            rooms: rooms.into_iter().map(|(r,)| r).collect(),
            newest: newest.unwrap_or(0),
        }))
    }

    /// Gives the claim's messages with ids in `(from, to]` to its person: shown under their
    /// name from now on. Their sender stays [`crate::store::IMPORT_SENDER`], so that importing
    /// the archive again still finds them and stores nothing twice. How many there were.
    pub(crate) async fn claim_span(
        &self,
        claim: &Claim,
        (from, to): (i64, i64),
    ) -> Result<u64, StoreError> {
        let sql = concat!(
            "UPDATE messages SET author = $1, claimed_by = $2 WHERE id > $3 AND id <= $4 AND ",
            imported!(),
            " AND claimed_by IS NULL AND author = $5"
        );
        Ok(on_pool!(self, p => sqlx::query(sql)
            .bind(&claim.name)
            .bind(&claim.person)
            .bind(from)
            .bind(to)
            .bind(&claim.author)
            .execute(p)
            .await?
            .rows_affected()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IMPORT_SENDER;

    #[test]
    fn a_claim_covers_every_id_up_to_the_newest_in_spans() {
        let claim = |newest| Claim {
            person: "p".into(),
            name: "ann".into(),
            author: "Ann Smith".into(),
            rooms: Vec::new(),
            newest,
        };
        let spans: Vec<_> = claim(2 * CLAIM_SPAN + 1).spans().collect();
        assert_eq!(
            spans,
            [
                (0, CLAIM_SPAN),
                (CLAIM_SPAN, 2 * CLAIM_SPAN),
                (2 * CLAIM_SPAN, 3 * CLAIM_SPAN)
            ]
        );
        assert_eq!(claim(CLAIM_SPAN).spans().count(), 1);
        assert_eq!(claim(0).spans().count(), 0, "no messages, nothing to claim");
    }

    #[test]
    fn the_literal_is_the_import_sender() {
        assert_eq!(imported!(), format!("sender = '{IMPORT_SENDER}'"));
    }
}
