//! The `/admin` namespace: its own middleware (the admin token), handlers and events. It sees
//! the main namespace from outside, through the `SocketIo` handle: live statistics, kicking a
//! person, and announcements.

use std::collections::BTreeSet;
use std::time::Duration;

use app::events::{
    self, ADMIN_AUTHOR, Admin, AdminAuth, Announce, ChatError, Event as _, Kick, KickDone, Kicked,
    LOBBY, Main, Namespace as _, NamespaceStats, Refusal, RoomStats, Stats,
};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::chat::{AckRequested, Chat, answer, on_unknown_event, parsed, publish};
use crate::identity;
use crate::secrets::{Loaded, SecretError, load_or_create};
use crate::store::NewMessage;

/// How often `/admin` sockets get fresh `stats`.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// The admin token: configured, or generated on first start and printed once.
pub(crate) fn load_token(
    configured: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<String, SecretError> {
    let token = load_or_create(configured, data_dir, "admin-token")?;
    if let Loaded::Created(value) = &token {
        // Printed, not logged: it is shown once, to whoever started the server.
        println!(
            "palaver: generated the admin token (kept in {}): {value}",
            data_dir.join("admin-token").display()
        );
    }
    Ok(token.value().to_owned())
}

pub(crate) fn register(io: &SocketIo) {
    io.ns(Admin::PATH, on_connect.with(authorize));
}

/// Anyone without the token gets `connect_error` "unauthorized", whatever they sent.
async fn authorize(
    socket: SocketRef,
    TryData(auth): TryData<AdminAuth>,
    State(chat): State<Chat>,
) -> Result<(), Refusal> {
    let given = auth.map(|a| a.token).unwrap_or_default();
    // Constant time: the comparison must not reveal how much of a guess was right.
    if bool::from(given.as_bytes().ct_eq(chat.admin_token.as_bytes())) {
        Ok(())
    } else {
        warn!(sid = %socket.id, "refused an /admin connection without the admin token");
        Err(Refusal::Unauthorized)
    }
}

async fn on_connect(socket: SocketRef, io: SocketIo, State(chat): State<Chat>) {
    info!(sid = %socket.id, ns = socket.ns(), "admin connected");
    socket.on(Kick::NAME, on_kick);
    socket.on(Announce::NAME, on_announce);
    socket.on_fallback(on_unknown_event);
    if let Err(e) = socket.emit(Stats::NAME, &stats(&io, &chat).await) {
        warn!(sid = %socket.id, error = %e, "stats not sent");
    }
}

/// Sends `stats` to every `/admin` socket every second while there are any.
pub(crate) async fn push_stats(io: SocketIo, chat: Chat) {
    let mut tick = tokio::time::interval(STATS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(admins) = io.of(Admin::PATH) else {
            continue;
        };
        if admins.clone().sockets().is_empty() {
            continue;
        }
        let stats = stats(&io, &chat).await;
        // Best effort: an admin whose buffer is full gets the next second's.
        let _ = admins.emit(Stats::NAME, &stats).await;
    }
}

async fn stats(io: &SocketIo, chat: &Chat) -> Stats {
    let namespaces = [Main::PATH, Admin::PATH]
        .into_iter()
        .map(|path| NamespaceStats {
            path: path.to_owned(),
            sockets: io.of(path).map_or(0, |ns| ns.sockets().len()),
        })
        .collect();
    let mut rooms = Vec::new();
    if let Some(main) = io.of(Main::PATH) {
        let mut names = main.clone().rooms().await.unwrap_or_default();
        names.sort();
        for room in names {
            let sockets = main.clone().within(room.clone()).sockets();
            let members: BTreeSet<String> = sockets.iter().map(|s| identity::of(s).name).collect();
            rooms.push(RoomStats {
                room: room.to_string(),
                members: members.into_iter().collect(),
                sockets: sockets.len(),
            });
        }
    }
    Stats {
        namespaces,
        rooms,
        messages_per_minute: chat.metrics.messages_per_minute(),
    }
}

async fn on_kick(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<Kick>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
) {
    let result = async { kick(&io, parsed::<Kick>(request)?).await }.await;
    answer(&socket, Kick::NAME, ack, wants_ack, result);
}

/// Tells every socket of the person why, then disconnects them.
async fn kick(io: &SocketIo, k: Kick) -> Result<KickDone, ChatError> {
    let unknown = || ChatError::UnknownPerson {
        name: k.name.clone(),
    };
    let key = events::name_key(&k.name);
    let main = io.of(Main::PATH).ok_or_else(unknown)?;
    // Guests share the name `anonymous` and are nobody in particular: they cannot be kicked.
    let theirs: Vec<SocketRef> = main
        .sockets()
        .into_iter()
        .filter(|s| {
            let who = identity::of(s);
            who.person.is_some() && events::name_key(&who.name) == key
        })
        .collect();
    if theirs.is_empty() {
        return Err(unknown());
    }
    let notice = Kicked {
        reason: k
            .reason
            .clone()
            .unwrap_or_else(|| "removed by a moderator".to_owned()),
    };
    for s in &theirs {
        // The notice is queued ahead of the DISCONNECT on the same connection.
        let _ = s.emit(Kicked::NAME, &notice);
        let _ = s.clone().disconnect();
    }
    info!(name = %k.name, sockets = theirs.len(), "kicked");
    Ok(KickDone {
        sockets: theirs.len(),
    })
}

async fn on_announce(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<Announce>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async { announce(&io, &chat, parsed::<Announce>(request)?).await }.await;
    answer(&socket, Announce::NAME, ack, wants_ack, result);
}

/// Posts the announcement to its room, or to every room, as a stored message.
async fn announce(
    io: &SocketIo,
    chat: &Chat,
    a: Announce,
) -> Result<Vec<app::events::Posted>, ChatError> {
    let text = events::validate_text(&a.text)?;
    // The lobby is the only room until rooms can be created.
    let rooms = match a.room.as_deref() {
        None | Some(LOBBY) => vec![LOBBY],
        Some(other) => {
            return Err(ChatError::UnknownRoom {
                room: other.to_owned(),
            });
        }
    };
    let main = io.of(Main::PATH).ok_or(ChatError::Unavailable)?;
    let mut posted = Vec::with_capacity(rooms.len());
    for room in rooms {
        let message = NewMessage {
            room,
            author: ADMIN_AUTHOR,
            text,
            client_offset: None,
            kind: Some("announcement"),
        };
        posted.push(publish(chat, main.clone().within(room), message).await?);
    }
    Ok(posted)
}
