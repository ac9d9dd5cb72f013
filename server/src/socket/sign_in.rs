//! The connect middleware of the main namespace: who the client is, from its `auth` payload (a
//! session token, a nickname to claim, or neither for a guest), and the session handed back.

use crate::cluster::SocketRef;
use app::events::{self, Main, MainAuth, Namespace as _, Refusal, SESSION_TTL_MS, Session};
use socketioxide::extract::{State, TryData};
use tracing::{error, warn};

use crate::conversation::person_room;
use crate::http::peer::{self, Source};
use crate::logging::Escaped;
use crate::session::Claims;
use crate::socket::identity::Identity;
use crate::socket::limits;
use crate::state::Chat;
use crate::store::{Claim, now_ms};

/// The middleware of the main namespace: a refusal becomes the client's `connect_error`.
pub(crate) async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<MainAuth>,
    State(chat): State<Chat>,
) -> Result<(), Refusal> {
    let auth = auth.map_err(|e| {
        warn!(sid = %socket.id, error = %Escaped(&e), "refused: invalid auth payload");
        Refusal::InvalidAuth
    })?;
    // Online: has a socket in their personal room (every socket of a person is in it).
    let online = |person: &str| !socket.within(person_room(person)).sockets().is_empty();
    let source = peer::client_ip(socket.req_parts(), &chat.trusted_proxies).map(Source::of);
    if source.is_none() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            warn!("the listener does not record clients' addresses: no per-address limits")
        });
    }
    let (identity, session) = identify(&chat, &auth, &online, source)
        .await
        .inspect_err(|r| {
            warn!(sid = %socket.id, ns = Main::PATH, refusal = %r, name = ?auth.name, "refused");
        })?;
    socket.extensions.insert(identity);
    socket.extensions.insert(chat.backlogs.attach(&socket));
    if let Some(session) = session {
        socket.extensions.insert(session);
    }
    crate::socket::register_handlers(&socket);
    Ok(())
}

/// The identity `auth` proves, and the session to hand back (none for guests).
///
/// - A token alone: its person, under its name.
/// - A name (with or without a token): claims it, for the token's person or a new one.
/// - Neither: a guest.
///
/// A name without a token makes a new person, which `source` pays for (see `limits.rs`).
async fn identify(
    chat: &Chat,
    auth: &MainAuth,
    online: &(dyn Fn(&str) -> bool + Sync),
    source: Option<Source>,
) -> Result<(Identity, Option<Session>), Refusal> {
    let now = now_ms();
    let from_token = auth
        .token
        .as_deref()
        .map(|t| chat.keys.verify(t, now))
        .transpose()?;
    let name = match (&auth.name, &from_token) {
        (Some(name), _) => events::validate_name(name)?.to_owned(),
        (None, Some(claims)) => claims.name.clone(),
        (None, None) => {
            let guest = Identity {
                source,
                ..Identity::guest()
            };
            return Ok((guest, None));
        }
    };
    let person = match from_token {
        Some(claims) => claims.person,
        None => {
            limits::new_name(chat, source)?;
            uuid::Uuid::new_v4().to_string()
        }
    };
    let key = events::name_key(&name);
    let claim = |evict| {
        chat.writer
            .claim_name(&person, &name, &key, now, SESSION_TTL_MS, evict)
    };
    let mut claimed = claim(None).await;
    // A name is held while its person is connected, however long ago they came: their
    // `last_seen` moves only when they come and go, so it is brought up to now here.
    if let Ok(Claim::Lapsed { holder }) = &claimed {
        let holder = holder.clone();
        claimed = if online(&holder) {
            chat.writer
                .touch_person(&holder, now)
                .await
                .map(|()| Claim::Taken)
        } else {
            claim(Some(&holder)).await
        };
    }
    match claimed {
        Ok(Claim::Granted) => {}
        Ok(Claim::Taken | Claim::Lapsed { .. }) => return Err(Refusal::NameTaken),
        Ok(Claim::Banned) => return Err(Refusal::Banned),
        Err(e) => {
            error!(error = %e, "claiming a name failed");
            return Err(Refusal::Unavailable);
        }
    }
    // A fresh token on every connect: the session lasts as long as the person keeps coming.
    let claims = Claims {
        person: person.clone(),
        name: name.clone(),
        expires_at: now + SESSION_TTL_MS,
    };
    let session = Session {
        token: chat.keys.issue(&claims),
        name: name.clone(),
        expires_at: claims.expires_at,
    };
    Ok((
        Identity {
            name,
            person: Some(person),
            source,
        },
        Some(session),
    ))
}

/// Keeps a leaving person's hold on their name from the moment they left.
pub(crate) async fn seen_leaving(chat: &Chat, identity: &Identity) {
    if let Some(person) = &identity.person
        && let Err(e) = chat.writer.touch_person(person, now_ms()).await
    {
        warn!(error = %e, "recording when a person left failed");
    }
}
