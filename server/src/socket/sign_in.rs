//! The connect middleware of the main namespace: who the client is, from its session cookie
//! (an account) or its `auth` payload (a session token, a nickname to claim, or neither for a
//! guest), and the session handed back.

use crate::cluster::SocketRef;
use app::events::{
    self, Account, Main, MainAuth, Namespace as _, Refusal, SESSION_TTL_MS, Session,
};
use socketioxide::extract::{State, TryData};
use tracing::{error, warn};

use crate::accounts::{self, Presented};
use crate::config::{GuestPolicy, SignUpPolicy};
use crate::conversation::{person_room, session_room};
use crate::http::peer::{self, Source};
use crate::logging::Escaped;
use crate::session::Claims;
use crate::socket::identity::Identity;
use crate::socket::limits;
use crate::state::Chat;
use crate::store::{Claim, StoreError, now_ms};

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
    let cookie = accounts::presented(&socket.req_parts().headers);
    let identified = identify(&chat, &auth, cookie, &online, source)
        .await
        .inspect_err(|r| {
            warn!(sid = %socket.id, ns = Main::PATH, refusal = %r, name = ?auth.name, "refused");
        })?;
    // In the session's room before CONNECT goes out: ending the session disconnects it.
    if let Some(session) = &identified.identity.session {
        socket.join(session_room(session));
    }
    socket.extensions.insert(identified.identity);
    socket.extensions.insert(chat.backlogs.attach(&socket));
    if let Some(session) = identified.session {
        socket.extensions.insert(session);
    }
    if let Some(account) = identified.account {
        socket.extensions.insert(account);
    }
    if let Some(renamed) = identified.renamed {
        socket.extensions.insert(renamed);
    }
    crate::socket::register_handlers(&socket);
    Ok(())
}

/// The identity the request and `auth` prove, the session token to hand back (to a name held
/// by token), and the account (to a socket signed in by its cookie).
///
/// - A session cookie: its account, renamed when `auth.name` differs.
/// - A token alone: its person, under its name, unless that name has a password now.
/// - A name (with or without a token): claims it, for the token's person or a new one.
/// - None of them: a guest, if the server lets guests in.
///
/// A name without a token makes a new person, which `source` pays for (see `limits.rs`).
async fn identify(
    chat: &Chat,
    auth: &MainAuth,
    cookie: Option<Option<Presented>>,
    online: &(dyn Fn(&str) -> bool + Sync),
    source: Option<Source>,
) -> Result<Identified, Refusal> {
    if let Some(presented) = cookie {
        return by_cookie(chat, auth, presented, online, source).await;
    }
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
            if chat.accounts.guests == GuestPolicy::Off {
                return Err(Refusal::SignInRequired);
            }
            let guest = Identity {
                source,
                ..Identity::guest()
            };
            return Ok(Identified::plain(guest));
        }
    };
    let mut previous = None;
    let person = match from_token {
        Some(claims) => {
            // A name with a password signs in with it: its old tokens no longer do.
            let account = chat.store.account(&claims.person).await.map_err(|e| {
                error!(error = %e, "reading an account failed");
                Refusal::Unavailable
            })?;
            if account.as_ref().is_some_and(|a| a.password_hash.is_some()) {
                return Err(Refusal::SignInRequired);
            }
            previous = account.map(|a| a.name);
            claims.person
        }
        None => {
            if chat.accounts.sign_up == SignUpPolicy::Invite {
                return Err(Refusal::SignUpClosed);
            }
            limits::new_name(chat, source)?;
            uuid::Uuid::new_v4().to_string()
        }
    };
    claim(chat, &person, &name, online).await?;
    let renamed = previous.filter(|p| *p != name).map(|from| Renamed {
        from,
        to: name.clone(),
    });
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
    Ok(Identified {
        identity: Identity {
            name,
            person: Some(person),
            source,
            session: None,
            role: events::Role::Member,
        },
        session: Some(session),
        account: None,
        renamed,
    })
}

/// A socket whose request carries the session cookie: its account, or a refusal
/// (`signed_out` for a cookie of no working session).
async fn by_cookie(
    chat: &Chat,
    auth: &MainAuth,
    presented: Option<Presented>,
    online: &(dyn Fn(&str) -> bool + Sync),
    source: Option<Source>,
) -> Result<Identified, Refusal> {
    let me = accounts::signed_in(&chat.store, &presented.ok_or(Refusal::SignedOut)?).await?;
    let name = match &auth.name {
        Some(name) if events::name_key(name) != events::name_key(&me.name) => {
            let name = events::validate_name(name)?;
            claim(chat, &me.person, name, online).await?;
            name.to_owned()
        }
        _ => me.name.clone(),
    };
    let renamed = (name != me.name).then(|| Renamed {
        from: me.name,
        to: name.clone(),
    });
    let account = Account {
        name: name.clone(),
        role: me.role,
        session: me.session.clone(),
    };
    Ok(Identified {
        identity: Identity {
            name,
            person: Some(me.person),
            source,
            session: Some(me.session),
            role: me.role,
        },
        session: None,
        account: Some(account),
        renamed,
    })
}

/// Gives `name` to `person`, or says why not.
async fn claim(
    chat: &Chat,
    person: &str,
    name: &str,
    online: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(), Refusal> {
    match claim_name(chat, person, name, online).await {
        Ok(Claim::Granted) => Ok(()),
        Ok(Claim::Taken | Claim::Lapsed { .. }) => Err(Refusal::NameTaken),
        Ok(Claim::Banned) => Err(Refusal::Banned),
        Err(e) => {
            error!(error = %e, "claiming a name failed");
            Err(Refusal::Unavailable)
        }
    }
}

/// What [`identify`] found.
struct Identified {
    identity: Identity,
    /// A name held by token: the token to keep.
    session: Option<Session>,
    /// A socket signed in by its cookie.
    account: Option<Account>,
    /// The person took another name: their messages are to follow.
    renamed: Option<Renamed>,
}

/// A rename made by a connect, for the connect handler to carry into the person's messages
/// (`profiles::carry_rename`).
#[derive(Debug, Clone)]
pub(crate) struct Renamed {
    pub(crate) from: String,
    pub(crate) to: String,
}

impl Identified {
    fn plain(identity: Identity) -> Identified {
        Identified {
            identity,
            session: None,
            account: None,
            renamed: None,
        }
    }
}

/// Keeps a leaving person's hold on their name from the moment they left.
pub(crate) async fn seen_leaving(chat: &Chat, identity: &Identity) {
    if let Some(person) = &identity.person
        && let Err(e) = chat.writer.touch_person(person, now_ms()).await
    {
        warn!(error = %e, "recording when a person left failed");
    }
}

/// Gives `name` to `person`. A holder whose hold has lapsed loses it, unless `online` says
/// they are connected (their `last_seen` is when they came, however long ago): then their hold
/// is brought up to now, and the name stays theirs.
pub(crate) async fn claim_name(
    chat: &Chat,
    person: &str,
    name: &str,
    online: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Claim, StoreError> {
    let now = now_ms();
    let key = events::name_key(name);
    let claim = |evict| {
        chat.writer
            .claim_name(person, name, &key, now, SESSION_TTL_MS, evict)
    };
    let claimed = claim(None).await?;
    let Claim::Lapsed { holder } = claimed else {
        return Ok(claimed);
    };
    if online(&holder) {
        chat.writer.touch_person(&holder, now).await?;
        Ok(Claim::Taken)
    } else {
        claim(Some(&holder)).await
    }
}
