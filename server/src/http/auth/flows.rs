//! Signing up, in and out, setting a password, and using a reset code: each flow checks what
//! it was given, changes the store, and says which session to set in the cookie and which
//! sessions it ended (the caller disconnects their sockets).

use app::auth::{self, AuthError, SignedIn};
use app::events::{MAX_NAME_CHARS, Refusal, Role, name_key, validate_name};
use tracing::{error, info, warn};

use crate::accounts::{PasswordError, Presented, SignedInAs, signed_in};
use crate::http::peer::Source;
use crate::logging::Escaped;
use crate::socket::sign_in::claim_name;
use crate::state::Chat;
use crate::store::{Claim, StoreError, now_ms};
use crate::tokens;

/// What the flows know of the request.
pub(crate) struct Requester {
    pub(crate) source: Option<Source>,
    /// The label of the device ([`crate::accounts::describe_device`]).
    pub(crate) device: String,
    /// The session cookie the request brought, if any, of a session cookie's shape.
    pub(crate) presented: Option<Presented>,
}

/// A session made by a flow: what to answer, and the cookie to set.
pub(crate) struct Issued {
    pub(crate) signed_in: SignedIn,
    pub(crate) cookie: Presented,
    /// Sessions the flow ended, whose sockets are to be signed out.
    pub(crate) ended: Vec<String>,
}

fn store_failed(what: &'static str) -> impl Fn(StoreError) -> AuthError {
    move |e| {
        error!(error = %e, "{what} failed");
        AuthError::Unavailable
    }
}

fn hashing_failed(e: PasswordError) -> AuthError {
    match e {
        PasswordError::Busy => AuthError::TooManyAttempts {
            retry_after_ms: 5_000,
        },
        e => {
            error!(error = %e, "hashing a password failed");
            AuthError::Unavailable
        }
    }
}

/// The hash of a new password.
async fn hashed(chat: &Chat, password: String) -> Result<String, AuthError> {
    chat.accounts
        .hasher
        .hash(password)
        .await
        .map_err(hashing_failed)
}

/// Over a limit: wait `wait`.
fn too_many(wait: std::time::Duration) -> AuthError {
    AuthError::TooManyAttempts {
        retry_after_ms: wait.as_millis().try_into().unwrap_or(u64::MAX),
    }
}

/// `<id>.<secret>`, as invites and reset codes are written.
fn split_code(code: &str) -> Option<(&str, &str)> {
    let (id, secret) = code.trim().split_once('.')?;
    let hex = |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id) && hex(secret)).then_some((id, secret))
}

/// A new session for `person`, with a fresh id and secret (never one the request brought).
async fn new_session(
    chat: &Chat,
    person: &str,
    name: String,
    role: Role,
    who: &Requester,
) -> Result<Issued, AuthError> {
    let (id, secret) = tokens::issue_with_id().map_err(|e| {
        error!(error = %e, "no randomness for a session");
        AuthError::Unavailable
    })?;
    let now = now_ms();
    if let Err(e) = chat.store.forget_old_sessions(person, now).await {
        warn!(error = %e, "forgetting old sessions failed");
    }
    chat.store
        .create_session(&id, &secret.hash, person, &who.device, now)
        .await
        .map_err(store_failed("keeping a session"))?;
    Ok(Issued {
        signed_in: SignedIn {
            name,
            role,
            session: id.clone(),
        },
        cookie: Presented {
            id,
            secret: secret.token,
        },
        ended: Vec::new(),
    })
}

