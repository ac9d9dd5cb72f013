//! `/admin`'s webhooks and bots: making, revoking and listing incoming webhooks, bot tokens
//! and outgoing webhooks, and listing what outgoing webhooks gave up on. A token or secret is
//! in the answer that makes it, and nowhere else.

use app::events::{
    self, Bot, BotCreated, ChatError, CreateBot, CreateOutgoingWebhook, CreateWebhook,
    DEAD_LETTERS_PAGE, DeadLetter, ListBots, ListDeadLetters, ListOutgoingWebhooks, ListWebhooks,
    OutgoingWebhook, OutgoingWebhookCreated, RemoveOutgoingWebhook, RevokeBot, RevokeWebhook,
    Webhook, WebhookCreated,
};
use tracing::info;

use crate::jobs::hooks::validate_url;
use crate::logging::Escaped;
use crate::socket::admin::public_room;
use crate::socket::request::{Ctx, HandlerError};
use crate::store::hooks::{self as stored, BotToken, IncomingHook, OutgoingHookStatus};
use crate::store::now_ms;
use crate::tokens;

fn webhook(h: IncomingHook) -> Webhook {
    Webhook {
        id: h.id,
        room: h.room,
        name: h.name,
        created_at: h.created_at,
        revoked_at: h.revoked_at,
    }
}

fn bot(b: BotToken) -> Bot {
    Bot {
        id: b.id,
        name: b.name,
        created_at: b.created_at,
        revoked_at: b.revoked_at,
    }
}

fn outgoing(h: stored::OutgoingHook, dead_letters: i64) -> OutgoingWebhook {
    OutgoingWebhook {
        id: h.id,
        room: h.room,
        url: h.url,
        created_at: h.created_at,
        removed_at: h.removed_at,
        delivered_up_to: h.delivered_up_to,
        dead_letters: u64::try_from(dead_letters).unwrap_or_default(),
    }
}

pub(super) async fn create_webhook(
    ctx: Ctx,
    request: CreateWebhook,
) -> Result<WebhookCreated, HandlerError> {
    let chat = &ctx.chat;
    let name = events::validate_bot_name(&request.name)?.to_owned();
    let room = public_room(chat, request.room).await?;
    let (id, issued) = super::issue()?;
    let hook = IncomingHook {
        id,
        room: room.into(),
        name,
        token_hash: issued.hash,
        created_at: now_ms(),
        revoked_at: None,
    };
    chat.store
        .create_incoming_hook(&hook)
        .await
        .map_err(HandlerError::store("making a webhook"))?;
    info!(id = %hook.id, room = %hook.room, name = %Escaped(&hook.name), "webhook made");
    let path = format!("/hooks/{}/{}", hook.id, issued.token);
    Ok(WebhookCreated {
        url: chat
            .webhooks
            .public_base
            .as_ref()
            .map(|base| format!("{base}{path}")),
        path,
        token: issued.token,
        webhook: webhook(hook),
    })
}

pub(super) async fn revoke_webhook(
    ctx: Ctx,
    request: RevokeWebhook,
) -> Result<Webhook, HandlerError> {
    let hook = ctx
        .chat
        .store
        .revoke_incoming_hook(&request.id, now_ms())
        .await
        .map_err(HandlerError::store("revoking a webhook"))?
        .ok_or(ChatError::UnknownWebhook {
            webhook: request.id,
        })?;
    info!(id = %hook.id, "webhook revoked");
    Ok(webhook(hook))
}

pub(super) async fn list_webhooks(
    ctx: Ctx,
    request: ListWebhooks,
) -> Result<Vec<Webhook>, HandlerError> {
    let hooks = ctx
        .chat
        .store
        .incoming_hooks(request.room.as_deref())
        .await
        .map_err(HandlerError::store("listing webhooks"))?;
    Ok(hooks.into_iter().map(webhook).collect())
}

