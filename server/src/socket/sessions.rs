//! A person's sessions (their signed-in devices): listing them, ending one, and signing out
//! the sockets of ended sessions, on every node.

use app::events::{
    ChatError, EndSession, ListSessions, Main, Namespace as _, SessionInfo, SignedOut,
};
use tracing::{info, warn};

use crate::cluster::SocketIo;
use crate::conversation::session_room;
use crate::socket::emit::broadcast;
use crate::socket::identity;
use crate::socket::request::{Ctx, HandlerError};
use crate::store::now_ms;

/// `sessions`: the asker's working sessions, newest use first.
pub(crate) async fn list(ctx: Ctx, _: ListSessions) -> Result<Vec<SessionInfo>, HandlerError> {
    let who = identity::of(&ctx.socket);
    let (Some(person), Some(current)) = (who.person, who.session) else {
        return Err(ChatError::SignInRequired.into());
    };
    let rows = ctx
        .chat
        .store
        .sessions_of(&person, now_ms())
        .await
        .map_err(HandlerError::store("the sessions query"))?;
    Ok(rows
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == current,
            id: s.id,
            device: s.device,
            created_at: s.created_at,
            last_seen: s.last_seen,
        })
        .collect())
}

/// `end session`: signs one of the asker's sessions out, and its sockets with it.
pub(crate) async fn end(ctx: Ctx, request: EndSession) -> Result<(), HandlerError> {
    let who = identity::of(&ctx.socket);
    let (Some(person), Some(_)) = (who.person, who.session) else {
        return Err(ChatError::SignInRequired.into());
    };
    let ended = ctx
        .chat
        .store
        .end_session(&person, &request.id, now_ms())
        .await
        .map_err(HandlerError::store("ending a session"))?;
    if !ended {
        return Err(ChatError::UnknownSession {
            session: request.id,
        }
        .into());
    }
    info!(session = %request.id, "session ended from another device");
    sign_out_sockets(&ctx.io, &[request.id], "signed out from another device").await;
    Ok(())
}

/// Tells every socket of each session why, then disconnects it, on every node.
pub(crate) async fn sign_out_sockets(io: &SocketIo, sessions: &[String], reason: &str) {
    if sessions.is_empty() {
        return;
    }
    let Some(main) = io.of(Main::PATH) else {
        return;
    };
    let rooms: Vec<String> = sessions.iter().map(|s| session_room(s)).collect();
    let theirs = main.within(rooms);
    let notice = SignedOut {
        reason: reason.to_owned(),
    };
    // Queued ahead of the DISCONNECT on each connection.
    let _ = broadcast(theirs.clone(), &notice).await;
    if let Err(e) = theirs.disconnect().await {
        warn!(error = %e, "disconnecting a session's sockets failed");
    }
}