/// `POST /auth/sign-up`.
pub(crate) async fn sign_up(
    chat: &Chat,
    request: auth::SignUp,
    who: &Requester,
    online: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Issued, AuthError> {
    let name = validate_name(&request.name).map_err(|_| AuthError::InvalidName {
        max: MAX_NAME_CHARS,
    })?;
    auth::validate_password(&request.password)?;
    let now = now_ms();
    let invite = match (&request.invite, chat.accounts.sign_up) {
        (Some(code), _) => {
            let (id, secret) = split_code(code).ok_or(AuthError::InvalidInvite)?;
            let row = chat
                .store
                .invite(id)
                .await
                .map_err(store_failed("reading an invite"))?
                .filter(|i| tokens::matches(secret, &i.secret_hash) && i.works(now))
                .ok_or(AuthError::InvalidInvite)?;
            Some(row.id)
        }
        (None, crate::config::SignUpPolicy::Invite) => return Err(AuthError::InviteRequired),
        (None, crate::config::SignUpPolicy::Open) => None,
    };
    chat.limits
        .new_name(who.source, std::time::Instant::now())
        .map_err(too_many)?;
    // Before the name is claimed: a busy hasher must not leave a name held without a password.
    let hash = hashed(chat, request.password).await?;
    if let Some(id) = &invite
        && !chat
            .store
            .use_invite(id, now)
            .await
            .map_err(store_failed("using an invite"))?
    {
        return Err(AuthError::InvalidInvite);
    }
    let give_back = || async {
        if let Some(id) = &invite
            && let Err(e) = chat.store.unuse_invite(id).await
        {
            warn!(error = %e, "giving an invite's use back failed");
        }
    };
    let person = uuid::Uuid::new_v4().to_string();
    match claim_name(chat, &person, name, online).await {
        Ok(Claim::Granted) => {}
        Ok(Claim::Taken | Claim::Lapsed { .. } | Claim::Banned) => {
            give_back().await;
            return Err(AuthError::NameTaken {
                name: name.to_owned(),
            });
        }
        Err(e) => {
            give_back().await;
            return Err(store_failed("claiming a name")(e));
        }
    }
    let role = chat
        .store
        .set_password(&person, &hash, true)
        .await
        .map_err(store_failed("setting a password"))?
        .unwrap_or_default();
    info!(name = %Escaped(name), role = role.as_str(), invited = invite.is_some(), "signed up");
    new_session(chat, &person, name.to_owned(), role, who).await
}

/// `POST /auth/sign-in`.
pub(crate) async fn sign_in(
    chat: &Chat,
    request: auth::SignIn,
    who: &Requester,
) -> Result<Issued, AuthError> {
    chat.accounts
        .attempt(&request.name, who.source.map(|s| s.to_string()))
        .map_err(too_many)?;
    let account = chat
        .store
        .account_named(&name_key(&request.name))
        .await
        .map_err(store_failed("reading an account"))?;
    // An unknown name is checked against a decoy: refusing it takes as long as a wrong password.
    let hash = account.as_ref().and_then(|a| a.password_hash.clone());
    let right = chat
        .accounts
        .hasher
        .verify(request.password, hash)
        .await
        .map_err(hashing_failed)?;
    let account = account
        .filter(|_| right)
        .ok_or(AuthError::WrongCredentials)?;
    if account.banned {
        return Err(AuthError::Banned);
    }
    info!(name = %Escaped(&account.name), "signed in");
    new_session(chat, &account.person, account.name, account.role, who).await
}

/// `POST /auth/password`: a token's name becomes an account, or an account changes its
/// password.
pub(crate) async fn set_password(
    chat: &Chat,
    request: auth::SetPassword,
    who: &Requester,
) -> Result<Issued, AuthError> {
    auth::validate_password(&request.password)?;
    match (request.token, request.current) {
        (Some(token), _) => {
            let claims = chat
                .keys
                .verify(&token, now_ms())
                .map_err(|_| AuthError::InvalidToken)?;
            let account = chat
                .store
                .account(&claims.person)
                .await
                .map_err(store_failed("reading an account"))?
                .ok_or(AuthError::InvalidToken)?;
            if account.banned {
                return Err(AuthError::Banned);
            }
            if account.password_hash.is_some() {
                return Err(AuthError::PasswordSet);
            }
            let hash = hashed(chat, request.password).await?;
            let role = chat
                .store
                .set_password(&account.person, &hash, true)
                .await
                .map_err(store_failed("setting a password"))?
                .ok_or(AuthError::PasswordSet)?;
            info!(name = %Escaped(&account.name), "a name became an account");
            new_session(chat, &account.person, account.name, role, who).await
        }
        (None, Some(current)) => {
            let me = signed_in_by(chat, who).await?;
            let account = chat
                .store
                .account(&me.person)
                .await
                .map_err(store_failed("reading an account"))?
                .ok_or(AuthError::SignInRequired)?;
            chat.accounts
                .attempt(&account.name, who.source.map(|s| s.to_string()))
                .map_err(too_many)?;
            let right = chat
                .accounts
                .hasher
                .verify(current, account.password_hash)
                .await
                .map_err(hashing_failed)?;
            if !right {
                return Err(AuthError::WrongCredentials);
            }
            let hash = hashed(chat, request.password).await?;
            chat.store
                .set_password(&me.person, &hash, false)
                .await
                .map_err(store_failed("setting a password"))?;
            // A new password signs out every device that knew the old one; this one gets a
            // new session of its own.
            let mut ended = chat
                .store
                .end_sessions_of(&me.person, None, now_ms())
                .await
                .map_err(store_failed("ending sessions"))?;
            ended.retain(|s| *s != me.session);
            info!(name = %Escaped(&me.name), "password changed");
            let mut issued = new_session(chat, &me.person, me.name, me.role, who).await?;
            issued.ended = ended;
            Ok(issued)
        }
        (None, None) => Err(AuthError::BadRequest {
            detail: "give `token` (to make an account) or `current` (to change a password)"
                .to_owned(),
        }),
    }
}

/// `POST /auth/reset`.
pub(crate) async fn reset(
    chat: &Chat,
    request: auth::ResetPassword,
    who: &Requester,
) -> Result<Issued, AuthError> {
    let (id, secret) = split_code(&request.code).ok_or(AuthError::InvalidReset)?;
    let now = now_ms();
    let (_, person) = chat
        .store
        .reset(id, now)
        .await
        .map_err(store_failed("reading a reset code"))?
        .filter(|(hash, _)| tokens::matches(secret, hash))
        .ok_or(AuthError::InvalidReset)?;
    auth::validate_password(&request.password)?;
    let account = chat
        .store
        .account(&person)
        .await
        .map_err(store_failed("reading an account"))?
        .ok_or(AuthError::InvalidReset)?;
    if account.banned {
        return Err(AuthError::Banned);
    }
    let hash = hashed(chat, request.password).await?;
    if !chat
        .store
        .use_reset(id, now)
        .await
        .map_err(store_failed("using a reset code"))?
    {
        return Err(AuthError::InvalidReset);
    }
    let role = chat
        .store
        .set_password(&person, &hash, false)
        .await
        .map_err(store_failed("setting a password"))?
        .unwrap_or(account.role);
    let ended = chat
        .store
        .end_sessions_of(&person, None, now)
        .await
        .map_err(store_failed("ending sessions"))?;
    info!(name = %Escaped(&account.name), sessions = ended.len(), "password reset");
    let mut issued = new_session(chat, &person, account.name, role, who).await?;
    issued.ended = ended;
    Ok(issued)
}

/// `POST /auth/sign-out`: the session the request's cookie names, if it worked and is now
/// ended.
pub(crate) async fn sign_out(chat: &Chat, who: &Requester) -> Option<String> {
    let presented = who.presented.as_ref()?;
    let session = chat.store.session(&presented.id).await.ok()??;
    if !tokens::matches(&presented.secret, &session.secret_hash) {
        return None;
    }
    match chat
        .store
        .end_session(&session.person, &session.id, now_ms())
        .await
    {
        Ok(true) => Some(session.id),
        Ok(false) => None,
        Err(e) => {
            warn!(error = %e, "ending a session failed");
            None
        }
    }
}

/// The account the request's cookie signs in.
async fn signed_in_by(chat: &Chat, who: &Requester) -> Result<SignedInAs, AuthError> {
    let presented = who.presented.as_ref().ok_or(AuthError::SignInRequired)?;
    signed_in(&chat.store, presented)
        .await
        .map_err(|r| match r {
            Refusal::Banned => AuthError::Banned,
            Refusal::Unavailable => AuthError::Unavailable,
            _ => AuthError::SignInRequired,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_two_hex_parts() {
        assert_eq!(split_code("ab.cd"), Some(("ab", "cd")));
        assert_eq!(split_code(" ab.cd\n"), Some(("ab", "cd")));
        for bad in ["", "ab", "ab.", ".cd", "ab.cd.ef", "xy.cd", "ab.c d"] {
            assert_eq!(split_code(bad), None, "{bad}");
        }
    }
}
