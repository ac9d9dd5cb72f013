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

use leptos::prelude::*;

use super::account::{AccountState, Forms, SignedInControls, Upgrade};
#[cfg(feature = "split")]
use super::attachments::not_sent;
#[cfg(feature = "hydrate")]
use super::attachments::send_files;
use super::attachments::{Chips, Uploads};
use super::autocomplete::MentionSuggest;
use super::jobs::{NoticeList, Panel};
use super::live::LiveHandle;
#[cfg(feature = "hydrate")]
use super::live::{JobsWork, Live};
use super::mentions::MentionsPanel;
use super::message_actions::{ChangesUi, EditForm, Replying};
use super::profiles::OwnProfile;
use super::reactions::Picker;
use super::room_browser::RoomBrowser;
use super::room_settings::Members;
use super::search::{ResultsPanel, SearchState};
use super::state::ChatState;
use crate::events::{JobInfo, Reaction, ReplyQuote};

#[cfg(feature = "split")]
use leptos::wasm_split::{SplitLoaderError, wasm_split};

/// A chunk's function on its way: what [`loaded`] waits for.
#[cfg(feature = "split")]
type Loading = std::pin::Pin<Box<dyn Future<Output = Result<AnyView, SplitLoaderError>>>>;

/// Shows what a chunk's function builds, once its chunk has loaded, or why it could not.
/// Boxed, so that every part shares one instance of the future and its `Suspend`, rather than
/// one per part.
#[cfg(feature = "split")]
fn loaded(view: Loading) -> impl IntoView {
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

/// A part of the page that is a chunk of its own: `part!(name, chunk_name, (args) => view)`
/// makes `name(args) -> impl IntoView`, which shows `view` once the chunk has arrived (or
/// at once, where there are no chunks).
macro_rules! part {
    ($(#[$doc:meta])* $name:ident, $chunk:ident, ($($arg:ident: $ty:ty),* $(,)?) => $view:expr) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) -> impl IntoView {
            #[cfg(feature = "split")]
            {
                #[wasm_split($chunk, wasm_split_path = ::leptos::wasm_split, fallible)]
                fn chunk($($arg: $ty),*) -> Result<AnyView, SplitLoaderError> {
                    Ok($view.into_any())
                }
                loaded(Box::pin(chunk($($arg),*)))
            }
            #[cfg(not(feature = "split"))]
            $view
        }
    };
}

part!(
    /// The person's Jobs panel.
    jobs_panel, palaver_jobs_panel,
    (
        state: ChatState,
        live: LiveHandle,
        open: RwSignal<bool>,
        hydrated: Signal<bool>,
    ) => view! { <Panel state live open hydrated/> }
);

part!(
    /// The notices of jobs that ended, from the first one on.
    job_notices, palaver_job_notices,
    (notices: RwSignal<Vec<JobInfo>>) => view! { <NoticeList notices/> }
);

part!(
    /// The forms to sign in, up, or choose a new password.
    auth_forms, palaver_auth_forms,
    (account: AccountState, hydrated: Signal<bool>) => view! { <Forms account hydrated/> }
);

part!(
    /// The banner that offers to keep a token's name with a password.
    upgrade_banner, palaver_upgrade_banner,
    (
        account: AccountState,
        name: RwSignal<String>,
        hydrated: Signal<bool>,
        dismissed: RwSignal<bool>,
    ) => view! { <Upgrade account name hydrated dismissed/> }
);

part!(
    /// Who the page is signed in as, with "Sessions" and "Sign out".
    signed_in_controls, palaver_signed_in,
    (account: AccountState, live: LiveHandle) => view! { <SignedInControls account live/> }
);

part!(
    /// The person's own profile form.
    profile_form, palaver_profile_form,
    (state: ChatState, live: LiveHandle) => view! { <OwnProfile state live/> }
);

part!(
    /// The rooms to join, and the form to create one.
    room_browser, palaver_room_browser,
    (state: ChatState, live: LiveHandle, hydrated: Signal<bool>) => view! { <RoomBrowser state live hydrated/> }
);

part!(
    /// A room's members and settings.
    members_panel, palaver_members_panel,
    (room: StoredValue<String>, state: ChatState, live: LiveHandle) => view! { <Members room state live/> }
);

part!(
    /// The messages that mention the person, and the sound toggle.
    mentions_panel, palaver_mentions_panel,
    (state: ChatState, live: LiveHandle) => view! { <MentionsPanel state live/> }
);

part!(
    /// The search panel's filters and hits.
    search_results, palaver_search_results,
    (search: SearchState, state: ChatState, live: LiveHandle) => view! { <ResultsPanel search state live/> }
);

part!(
    /// A message's text being edited.
    edit_form, palaver_edit_form,
    (id: i64, text: String) => view! { <EditForm id text/> }
);

part!(
    /// The message the next post answers, above the composer.
    replying, palaver_replying,
    (quote: ReplyQuote, changes: ChangesUi) => view! { <Replying quote changes/> }
);

part!(
    /// The emoji to react with.
    reaction_picker, palaver_reaction_picker,
    (id: i64, given: Vec<Reaction>, picking: RwSignal<bool>) => view! { <Picker id given picking/> }
);

part!(
    /// The people to mention, under the composer.
    mention_suggest, palaver_mention_suggest,
    (room: StoredValue<String>, live: LiveHandle) => view! { <MentionSuggest room live/> }
);

part!(
    /// The chips of the files picked for the next message.
    upload_chips, palaver_upload_chips,
    (uploads: RwSignal<Uploads>) => view! { <Chips uploads/> }
);

/// The person's jobs followed by the code that does (see `Live::follow_jobs`). A chunk that
/// does not arrive is logged: the Jobs panel asks for the list again when it opens.
#[cfg(feature = "hydrate")]
pub(crate) fn jobs(live: Live, work: JobsWork) {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_jobs, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(live: Live, work: JobsWork) -> Result<(), SplitLoaderError> {
            live.jobs_work(work);
            Ok(())
        }
        leptos::task::spawn_local(async move {
            if let Err(e) = chunk(live, work).await {
                leptos::logging::error!("{e}");
            }
        });
    }
    #[cfg(not(feature = "split"))]
    live.jobs_work(work);
}

/// Sends files picked for the next message, with the code that sends them.
#[cfg(feature = "hydrate")]
pub(crate) fn upload(uploads: RwSignal<Uploads>, files: Vec<web_sys::File>) {
    #[cfg(feature = "split")]
    {
        #[wasm_split(palaver_upload, wasm_split_path = ::leptos::wasm_split, fallible)]
        fn chunk(
            uploads: RwSignal<Uploads>,
            files: Vec<web_sys::File>,
        ) -> Result<(), SplitLoaderError> {
            send_files(uploads, files);
            Ok(())
        }
        let kept = files.clone();
        leptos::task::spawn_local(async move {
            if let Err(e) = chunk(uploads, files).await {
                leptos::logging::error!("{e}");
                not_sent(
                    uploads,
                    &kept,
                    "Could not be sent: check the connection, or reload",
                );
            }
        });
    }
    #[cfg(not(feature = "split"))]
    send_files(uploads, files);
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
