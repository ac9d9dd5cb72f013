//! Catch-up: replaying what a client missed, on connect (from `auth.since`, or the tutorial's
//! `serverOffset`) and on `sync`; and `history`, the pages a client reloads or scrolls back
//! through.

use std::sync::atomic::Ordering;

use app::events::{
    ChatError, ChatMessage, Event as _, HISTORY_PAGE, History, HistoryPage, MAX_HISTORY_LIMIT,
    MAX_REPLAY, RoomHead, Since, Sync, Synced,
};
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use tracing::error;

use crate::chat::{AckRequested, Chat, answer, parsed, to_event};
use crate::limits::{self, Action};
use crate::rooms::accessible;
use crate::store::StoreError;

/// The most rooms one `sync` (or one connect's `since`) may name; more is not a real client.
pub(crate) const MAX_SYNC_ROOMS: usize = 64;

/// Where a catch-up starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cursor {
    /// Palaver's cursor: replay everything after this id, or nothing if that is too much.
    Since(i64),
    /// The tutorial's `serverOffset`: replay the newest [`MAX_REPLAY`] after it.
    Tutorial(i64),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CatchUpError {
    #[error("catch-up query failed: {0}")]
    Store(#[from] StoreError),
    #[error("catch-up emit failed: {0}")]
    Emit(String),
}

/// Sends `socket` what it is missing of `room`, oldest first. The caller holds the order lock,
/// so nothing is committed to the room meanwhile: the replay ends exactly where live delivery
/// starts.
pub(crate) async fn catch_up(
    socket: &SocketRef,
    chat: &Chat,
    room: &str,
    cursor: Cursor,
) -> Result<Synced, CatchUpError> {
    let (last_id, last_seq) = chat.store.head(room).await?;
    let (missed, gap) = match cursor {
        // A cursor beyond the head means the client holds messages this server never stored
        // (another database): it must reload, not trust what it has.
        Cursor::Since(after) if after > last_id => (Vec::new(), true),
        Cursor::Since(after) => {
            let rows = chat.store.oldest_after(room, after, MAX_REPLAY + 1).await?;
            if rows.len() > MAX_REPLAY {
                (Vec::new(), true)
            } else {
                (rows, false)
            }
        }
        Cursor::Tutorial(after) => {
            let mut rows = chat.store.newest_after(room, after, MAX_REPLAY + 1).await?;
            let gap = rows.len() > MAX_REPLAY;
            if gap {
                rows.remove(0);
            }
            (rows, gap)
        }
    };
    let replayed = missed.len();
    for m in missed {
        socket
            .emit(ChatMessage::NAME, &to_event(m))
            .map_err(|e| CatchUpError::Emit(e.to_string()))?;
    }
    let m = &chat.metrics;
    m.catchups.fetch_add(1, Ordering::Relaxed);
    m.messages_replayed
        .fetch_add(replayed as u64, Ordering::Relaxed);
    if gap {
        m.catchup_gaps.fetch_add(1, Ordering::Relaxed);
    }
    Ok(Synced {
        head: RoomHead {
            room: room.to_owned(),
            last_id,
            last_seq,
        },
        gap,
        replayed,
    })
}

/// A catch-up that could not be completed leaves a hole the client cannot see. Closing the
/// socket makes it reconnect and catch up from its own cursor, which still predates the hole.
pub(crate) fn drop_behind(socket: &SocketRef, e: CatchUpError) {
    error!(sid = %socket.id, error = %e, "catch-up failed; disconnecting the socket");
    let _ = socket.clone().disconnect();
}

pub(crate) async fn on_sync(
    socket: SocketRef,
    TryData(request): TryData<Sync>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async { sync(&socket, &chat, parsed::<Sync>(request)?.since).await }.await;
    answer(&socket, Sync::NAME, ack, wants_ack, result);
}

async fn sync(socket: &SocketRef, chat: &Chat, since: Since) -> Result<Vec<Synced>, ChatError> {
    if since.len() > MAX_SYNC_ROOMS {
        return Err(ChatError::InvalidPayload {
            event: Sync::NAME.to_owned(),
            detail: format!("at most {MAX_SYNC_ROOMS} rooms"),
        });
    }
    // One page per conversation asked about.
    limits::charge(socket, chat, Action::Read, since.len() as u32)?;
    for room in since.keys() {
        accessible(socket, chat, room).await?;
    }
    let _order = chat.order.lock().await;
    let mut done = Vec::with_capacity(since.len());
    for (room, after) in since {
        match catch_up(socket, chat, &room, Cursor::Since(after)).await {
            Ok(synced) => done.push(synced),
            Err(CatchUpError::Store(e)) => {
                error!(sid = %socket.id, error = %e, "sync query failed");
                return Err(ChatError::Unavailable);
            }
            Err(e) => {
                drop_behind(socket, e);
                return Err(ChatError::Unavailable);
            }
        }
    }
    Ok(done)
}

pub(crate) async fn on_history(
    socket: SocketRef,
    TryData(request): TryData<History>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async { history(&socket, &chat, parsed::<History>(request)?).await }.await;
    answer(&socket, History::NAME, ack, wants_ack, result);
}

async fn history(socket: &SocketRef, chat: &Chat, r: History) -> Result<HistoryPage, ChatError> {
    limits::charge(socket, chat, Action::Read, 1)?;
    accessible(socket, chat, &r.room).await?;
    let limit = r.limit.unwrap_or(HISTORY_PAGE).clamp(1, MAX_HISTORY_LIMIT);
    let (rows, more) = chat
        .store
        .page_before(&r.room, r.before, limit)
        .await
        .map_err(|e| {
            error!(sid = %socket.id, error = %e, "history query failed");
            ChatError::Unavailable
        })?;
    Ok(HistoryPage {
        messages: rows.into_iter().map(to_event).collect(),
        more,
    })
}
