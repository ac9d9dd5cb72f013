//! The rooms to join, under the sidebar's "More rooms": found a page at a time and by name,
//! or joined by name, and the form to create a room (private or not). A chunk of its own
//! (`ui::lazy`), loaded when the heading is first opened; it asks for the first page then, and
//! again after each reconnect while it is open.

use leptos::prelude::*;

use super::live::LiveHandle;
use super::rooms::counts_line;
use super::sidebar::row_key;
use super::state::ChatState;
use super::status::Status;
use crate::events::MAX_ROOM_NAME_CHARS;

#[component]
pub(crate) fn RoomBrowser(
    state: ChatState,
    live: LiveHandle,
    hydrated: Signal<bool>,
) -> impl IntoView {
    let new_room = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let find = RwSignal::new(String::new());
    // Rooms created or emptied since the list was last asked for: the first page again, now
    // and whenever the socket is back.
    Effect::new(move |_| {
        if state.status.get() == Status::Connected {
            live.run(|l| l.browse(find.get_untracked()));
        }
    });
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        live.run(|l| l.create(new_room.get_untracked(), private.get_untracked()));
        new_room.set(String::new());
        private.set(false);
    };
    // An unlisted room is joined by its name: the one typed to find it.
    let join_named = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        live.run(|l| l.join_by_name(find.get_untracked()));
    };
    let matching = move || state.browse.with(|b| b.matching.clone());
    let others = move || {
        let matching = matching();
        state.rooms.with(|r| r.others(&matching))
    };
    let more_follow = move || state.browse.with(|b| b.next.is_some());
    let loading = move || state.browse.with(|b| b.loading);
    let none_left = move || {
        state.browse.with(|b| b.answered) && !loading() && !more_follow() && others().is_empty()
    };
    view! {
        <div id="room-browser" class="room-browser">
            <form class="side-form" on:submit=create>
                <input
                    aria-label="New room name"
                    placeholder="New room…"
                    autocomplete="off"
                    maxlength=MAX_ROOM_NAME_CHARS.to_string()
                    prop:value=move || new_room.get()
                    on:input=move |ev| new_room.set(event_target_value(&ev))
                    disabled=move || !hydrated.get()
                />
                <label class="private-toggle" title="Seen and joined by its members alone">
                    <input
                        type="checkbox"
                        data-testid="create-private"
                        prop:checked=move || private.get()
                        on:change=move |ev| private.set(event_target_checked(&ev))
                        disabled=move || !hydrated.get()
                    />
                    "Private"
                </label>
                <button type="submit" disabled=move || !hydrated.get()>"Create"</button>
            </form>
            <form class="side-form find-form" on:submit=join_named>
                <input
                    class="find-room"
                    type="search"
                    aria-label="Find a room"
                    placeholder="Find a room…"
                    autocomplete="off"
                    maxlength=MAX_ROOM_NAME_CHARS.to_string()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        find.set(text.clone());
                        live.run(|l| l.browse(text));
                    }
                    disabled=move || !hydrated.get()
                />
                <button
                    type="submit"
                    data-testid="join-by-name"
                    aria-label="Join by name"
                    title="Join the room of this name, listed or not"
                    disabled=move || !hydrated.get()
                >
                    "Join"
                </button>
            </form>
            <ul class="browse" aria-labelledby="others-heading" data-testid="other-rooms">
                <For
                    each=others
                    key=row_key
                    children=move |info| {
                        let room = info.room.clone();
                        view! {
                            <li class="browse-room" data-testid="other-room" data-room=info.room.clone()>
                                <span class="title">{info.title.clone()}</span>
                                <span class="counts">{counts_line(&info)}</span>
                                <button
                                    type="button"
                                    aria-label=format!("Join {}", info.room)
                                    on:click=move |_| live.run(|l| l.join(room.clone()))
                                >
                                    "Join"
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=none_left>
                <p class="browse-empty" data-testid="no-other-rooms">
                    {move || if matching().is_empty() { "No other rooms yet" } else { "No room matches" }}
                </p>
            </Show>
            <Show when=more_follow>
                <button
                    type="button"
                    class="browse-more"
                    data-testid="more-rooms"
                    disabled=loading
                    on:click=move |_| live.run(|l| l.browse_more())
                >
                    "Show more rooms"
                </button>
            </Show>
        </div>
    }
}
