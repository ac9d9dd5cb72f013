//! Accounts' rows: passwords and roles (columns of `people`), sessions, invites and password
//! resets (migration sqlite 0014 / postgres 0005). Rare writes, made on the pool rather than
//! through the writer: none of them orders messages.

use app::events::{PEOPLE_PAGE, PersonInfo, Role, SESSION_TTL_MS};

/// Sessions a person's list shows at most.
const SESSIONS_LISTED: i64 = 50;

use crate::store::{Store, StoreError};

/// A person, as signing in needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountRow {
    pub(crate) person: String,
    pub(crate) name: String,
    /// `None` for a name held only by a browser's token.
    pub(crate) password_hash: Option<String>,
    pub(crate) role: Role,
    pub(crate) banned: bool,
}

type AccountTuple = (String, String, Option<String>, String, Option<i64>);

fn account(row: AccountTuple) -> Result<AccountRow, StoreError> {
    let (person, name, password_hash, role, banned_at) = row;
    Ok(AccountRow {
        person,
        name,
        password_hash,
        role: role_of(&role)?,
        banned: banned_at.is_some(),
    })
}

fn role_of(column: &str) -> Result<Role, StoreError> {
    Role::parse(column).ok_or_else(|| {
        StoreError::from(sqlx::Error::from(crate::store::UnknownKind {
            column: "people.role",
            value: column.to_owned(),
        }))
    })
}

/// A signed-in device, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) secret_hash: String,
    pub(crate) person: String,
    pub(crate) device: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen: i64,
    pub(crate) ended: bool,
}

type SessionTuple = (String, String, String, String, i64, i64, Option<i64>);

fn session(row: SessionTuple) -> SessionRow {
    let (id, secret_hash, person, device, created_at, last_seen, ended_at) = row;
    SessionRow {
        id,
        secret_hash,
        person,
        device,
        created_at,
        last_seen,
        ended: ended_at.is_some(),
    }
}

/// A join link, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InviteRow {
    pub(crate) id: String,
    pub(crate) secret_hash: String,
    pub(crate) created_by: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) max_uses: Option<i64>,
    pub(crate) uses: i64,
    pub(crate) revoked: bool,
}

impl InviteRow {
    /// Whether it lets someone sign up at `now`.
    pub(crate) fn works(&self, now: i64) -> bool {
        !self.revoked
            && self.expires_at.is_none_or(|e| e > now)
            && self.max_uses.is_none_or(|m| self.uses < m)
    }
}

type InviteTuple = (
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
);

const INVITE_COLUMNS: &str = "i.id, i.secret_hash, p.name, i.created_at, i.expires_at, \
                              i.max_uses, i.uses, i.revoked_at";

fn invite(row: InviteTuple) -> InviteRow {
    let (id, secret_hash, created_by, created_at, expires_at, max_uses, uses, revoked_at) = row;
    InviteRow {
        id,
        secret_hash,
        created_by,
        created_at,
        expires_at,
        max_uses,
        uses,
        revoked: revoked_at.is_some(),
    }
}

/// What [`Store::set_role`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RoleChange {
    Done(PersonInfo),
    UnknownPerson,
    NoAccount,
    LastAdmin,
}

impl Store {
    /// The person holding the name whose key is `name_key`.
    pub(crate) async fn account_named(
        &self,
        name_key: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        let sql = "SELECT person, name, password_hash, role, banned_at FROM people
                   WHERE name_key = $1";
        let row: Option<AccountTuple> =
            on_pool!(self, p => sqlx::query_as(sql).bind(name_key).fetch_optional(p).await?);
        row.map(account).transpose()
    }

    /// The person whose id is `person`.
    pub(crate) async fn account(&self, person: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = "SELECT person, name, password_hash, role, banned_at FROM people
                   WHERE person = $1";
        let row: Option<AccountTuple> =
            on_pool!(self, p => sqlx::query_as(sql).bind(person).fetch_optional(p).await?);
        row.map(account).transpose()
    }

