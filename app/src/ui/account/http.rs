//! The accounts' HTTP routes (`crate::auth`): JSON to `/auth/…`, same origin, so the answer
//! can set or clear the session cookie. Reading an answer is plain code; sending is the
//! browser's (`browser`).

use crate::auth::{AuthError, AuthFailure, SignedIn};

/// Sign-in, sign-up, setting a password and a reset.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const SIGN_UP: &str = "/auth/sign-up";
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const SIGN_IN: &str = "/auth/sign-in";
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const PASSWORD: &str = "/auth/password";
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const RESET: &str = "/auth/reset";
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const SIGN_OUT: &str = "/auth/sign-out";

/// What a route that signs in answered: who is signed in, or the server's refusal. An answer
/// that is not the server's JSON (a proxy's page) still says something a person can read.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn signed_in(status: u16, body: &str) -> Result<SignedIn, AuthFailure> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body).map_err(|_| unreadable(status));
    }
    serde_json::from_str::<AuthFailure>(body)
        .map_err(|_| unreadable(status))
        .and_then(Err)
}

fn unreadable(status: u16) -> AuthFailure {
    AuthFailure {
        error: AuthError::Unavailable,
        message: format!(
            "the server answered in a way this page cannot read (HTTP {status}); try again"
        ),
    }
}

#[cfg(feature = "hydrate")]
pub(crate) mod browser {
    use serde::Serialize;
    use wasm_bindgen::JsValue;

    use super::{SIGN_OUT, signed_in, unreadable};
    use crate::auth::{AuthFailure, SignedIn};

    /// Sends `body` as JSON to a route that signs in.
    pub(crate) async fn post<B: Serialize>(path: &str, body: &B) -> Result<SignedIn, AuthFailure> {
        let json = serde_json::to_string(body).map_err(|_| unreadable(0))?;
        match send(path, Some(&json)).await {
            Ok((status, text)) => signed_in(status, &text),
            Err(_) => Err(AuthFailure {
                error: crate::auth::AuthError::Unavailable,
                message: "the server could not be reached; check the connection and try again"
                    .to_owned(),
            }),
        }
    }

    /// `POST /auth/sign-out`: ends this device's session and drops its cookie (a script cannot
    /// delete an HttpOnly cookie itself). Failing does not matter: the session is refused anyway.
    pub(crate) async fn sign_out() {
        let _ = send(SIGN_OUT, None).await;
    }

    /// Signs out, forgets who this browser was, leaves `note` for the next page, and reloads.
    pub(crate) async fn sign_out_and_reload(note: Option<super::super::kept::Note>) {
        sign_out().await;
        super::super::kept::forget();
        if let Some(note) = note {
            super::super::kept::leave_note(&note);
        }
        reload();
    }

    /// Loads the page again without its `#…` (an invite or a reset is used up by then), so
    /// that its handshake carries the new cookie.
    pub(crate) fn reload() {
        let Some(window) = web_sys::window() else {
            return;
        };
        let location = window.location();
        if location.hash().is_ok_and(|h| !h.is_empty()) {
            let path = format!(
                "{}{}",
                location.pathname().unwrap_or_else(|_| "/".to_owned()),
                location.search().unwrap_or_default()
            );
            if let Ok(history) = window.history() {
                let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&path));
            }
        }
        let _ = location.reload();
    }

    async fn send(path: &str, json: Option<&str>) -> Result<(u16, String), JsValue> {
        let headers: &[(&str, &str)] = match json {
            Some(_) => &[("Content-Type", "application/json")],
            None => &[],
        };
        crate::ui::fetch::request("POST", path, headers, json.map(JsValue::from_str)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Role;

    #[test]
    fn a_success_says_who_is_signed_in() {
        let answer = signed_in(200, r#"{"name":"ann","role":"admin","session":"s1"}"#);
        assert_eq!(
            answer,
            Ok(SignedIn {
                name: "ann".into(),
                role: Role::Admin,
                session: "s1".into()
            })
        );
    }

    #[test]
    fn a_refusal_keeps_the_servers_message() {
        let body = r#"{"error":"too_many_attempts","retryAfterMs":61000,"message":"too many attempts; try again in 61 s"}"#;
        let failure = signed_in(429, body).unwrap_err();
        assert_eq!(
            failure.error,
            AuthError::TooManyAttempts {
                retry_after_ms: 61_000
            }
        );
        assert_eq!(failure.message, "too many attempts; try again in 61 s");
    }

    #[test]
    fn an_answer_not_the_servers_still_reads() {
        let failure = signed_in(502, "<html>Bad gateway</html>").unwrap_err();
        assert_eq!(failure.error, AuthError::Unavailable);
        assert!(failure.message.contains("HTTP 502"), "{}", failure.message);
        assert!(signed_in(200, "").is_err());
    }
}
