//! Accounts on the chat page: who the page is signed in as, the controls to sign in, up and
//! out (`bar.rs`), their forms (`forms.rs`), the banner that turns a name held by this
//! browser's token into an account (`upgrade.rs`), the devices signed in (`sessions.rs`),
//! and the HTTP routes behind them (`http.rs`).
//!
//! Signing in is HTTP because only an HTTP answer can set the HttpOnly session cookie; every
//! success reloads the page, whose new handshake then carries the cookie.

mod bar;
mod forms;
mod http;
mod sessions;
mod upgrade;

pub(crate) use bar::{AccountBar, SignedInControls};
pub(crate) use forms::{AuthForms, Forms};
pub(crate) use sessions::SessionList;
pub(crate) use upgrade::{Upgrade, UpgradeBanner};

#[cfg(feature = "hydrate")]
pub(crate) use http::browser::{reload, sign_out_and_reload};
#[cfg(feature = "hydrate")]
pub(crate) use kept::Note;

use leptos::prelude::*;

use crate::events::Account;

/// The account forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    SignIn,
    SignUp,
    /// A new password with an administrator's reset code (`/#reset=<code>`).
    Reset,
}

/// The page's accounts side, as signals: the live side writes who we are, the forms the rest.
#[derive(Clone, Copy)]
pub(crate) struct AccountState {
    /// The account this page is signed in as (the server's `account`).
    pub(crate) account: RwSignal<Option<Account>>,
    /// The name is held by this browser's token (the server's `session`), not a password.
    pub(crate) token_held: RwSignal<bool>,
    /// The form on screen, if any.
    pub(crate) form: RwSignal<Option<Form>>,
    /// Why the form is on screen ("You were signed out"), shown above it.
    pub(crate) note: RwSignal<Option<String>>,
    /// The name the sign-in form starts with.
    pub(crate) name: RwSignal<String>,
    /// The join link's code, from `/#invite=<code>`.
    pub(crate) invite: RwSignal<String>,
    /// The reset link's code, from `/#reset=<code>`.
    pub(crate) reset: RwSignal<String>,
}

impl AccountState {
    pub(crate) fn new() -> AccountState {
        AccountState {
            account: RwSignal::new(None),
            token_held: RwSignal::new(false),
            form: RwSignal::new(None),
            note: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            invite: RwSignal::new(String::new()),
            reset: RwSignal::new(String::new()),
        }
    }

    /// Opens the page's form for what its address asks: `#invite=…` or `#reset=…`.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) fn open_for(&self, fragment: Fragment) {
        match fragment {
            Fragment::Invite(code) => {
                self.invite.set(code);
                self.form.set(Some(Form::SignUp));
            }
            Fragment::Reset(code) => {
                self.reset.set(code);
                self.form.set(Some(Form::Reset));
            }
        }
    }

    /// Shows the sign-in form, starting with `name`, under `note`.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) fn ask_sign_in(&self, name: &str, note: Option<String>) {
        if !name.is_empty() {
            self.name.set(name.to_owned());
        }
        if note.is_some() {
            self.note.set(note);
        }
        // A reset or sign-up under way is what the person came for: leave it.
        if self.form.get_untracked().is_none() {
            self.form.set(Some(Form::SignIn));
        }
    }
}

/// What the page's address asks for after `#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fragment {
    /// `#invite=<code>`: sign up with a join link.
    Invite(String),
    /// `#reset=<code>`: choose a new password.
    Reset(String),
}

impl Fragment {
    /// Reads `location.hash` (with or without its `#`); `None` for anything else.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) fn parse(hash: &str) -> Option<Fragment> {
        let hash = hash.strip_prefix('#').unwrap_or(hash);
        hash.split('&').find_map(|pair| {
            let (key, code) = pair.split_once('=')?;
            let code = code.trim();
            if code.is_empty() {
                return None;
            }
            match key {
                "invite" => Some(Fragment::Invite(code.to_owned())),
                "reset" => Some(Fragment::Reset(code.to_owned())),
                _ => None,
            }
        })
    }
}

/// What this browser keeps about accounts, beside the name and token `live` keeps.
#[cfg(feature = "hydrate")]
pub(crate) mod kept {
    use serde::{Deserialize, Serialize};

    use crate::ui::live::{NAME_KEY, TOKEN_KEY};

    /// Set while the page is signed in by its cookie: the saved name is then the account's,
    /// shown but never claimed (a claim with the cookie would rename the account).
    const ACCOUNT_KEY: &str = "palaver.account";
    /// A note for the next load of this tab (sessionStorage): why it was signed out.
    const NOTE_KEY: &str = "palaver.note";

    /// What a page tells the page that replaces it.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    pub(crate) struct Note {
        pub(crate) message: String,
        /// The name to sign in with again.
        #[serde(default)]
        pub(crate) name: String,
    }

    fn local() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    fn session() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok()?
    }

    pub(crate) fn is_account() -> bool {
        local()
            .and_then(|s| s.get_item(ACCOUNT_KEY).ok().flatten())
            .is_some()
    }

    /// Signed in as `name` by the cookie: no token any more, and the name is the account's.
    pub(crate) fn signed_in(name: &str) {
        if let Some(s) = local() {
            let _ = s.set_item(ACCOUNT_KEY, "1");
            let _ = s.set_item(NAME_KEY, name);
            let _ = s.remove_item(TOKEN_KEY);
        }
    }

    /// The name is held by a token again (or still): not an account.
    pub(crate) fn held_by_token() {
        if let Some(s) = local() {
            let _ = s.remove_item(ACCOUNT_KEY);
        }
    }

    /// Nobody: the next load is a guest's.
    pub(crate) fn forget() {
        if let Some(s) = local() {
            for key in [ACCOUNT_KEY, NAME_KEY, TOKEN_KEY] {
                let _ = s.remove_item(key);
            }
        }
    }

    pub(crate) fn leave_note(note: &Note) {
        if let (Some(s), Ok(json)) = (session(), serde_json::to_string(note)) {
            let _ = s.set_item(NOTE_KEY, &json);
        }
    }

    /// The note the previous page left, once.
    pub(crate) fn take_note() -> Option<Note> {
        let s = session()?;
        let json = s.get_item(NOTE_KEY).ok().flatten()?;
        let _ = s.remove_item(NOTE_KEY);
        crate::client::args::read(&json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragment_names_an_invite_or_a_reset() {
        assert_eq!(
            Fragment::parse("#invite=abc123"),
            Some(Fragment::Invite("abc123".into()))
        );
        assert_eq!(
            Fragment::parse("#reset=R-9_x"),
            Some(Fragment::Reset("R-9_x".into()))
        );
        assert_eq!(
            Fragment::parse("#x=1&invite=c"),
            Some(Fragment::Invite("c".into()))
        );
        for other in ["", "#", "#invite=", "#invite", "#room=general", "invites=a"] {
            assert_eq!(Fragment::parse(other), None, "{other}");
        }
    }
}
