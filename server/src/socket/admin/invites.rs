//! `/admin`'s invites: join links that let people sign up, on an invite-only server too.

use app::events::{ChatError, CreateInvite, Invite, InviteCreated, ListInvites, RevokeInvite};
use tracing::info;

use super::AdminRole;
use crate::socket::request::{Ctx, HandlerError};
use crate::store::accounts::InviteRow;
use crate::store::now_ms;

fn shown(row: InviteRow) -> Invite {
    Invite {
        id: row.id,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        max_uses: row.max_uses.and_then(|m| u32::try_from(m).ok()),
        uses: u32::try_from(row.uses).unwrap_or(u32::MAX),
        revoked: row.revoked,
    }
}

pub(super) async fn create(ctx: Ctx, request: CreateInvite) -> Result<InviteCreated, HandlerError> {
    let (id, secret) = super::issue()?;
    let now = now_ms();
    let by = AdminRole::of(&ctx.socket).person;
    let row = InviteRow {
        id: id.clone(),
        secret_hash: secret.hash,
        created_by: None,
        created_at: now,
        expires_at: request
            .expires_in_hours
            .map(|h| now + i64::from(h) * 3_600_000),
        max_uses: request.max_uses.map(i64::from),
        uses: 0,
        revoked: false,
    };
    let store = &ctx.chat.store;
    store
        .create_invite(&row, by.as_deref())
        .await
        .map_err(HandlerError::store("keeping an invite"))?;
    let invite = store
        .invite(&id)
        .await
        .map_err(HandlerError::store("reading an invite"))?
        .map(shown)
        .ok_or(ChatError::Unavailable)?;
    info!(invite = %id, "invite made");
    Ok(InviteCreated {
        invite,
        code: format!("{id}.{}", secret.token),
    })
}

pub(super) async fn list(ctx: Ctx, _: ListInvites) -> Result<Vec<Invite>, HandlerError> {
    let rows = ctx
        .chat
        .store
        .invites()
        .await
        .map_err(HandlerError::store("the invites query"))?;
    Ok(rows.into_iter().map(shown).collect())
}

pub(super) async fn revoke(ctx: Ctx, request: RevokeInvite) -> Result<Invite, HandlerError> {
    let row = ctx
        .chat
        .store
        .revoke_invite(&request.id, now_ms())
        .await
        .map_err(HandlerError::store("revoking an invite"))?
        .ok_or(ChatError::UnknownInvite { invite: request.id })?;
    info!(invite = %row.id, "invite revoked");
    Ok(shown(row))
}
