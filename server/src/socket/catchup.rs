//! Catch-up: replaying what a client missed, on connect (from `auth.since`, or the tutorial's
//! `serverOffset`) and on `sync`; and `history`, the pages a client reloads or scrolls back
//! through, or jumps to (`around` a search's hit, then `after` it).

use crate::cluster::SocketRef;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app::events::{
    ChatError, ChatMessage, Event as _, HISTORY_PAGE, History, HistoryPage, MAX_HISTORY_LIMIT,
    MAX_REPLAY, MessageChanged, RoomHead, Sync, Synced,
};
use tracing::{error, warn};

use crate::conversation::ConversationId;
use crate::socket::access::accessible;
use crate::socket::backlog::{Backlog, wire_bytes};
use crate::socket::emit::emit;
use crate::socket::limits::{self, Action};
use crate::socket::recent::{Delta, Seen};
use crate::socket::request::{Ctx, HandlerError};
use crate::state::Chat;
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

/// A catch-up's reading, done without the order lock: the messages after the cursor as the
/// room stood then. [`finish`] completes it under the lock.
pub(crate) struct Prepared {
    room: ConversationId,
    cursor: Cursor,
    /// The client's change cursor, when it sent one: the changes after it are replayed.
    changes_after: Option<i64>,
    seen: Seen,
    /// Oldest first, each with the bytes it takes on the wire.
    rows: Vec<(ChatMessage, u64)>,
    /// The messages held by the client that changed after its change cursor, in the order
    /// of their last change, each with its bytes.
    changes: Vec<(MessageChanged, u64)>,
    /// The room's change feed's newest number, as far as this read saw it.
    change_head: i64,
    /// The room's newest message when it was read: `(id, seq)`.
    head: (i64, i64),
    /// More was missed than a catch-up replays.
    gap: bool,
}

/// Reads what `cursor` misses of `room`. Runs concurrently with posts and other catch-ups;
/// only [`finish`] takes the order lock.
pub(crate) async fn prepare(
    chat: &Chat,
    room: ConversationId,
    cursor: Cursor,
    changes_after: Option<i64>,
) -> Result<Prepared, StoreError> {
    // Before the reads: an edit after this makes `finish` read again.
    let seen = chat.recent.seen(room.as_str());
    // Before the messages: a change committed between the reads is then replayed again
    // later rather than skipped (a client keeps the newer of two copies).
    let (change_head, (last_id, last_seq)) = chat.store.heads(room.as_str()).await?;
    let (mut rows, mut gap) = match cursor {
        // A cursor beyond the head means the client holds messages this server never stored
        // (another database): it must reload, not trust what it has.
        Cursor::Since(after) if after > last_id => (Vec::new(), true),
        Cursor::Since(after) => {
            let rows = chat
                .store
                .oldest_after(room.as_str(), after, MAX_REPLAY + 1)
                .await?;
            if rows.len() > MAX_REPLAY {
                (Vec::new(), true)
            } else {
                (rows, false)
            }
        }
        Cursor::Tutorial(after) => {
            let mut rows = chat
                .store
                .newest_after(room.as_str(), after, MAX_REPLAY + 1)
                .await?;
            let gap = rows.len() > MAX_REPLAY;
            if gap {
                rows.remove(0);
            }
            (rows, gap)
        }
    };
    // The changes to what the client holds: up to its message cursor (what follows is in
    // `rows`, as it is now).
    let changes = match (cursor, changes_after) {
        (Cursor::Since(after), Some(changes_after)) if !gap => {
            let changed = chat
                .store
                .changed_after(room.as_str(), changes_after, after, MAX_REPLAY + 1)
                .await?;
            if changed.len() > MAX_REPLAY {
                rows.clear();
                gap = true;
                Vec::new()
            } else {
                changed
            }
        }
        _ => Vec::new(),
    };
    let change_head = changes
        .iter()
        .chain(&rows)
        .map(|m| m.changed_seq)
        .fold(change_head, i64::max);
    // A message committed between the two reads may be newer than the head read first.
    let head = rows
        .last()
        .filter(|m| m.seq > last_seq)
        .map_or((last_id, last_seq), |m| (m.id, m.seq));
    Ok(Prepared {
        room,
        cursor,
        changes_after,
        seen,
        rows: rows
            .into_iter()
            .map(|m| {
                let m = ChatMessage::from(m);
                let bytes = wire_bytes(&m);
                (m, bytes)
            })
            .collect(),
        changes: changes
            .into_iter()
            .map(|m| {
                let m = MessageChanged(ChatMessage::from(m));
                let bytes = wire_bytes(&m.0);
                (m, bytes)
            })
            .collect(),
        change_head,
        head,
        gap,
    })
}