    /// Sets `person`'s password hash. `first`: only if they have none yet (turning a name into
    /// an account), in which case `false` says someone set one first. The first account on a
    /// fresh install becomes its administrator (migration 0014's `first_admin`).
    pub(crate) async fn set_password(
        &self,
        person: &str,
        hash: &str,
        first: bool,
    ) -> Result<Option<Role>, StoreError> {
        let sql = "UPDATE people SET password_hash = $1
                   WHERE person = $2 AND ($3 = 0 OR password_hash IS NULL)
                   RETURNING role";
        let row: Option<(String,)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(hash)
            .bind(person)
            .bind(i64::from(first))
            .fetch_optional(p)
            .await?);
        let Some((role,)) = row else {
            return Ok(None);
        };
        if !first {
            return role_of(&role).map(Some);
        }
        // One statement takes the row: of two first accounts made at once, one gets it.
        let taken: Option<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "DELETE FROM first_admin WHERE open = 1 RETURNING open")
            .fetch_optional(p)
            .await?);
        if taken.is_none() {
            return role_of(&role).map(Some);
        }
        let sql = "UPDATE people SET role = $1 WHERE person = $2";
        on_pool!(self, p => sqlx::query(sql)
            .bind(Role::Admin.as_str())
            .bind(person)
            .execute(p)
            .await?
            .rows_affected());
        Ok(Some(Role::Admin))
    }

    /// Keeps a new session.
    pub(crate) async fn create_session(
        &self,
        id: &str,
        secret_hash: &str,
        person: &str,
        device: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (id, secret_hash, person, device, created_at, last_seen)
                   VALUES ($1, $2, $3, $4, $5, $5)";
        on_pool!(self, p => sqlx::query(sql)
            .bind(id)
            .bind(secret_hash)
            .bind(person)
            .bind(device)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The session `id`, ended or not.
    pub(crate) async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = "SELECT id, secret_hash, person, device, created_at, last_seen, ended_at
                   FROM sessions WHERE id = $1";
        let row: Option<SessionTuple> =
            on_pool!(self, p => sqlx::query_as(sql).bind(id).fetch_optional(p).await?);
        Ok(row.map(session))
    }

    /// Records that session `id` was used at `now`, unless it was within `within_ms`: a
    /// reconnecting crowd does not write once per socket.
    pub(crate) async fn touch_session(
        &self,
        id: &str,
        now: i64,
        within_ms: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET last_seen = $1 WHERE id = $2 AND last_seen < $3";
        on_pool!(self, p => sqlx::query(sql)
            .bind(now)
            .bind(id)
            .bind(now - within_ms)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// `person`'s sessions that work at `now`, newest use first, [`SESSIONS_LISTED`] at most.
    pub(crate) async fn sessions_of(
        &self,
        person: &str,
        now: i64,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let sql = "SELECT id, secret_hash, person, device, created_at, last_seen, ended_at
                   FROM sessions WHERE person = $1 AND ended_at IS NULL AND last_seen > $2
                   ORDER BY last_seen DESC, id LIMIT $3";
        let rows: Vec<SessionTuple> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(person)
            .bind(now - SESSION_TTL_MS)
            .bind(SESSIONS_LISTED)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(session).collect())
    }

    /// Forgets `person`'s sessions that ended, or lapsed, before `now`'s window: a person who
    /// signs in again and again keeps a bounded list.
    pub(crate) async fn forget_old_sessions(
        &self,
        person: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM sessions WHERE person = $1 AND last_seen <= $2";
        on_pool!(self, p => sqlx::query(sql)
            .bind(person)
            .bind(now - SESSION_TTL_MS)
            .execute(p)
            .await?
            .rows_affected());
        let sql = "DELETE FROM sessions WHERE person = $1 AND ended_at IS NOT NULL";
        on_pool!(self, p => sqlx::query(sql).bind(person).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Ends `person`'s session `id`: whether it was theirs and working.
    pub(crate) async fn end_session(
        &self,
        person: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE sessions SET ended_at = $1
                   WHERE id = $2 AND person = $3 AND ended_at IS NULL";
        let done = on_pool!(self, p => sqlx::query(sql)
            .bind(now)
            .bind(id)
            .bind(person)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done > 0)
    }

    /// Ends every working session of `person` but `except`: the ids ended.
    pub(crate) async fn end_sessions_of(
        &self,
        person: &str,
        except: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = "UPDATE sessions SET ended_at = $1
                   WHERE person = $2 AND ended_at IS NULL AND id != $3
                   RETURNING id";
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(now)
            .bind(person)
            .bind(except.unwrap_or(""))
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// People by name after `after`, whose name contains `matching` (lowercased).
    pub(crate) async fn people(
        &self,
        matching: &str,
        after: &str,
    ) -> Result<Vec<PersonInfo>, StoreError> {
        // `replace` finds a part of a name in both dialects.
        let sql = "SELECT name, role, password_hash IS NOT NULL, banned_at IS NOT NULL, last_seen
                   FROM people
                   WHERE name_key > $1 AND ($2 = '' OR replace(name_key, $2, '') != name_key)
                   ORDER BY name_key LIMIT $3";
        let rows: Vec<(String, String, bool, bool, i64)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(after)
            .bind(matching)
            .bind(PEOPLE_PAGE as i64)
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|(name, role, account, banned, last_seen)| {
                Ok(PersonInfo {
                    name,
                    role: role_of(&role)?,
                    account,
                    banned,
                    last_seen,
                })
            })
            .collect()
    }

    /// Gives the account holding the name whose key is `name_key` the role `role`, unless that
    /// would leave no administrator.
    pub(crate) async fn set_role(
        &self,
        name_key: &str,
        role: Role,
    ) -> Result<RoleChange, StoreError> {
        let Some(who) = self.account_named(name_key).await? else {
            return Ok(RoleChange::UnknownPerson);
        };
        if who.password_hash.is_none() {
            return Ok(RoleChange::NoAccount);
        }
        // Checked in the statement itself. On Postgres, two administrators demoting each other
        // at the same instant could both pass; the admin token repairs that.
        let sql = "UPDATE people SET role = $1
                   WHERE person = $2
                     AND ($1 = 'admin' OR role != 'admin'
                          OR (SELECT COUNT(*) FROM people WHERE role = 'admin') > 1)
                   RETURNING name, role, password_hash IS NOT NULL, banned_at IS NOT NULL,
                             last_seen";
        let row: Option<(String, String, bool, bool, i64)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(role.as_str())
            .bind(&who.person)
            .fetch_optional(p)
            .await?);
        match row {
            None => Ok(RoleChange::LastAdmin),
            Some((name, role, account, banned, last_seen)) => Ok(RoleChange::Done(PersonInfo {
                name,
                role: role_of(&role)?,
                account,
                banned,
                last_seen,
            })),
        }
    }

    /// Keeps a new invite.
    pub(crate) async fn create_invite(
        &self,
        row: &InviteRow,
        by: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql =
            "INSERT INTO invites (id, secret_hash, created_by, created_at, expires_at, max_uses)
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, p => sqlx::query(sql)
            .bind(&row.id)
            .bind(&row.secret_hash)
            .bind(by)
            .bind(row.created_at)
            .bind(row.expires_at)
            .bind(row.max_uses)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Every invite, newest first.
    pub(crate) async fn invites(&self) -> Result<Vec<InviteRow>, StoreError> {
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invites i LEFT JOIN people p ON p.person = i.created_by
             ORDER BY i.created_at DESC, i.id"
        );
        let rows: Vec<InviteTuple> = on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?);
        Ok(rows.into_iter().map(invite).collect())
    }

    /// The invite `id`.
    pub(crate) async fn invite(&self, id: &str) -> Result<Option<InviteRow>, StoreError> {
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invites i LEFT JOIN people p ON p.person = i.created_by
             WHERE i.id = $1"
        );
        let row: Option<InviteTuple> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?);
        Ok(row.map(invite))
    }

    /// Counts one use of invite `id`, if it still works at `now`: whether it did.
    pub(crate) async fn use_invite(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE invites SET uses = uses + 1
                   WHERE id = $1 AND revoked_at IS NULL
                     AND (expires_at IS NULL OR expires_at > $2)
                     AND (max_uses IS NULL OR uses < max_uses)";
        let done = on_pool!(self, p => sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done > 0)
    }

    /// Gives back a use of invite `id` that a sign-up took and then failed.
    pub(crate) async fn unuse_invite(&self, id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE invites SET uses = uses - 1 WHERE id = $1 AND uses > 0";
        on_pool!(self, p => sqlx::query(sql).bind(id).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Revokes invite `id`: the invite, or `None` when there is none.
    pub(crate) async fn revoke_invite(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<InviteRow>, StoreError> {
        let sql = "UPDATE invites SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2";
        on_pool!(self, p => sqlx::query(sql).bind(now).bind(id).execute(p).await?.rows_affected());
        self.invite(id).await
    }

    /// Keeps a new password reset code for `person`.
    pub(crate) async fn create_reset(
        &self,
        id: &str,
        secret_hash: &str,
        person: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO password_resets (id, secret_hash, person, expires_at)
                   VALUES ($1, $2, $3, $4)";
        on_pool!(self, p => sqlx::query(sql)
            .bind(id)
            .bind(secret_hash)
            .bind(person)
            .bind(expires_at)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The reset code `id`'s secret hash and person, if it is unused and unexpired at `now`.
    pub(crate) async fn reset(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let sql = "SELECT secret_hash, person FROM password_resets
                   WHERE id = $1 AND used_at IS NULL AND expires_at > $2";
        Ok(on_pool!(self, p => sqlx::query_as(sql)
            .bind(id)
            .bind(now)
            .fetch_optional(p)
            .await?))
    }

    /// Marks reset code `id` used: whether it was still unused (of two uses at once, one wins).
    pub(crate) async fn use_reset(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL";
        let done = on_pool!(self, p => sqlx::query(sql)
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done > 0)
    }
}
