//! Full-text search: SQLite's FTS5 index `messages_fts` (migration 0016), or Postgres's
//! `messages.search` tsvector (migration 0007). Both are kept in step with edits and deletions
//! by the database itself; this module only reads them.
//!
//! What a person typed is never handed to either database as query syntax: [`Terms`] keeps
//! its words (runs of letters and digits) and writes each backend's query from them, every
//! word quoted and the last one a prefix.

use std::collections::HashMap;

use app::events::{LOBBY, MAX_SEARCH_CHARS, MAX_SEARCH_TERMS, MessageKind, Snippet};

use crate::store::{
    COLUMN_COUNT, M_COLUMNS, Pool, Store, StoreError, StoredMessage, message_kind_column,
};

/// Marks the start of a matched word in the databases' excerpts: message text has no control
/// characters but newline and tab ([`app::events::validate_text`]).
const START: char = '\u{1}';
/// Marks the end of a matched word.
const STOP: char = '\u{2}';

/// Why a query cannot be searched for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadQuery {
    #[error("type a word to search for")]
    NoWord,
    #[error("a search is at most {MAX_SEARCH_CHARS} characters")]
    TooLong,
    #[error("a search is at most {MAX_SEARCH_TERMS} words")]
    TooManyWords,
}

/// The words of a query, lowercased, each once, in the order typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms(Vec<String>);

