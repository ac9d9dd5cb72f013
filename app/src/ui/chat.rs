//! The chat page: the header with status and name, the sidebar of conversations, the
//! conversation on screen, and the Jobs panel with its notices.

use leptos::either::Either;
use leptos::prelude::*;

use super::account::{AccountBar, AuthForms, UpgradeBanner};
use super::address::Landing;
use super::conversation::{Conversation, Drafts, Opening};
use super::drawer::{Drawer, DrawerBackdrop};
use super::focus::SkipToMessage;
use super::jobs::{JobNotices, JobsPanel};
use super::live::LiveHandle;
use super::notifications::NotifyBar;
use super::profiles::ProfileForm;
use super::search::{SearchBox, SearchPanel, SearchState};
use super::sidebar::Sidebar;
use super::state::ChatState;
use super::status::StatusBadge;
use super::timeline::Timeline;
use crate::events::ChatMessage;
use crate::history::FirstPage;

#[component]
pub(crate) fn ChatPage() -> impl IntoView {
    // Synchronous on both sides: the server loaded the messages before rendering, and the
    // browser reads the same ones from the head, so hydration needs no asynchronous step.
    match FirstPage::current().unwrap_or(FirstPage(Ok(Vec::new()))).0 {
        Ok(messages) => Either::Left(view! { <ChatRoom initial=messages/> }),
        Err(e) => Either::Right(view! {
            <main class="chat"><p class="fatal" role="alert">{format!("Could not load messages: {e}")}</p></main>
        }),
    }
}

#[component]
fn ChatRoom(initial: Vec<ChatMessage>) -> impl IntoView {
    let state = ChatState::new(initial);
    let hydrated = RwSignal::new(false);
    let live = LiveHandle::new();
    let drafts: Drafts = StoredValue::new(Default::default());
    let jobs_open = RwSignal::new(false);
    let search = SearchState::new();
    let drawer = Drawer::provide(state.active);

    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        live.start(state);
        #[cfg(feature = "hydrate")]
        super::address::follow(state, live);
        hydrated.set(true);
    });
    let hydrated: Signal<bool> = hydrated.into();
    let name_draft = state.name_draft;
    let name_error = state.name_error;

    view! {
        <main class="chat" data-hydrated=move || hydrated.get().to_string()>
            <SkipToMessage/>
            <header class="topbar">
                <h1 class="brand">"Palaver"</h1>
                <StatusBadge status=state.status/>
                <SearchBox search hydrated/>
                <NotifyBar state live hydrated/>
                <label class="name">
                    <span class="visually-hidden">"Display name"</span>
                    <input
                        id="display-name"
                        aria-label="Display name"
                        autocomplete="nickname"
                        maxlength="32"
                        placeholder="Pick a name"
                        aria-invalid=move || name_error.get().is_some().to_string()
                        aria-describedby="name-error"
                        prop:value=move || name_draft.get()
                        disabled=move || !hydrated.get()
                        on:input=move |ev| {
                            // Editing answers the error: it stays until then.
                            name_draft.set(event_target_value(&ev));
                            name_error.set(None);
                        }
                        on:change=move |ev| {
                            let value = event_target_value(&ev);
                            live.run(|l| l.rename(value.clone()));
                        }
                    />
                </label>
                <AccountBar account=state.account live hydrated/>
                <p id="name-error" class="name-error" role="alert">{move || name_error.get()}</p>
                <ProfileForm state live/>
            </header>
            <AuthForms account=state.account hydrated/>
            <UpgradeBanner account=state.account name=state.name hydrated/>
            <div class="layout" class:drawer-open=move || drawer.is_open()>
                <Sidebar state live hydrated jobs_open/>
                <DrawerBackdrop drawer/>
                // Drawn afresh for each conversation: its own scroll position and composer.
                {move || {
                    if let Some(title) = state.landing.with(|l| l.as_ref().map(Landing::title)) {
                        return Either::Left(view! { <Opening title/> });
                    }
                    let room = state.active.get();
                    let timeline = state
                        .timeline(&room)
                        .unwrap_or_else(|| ArcRwSignal::new(Timeline::loading(&room)));
                    Either::Right(view! { <Conversation room timeline state live hydrated drafts/> })
                }}
            </div>
            <SearchPanel search state live/>
            <JobsPanel state live open=jobs_open hydrated/>
            <JobNotices notices=state.job_notices/>
        </main>
    }
}
