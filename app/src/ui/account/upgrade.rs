//! The banner that offers a person whose name is held by this browser's token to keep it with
//! a password: the name then signs in on any device. One line in the page's flow, so it covers
//! nothing; "Not now" hides it until the next load.

use leptos::prelude::*;

use super::AccountState;
use crate::auth::validate_password;

/// The banner, whose code is loaded when it is first shown (`ui::lazy`): the server's page
/// never holds a token.
#[component]
pub(crate) fn UpgradeBanner(
    account: AccountState,
    /// Who the token holds.
    name: RwSignal<String>,
    hydrated: Signal<bool>,
) -> impl IntoView {
    let dismissed = RwSignal::new(false);
    let shown = move || {
        account.token_held.get()
            && account.account.with(Option::is_none)
            && !dismissed.get()
            && !name.with(String::is_empty)
    };
    view! {
        <Show when=shown>{crate::ui::lazy::upgrade_banner(account, name, hydrated, dismissed)}</Show>
    }
}

#[component]
pub(crate) fn Upgrade(
    account: AccountState,
    name: RwSignal<String>,
    hydrated: Signal<bool>,
    /// "Not now" was chosen: kept by [`UpgradeBanner`] until the next load.
    dismissed: RwSignal<bool>,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let shown = move || {
        account.token_held.get()
            && account.account.with(Option::is_none)
            && !dismissed.get()
            && !name.with(String::is_empty)
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let typed = password.get_untracked();
        if let Err(e) = validate_password(&typed) {
            return error.set(Some(e.to_string()));
        }
        error.set(None);
        #[cfg(feature = "hydrate")]
        send(typed, busy, error);
    };
    view! {
        <Show when=shown>
            <form class="upgrade" data-testid="upgrade" on:submit=submit>
                <span class="upgrade-text">
                    {move || format!("Set a password to keep “{}” and sign in on other devices", name.get())}
                </span>
                <input
                    type="password"
                    aria-label="Password to keep your name"
                    autocomplete="new-password"
                    placeholder="New password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                    disabled=move || !hydrated.get()
                />
                <button type="submit" disabled=move || !hydrated.get() || busy.get()>"Set password"</button>
                <button type="button" class="link" on:click=move |_| dismissed.set(true)>"Not now"</button>
                <span class="upgrade-error" data-testid="upgrade-error" role="alert">{move || error.get()}</span>
            </form>
        </Show>
    }
}

/// `POST /auth/password {token, password}`: the token's name becomes an account, signed in
/// on this device; the token stops working.
#[cfg(feature = "hydrate")]
fn send(password: String, busy: RwSignal<bool>, error: RwSignal<Option<String>>) {
    use super::http::{PASSWORD, browser::post};
    use crate::auth::SetPassword;
    let Some(token) = crate::ui::live::session_token() else {
        return error.set(Some("This browser holds no name to keep".to_owned()));
    };
    busy.set(true);
    leptos::task::spawn_local(async move {
        let body = SetPassword {
            token: Some(token),
            current: None,
            password,
        };
        match post(PASSWORD, &body).await {
            Ok(signed) => {
                super::kept::signed_in(&signed.name);
                super::reload();
            }
            Err(failure) => {
                busy.set(false);
                error.set(Some(failure.message));
            }
        }
    });
}