/// Sends `socket` what `prepared` read, plus what was committed since, oldest first. The
/// caller holds the order lock, so nothing is committed to the room meanwhile: the replay
/// ends exactly where live delivery starts. What was committed since the read comes from
/// memory ([`crate::socket::recent`]); only when memory does not reach back does this query again.
///
/// The replay is charged to the socket's backlog: one too large for it is cut to the newest
/// messages that fit (the tutorial's cursor), or becomes a `gap` (Palaver's, whose client
/// then pages through `history`).
pub(crate) async fn finish(
    socket: &SocketRef,
    chat: &Chat,
    mut p: Prepared,
) -> Result<Synced, CatchUpError> {
    match chat.recent.since(p.room.as_str(), p.seen, p.head.1) {
        Delta::Appended(new) => {
            if let Some(last) = new.last() {
                p.head = (last.id, last.meta.seq);
            }
            let over = matches!(p.cursor, Cursor::Since(_)) && p.gap;
            if !over {
                p.rows.extend(new.into_iter().map(|m| {
                    let bytes = wire_bytes(&m);
                    (m, bytes)
                }));
            }
            if p.rows.len() > MAX_REPLAY {
                match p.cursor {
                    Cursor::Since(_) => p.rows.clear(),
                    Cursor::Tutorial(_) => drop(p.rows.drain(..p.rows.len() - MAX_REPLAY)),
                }
                p.gap = true;
            }
        }
        Delta::Unknown => p = prepare(chat, p.room, p.cursor, p.changes_after).await?,
    }
    fit(socket, &mut p);
    let replayed = p.rows.len();
    // The changes first: they are to messages held before the new ones.
    for (c, _) in p.changes {
        emit(socket, &c).map_err(|e| CatchUpError::Emit(e.to_string()))?;
    }
    for (m, _) in p.rows {
        emit(socket, &m).map_err(|e| CatchUpError::Emit(e.to_string()))?;
    }
    let m = &chat.metrics;
    m.catchups.fetch_add(1, Ordering::Relaxed);
    m.messages_replayed
        .fetch_add(replayed as u64, Ordering::Relaxed);
    if p.gap {
        m.catchup_gaps.fetch_add(1, Ordering::Relaxed);
    }
    Ok(Synced {
        head: RoomHead {
            room: p.room.into(),
            last_id: p.head.0,
            last_seq: p.head.1,
        },
        gap: p.gap,
        replayed,
        change_seq: p.change_head,
    })
}

/// After a connect's catch-up on a node linked to others: each room's head, read now that the
/// socket is in its rooms, when it is beyond the `synced` the socket was sent. The order lock
/// orders this node's posts against the catch-up, not another node's: a message another node
/// stored after the catch-up's read, and broadcast before the socket joined, is neither in
/// the replay nor delivered live. Anything stored after this read reaches the socket live.
pub(crate) async fn heads_since_joining(socket: &SocketRef, chat: &Chat, synced: Vec<Synced>) {
    for s in synced.into_iter().filter(|s| !s.gap) {
        changes_since_joining(socket, chat, &s).await;
        let head = match chat.store.head(&s.head.room).await {
            Ok((last_id, last_seq)) if last_seq > s.head.last_seq => RoomHead {
                room: s.head.room,
                last_id,
                last_seq,
            },
            Ok(_) => continue,
            Err(e) => {
                // Its next live message's seq, or a later `room head`, shows the hole.
                warn!(sid = %socket.id, room = s.head.room, error = %e, "room head query failed");
                continue;
            }
        };
        if let Err(e) = emit(socket, &head) {
            warn!(sid = %socket.id, error = %e, "room head not sent");
        }
    }
}

/// The changes another node committed to a room after the catch-up read it, and broadcast
/// before the socket joined it: sent again (a client keeps the newer of two copies).
async fn changes_since_joining(socket: &SocketRef, chat: &Chat, s: &Synced) {
    let room = &s.head.room;
    let changed = match chat.store.change_head(room).await {
        Ok(head) if head > s.change_seq => {
            chat.store
                .changed_after(room, s.change_seq, s.head.last_id, MAX_REPLAY)
                .await
        }
        Ok(_) => return,
        Err(e) => Err(e),
    };
    match changed {
        Ok(changed) => {
            for m in changed {
                if let Err(e) = emit(socket, &MessageChanged(ChatMessage::from(m))) {
                    warn!(sid = %socket.id, error = %e, "a change not sent");
                }
            }
        }
        Err(e) => warn!(sid = %socket.id, room, error = %e, "change head query failed"),
    }
}

