//! Files in messages on the socket: the check of `chat message`'s `files`, and `file ready`,
//! an upload's thumbnail made (or not), told to whoever may see it.
//! The job may have run in another process or on another node, so each node reads it from the
//! jobs table (`socket::jobs::watch`) and tells its own sockets.

use app::events::{ChatError, FileReady, JobState, MAX_FILES_PER_MESSAGE, Main, Namespace as _};
use tracing::warn;

use crate::cluster::SocketIo;
use crate::conversation::{Conversation, person_room};
use crate::jobs::thumbnails::ThumbnailPayload;
use crate::socket::emit::broadcast;
use crate::socket::request::HandlerError;
use crate::state::Chat;
use crate::store::jobs::JobRow;

/// Tells of the thumbnail job `row`, once it has ended: the conversation of the message that
/// carries its upload, or else its uploader.
pub(crate) async fn thumbnail_done(io: &SocketIo, chat: &Chat, row: &JobRow) {
    if !matches!(row.state, JobState::Done | JobState::Dead) {
        return;
    }
    let Ok(payload) = serde_json::from_str::<ThumbnailPayload>(&row.payload) else {
        return;
    };
    let upload = match chat.store.upload(payload.upload).await {
        Ok(Some(upload)) => upload,
        // Deleted with its message meanwhile.
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "reading a thumbnail's upload failed");
            return;
        }
    };
    let Some(main) = io.of(Main::PATH) else {
        return;
    };
    let event = FileReady {
        room: upload.conversation.clone(),
        message: upload.message,
        file: upload.info(),
    };
    let audience = match upload.conversation.as_deref() {
        Some(room) => {
            // Under the order lock, like a deletion: a catch-up that read the room before
            // reads it again, and finds the thumbnail.
            let _order = chat.order.lock().await;
            chat.recent.edited(room);
            Conversation::of(room)
                .map(Conversation::audience)
                .unwrap_or_else(|| vec![room.to_owned()])
        }
        None => vec![person_room(&upload.uploader)],
    };
    if let Err(e) = broadcast(main.local().within(audience), &event).await {
        warn!(upload = upload.id, error = %e, "`file ready` was not delivered to everyone");
    }
}

/// Checks that `files` may be attached by `person`: few enough, each an upload of theirs that
/// no message carries yet. The writer attaches them in the message's transaction, and only
/// those still free then (another message sent at the same moment may have taken one).
///
/// A retry of a message (its sender's offset again) finds its files attached to the message
/// stored the first time: that is no refusal, the writer answers with the stored message.
pub(crate) async fn attachable(
    chat: &Chat,
    person: Option<&str>,
    files: &[i64],
    offset: Option<&str>,
) -> Result<(), HandlerError> {
    if files.is_empty() {
        return Ok(());
    }
    if files.len() > MAX_FILES_PER_MESSAGE {
        return Err(ChatError::TooManyFiles {
            max: MAX_FILES_PER_MESSAGE,
        }
        .into());
    }
    let person = person.ok_or(ChatError::SignInRequired)?;
    for (i, &id) in files.iter().enumerate() {
        let upload = chat
            .store
            .upload(id)
            .await
            .map_err(HandlerError::store("the uploads query"))?;
        let free = match upload {
            Some(u) if u.uploader == person => match (u.message, offset) {
                (None, _) => true,
                (Some(message), Some(offset)) => chat
                    .store
                    .sent_with_offset(message, person, offset)
                    .await
                    .map_err(HandlerError::store("the uploads query"))?,
                (Some(_), None) => false,
            },
            _ => false,
        };
        if !free || files[..i].contains(&id) {
            return Err(ChatError::UnknownFile { id }.into());
        }
    }
    Ok(())
}