pub(super) async fn create_bot(ctx: Ctx, request: CreateBot) -> Result<BotCreated, HandlerError> {
    let name = events::validate_bot_name(&request.name)?.to_owned();
    let (id, issued) = super::issue()?;
    let made = BotToken {
        id,
        name,
        token_hash: issued.hash,
        created_at: now_ms(),
        revoked_at: None,
    };
    ctx.chat
        .store
        .create_bot(&made)
        .await
        .map_err(HandlerError::store("making a bot"))?;
    info!(id = %made.id, name = %Escaped(&made.name), "bot made");
    Ok(BotCreated {
        token: tokens::bot_token(&made.id, &issued.token),
        bot: bot(made),
    })
}

pub(super) async fn revoke_bot(ctx: Ctx, request: RevokeBot) -> Result<Bot, HandlerError> {
    let revoked = ctx
        .chat
        .store
        .revoke_bot(&request.id, now_ms())
        .await
        .map_err(HandlerError::store("revoking a bot"))?
        .ok_or(ChatError::UnknownBot { bot: request.id })?;
    info!(id = %revoked.id, "bot revoked");
    Ok(bot(revoked))
}

pub(super) async fn list_bots(ctx: Ctx, _: ListBots) -> Result<Vec<Bot>, HandlerError> {
    let bots = ctx
        .chat
        .store
        .bots()
        .await
        .map_err(HandlerError::store("listing bots"))?;
    Ok(bots.into_iter().map(bot).collect())
}

pub(super) async fn create_outgoing(
    ctx: Ctx,
    request: CreateOutgoingWebhook,
) -> Result<OutgoingWebhookCreated, HandlerError> {
    let chat = &ctx.chat;
    let url = validate_url(&request.url, chat.webhooks.allow_private)
        .map_err(|detail| ChatError::InvalidWebhookUrl { detail })?;
    let room = public_room(chat, request.room).await?;
    let (id, secret) = super::issue()?;
    let hook = chat
        .store
        .create_outgoing_hook(&id, room.as_str(), url.as_str(), &secret.token, now_ms())
        .await
        .map_err(HandlerError::store("making an outgoing webhook"))?;
    info!(id = %hook.id, room = %hook.room, url = %Escaped(&hook.url), "outgoing webhook made");
    Ok(OutgoingWebhookCreated {
        secret: secret.token,
        webhook: outgoing(hook, 0),
    })
}

pub(super) async fn remove_outgoing(
    ctx: Ctx,
    request: RemoveOutgoingWebhook,
) -> Result<OutgoingWebhook, HandlerError> {
    let store = &ctx.chat.store;
    let hook = store
        .remove_outgoing_hook(&request.id, now_ms())
        .await
        .map_err(HandlerError::store("removing an outgoing webhook"))?
        .ok_or(ChatError::UnknownWebhook {
            webhook: request.id,
        })?;
    let dead_letters = store
        .dead_letter_count(&hook.id)
        .await
        .map_err(HandlerError::store("counting dead letters"))?;
    info!(id = %hook.id, "outgoing webhook removed");
    Ok(outgoing(hook, dead_letters))
}

pub(super) async fn list_outgoing(
    ctx: Ctx,
    request: ListOutgoingWebhooks,
) -> Result<Vec<OutgoingWebhook>, HandlerError> {
    let hooks = ctx
        .chat
        .store
        .outgoing_hooks(request.room.as_deref())
        .await
        .map_err(HandlerError::store("listing outgoing webhooks"))?;
    Ok(hooks
        .into_iter()
        .map(|OutgoingHookStatus { hook, dead_letters }| outgoing(hook, dead_letters))
        .collect())
}

pub(super) async fn dead_letters(
    ctx: Ctx,
    request: ListDeadLetters,
) -> Result<Vec<DeadLetter>, HandlerError> {
    let letters = ctx
        .chat
        .store
        .dead_letters(request.hook.as_deref(), DEAD_LETTERS_PAGE)
        .await
        .map_err(HandlerError::store("listing dead letters"))?;
    Ok(letters
        .into_iter()
        .map(|d| DeadLetter {
            hook: d.hook,
            message: d.message,
            attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
            last_error: d.last_error,
            at: d.at,
        })
        .collect())
}
