//! Telling the other nodes who is connected here, and hearing who is there (see
//! [`crate::state::peers`]): every [`EVERY`], this node's view, whole when it changed (and
//! every [`WHOLE_EVERY`] ticks regardless), else a line saying it is alive.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use app::events::{Admin, Main, Namespace as _};
use futures_util::StreamExt as _;
use tracing::{debug, warn};

use crate::cluster::{Bus, SocketIo};
use crate::conversation::PERSON_ROOM_PREFIX;
use crate::state::Chat;
use crate::state::peers::View;

/// How often a node tells the others; a node silent for `state::peers::SILENCE` is forgotten.
const EVERY: Duration = Duration::from_secs(1);
/// Ticks between whole views sent even when nothing changed, for a node that missed one.
const WHOLE_EVERY: u32 = 5;

/// Exchanges views with the other nodes, forever; alone, returns at once.
pub(crate) async fn exchange(bus: Bus, node: String, io: SocketIo, chat: Chat) {
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
                match serde_json::to_vec(&view) {
                    Ok(bytes) => bus.tell_peers(bytes).await,
                    Err(e) => warn!(error = %e, "encoding this node's view failed"),
                }
                let gone = lock(&chat).expire(Instant::now());
                touch(&chat, gone);
            }
            item = heard.next() => {
                let Some((_, bytes)) = item else {
                    warn!("the other nodes' views stopped coming");
                    return;
                };
                let view: View = match serde_json::from_slice(&bytes) {
                    Ok(view) => view,
                    Err(e) => {
                        warn!(error = %e, "a node's view could not be read");
                        continue;
                    }
                };
                if view.node == node {
                    continue;
                }
                debug!(node = view.node, version = view.version, "a node's view");
                let changed = lock(&chat).heard(view, Instant::now());
                touch(&chat, changed);
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
