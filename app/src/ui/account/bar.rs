//! The header's accounts controls: for a guest or a name held by a token, "Sign in" and
//! "Sign up"; signed in, the account's name and role, "Sessions" and "Sign out".

use leptos::prelude::*;

use super::sessions::{SessionList, SessionsPanel};
use super::{AccountState, Form};
use crate::events::Role;
use crate::ui::live::LiveHandle;

#[component]
pub(crate) fn AccountBar(
    account: AccountState,
    live: LiveHandle,
    hydrated: Signal<bool>,
) -> impl IntoView {
    let signed_in = move || account.account.with(Option::is_some);
    view! {
        <div class="account" data-testid="account">
            <Show
                when=signed_in
                fallback=move || view! { <GuestControls account hydrated/> }
            >
                // Only after the socket says who we are: loaded then (`ui::lazy`).
                {crate::ui::lazy::signed_in_controls(account, live)}
            </Show>
        </div>
    }
}

#[component]
fn GuestControls(account: AccountState, hydrated: Signal<bool>) -> impl IntoView {
    let open = move |form: Form| {
        account.note.set(None);
        account.form.set(Some(form));
    };
    // The form has its own buttons; two "Sign in"s would read as two things.
    let closed = move || hydrated.get() && account.form.with(Option::is_none);
    view! {
        <Show when=closed>
            <button type="button" class="link" on:click=move |_| open(Form::SignIn)>"Sign in"</button>
            <button type="button" class="link" on:click=move |_| open(Form::SignUp)>"Sign up"</button>
        </Show>
    }
}

#[component]
pub(crate) fn SignedInControls(account: AccountState, live: LiveHandle) -> impl IntoView {
    let sessions_open = RwSignal::new(false);
    let list: SessionList = RwSignal::new(None);
    let name = move || account.account.with(|a| a.as_ref().map(|a| a.name.clone()));
    let role = move || account.account.with(|a| a.as_ref().map(|a| a.role));
    let toggle_sessions = move |_| {
        let open = !sessions_open.get_untracked();
        sessions_open.set(open);
        if open {
            list.set(None);
            live.run(|l| l.list_sessions(list));
        }
    };
    let sign_out = move |_| live.run(|l| l.sign_out());
    view! {
        <span class="who">
            "Signed in as "
            <strong data-testid="account-name">{name}</strong>
            " "
            <span class="role" data-testid="account-role" data-role=move || role().map(Role::as_str)>
                {move || role().map(role_label)}
            </span>
        </span>
        <button
            type="button"
            class="link"
            aria-expanded=move || sessions_open.get().to_string()
            on:click=toggle_sessions
        >
            "Sessions"
        </button>
        <button type="button" class="link" on:click=sign_out>"Sign out"</button>
        <Show when=move || sessions_open.get()>
            <SessionsPanel live list/>
        </Show>
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Member => "member",
        Role::Moderator => "moderator",
        Role::Admin => "administrator",
    }
}
