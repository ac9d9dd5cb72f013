//! `/admin`'s people: who has an account, their roles, and password reset links.

use app::events::{
    self, ChatError, ListPeople, MakeResetLink, PersonInfo, RESET_TTL_MS, ResetLink, SetRole,
};
use tracing::info;

use crate::logging::Escaped;
use crate::socket::request::{Ctx, HandlerError};
use crate::store::accounts::RoleChange;
use crate::store::now_ms;

/// People by name, a page at a time.
pub(super) async fn list(ctx: Ctx, request: ListPeople) -> Result<Vec<PersonInfo>, HandlerError> {
    let matching = events::name_key(request.matching.as_deref().unwrap_or_default().trim());
    let after = events::name_key(request.after.as_deref().unwrap_or_default());
    ctx.chat
        .store
        .people(&matching, &after)
        .await
        .map_err(HandlerError::store("the people query"))
}

/// Gives an account a role. Takes effect on their next connect; `/admin` checks it then too.
pub(super) async fn set_role(ctx: Ctx, request: SetRole) -> Result<PersonInfo, HandlerError> {
    let change = ctx
        .chat
        .store
        .set_role(&events::name_key(&request.name), request.role)
        .await
        .map_err(HandlerError::store("setting a role"))?;
    match change {
        RoleChange::Done(person) => {
            info!(name = %Escaped(&person.name), role = person.role.as_str(), "role set");
            Ok(person)
        }
        RoleChange::UnknownPerson => Err(ChatError::UnknownPerson { name: request.name }.into()),
        RoleChange::NoAccount => Err(ChatError::NoAccount { name: request.name }.into()),
        RoleChange::LastAdmin => Err(ChatError::LastAdmin.into()),
    }
}

/// A one-time code with which an account's person sets a new password.
pub(super) async fn reset_link(
    ctx: Ctx,
    request: MakeResetLink,
) -> Result<ResetLink, HandlerError> {
    let store = &ctx.chat.store;
    let account = store
        .account_named(&events::name_key(&request.name))
        .await
        .map_err(HandlerError::store("reading an account"))?
        .ok_or_else(|| ChatError::UnknownPerson {
            name: request.name.clone(),
        })?;
    if account.password_hash.is_none() {
        return Err(ChatError::NoAccount { name: request.name }.into());
    }
    let (id, secret) = super::issue()?;
    let expires_at = now_ms() + RESET_TTL_MS;
    store
        .create_reset(&id, &secret.hash, &account.person, expires_at)
        .await
        .map_err(HandlerError::store("keeping a reset code"))?;
    info!(name = %Escaped(&account.name), "reset link made");
    Ok(ResetLink {
        name: account.name,
        code: format!("{id}.{}", secret.token),
        expires_at,
    })
}
