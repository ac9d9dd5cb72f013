//! The one check that decides whether a socket may read or write a conversation.

use crate::cluster::SocketRef;
use app::events::{ChatError, LOBBY, RoomKind};

use crate::conversation::{Conversation, ConversationId};
use crate::socket::identity;
use crate::socket::request::HandlerError;
use crate::state::Chat;

/// Whether `socket` may read and write the conversation `room`: a room its person belongs to
/// (the lobby for guests), or a direct conversation of theirs. Checked for every send, history
/// page, sync and read marker.
pub(crate) async fn accessible(
    socket: &SocketRef,
    chat: &Chat,
    room: &ConversationId,
) -> Result<(), HandlerError> {
    match room.conversation() {
        Conversation::Dm { .. } => {
            // Someone else's conversation is reported exactly like one that does not exist.
            let party = identity::of(socket)
                .person
                .is_some_and(|p| room.is_party(&p));
            let stored = chat.store.room_kind(room.as_str()).await;
            if party
                && stored.map_err(HandlerError::store("the access check"))? == Some(RoomKind::Dm)
            {
                Ok(())
            } else {
                Err(ChatError::UnknownRoom {
                    room: room.to_string(),
                }
                .into())
            }
        }
        Conversation::Room(name) => {
            // Everyone is in the lobby. A socket is put into its rooms by the connect handler,
            // which the client does not wait for: a request that races it is judged by the
            // stored membership, and what it posts is replayed by the catch-up that follows.
            if name == LOBBY || socket.rooms().iter().any(|r| r == name) {
                return Ok(());
            }
            if let Some(person) = identity::of(socket).person
                && chat
                    .store
                    .is_member(name, &person)
                    .await
                    .map_err(HandlerError::store("the access check"))?
            {
                return Ok(());
            }
            // A private room is, to anyone not in it, a room that does not exist.
            let room = name.to_owned();
            let rules = chat.store.room_rules(name).await;
            match rules.map_err(HandlerError::store("the access check"))? {
                Some(rules) if !rules.private => Err(ChatError::NotMember { room }.into()),
                _ => Err(ChatError::UnknownRoom { room }.into()),
            }
        }
    }
}