impl Terms {
    /// The words of `query`: letters and digits; everything else only separates them.
    pub(crate) fn parse(query: &str) -> Result<Terms, BadQuery> {
        if query.chars().count() > MAX_SEARCH_CHARS {
            return Err(BadQuery::TooLong);
        }
        let mut words: Vec<String> = Vec::new();
        for word in query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            // A repeat is dropped, but a repeat of the last word still ends the query, as a
            // prefix ("rust rus").
            words.retain(|w| *w != word);
            words.push(word);
        }
        if words.is_empty() {
            return Err(BadQuery::NoWord);
        }
        if words.len() > MAX_SEARCH_TERMS {
            return Err(BadQuery::TooManyWords);
        }
        Ok(Terms(words))
    }

    /// An FTS5 query: every word a quoted string (so `AND`, `NEAR`, `*`, `-` or `:` are
    /// words, not operators), the last one a prefix; all must match.
    pub(crate) fn fts5(&self) -> String {
        let last = self.0.len() - 1;
        self.0
            .iter()
            .enumerate()
            .map(|(i, w)| {
                // Words hold letters and digits only, so no `"` to double; kept for safety.
                let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                if i == last { quoted + "*" } else { quoted }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A Postgres tsquery (for `to_tsquery('simple', …)`): every word a quoted lexeme, the
    /// last one a prefix (`:*`), joined by `&`.
    pub(crate) fn tsquery(&self) -> String {
        let last = self.0.len() - 1;
        self.0
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let quoted = format!("'{}'", w.replace('\'', "''"));
                if i == last { quoted + ":*" } else { quoted }
            })
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// A search, as the store runs it. Only messages of conversations `reader` may read are
/// found: the lobby, and the rooms and direct conversations they are a member of.
#[derive(Debug, Clone)]
pub(crate) struct SearchQuery<'a> {
    pub(crate) terms: &'a Terms,
    /// The person searching; `None` for a guest, who reads the lobby only.
    pub(crate) reader: Option<&'a str>,
    pub(crate) room: Option<&'a str>,
    pub(crate) author: Option<&'a str>,
    /// Milliseconds since the Unix epoch, inclusive.
    pub(crate) from: Option<i64>,
    /// Milliseconds since the Unix epoch, exclusive.
    pub(crate) to: Option<i64>,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

/// A message found, and its excerpt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub(crate) message: StoredMessage,
    pub(crate) snippet: Vec<Snippet>,
}

/// The kinds whose text is searched (as in the migrations): people's, announcements, bots'.
fn searched_kinds() -> (&'static str, &'static str) {
    (
        message_kind_column(MessageKind::Announcement),
        message_kind_column(MessageKind::Bot),
    )
}

/// What both backends' ranking queries filter on, after the match: `$2` the reader (NULL for a
/// guest), `$3` the room, `$4` the author, `$5` and `$6` the time range, `$7` and `$8` the
/// searched kinds, `$9` the lobby.
const READABLE: &str = "(m.room = $9 OR m.room IN (SELECT room FROM members WHERE person = $2))
    AND ($3 IS NULL OR m.room = $3)
    AND ($4 IS NULL OR lower(m.author) = lower($4))
    AND ($5 IS NULL OR m.created_at >= $5)
    AND ($6 IS NULL OR m.created_at < $6)
    AND (m.kind IS NULL OR m.kind IN ($7, $8))";

impl Store {
    /// The page of `q`'s hits, best first then newest, and whether more follow.
    pub(crate) async fn search(
        &self,
        q: &SearchQuery<'_>,
    ) -> Result<(Vec<Found>, bool), StoreError> {
        let (announcement, bot) = searched_kinds();
        // One more than the page, to tell whether more follow.
        let take = q.limit as i64 + 1;
        let ids: Vec<(i64,)> = match &self.pool {
            Pool::Sqlite { pool, .. } => {
                let sql = format!(
                    "SELECT m.id FROM messages_fts f JOIN messages m ON m.id = f.rowid
                     WHERE messages_fts MATCH $1 AND {READABLE}
                     ORDER BY bm25(messages_fts), m.id DESC LIMIT $10 OFFSET $11"
                );
                bind_filters(sqlx::query_as(&sql), q.terms.fts5(), q, announcement, bot)
                    .bind(take)
                    .bind(q.offset as i64)
                    .fetch_all(pool)
                    .await?
            }
            Pool::Postgres { pool, .. } => {
                let sql = format!(
                    "SELECT m.id FROM messages m, to_tsquery('simple', $1) AS q
                     WHERE m.search @@ q AND {READABLE}
                     ORDER BY ts_rank(m.search, q) DESC, m.id DESC LIMIT $10 OFFSET $11"
                );
                bind_filters(
                    sqlx::query_as(&sql),
                    q.terms.tsquery(),
                    q,
                    announcement,
                    bot,
                )
                .bind(take)
                .bind(q.offset as i64)
                .fetch_all(pool)
                .await?
            }
        };
        let more = ids.len() > q.limit;
        let ids: Vec<i64> = ids.into_iter().take(q.limit).map(|(id,)| id).collect();
        if ids.is_empty() {
            return Ok((Vec::new(), more));
        }
        // The page's messages and excerpts, in a second query: excerpts of the page only.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows: Vec<Excerpted> = match &self.pool {
            Pool::Sqlite { pool, .. } => {
                let sql = format!(
                    "SELECT {cols}, snippet(messages_fts, 0, char(1), char(2), '…', 32)
                     FROM messages_fts f JOIN messages m ON m.id = f.rowid
                     WHERE messages_fts MATCH $1 AND f.rowid IN ({list})",
                    cols = M_COLUMNS
                );
                sqlx::query_as(&sql)
                    .bind(q.terms.fts5())
                    .fetch_all(pool)
                    .await?
            }
            Pool::Postgres { pool, .. } => {
                let sql = format!(
                    "SELECT {cols}, ts_headline('simple', m.text, q,
                         'StartSel=' || chr(1) || ', StopSel=' || chr(2)
                         || ', MaxWords=32, MinWords=12')
                     FROM messages m, to_tsquery('simple', $1) AS q
                     WHERE m.id IN ({list})",
                    cols = M_COLUMNS
                );
                sqlx::query_as(&sql)
                    .bind(q.terms.tsquery())
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut by_id: HashMap<i64, Found> = rows
            .into_iter()
            .map(|Excerpted(message, excerpt)| {
                let snippet = segments(&excerpt, &message.text);
                (message.id, Found { message, snippet })
            })
            .collect();
        // A message deleted between the two queries is left out.
        let found = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        Ok((found, more))
    }
}

impl Store {
    /// The jump to a hit: message `id` of `room` with about `limit / 2` messages on each side
    /// (oldest first), whether older and newer ones exist; `None` when `room` has no message
    /// `id`.
    pub(crate) async fn page_around(
        &self,
        room: &str,
        id: i64,
        limit: usize,
    ) -> Result<Option<(Vec<StoredMessage>, bool, bool)>, StoreError> {
        let sql = "SELECT seq FROM messages WHERE id = $1 AND room = $2";
        let seq: Option<(i64,)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(id).bind(room).fetch_optional(p).await?);
        let Some((seq,)) = seq else {
            return Ok(None);
        };
        let limit = limit.max(1) as i64;
        let before = limit / 2;
        // Seqs run 1, 2, 3… without holes: the window is a range of them.
        let first = (seq - before).max(1);
        let last = first + limit - 1;
        let rows = self
            .page_by_seq(room, first - 1, last, limit as usize)
            .await?;
        let (_, head) = self.head(room).await?;
        Ok(Some((rows, first > 1, head > last)))
    }
}