/// Cuts a replay to what the socket's backlog takes, and charges it.
fn fit(socket: &SocketRef, p: &mut Prepared) {
    let Some(backlog) = socket.extensions.get::<Arc<Backlog>>() else {
        return;
    };
    let total: u64 =
        p.rows.iter().map(|(_, b)| b).sum::<u64>() + p.changes.iter().map(|(_, b)| b).sum::<u64>();
    if total == 0 || backlog.charge(total).is_ok() {
        return;
    }
    p.gap = true;
    if matches!(p.cursor, Cursor::Since(_)) {
        p.rows.clear();
        p.changes.clear();
        return;
    }
    // The tutorial's client: the newest messages that fit.
    let room = backlog.room_left();
    let mut kept = 0u64;
    let keep_from = p
        .rows
        .iter()
        .rposition(|(_, b)| {
            kept += b;
            kept > room
        })
        .map_or(0, |i| i + 1);
    p.rows.drain(..keep_from);
    let kept: u64 = p.rows.iter().map(|(_, b)| b).sum();
    if kept > 0 && backlog.charge(kept).is_err() {
        p.rows.clear();
    }
}

/// A catch-up that could not be completed leaves a hole the client cannot see. Closing the
/// socket makes it reconnect and catch up from its own cursor, which still predates the hole.
pub(crate) fn drop_behind(socket: &SocketRef, chat: &Chat, e: CatchUpError) {
    chat.metrics.catchups_failed.fetch_add(1, Ordering::Relaxed);
    error!(sid = %socket.id, error = %e, "catch-up failed; disconnecting the socket");
    let _ = socket.clone().disconnect();
}

/// `sync`: the catch-up of the conversations named, each from its cursor.
pub(crate) async fn sync(ctx: Ctx, request: Sync) -> Result<Vec<Synced>, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let Sync { since, changes } = request;
    if since.len() > MAX_SYNC_ROOMS {
        return Err(ChatError::InvalidPayload {
            event: Sync::NAME.to_owned(),
            detail: format!("at most {MAX_SYNC_ROOMS} rooms"),
        }
        .into());
    }
    // One page per conversation asked about.
    limits::charge(socket, chat, Action::Read, since.len() as u32)?;
    let mut rooms = Vec::with_capacity(since.len());
    for (room, after) in since {
        let room = ConversationId::parse(room)?;
        accessible(socket, chat, &room).await?;
        rooms.push((room, after));
    }
    let _reading = chat.catchups.read().await;
    let mut read = Vec::with_capacity(rooms.len());
    for (room, after) in rooms {
        let changes_after = changes.get(room.as_str()).copied();
        let prepared = prepare(chat, room, Cursor::Since(after), changes_after)
            .await
            .map_err(HandlerError::store("the sync query"))?;
        read.push(prepared);
    }
    let _sending = chat.catchups.send().await;
    let _order = chat.order.lock().await;
    let mut done = Vec::with_capacity(read.len());
    for prepared in read {
        match finish(socket, chat, prepared).await {
            Ok(synced) => done.push(synced),
            Err(CatchUpError::Store(e)) => return Err(HandlerError::store("the sync query")(e)),
            Err(e) => {
                drop_behind(socket, chat, e);
                return Err(ChatError::Unavailable.into());
            }
        }
    }
    Ok(done)
}

/// `history`: a page of a conversation's messages, before a cursor.
pub(crate) async fn history(ctx: Ctx, r: History) -> Result<HistoryPage, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    limits::charge(socket, chat, Action::Read, 1)?;
    let room = ConversationId::parse(r.room)?;
    accessible(socket, chat, &room).await?;
    let limit = r.limit.unwrap_or(HISTORY_PAGE).clamp(1, MAX_HISTORY_LIMIT);
    let cursors = [r.before, r.around, r.after].iter().flatten().count();
    if cursors > 1 {
        return Err(ChatError::InvalidPayload {
            event: History::NAME.to_owned(),
            detail: "at most one of `before`, `around` and `after`".to_owned(),
        }
        .into());
    }
    if let Some(id) = r.around {
        let (rows, more, newer) = chat
            .store
            .page_around(room.as_str(), id, limit)
            .await
            .map_err(HandlerError::store("the history query"))?
            .ok_or(ChatError::UnknownMessage { id })?;
        return Ok(page(rows, more, newer));
    }
    if let Some(after) = r.after {
        let mut rows = chat
            .store
            .oldest_after(room.as_str(), after, limit + 1)
            .await
            .map_err(HandlerError::store("the history query"))?;
        let newer = rows.len() > limit;
        rows.truncate(limit);
        return Ok(page(rows, true, newer));
    }
    let (rows, more) = chat
        .store
        .page_before(room.as_str(), r.before, limit)
        .await
        .map_err(HandlerError::store("the history query"))?;
    Ok(page(rows, more, false))
}

fn page(rows: Vec<crate::store::StoredMessage>, more: bool, newer: bool) -> HistoryPage {
    HistoryPage {
        messages: rows.into_iter().map(ChatMessage::from).collect(),
        more,
        newer,
    }
}
