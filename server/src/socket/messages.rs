//! `chat message`: a person's (or guest's) message, checked here, then stored and broadcast by
//! the writer in the order each socket sent them.

use crate::cluster::{AckSender, BroadcastOperators, SocketRef};
use app::events::{self, ChatError, MAX_CLIENT_OFFSET_CHARS, Posted, SendMessage};
use socketioxide::extract::{State, TryData};

use crate::config::GuestPolicy;
use crate::conversation::{Conversation, ConversationId};
use crate::socket::access;
use crate::socket::identity;
use crate::socket::limits;
use crate::socket::mentions;
use crate::socket::post_order::Turn;
use crate::socket::request::{AckRequested, HandlerError, reply};
use crate::socket::writer::{Answer, OwnedMessage};
use crate::state::Chat;
use crate::store::{GUEST_SENDER, NewMessage};

pub(crate) async fn on_send(
    socket: SocketRef,
    mut turn: Turn,
    TryData(message): TryData<SendMessage>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    // First of all: a turn dropped before its wait would let the next post pass an earlier one.
    turn.wait().await;
    let checked = async { check(&socket, &chat, parsed::<SendMessage>(message)?).await }.await;
    let (message, to) = match checked {
        Ok(post) => post,
        // Refused: the turn passes on as this returns.
        Err(e) => return reply::<SendMessage, Posted>(&socket, ack, wants_ack, Err(e)),
    };
    let poster = socket.clone();
    let answer = move |outcome: Result<Posted, ChatError>| {
        reply::<SendMessage, _>(&poster, ack, wants_ack, outcome.map_err(HandlerError::from))
    };
    chat.writer.enqueue(message, to, Answer::new(answer)).await;
    // Queued: the writer keeps the order from here.
    drop(turn);
}

/// The payload of `E`, or the `invalid_payload` error that answers it.
pub(crate) fn parsed<E: events::Event>(
    payload: Result<E, socketioxide::ParserError>,
) -> Result<E, ChatError> {
    payload.map_err(|e| ChatError::InvalidPayload {
        event: E::NAME.to_owned(),
        detail: e.to_string(),
    })
}

/// Validates one message and says where it goes; the writer then stores it (idempotently
/// by client offset) and broadcasts it.
async fn check(
    socket: &SocketRef,
    chat: &Chat,
    m: SendMessage,
) -> Result<(OwnedMessage, BroadcastOperators), HandlerError> {
    // A message with files may have no text.
    let text = match events::validate_text(&m.text) {
        Err(ChatError::Empty) if !m.files.is_empty() => std::borrow::Cow::Borrowed(""),
        checked => checked?,
    };
    let offset = m.client_offset.as_deref();
    if offset.is_some_and(|o| o.chars().count() > MAX_CLIENT_OFFSET_CHARS) {
        return Err(ChatError::OffsetTooLong {
            max: MAX_CLIENT_OFFSET_CHARS,
        }
        .into());
    }
    let room = match m.room {
        Some(room) => ConversationId::parse(room)?,
        None => ConversationId::lobby(),
    };
    access::accessible(socket, chat, &room).await?;
    let identity = identity::of(socket);
    if identity.person.is_none() && chat.accounts.guests != GuestPolicy::Lobby {
        return Err(ChatError::SignInRequired.into());
    }
    if let Conversation::Room(name) = room.conversation()
        && !chat
            .rules
            .may_post(&chat.store, name, identity.person.as_deref(), identity.role)
            .await
            .map_err(HandlerError::store("the posting rule"))?
    {
        return Err(ChatError::ReadOnlyRoom {
            room: name.to_owned(),
        }
        .into());
    }
    // A reply quotes a message of the same conversation, which the sender may read.
    let reply = match m.reply_to {
        Some(id) => Some(
            chat.store
                .quote(room.as_str(), id)
                .await
                .map_err(HandlerError::store("the replied-to message"))?
                .ok_or(ChatError::UnknownMessage { id })?,
        ),
        None => None,
    };
    // Per person, so tabs share one budget; guests per address.
    limits::send(socket, chat)?;
    let mentioned = mentions::mentioned(chat, &room, identity.person.as_deref(), &text).await?;
    crate::socket::files::attachable(chat, identity.person.as_deref(), &m.files, offset).await?;
    let author = identity.name;
    let message = NewMessage {
        room: room.as_str(),
        author: &author,
        text: &text,
        client_offset: offset,
        sender: Some(identity.person.as_deref().unwrap_or(GUEST_SENDER)),
        kind: None,
        reply: reply.as_ref(),
        files: &m.files,
    };
    let message = OwnedMessage::from(&message).mentioning(mentioned);
    Ok((message, socket.within(room.audience())))
}

/// Stores a message (idempotently by client offset) and broadcasts it with `to`, in id
/// order, through the writer. Shared by people's messages, notices and `/admin`'s
/// announcements.
pub(crate) async fn publish(
    chat: &Chat,
    to: BroadcastOperators,
    message: NewMessage<'_>,
) -> Result<Posted, ChatError> {
    chat.writer.post(OwnedMessage::from(&message), to).await
}
