//! The parts of the page that a first visit does not show: in the browser each is a chunk of
//! the wasm of its own, fetched when it is first shown (feature `split`, built with
//! `cargo leptos build --split --lib-features split`). On the server, and in builds without
//! the feature, they are ordinary views.
//!
//! A chunk's function builds its view with the arguments it is given, under the owner of the
//! place that shows it. Every part here is closed or empty in the page the server renders
//! (a panel not yet opened, a form, what only the socket tells), so hydration never waits for
//! a chunk. `/admin` is the exception: the server renders it, so the browser loads its chunk
//! before hydrating (`crate::hydrate`).
//!
//! A chunk that cannot be loaded (the network, or a server upgraded under an open page) says
//! so in place of its part, and is asked for again the next time that part is shown.

// `wasm_split` expands to the `extern` import and export that `cargo leptos build --split`
// rewrites into a call to the chunk; this module holds no unsafe code of its own.
#![cfg_attr(feature = "split", allow(unsafe_code))]

use leptos::html;
use leptos::prelude::*;

use super::account::{AccountState, Forms, SignedInControls, Upgrade};
use super::jobs::Panel;
use super::live::LiveHandle;
use super::profiles::OwnProfile;
use super::room_settings::Members;
use super::state::ChatState;

#[cfg(feature = "split")]
use leptos::wasm_split::{SplitLoaderError, wasm_split};

/// Shows what a chunk's function builds, once its chunk has loaded, or why it could not.
#[cfg(feature = "split")]
fn loaded(
    view: impl Future<Output = Result<AnyView, SplitLoaderError>> + 'static,
) -> impl IntoView {
    Suspend::new(send_wrapper::SendWrapper::new(async move {
        view.await.unwrap_or_else(failed)
    }))
}

/// What shows in place of a part whose chunk could not be loaded: one function for every part,
/// rather than a copy in each [`loaded`].
#[cfg(feature = "split")]
fn failed(e: SplitLoaderError) -> AnyView {
    leptos::logging::error!("{e}");
    view! {
        <p class="chunk-error" role="alert">
            "This part of the page could not be loaded. Check the connection, or reload the page."
        </p>
    }
    .into_any()
}

/// The person's Jobs panel.
pub(crate) fn jobs_panel(
    state: ChatState,
    live: LiveHandle,
    open: RwSignal<bool>,
    opener: NodeRef<html::Button>,
    hydrated: Signal<bool>,
) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_jobs_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(
            state: ChatState,
            live: LiveHandle,
            open: RwSignal<bool>,
            opener: NodeRef<html::Button>,
            hydrated: Signal<bool>,
        ) -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <Panel state live open opener hydrated/> }.into_any())
        }
        loaded(chunk(state, live, open, opener, hydrated))
    }
    #[cfg(not(feature = "split"))]
    view! { <Panel state live open opener hydrated/> }
}

/// The forms to sign in, up, or choose a new password.
pub(crate) fn auth_forms(account: AccountState, hydrated: Signal<bool>) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_auth_forms, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(
            account: AccountState,
            hydrated: Signal<bool>,
        ) -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <Forms account hydrated/> }.into_any())
        }
        loaded(chunk(account, hydrated))
    }
    #[cfg(not(feature = "split"))]
    view! { <Forms account hydrated/> }
}

/// The banner that offers to keep a token's name with a password.
pub(crate) fn upgrade_banner(
    account: AccountState,
    name: RwSignal<String>,
    hydrated: Signal<bool>,
    dismissed: RwSignal<bool>,
) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_upgrade_banner, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(
            account: AccountState,
            name: RwSignal<String>,
            hydrated: Signal<bool>,
            dismissed: RwSignal<bool>,
        ) -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <Upgrade account name hydrated dismissed/> }.into_any())
        }
        loaded(chunk(account, name, hydrated, dismissed))
    }
    #[cfg(not(feature = "split"))]
    view! { <Upgrade account name hydrated dismissed/> }
}

/// Who the page is signed in as, with "Sessions" and "Sign out".
pub(crate) fn signed_in_controls(account: AccountState, live: LiveHandle) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(account: AccountState, live: LiveHandle) -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <SignedInControls account live/> }.into_any())
        }
        loaded(chunk(account, live))
    }
    #[cfg(not(feature = "split"))]
    view! { <SignedInControls account live/> }
}

/// The person's own profile form.
pub(crate) fn profile_form(state: ChatState, live: LiveHandle) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_profile_form, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(state: ChatState, live: LiveHandle) -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <OwnProfile state live/> }.into_any())
        }
        loaded(chunk(state, live))
    }
    #[cfg(not(feature = "split"))]
    view! { <OwnProfile state live/> }
}

/// A room's members and settings.
pub(crate) fn members_panel(
    room: StoredValue<String>,
    state: ChatState,
    live: LiveHandle,
) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_members_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(
            room: StoredValue<String>,
            state: ChatState,
            live: LiveHandle,
        ) -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <Members room state live/> }.into_any())
        }
        loaded(chunk(room, state, live))
    }
    #[cfg(not(feature = "split"))]
    view! { <Members room state live/> }
}

/// `/admin`'s page: on the server the page itself; in the browser, made by the chunk that
/// [`load_admin`] fetched before hydration.
pub(crate) fn admin_page() -> impl IntoView {
    #[cfg(feature = "split")]
    {
        ADMIN_PAGE
            .get()
            .map(|make| make())
            .unwrap_or_else(|| ().into_any())
    }
    #[cfg(not(feature = "split"))]
    view! { <super::admin::AdminPage/> }
}

#[cfg(feature = "split")]
static ADMIN_PAGE: std::sync::OnceLock<fn() -> AnyView> = std::sync::OnceLock::new();

/// Fetches `/admin`'s chunk, for [`admin_page`] to build the page with.
#[cfg(feature = "split")]
pub(crate) async fn load_admin() -> Result<(), SplitLoaderError> {
    #[wasm_split(palaver_admin_page, wasm_split_path = ::leptos::wasm_split, fallible)]
    fn chunk() -> Result<fn() -> AnyView, SplitLoaderError> {
        Ok(|| view! { <super::admin::AdminPage/> }.into_any())
    }
    let make = chunk().await?;
    let _ = ADMIN_PAGE.set(make);
    Ok(())
}
