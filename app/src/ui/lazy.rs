//! The parts of the page that a first visit does not show: in the browser each is a chunk of
//! the wasm of its own, fetched when it is first shown (feature `split`, built with
//! `cargo leptos build --split --lib-features split`). On the server, and in builds without
//! the feature, they are ordinary views.
//!
//! A lazy function builds its view with the arguments it is given, under the owner of the
//! place that shows it; a closed panel asks for it only when it opens, so hydration never
//! waits for a chunk. `/admin` is the exception: the server renders it, so the browser loads
//! its chunk before hydrating (`crate::hydrate`).

// Leptos's `#[lazy]` expands to the `extern` import and export that `wasm-split` rewrites;
// this module holds no unsafe code of its own.
#![cfg_attr(feature = "split", allow(unsafe_code))]

use leptos::prelude::*;

use super::account::{AccountState, Forms, SignedInControls, Upgrade};
use super::jobs::{Panel, PanelArgs};
use super::live::LiveHandle;
use super::profiles::OwnProfile;
use super::room_settings::Members;
use super::state::ChatState;

/// Shows what a chunk's function builds, once the chunk has loaded.
#[cfg(feature = "split")]
fn loaded(view: impl Future<Output = AnyView> + 'static) -> impl IntoView {
    Suspend::new(send_wrapper::SendWrapper::new(view))
}

/// The person's Jobs panel.
pub(crate) fn jobs_panel(args: PanelArgs) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[leptos::lazy]
        fn jobs_panel_chunk(args: PanelArgs) -> AnyView {
            jobs_panel_view(args).into_any()
        }
        loaded(jobs_panel_chunk(args))
    }
    #[cfg(not(feature = "split"))]
    jobs_panel_view(args)
}

fn jobs_panel_view(args: PanelArgs) -> impl IntoView {
    let PanelArgs {
        state,
        live,
        open,
        opener,
        hydrated,
    } = args;
    view! { <Panel state live open opener hydrated/> }
}

/// The forms to sign in, up, or choose a new password.
pub(crate) fn auth_forms(account: AccountState, hydrated: Signal<bool>) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[leptos::lazy]
        fn auth_forms_chunk(account: AccountState, hydrated: Signal<bool>) -> AnyView {
            view! { <Forms account hydrated/> }.into_any()
        }
        loaded(auth_forms_chunk(account, hydrated))
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
        #[leptos::lazy]
        fn upgrade_banner_chunk(
            account: AccountState,
            name: RwSignal<String>,
            hydrated: Signal<bool>,
            dismissed: RwSignal<bool>,
        ) -> AnyView {
            view! { <Upgrade account name hydrated dismissed/> }.into_any()
        }
        loaded(upgrade_banner_chunk(account, name, hydrated, dismissed))
    }
    #[cfg(not(feature = "split"))]
    view! { <Upgrade account name hydrated dismissed/> }
}

/// Who the page is signed in as, with "Sessions" and "Sign out".
pub(crate) fn signed_in_controls(account: AccountState, live: LiveHandle) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[leptos::lazy]
        fn signed_in_controls_chunk(account: AccountState, live: LiveHandle) -> AnyView {
            view! { <SignedInControls account live/> }.into_any()
        }
        loaded(signed_in_controls_chunk(account, live))
    }
    #[cfg(not(feature = "split"))]
    view! { <SignedInControls account live/> }
}

/// The person's own profile form.
pub(crate) fn profile_form(state: ChatState, live: LiveHandle) -> impl IntoView {
    #[cfg(feature = "split")]
    {
        #[leptos::lazy]
        fn profile_form_chunk(state: ChatState, live: LiveHandle) -> AnyView {
            view! { <OwnProfile state live/> }.into_any()
        }
        loaded(profile_form_chunk(state, live))
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
        #[leptos::lazy]
        fn members_panel_chunk(
            room: StoredValue<String>,
            state: ChatState,
            live: LiveHandle,
        ) -> AnyView {
            view! { <Members room state live/> }.into_any()
        }
        loaded(members_panel_chunk(room, state, live))
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
pub(crate) async fn load_admin() {
    #[leptos::lazy]
    fn admin_page_chunk() -> fn() -> AnyView {
        || view! { <super::admin::AdminPage/> }.into_any()
    }
    let _ = ADMIN_PAGE.set(admin_page_chunk().await);
}
