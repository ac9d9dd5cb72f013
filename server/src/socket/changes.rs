//! Changes to messages from the chat page: `edit message`, `remove message` and `react`.
//! Each is checked here, then made by the writer (see [`crate::store::write::sqlite_messages`]),
//! which numbers it in its conversation's change feed and broadcasts the message's new state
//! as `message changed`; the catch-up replays the feed to clients that were away.

use app::events::{self, ChatError, EditMessage, React, RemoveMessage};

use crate::conversation::ConversationId;
use crate::socket::access;
use crate::socket::identity;
use crate::socket::limits;
use crate::socket::mentions;
use crate::socket::request::{Ctx, HandlerError};
use crate::store::now_ms;
use crate::store::write::{Change, MessageOutcome, Refused, Scope};

/// `edit message`: one's own message's new text.
pub(crate) async fn edit(ctx: Ctx, r: EditMessage) -> Result<(), HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let text = events::validate_text(&r.text)?;
    let room = ConversationId::parse(r.room)?;
    access::accessible(socket, chat, &room).await?;
    let person = identity::of(socket)
        .person
        .ok_or(ChatError::NotYours { id: r.id })?;
    // An edit is a post again, as far as flooding goes.
    limits::send(socket, chat)?;
    // The Mentions lists follow the text: whom it names now, and no longer whom it named.
    // (As in most chat apps, an edit notifies nobody.)
    let mentions = mentions::mentioned(chat, &room, Some(&person), &text)
        .await?
        .into_iter()
        .map(|m| m.person)
        .collect();
    let change = Change::EditMessage {
        room: room.as_str().to_owned(),
        id: r.id,
        person,
        text: text.into_owned(),
        mentions,
        now: now_ms(),
    };
    let outcome = chat
        .writer
        .change_message(change, socket.within(room.audience()))
        .await
        .map_err(HandlerError::store("editing a message"))?;
    answer(outcome, r.id)
}

/// `remove message`: one's own message, or, for moderators, anyone's.
pub(crate) async fn remove(ctx: Ctx, r: RemoveMessage) -> Result<(), HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let room = ConversationId::parse(r.room)?;
    access::accessible(socket, chat, &room).await?;
    let who = identity::of(socket);
    let person = who.person.ok_or(ChatError::NotYours { id: r.id })?;
    limits::send(socket, chat)?;
    let change = Change::DeleteMessage {
        id: r.id,
        scope: Scope::In(room.as_str().to_owned()),
        author: (!who.role.moderates()).then_some(person),
        now: now_ms(),
    };
    let outcome = chat
        .writer
        .change_message(change, socket.within(room.audience()))
        .await
        .map_err(HandlerError::store("deleting a message"))?;
    answer(outcome, r.id)
}

/// `react`: gives or takes back one emoji.
pub(crate) async fn react(ctx: Ctx, r: React) -> Result<(), HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let emoji = events::validate_emoji(&r.emoji)?.to_owned();
    let room = ConversationId::parse(r.room)?;
    access::accessible(socket, chat, &room).await?;
    let person = identity::of(socket).person.ok_or(ChatError::NameRequired)?;
    limits::send(socket, chat)?;
    let change = Change::React {
        room: room.as_str().to_owned(),
        id: r.id,
        person,
        emoji,
        on: r.on,
        now: now_ms(),
    };
    let outcome = chat
        .writer
        .change_message(change, socket.within(room.audience()))
        .await
        .map_err(HandlerError::store("reacting to a message"))?;
    answer(outcome, r.id)
}

/// The answer to a change of message `id`: made, or changing nothing, is no error.
fn answer(outcome: MessageOutcome, id: i64) -> Result<(), HandlerError> {
    match outcome {
        Ok(_) => Ok(()),
        Err(refused) => Err(refusal(refused, id).into()),
    }
}

/// What a client is told of a change the store refused.
pub(crate) fn refusal(refused: Refused, id: i64) -> ChatError {
    match refused {
        Refused::Unknown => ChatError::UnknownMessage { id },
        Refused::NotYours => ChatError::NotYours { id },
        Refused::TooManyReactions => ChatError::TooManyReactions {
            max: events::MAX_REACTIONS,
        },
    }
}
