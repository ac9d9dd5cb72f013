//! People's profiles (display name, status), and renames: a person's messages hold the name
//! they posted under, so a rename rewrites it, a span of ids at a time.

use app::events::{MAX_PROFILES_ASKED, Profile};

use crate::store::imported::spans;
use crate::store::{Store, StoreError};

/// Matches a person's messages, their own and the imported ones they claimed.
const THEIRS: &str = "(sender = $1 OR claimed_by = $1)";

/// A rename to carry into the person's messages ([`Store::renaming`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rename {
    pub(crate) person: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// The conversations their messages are in.
    pub(crate) rooms: Vec<String>,
    newest: i64,
}

impl Rename {
    pub(crate) fn spans(&self) -> impl Iterator<Item = (i64, i64)> + use<> {
        spans(self.newest)
    }
}

type ProfileRow = (String, Option<String>, Option<String>, Option<i64>);

fn profile((name, display_name, status, avatar): ProfileRow) -> Profile {
    Profile {
        name,
        display_name,
        status,
        avatar,
        renamed_from: None,
    }
}

/// An uploaded picture, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Avatar {
    pub(crate) content_type: String,
    pub(crate) bytes: Vec<u8>,
}

impl Store {
    /// Sets `person`'s display name and status: their profile, or `None` when nobody has that
    /// id.
    pub(crate) async fn set_profile(
        &self,
        person: &str,
        display_name: Option<&str>,
        status: Option<&str>,
    ) -> Result<Option<Profile>, StoreError> {
        let sql = "UPDATE people SET display_name = $1, status = $2 WHERE person = $3
                   RETURNING name, display_name, status, avatar_at";
        let row: Option<ProfileRow> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(display_name)
            .bind(status)
            .bind(person)
            .fetch_optional(p)
            .await?);
        Ok(row.map(profile))
    }

    /// The profile of `person`.
    pub(crate) async fn profile_of(&self, person: &str) -> Result<Option<Profile>, StoreError> {
        let sql = "SELECT name, display_name, status, avatar_at FROM people WHERE person = $1";
        let row: Option<ProfileRow> =
            on_pool!(self, p => sqlx::query_as(sql).bind(person).fetch_optional(p).await?);
        Ok(row.map(profile))
    }

    /// The profiles of the people whose name keys are `keys` (the first
    /// [`MAX_PROFILES_ASKED`]), one query a name: a page asks for the authors it shows.
    pub(crate) async fn profiles(&self, keys: &[String]) -> Result<Vec<Profile>, StoreError> {
        let sql = "SELECT name, display_name, status, avatar_at FROM people WHERE name_key = $1";
        let mut found = Vec::new();
        for key in keys.iter().take(MAX_PROFILES_ASKED) {
            let row: Option<ProfileRow> =
                on_pool!(self, p => sqlx::query_as(sql).bind(key).fetch_optional(p).await?);
            found.extend(row.map(profile));
        }
        Ok(found)
    }

    /// Keeps `person`'s picture (`None`: removes it), as of `now`: their profile.
    pub(crate) async fn set_avatar(
        &self,
        person: &str,
        avatar: Option<&Avatar>,
        now: i64,
    ) -> Result<Option<Profile>, StoreError> {
        match avatar {
            Some(avatar) => {
                let sql = "INSERT INTO avatars (person, content_type, bytes) VALUES ($1, $2, $3)
                           ON CONFLICT (person) DO UPDATE
                           SET content_type = excluded.content_type, bytes = excluded.bytes";
                on_pool!(self, p => sqlx::query(sql)
                    .bind(person)
                    .bind(&avatar.content_type)
                    .bind(&avatar.bytes)
                    .execute(p)
                    .await?
                    .rows_affected());
            }
            None => {
                let sql = "DELETE FROM avatars WHERE person = $1";
                on_pool!(self, p => sqlx::query(sql).bind(person).execute(p).await?.rows_affected());
            }
        }
        let sql = "UPDATE people SET avatar_at = $1 WHERE person = $2
                   RETURNING name, display_name, status, avatar_at";
        let row: Option<ProfileRow> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(avatar.map(|_| now))
            .bind(person)
            .fetch_optional(p)
            .await?);
        Ok(row.map(profile))
    }

    /// The picture of the person whose name key is `name_key`.
    pub(crate) async fn avatar(&self, name_key: &str) -> Result<Option<Avatar>, StoreError> {
        let sql = "SELECT a.content_type, a.bytes FROM avatars a
                   JOIN people p ON p.person = a.person WHERE p.name_key = $1";
        let row: Option<(String, Vec<u8>)> =
            on_pool!(self, p => sqlx::query_as(sql).bind(name_key).fetch_optional(p).await?);
        Ok(row.map(|(content_type, bytes)| Avatar {
            content_type,
            bytes,
        }))
    }

    /// Begins carrying `person`'s rename from `from` to `to` into their messages; the caller
    /// then rewrites [`Rename::spans`] one by one ([`Store::rename_span`]).
    pub(crate) async fn renaming(
        &self,
        person: &str,
        from: &str,
        to: &str,
    ) -> Result<Rename, StoreError> {
        let rooms_sql = format!("SELECT DISTINCT room FROM messages WHERE {THEIRS}");
        let rooms: Vec<(String,)> =
            on_pool!(self, p => sqlx::query_as(&rooms_sql).bind(person).fetch_all(p).await?);
        let (newest,): (Option<i64>,) = on_pool!(self, p => sqlx::query_as(
            "SELECT MAX(id) FROM messages"
        )
        .fetch_one(p)
        .await?);
        Ok(Rename {
            person: person.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            rooms: rooms.into_iter().map(|(r,)| r).collect(),
            newest: newest.unwrap_or(0),
        })
    }

    /// Rewrites the author of the rename's messages with ids in `(from, to]`: how many.
    pub(crate) async fn rename_span(
        &self,
        rename: &Rename,
        (from, to): (i64, i64),
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE messages SET author = $2 WHERE {THEIRS} AND author = $3 AND id > $4 AND id <= $5"
        );
        Ok(on_pool!(self, p => sqlx::query(&sql)
            .bind(&rename.person)
            .bind(&rename.to)
            .bind(&rename.from)
            .bind(from)
            .bind(to)
            .execute(p)
            .await?
            .rows_affected()))
    }
}
