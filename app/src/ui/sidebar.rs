//! The sidebar: the Jobs button; the rooms we are in and our direct conversations, each with
//! its unread badge (and a lock if private); rooms to join, found a page at a time and by
//! name, or joined by name; forms to create a room (private or not) and to message someone.

use leptos::prelude::*;

use super::drawer::{Drawer, SIDEBAR_ID};
use super::jobs::JOBS_OPENER_ID;
use super::live::LiveHandle;
use super::room_settings::Lock;
use super::rooms::counts_line;
use super::state::ChatState;
use crate::events::{MAX_NAME_CHARS, MAX_ROOM_NAME_CHARS, RoomInfo};

#[component]
pub(crate) fn Sidebar(
    state: ChatState,
    live: LiveHandle,
    hydrated: Signal<bool>,
    /// Whether the Jobs panel is open.
    jobs_open: RwSignal<bool>,
) -> impl IntoView {
    let new_room = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let dm_name = RwSignal::new(String::new());
    let find = RwSignal::new(String::new());
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
    let start_dm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        live.run(|l| l.open_dm(dm_name.get_untracked()));
        dm_name.set(String::new());
    };
    let joined = move || state.rooms.with(|r| r.joined());
    let direct = move || state.rooms.with(|r| r.direct());
    let matching = move || state.browse.with(|b| b.matching.clone());
    let others = move || {
        let matching = matching();
        state.rooms.with(|r| r.others(&matching))
    };
    let more_follow = move || state.browse.with(|b| b.next.is_some());
    let loading = move || state.browse.with(|b| b.loading);
    let drawer = use_context::<Drawer>();
    let none_left = move || {
        state.browse.with(|b| b.answered) && !loading() && !more_follow() && others().is_empty()
    };

    view! {
        <nav
            id=SIDEBAR_ID
            class="sidebar"
            aria-label="Conversations"
            tabindex="-1"
            on:focusout=move |ev| {
                if let Some(d) = drawer {
                    d.on_focus_out(ev);
                }
            }
        >
            <button
                type="button"
                id=JOBS_OPENER_ID
                class="jobs-open"
                aria-haspopup="dialog"
                aria-controls="jobs-panel"
                aria-expanded=move || jobs_open.get().to_string()
                disabled=move || !hydrated.get()
                on:click=move |_| jobs_open.update(|o| *o = !*o)
            >
                "Jobs"
                // How many are under way; the panel says which.
                {move || {
                    let n = state.jobs.with(|j| j.unfinished());
                    (n > 0).then(|| view! {
                        <span class="badge" data-testid="jobs-unfinished" aria-hidden="true">{n}</span>
                    })
                }}
            </button>
            <h2 id="rooms-heading">"Rooms"</h2>
            <ul class="convos" aria-labelledby="rooms-heading" data-testid="joined-rooms">
                <For each=joined key=row_key children=move |info| view! { <ConvoLink info state live/> }/>
            </ul>

            <h2 id="dms-heading">"Direct messages"</h2>
            <ul class="convos" aria-labelledby="dms-heading" data-testid="dms">
                <For each=direct key=row_key children=move |info| view! { <ConvoLink info state live/> }/>
            </ul>
            <form class="side-form" on:submit=start_dm>
                <input
                    aria-label="Name to message"
                    placeholder="Message someone…"
                    autocomplete="off"
                    maxlength=MAX_NAME_CHARS.to_string()
                    prop:value=move || dm_name.get()
                    on:input=move |ev| dm_name.set(event_target_value(&ev))
                    disabled=move || !hydrated.get()
                />
                <button type="submit" disabled=move || !hydrated.get()>"Open"</button>
            </form>

            <h2 id="others-heading">"More rooms"</h2>
            // The form and the alert come before the list, which may be long.
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
            <p class="side-alert" data-testid="sidebar-alert" role="alert">{move || state.alert.get()}</p>
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
        </nav>
    }
}

/// A row's key: it changes whenever what the row shows does. One string, as the message
/// list's keys are: a tuple would be a keyed list's set of keys of its own type in the wasm.
/// A conversation's name, first, has no line break, so two conversations never share a key.
fn row_key(info: &RoomInfo) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        info.room, info.title, info.unread, info.members, info.online, info.private
    )
}

/// One conversation we are in: its name and unread badge; opens it.
#[component]
fn ConvoLink(info: RoomInfo, state: ChatState, live: LiveHandle) -> impl IntoView {
    let room = StoredValue::new(info.room.clone());
    // While the address's conversation opens, the lobby behind it is not the one on screen.
    let current = move || {
        state.landing.with(Option::is_none) && room.with_value(|r| state.active.with(|a| a == r))
    };
    let unread = info.unread;
    view! {
        <li>
            <button
                type="button"
                class="convo"
                class:dm=crate::events::is_dm(&info.room)
                data-testid="convo"
                data-room=info.room.clone()
                data-title=info.title.clone()
                aria-current=move || current().then_some("true")
                on:click=move |_| live.run(|l| l.open(room.get_value()))
            >
                <span class="title">{info.title.clone()}</span>
                {info.private.then(|| view! { <Lock/> })}
                {(unread > 0).then(|| view! {
                    <span class="badge" data-testid="unread" aria-label=format!("{unread} unread")>
                        {unread}
                    </span>
                })}
            </button>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RoomKind;
    use crate::ui::rooms::placeholder;

    /// A row is drawn again when anything it shows changes, and no two rows share a key.
    #[test]
    fn a_rows_key_follows_what_it_shows() {
        let row = placeholder("general", RoomKind::Room, "general");
        let changed: [fn(&mut RoomInfo); 5] = [
            |r| r.title = "General".into(),
            |r| r.unread = 1,
            |r| r.members = 2,
            |r| r.online = 1,
            |r| r.private = true,
        ];
        for change in changed {
            let mut other = row.clone();
            change(&mut other);
            assert_ne!(row_key(&row), row_key(&other), "{other:?}");
        }
        let mut read = row.clone();
        read.last_seq = 9;
        assert_eq!(row_key(&row), row_key(&read), "what the row does not show");
        // A conversation's name has no line break (`validate_room_name`, and a direct one's
        // names), so no title makes two conversations' keys meet.
        assert!(crate::events::validate_room_name("general\nx").is_err());
        let other = placeholder("random", RoomKind::Room, "general");
        assert_ne!(row_key(&row), row_key(&other));
    }
}
