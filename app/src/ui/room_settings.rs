//! A room's members and settings: the panel its header's Members button opens. Anyone in a
//! room adds people to it by name; its owner and the server's moderators also take them out
//! and choose whether it is listed and who posts in it.

use leptos::either::Either;
use leptos::prelude::*;

use super::live::LiveHandle;
use super::state::ChatState;
use crate::events::{MAX_NAME_CHARS, Posting, RoomInfo, RoomSettings};

/// What replaces the composer where only the room's owner and moderators post, and why a
/// send there failed.
pub(crate) const READ_ONLY: &str = "Only the owner and moderators post here";

/// How the panel's last request went: shown until the field it came from is edited.
// Only the browser's live side makes them.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Done(String),
    Refused(String),
}

/// The panel, whose code is loaded when it first opens (`ui::lazy`): it is closed on every
/// page load.
#[component]
pub(crate) fn MembersPanel(
    room: StoredValue<String>,
    state: ChatState,
    live: LiveHandle,
) -> impl IntoView {
    crate::ui::lazy::members_panel(room, state, live)
}

#[component]
pub(crate) fn Members(
    room: StoredValue<String>,
    state: ChatState,
    live: LiveHandle,
) -> impl IntoView {
    let info = move || state.rooms.with(|r| r.get(&room.get_value()).cloned());
    let setting = move |f: fn(&RoomInfo) -> bool| info().is_some_and(|i| f(&i));
    let manage = move || setting(|i| i.manage);
    let name = RwSignal::new(String::new());
    let member = RwSignal::new(None::<Outcome>);
    let settings = RwSignal::new(None::<Outcome>);
    // Someone added or removed: the field is free for the next name.
    Effect::new(move || {
        if matches!(member.get(), Some(Outcome::Done(_))) {
            name.set(String::new());
        }
    });
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        live.run(|l| l.add_member(room.get_value(), name.get_untracked(), member));
    };
    let remove = move |_| {
        live.run(|l| l.remove_member(room.get_value(), name.get_untracked(), member));
    };
    let change = move |listed: Option<bool>, posting: Option<Posting>| {
        let request = RoomSettings {
            room: room.get_value(),
            listed,
            posting,
        };
        live.run(|l| l.change_settings(request.clone(), settings));
    };
    let label = move || format!("Members of #{}", room.get_value());

    view! {
        <section
            id="members-panel"
            class="members-panel"
            data-testid="members-panel"
            aria-label=label
        >
            <form class="member-form" on:submit=add>
                <input
                    aria-label="Member name"
                    data-testid="member-name"
                    placeholder="Name…"
                    autocomplete="off"
                    maxlength=MAX_NAME_CHARS.to_string()
                    prop:value=move || name.get()
                    on:input=move |ev| {
                        name.set(event_target_value(&ev));
                        member.set(None);
                    }
                />
                <button type="submit" data-testid="member-add">"Add"</button>
                <Show when=manage>
                    <button type="button" data-testid="member-remove" on:click=remove>
                        "Remove"
                    </button>
                </Show>
            </form>
            <OutcomeLine outcome=member testid="member-note"/>
            <Show when=manage>
                <div class="room-settings">
                    // A private room is never browsed: listing it means nothing.
                    <Show when=move || !setting(|i| i.private)>
                        <label>
                            <input
                                type="checkbox"
                                data-testid="room-listed"
                                prop:checked=move || setting(|i| i.listed)
                                on:change=move |ev| change(Some(event_target_checked(&ev)), None)
                            />
                            "Listed"
                        </label>
                    </Show>
                    <label>
                        <input
                            type="checkbox"
                            data-testid="room-managers-only"
                            prop:checked=move || setting(|i| i.posting == Posting::Managers)
                            on:change=move |ev| {
                                let posting = if event_target_checked(&ev) {
                                    Posting::Managers
                                } else {
                                    Posting::Members
                                };
                                change(None, Some(posting));
                            }
                        />
                        "Only the owner and moderators post"
                    </label>
                </div>
                <OutcomeLine outcome=settings testid="room-settings-note"/>
            </Show>
        </section>
    }
}

/// A private room's mark, beside its name in the sidebar and the header. Drawn, so that it
/// shows without an emoji font.
#[component]
pub(crate) fn Lock() -> impl IntoView {
    view! {
        <span class="lock" data-testid="room-private" role="img" aria-label="private" title="private">
            <svg aria-hidden="true" viewBox="0 0 16 16" width="12" height="12">
                <path
                    fill="currentColor"
                    d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7zm2 0h4V5a2 2 0 0 0-4 0z"
                />
            </svg>
        </span>
    }
}

/// The outcome of the panel's last request, if it has one to tell.
#[component]
fn OutcomeLine(outcome: RwSignal<Option<Outcome>>, testid: &'static str) -> impl IntoView {
    move || {
        outcome.get().map(|o| match o {
            Outcome::Done(text) => Either::Left(view! {
                <p class="panel-note" role="status" data-testid=testid data-outcome="done">{text}</p>
            }),
            Outcome::Refused(text) => Either::Right(view! {
                <p class="panel-note error" role="alert" data-testid=testid data-outcome="refused">{text}</p>
            }),
        })
    }
}
