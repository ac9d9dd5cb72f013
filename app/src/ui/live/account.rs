//! Accounts on the connection: the `account` a session cookie signs in, its sessions, and
//! being signed out (from another device, by a reset, or refused at connect).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use super::ACK_TIMEOUT;
use super::browser::{Live, load_token};
use crate::events::{Account, EndSession, ListSessions, Refusal, SignedOut};
use crate::ui::account::{Form, Fragment, Note, SessionList, kept, sign_out_and_reload};
use crate::ui::state::ChatState;

/// Opens what the page's address or the page before it asked for: a join link's sign-up, a
/// reset link's form, or the sign-in form under "You were signed out".
pub(super) fn prepare(state: &ChatState) {
    let account = state.account;
    if let Some(note) = kept::take_note() {
        account.ask_sign_in(&note.name, Some(note.message));
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let follow = move || {
        let hash = web_sys::window().and_then(|w| w.location().hash().ok());
        if let Some(fragment) = hash.as_deref().and_then(Fragment::parse) {
            account.open_for(fragment);
        }
    };
    follow();
    // A link pasted into this tab changes only the fragment: the page is not loaded again.
    let on_change = Closure::<dyn Fn()>::new(follow);
    let _ =
        window.add_event_listener_with_callback("hashchange", on_change.as_ref().unchecked_ref());
    // For the page's lifetime, as the page's socket.
    on_change.forget();
}

impl Live {
    pub(super) fn follow_account(&self) {
        let this = self.clone();
        self.socket.on(move |a: Account| this.account(a));
        let this = self.clone();
        self.socket
            .on(move |s: SignedOut| this.signed_out(Some(s.reason)));
    }

    /// The cookie signed this connection in as `a.name`.
    fn account(&self, a: Account) {
        kept::signed_in(&a.name);
        let asked = self.wanted.borrow_mut().take();
        let state = self.state;
        state.name.set(a.name.clone());
        if asked.is_some() || state.name_error.get_untracked().is_none() {
            state.name_error.set(None);
            state.name_draft.set(a.name.clone());
        }
        state.account.token_held.set(false);
        if matches!(
            state.account.form.get_untracked(),
            Some(Form::SignIn | Form::SignUp)
        ) {
            state.account.form.set(None);
        }
        state.account.account.set(Some(a));
    }

    /// The person signs out here: the server's `signed out` that follows is this, not news.
    pub(crate) fn sign_out(&self) {
        if std::mem::replace(&mut self.books.borrow_mut().leaving, true) {
            return;
        }
        spawn_local(sign_out_and_reload(None));
    }

    /// This device's session ended: drop its cookie, and start again signed out, saying so.
    pub(super) fn signed_out(&self, reason: Option<String>) {
        if std::mem::replace(&mut self.books.borrow_mut().leaving, true) {
            return;
        }
        let message = match reason.as_deref().map(str::trim) {
            Some(reason) if !reason.is_empty() => format!("You were signed out: {reason}"),
            _ => "You were signed out".to_owned(),
        };
        let name = self.state.name.get_untracked();
        spawn_local(sign_out_and_reload(Some(Note { message, name })));
    }

    /// A refusal about accounts: shows what to do. Whether connecting again (as a guest) can
    /// work.
    pub(super) fn account_refused(&self, refusal: Refusal) -> bool {
        let state = self.state;
        let name = state.name.get_untracked();
        match refusal {
            Refusal::SignedOut => {
                self.signed_out(None);
                false
            }
            Refusal::SignInRequired => {
                let had_token = load_token().is_some();
                // The token's name signs in with a password now; the token is useless.
                kept::forget();
                self.wanted.borrow_mut().take();
                state.account.token_held.set(false);
                let note = if had_token {
                    format!("“{name}” has a password now: sign in with it")
                } else {
                    "Sign in to chat on this server".to_owned()
                };
                state.account.ask_sign_in(&name, Some(note));
                if had_token {
                    self.forget_jobs();
                    state.name.set(String::new());
                }
                // As a guest, if the server lets guests in; refused again otherwise, and then
                // without a token.
                had_token
            }
            Refusal::SignUpClosed => {
                self.wanted.borrow_mut().take();
                kept::forget();
                state.name.set(String::new());
                state.name_error.set(Some(
                    "This server is invite-only: sign up with a join link, or sign in".to_owned(),
                ));
                state.account.ask_sign_in(
                    "",
                    Some("This server is invite-only: a new name needs a join link".to_owned()),
                );
                true
            }
            _ => false,
        }
    }

    pub(crate) fn list_sessions(&self, list: SessionList) {
        let socket = self.socket.clone();
        spawn_local(async move {
            let answer = socket.emit_with_ack(&ListSessions {}, ACK_TIMEOUT).await;
            list.set(Some(match answer.map(|r| r.into_result()) {
                Ok(Ok(sessions)) => Ok(sessions),
                Ok(Err(e)) => Err(format!("Cannot list the sessions: {e}")),
                Err(e) => Err(format!("Cannot list the sessions: {e:?}")),
            }));
        });
    }

    /// Signs the session `id` out (another device of ours), then lists them again.
    pub(crate) fn end_session(&self, id: String, list: SessionList) {
        let this = self.clone();
        spawn_local(async move {
            let answer = this
                .socket
                .emit_with_ack(&EndSession { id }, ACK_TIMEOUT)
                .await;
            match answer.map(|r| r.into_result()) {
                Ok(Ok(())) => this.list_sessions(list),
                Ok(Err(e)) => list.set(Some(Err(format!("Not ended: {e}")))),
                Err(e) => list.set(Some(Err(format!("Not ended: {e:?}")))),
            }
        });
    }
}
