//! Telling the other nodes who is connected here, and hearing who is there (see
//! [`crate::state::peers`]): every [`EVERY`], this node's view, whole when it changed (and
//! every [`WHOLE_EVERY`] ticks regardless), else a line saying it is alive. Also a person's
//! joining or leaving a room, so that each node puts that person's sockets there in or out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use app::events::{Admin, Main, Namespace as _};
use futures_util::StreamExt as _;
use tracing::{debug, warn};

use serde::{Deserialize, Serialize};

use crate::cluster::SocketIo;
use crate::conversation::PERSON_ROOM_PREFIX;
use crate::socket::rooms::{enter_here, part_here};
use crate::state::Chat;
use crate::state::peers::View;

/// What one node tells the others.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
enum Note {
    View(View),
    /// `person` joined or left `room` through `node`: the others put their sockets of that
    /// person in or out too.
    Membership {
        node: String,
        person: String,
        room: String,
        change: Membership,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Membership {
    Entered,
    Left,
}

/// Tells the other nodes that `person` entered or left `room`; alone, nobody.
pub(crate) async fn tell_membership(chat: &Chat, change: Membership, person: &str, room: &str) {
    if !chat.bus.linked() {
        return;
    }
    let note = Note::Membership {
        node: chat.node.to_string(),
        person: person.to_owned(),
        room: room.to_owned(),
        change,
    };
    match serde_json::to_vec(&note) {
        Ok(bytes) => chat.bus.tell_peers(bytes).await,
        Err(e) => warn!(error = %e, "encoding a membership note failed"),
    }
}

/// How often a node tells the others; a node silent for `state::peers::SILENCE` is forgotten.
const EVERY: Duration = Duration::from_secs(1);
/// Ticks between whole views sent even when nothing changed, for a node that missed one.
const WHOLE_EVERY: u32 = 5;

/// Exchanges views with the other nodes, forever; alone, returns at once.
pub(crate) async fn exchange(io: SocketIo, chat: Chat) {
    let bus = chat.bus.clone();
    let node = chat.node.to_string();
    let Some(mut heard) = bus.peer_views().await else {
        return;
    };
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told = None;
    let mut since_whole = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let whole = told != Some(chat.presence.version()) || since_whole >= WHOLE_EVERY;
                let view = own_view(&node, &io, &chat, whole).await;
                since_whole = if whole { 0 } else { since_whole + 1 };
                if whole {
                    told = Some(view.version);
                }
                match serde_json::to_vec(&Note::View(view)) {
                    Ok(bytes) => bus.tell_peers(bytes).await,
                    Err(e) => warn!(error = %e, "encoding this node's view failed"),
                }
                let gone = lock(&chat).expire(Instant::now());
                touch(&chat, gone.rooms);
                if gone.nodes > 0 {
                    // A node that died may have stored messages it never told the others of
                    // (killed between its commit and its publish): members here that missed
                    // them learn the rooms' heads, and sync.
                    let rooms = io.local().rooms().await.unwrap_or_default();
                    chat.lagging.mark_all(rooms, &chat.store).await;
                }
            }
            item = heard.next() => {
                let Some((_, bytes)) = item else {
                    warn!("the other nodes' views stopped coming");
                    return;
                };
                let note: Note = match serde_json::from_slice(&bytes) {
                    Ok(note) => note,
                    Err(e) => {
                        warn!(error = %e, "a node's note could not be read");
                        continue;
                    }
                };
                match note {
                    Note::View(view) if view.node != node => {
                        debug!(node = view.node, version = view.version, "a node's view");
                        let changed = lock(&chat).heard(view, Instant::now());
                        touch(&chat, changed);
                    }
                    Note::Membership { node: from, person, room, change } if from != node => {
                        match change {
                            Membership::Entered => {
                                enter_here(&io, &chat, &person, &room, None);
                            }
                            Membership::Left => part_here(&io, &chat, &person, &room),
                        }
                    }
                    // Its own, back from Redis.
                    _ => {}
                }
            }
        }
    }
}

fn lock(chat: &Chat) -> std::sync::MutexGuard<'_, crate::state::peers::Peers> {
    chat.presence
        .peers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Has the rooms whose presence changed announced to this node's sockets.
fn touch(chat: &Chat, rooms: Vec<String>) {
    for room in rooms {
        chat.announcements.touch(&room);
    }
}

/// This node's own: its rooms and people when `whole`, and its counts.
async fn own_view(node: &str, io: &SocketIo, chat: &Chat, whole: bool) -> View {
    let sockets: BTreeMap<String, usize> = [Main::PATH, Admin::PATH]
        .into_iter()
        .map(|path| {
            let n = io.of(path).map_or(0, |ns| ns.local().sockets().len());
            (path.to_owned(), n)
        })
        .collect();
    let (version, rooms) = chat.presence.local_view();
    let people = match (whole, io.of(Main::PATH)) {
        (true, Some(main)) => main
            .local()
            .rooms()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.strip_prefix(PERSON_ROOM_PREFIX).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    View {
        node: node.to_owned(),
        version,
        rooms: whole.then_some(rooms),
        people,
        sockets,
        messages_per_minute: chat.metrics.messages_per_minute(),
    }
}