/// Binds `$1` to `$9` of [`READABLE`]'s queries.
fn bind_filters<'q, DB, O>(
    query: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    matching: String,
    q: &SearchQuery<'q>,
    announcement: &'q str,
    bot: &'q str,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .bind(matching)
        .bind(q.reader)
        .bind(q.room)
        .bind(q.author)
        .bind(q.from)
        .bind(q.to)
        .bind(announcement)
        .bind(bot)
        .bind(LOBBY)
}

/// A [`StoredMessage`] (the first columns) and its marked excerpt (the next).
struct Excerpted(StoredMessage, String);

macro_rules! excerpted_rows {
    ($($row:ty),*) => {$(
        impl sqlx::FromRow<'_, $row> for Excerpted {
            fn from_row(row: &$row) -> Result<Excerpted, sqlx::Error> {
                use sqlx::Row as _;
                let message = <StoredMessage as sqlx::FromRow<'_, $row>>::from_row(row)?;
                Ok(Excerpted(message, row.try_get(COLUMN_COUNT)?))
            }
        }
    )*};
}
excerpted_rows!(sqlx::sqlite::SqliteRow, sqlx::postgres::PgRow);

/// An excerpt marked with [`START`] and [`STOP`] as segments. An empty excerpt (a database that
/// found no fragment) is the start of the text, unmarked.
fn segments(excerpt: &str, text: &str) -> Vec<Snippet> {
    let excerpt = if excerpt.is_empty() {
        text.chars().take(200).collect::<String>()
    } else {
        excerpt.to_owned()
    };
    let mut out: Vec<Snippet> = Vec::new();
    let mut hit = false;
    let mut current = String::new();
    for c in excerpt.chars() {
        match c {
            START | STOP => {
                push(&mut out, std::mem::take(&mut current), hit);
                hit = c == START;
            }
            c => current.push(c),
        }
    }
    push(&mut out, current, hit);
    out
}

fn push(out: &mut Vec<Snippet>, text: String, hit: bool) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.hit == hit => last.text.push_str(&text),
        _ => out.push(Snippet { text, hit }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Terms {
        Terms::parse(q).unwrap()
    }

    #[test]
    fn only_words_are_read_from_a_query() {
        assert_eq!(terms("Hello, wörld!").0, ["hello", "wörld"]);
        for syntax in [
            "\"", "*", "NEAR(", "-", "a OR b", "x:y", "^(", "'; drop", "\"a\"*",
        ] {
            match Terms::parse(syntax) {
                Ok(t) => {
                    assert!(!t.fts5().is_empty());
                    assert!(t.0.iter().all(|w| w.chars().all(char::is_alphanumeric)));
                }
                Err(e) => assert_eq!(e, BadQuery::NoWord, "{syntax}"),
            }
        }
        assert_eq!(terms("near( a").fts5(), "\"near\" \"a\"*");
        assert_eq!(terms("o'brien rust").tsquery(), "'o' & 'brien' & 'rust':*");
        assert_eq!(terms("rust rus rust").0, ["rus", "rust"]);
    }

    #[test]
    fn empty_long_and_wordy_queries_are_refused() {
        assert_eq!(Terms::parse("  -- ** "), Err(BadQuery::NoWord));
        assert_eq!(
            Terms::parse(&"a".repeat(MAX_SEARCH_CHARS + 1)),
            Err(BadQuery::TooLong)
        );
        let many = (0..=MAX_SEARCH_TERMS)
            .map(|i| format!("w{i} "))
            .collect::<String>();
        assert_eq!(Terms::parse(&many), Err(BadQuery::TooManyWords));
    }

    #[test]
    fn an_excerpt_becomes_segments() {
        let marked = "say \u{1}hello\u{2} to \u{1}all\u{2}";
        let s = segments(marked, "");
        let shown: Vec<(&str, bool)> = s.iter().map(|s| (s.text.as_str(), s.hit)).collect();
        assert_eq!(
            shown,
            [
                ("say ", false),
                ("hello", true),
                (" to ", false),
                ("all", true)
            ]
        );
        assert_eq!(
            segments("", "plain"),
            [Snippet {
                text: "plain".into(),
                hit: false
            }]
        );
    }
}
