//! The HTTP side of accounts: signing up, in and out, setting a password, and using a reset
//! code. These are HTTP routes, not Socket.IO events, because only an HTTP answer can set the
//! session cookie, and the cookie is HttpOnly so that no script (XSS included) can read it.
//!
//! Every route takes and answers JSON (`Content-Type: application/json`, which a page on
//! another site cannot send without the server's consent) from a page of the site's own
//! origin. A success sets or clears the cookie and answers [`SignedIn`] (or nothing); a
//! failure answers an HTTP error status with an [`AuthError`] as `{ "error": code,
//! "message": text, … }`.

use serde::{Deserialize, Serialize};

use crate::events::Role;

/// `POST /auth/sign-up`: a new account, signed in at once. The first account on a server is
/// its administrator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {
    pub name: String,
    pub password: String,
    /// The code of a join link (`/#invite=<code>`); needed when the server is invite-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `POST /auth/sign-in`: a new session for an existing account, on this device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub name: String,
    pub password: String,
}

/// `POST /auth/password`: sets a password.
///
/// - With `token` (the [`crate::events::Session`] token of a name held without a password):
///   turns the name into an account, signed in on this device. The token stops working.
/// - Signed in (the cookie), with `current`: changes the account's password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPassword {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub password: String,
}

/// `POST /auth/reset`: a new password with a reset code an administrator made
/// ([`crate::events::MakeResetLink`]). Signs every other device of the person out, and this
/// one in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPassword {
    pub code: String,
    pub password: String,
}

/// `POST /auth/sign-out` takes no body: it ends the cookie's session (its sockets get
/// [`crate::events::SignedOut`]) and clears the cookie. It always succeeds.
///
/// The answer of every route that signs in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub name: String,
    pub role: Role,
    pub session: String,
}

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes: hashing is costly, and its input need not be long.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password as the server does; the browser calls it before sending.
pub fn validate_password(password: &str) -> Result<&str, AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::WeakPassword {
            min: MIN_PASSWORD_CHARS,
        });
    }
    Ok(password)
}

/// Why an accounts route refused. `code` is the stable part; `message` says it to a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AuthError {
    /// The request is not the route's JSON.
    #[error("the request is not what this route takes: {detail}")]
    BadRequest { detail: String },
    /// The request came from a page of another origin.
    #[error("requests from other sites are refused")]
    ForeignOrigin,
    /// A name breaks the rules of nicknames, or reads as a reserved one.
    #[error("a name is 1 to {max} ASCII letters, digits, `-`, `_` or `.`, and not a staff name")]
    InvalidName { max: usize },
    #[error("“{name}” is taken; pick another name")]
    NameTaken { name: String },
    #[error("a password needs at least {min} characters")]
    WeakPassword { min: usize },
    /// The name and password do not match an account (which of the two is wrong is not said).
    #[error("wrong name or password")]
    WrongCredentials,
    /// Too many attempts for this name or from this address lately.
    #[error("too many attempts; try again in {} s", retry_after_ms.div_ceil(1000).max(1))]
    TooManyAttempts {
        #[serde(rename = "retryAfterMs")]
        retry_after_ms: u64,
    },
    #[error("a moderator banned this account")]
    Banned,
    /// The server is invite-only and no invite came with the sign-up.
    #[error("this server is invite-only: ask for a join link")]
    InviteRequired,
    /// The invite is unknown, revoked, expired or used up.
    #[error("this join link does not work any more: ask for a new one")]
    InvalidInvite,
    /// The reset code is unknown, used or expired.
    #[error("this reset link does not work any more: ask an administrator for a new one")]
    InvalidReset,
    /// The token is not this server's, or expired.
    #[error("this browser's name has expired; sign in or sign up")]
    InvalidToken,
    /// A password exists already: sign in with it (or change it, signed in).
    #[error("this name has a password already: sign in with it")]
    PasswordSet,
    /// The route needs a signed-in session, and the request has none that works.
    #[error("sign in first")]
    SignInRequired,
    #[error("the server could not do that just now; try again")]
    Unavailable,
}

impl AuthError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::BadRequest { .. }
            | AuthError::InvalidName { .. }
            | AuthError::WeakPassword { .. } => 400,
            AuthError::WrongCredentials | AuthError::InvalidToken | AuthError::SignInRequired => {
                401
            }
            AuthError::ForeignOrigin
            | AuthError::Banned
            | AuthError::InviteRequired
            | AuthError::InvalidInvite
            | AuthError::InvalidReset => 403,
            AuthError::NameTaken { .. } | AuthError::PasswordSet => 409,
            AuthError::TooManyAttempts { .. } => 429,
            AuthError::Unavailable => 503,
        }
    }
}

/// An [`AuthError`] as answered: the error's fields and its `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailure {
    #[serde(flatten)]
    pub error: AuthError,
    pub message: String,
}

impl From<AuthError> for AuthFailure {
    fn from(error: AuthError) -> Self {
        AuthFailure {
            message: error.to_string(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reads_back_as_it_was_written() {
        for error in [
            AuthError::WrongCredentials,
            AuthError::TooManyAttempts {
                retry_after_ms: 1500,
            },
            AuthError::NameTaken { name: "ann".into() },
            AuthError::WeakPassword { min: 8 },
        ] {
            let wire = serde_json::to_string(&AuthFailure::from(error.clone())).unwrap();
            let back: AuthFailure = serde_json::from_str(&wire).unwrap();
            assert_eq!(back.error, error, "{wire}");
            assert_eq!(back.message, error.to_string());
        }
        let wire = serde_json::to_value(AuthFailure::from(AuthError::TooManyAttempts {
            retry_after_ms: 1500,
        }))
        .unwrap();
        assert_eq!(wire["error"], "too_many_attempts");
        assert_eq!(wire["retryAfterMs"], 1500);
        assert_eq!(wire["message"], "too many attempts; try again in 2 s");
    }

    #[test]
    fn passwords_need_eight_characters_and_at_most_a_kilobyte() {
        assert!(validate_password("seven77").is_err());
        assert!(validate_password("eight888").is_ok());
        assert!(validate_password("ééééééé").is_err());
        assert!(validate_password("éééééééé").is_ok());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
