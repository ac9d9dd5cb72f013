//! The sidebar: the Jobs button; the rooms we are in and our direct conversations, each with
//! its unread badge (and a lock if private); the form to message someone; and "More rooms",
//! which opens the rooms to join and the form to create one (`room_browser.rs`).

use leptos::prelude::*;

use super::drawer::{Drawer, SIDEBAR_ID};
use super::jobs::JOBS_OPENER_ID;
use super::live::LiveHandle;
use super::room_settings::Lock;
use super::state::ChatState;
use crate::events::{MAX_NAME_CHARS, RoomInfo};

#[component]
pub(crate) fn Sidebar(
    state: ChatState,
    live: LiveHandle,
    hydrated: Signal<bool>,
    /// Whether the Jobs panel is open.
    jobs_open: RwSignal<bool>,
) -> impl IntoView {
    let dm_name = RwSignal::new(String::new());
    // Whether the rooms to join are shown.
    let browsing = RwSignal::new(false);
    let start_dm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        live.run(|l| l.open_dm(dm_name.get_untracked()));
        dm_name.set(String::new());
    };
    let joined = move || state.rooms.with(|r| r.joined());
    let direct = move || state.rooms.with(|r| r.direct());
    let drawer = use_context::<Drawer>();

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

            // Rooms to join, and a new room: behind their heading, with their code
            // (`ui::lazy`), which a first visit does not need.
            <h2 id="others-heading">
                <button
                    type="button"
                    class="more-toggle"
                    data-testid="more-rooms-toggle"
                    aria-expanded=move || browsing.get().to_string()
                    aria-controls="room-browser"
                    disabled=move || !hydrated.get()
                    on:click=move |_| browsing.update(|b| *b = !*b)
                >
                    "More rooms"
                </button>
            </h2>
            <p class="side-alert" data-testid="sidebar-alert" role="alert">{move || state.alert.get()}</p>
            <Show when=move || browsing.get()>{super::lazy::room_browser(state, live, hydrated)}</Show>
        </nav>
    }
}

/// A row's key: it changes whenever what the row shows does. One string, as the message
/// list's keys are: a tuple would be a keyed list's set of keys of its own type in the wasm.
/// A conversation's name, first, has no line break, so two conversations never share a key.
pub(crate) fn row_key(info: &RoomInfo) -> String {
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
