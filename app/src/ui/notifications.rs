//! Notifications: the level of each conversation (all, mentions, none), the browser's
//! notifications and an optional sound for a mention or a direct message, the "Mentions"
//! list, and the tab title's unread count and mention marker.
//!
//! The rules (which message notifies, what the title says) are pure and unit-tested here; the
//! browser's side (`Notification`, WebAudio, `document.title`) is at the end, `hydrate` only.

use leptos::prelude::*;

use super::live::LiveHandle;
use super::rooms::Rooms;
use super::state::ChatState;
use crate::events::{ChatMessage, NotifyLevel, RoomKind, is_dm};
use crate::sorted_map::SortedMap;

/// The page's title with nothing unread.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const APP_TITLE: &str = "Palaver";
/// Where the sound toggle is kept between visits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SOUND_KEY: &str = "palaver.sound";

/// What the page knows of notifications, as signals.
#[derive(Clone, Copy)]
pub(crate) struct Notify {
    /// The levels the person chose, by conversation (from the server, or this page's for a
    /// guest); the others have their kind's default.
    pub(crate) levels: RwSignal<SortedMap<String, NotifyLevel>>,
    /// Messages that mention us, newest first: the server's list and those since.
    pub(crate) mentions: RwSignal<Vec<ChatMessage>>,
    /// Conversations with a mention of us that arrived while they were not on screen.
    pub(crate) mentioned_in: RwSignal<SortedMap<String, ()>>,
    /// The browser's notification permission: "default", "granted", "denied", or
    /// "unsupported".
    pub(crate) permission: RwSignal<String>,
    /// Whether a notification also plays a short tone.
    pub(crate) sound: RwSignal<bool>,
    pub(crate) panel_open: RwSignal<bool>,
}

impl Notify {
    pub(crate) fn new() -> Notify {
        Notify {
            levels: RwSignal::new(SortedMap::default()),
            mentions: RwSignal::new(Vec::new()),
            mentioned_in: RwSignal::new(SortedMap::default()),
            permission: RwSignal::new("default".to_owned()),
            sound: RwSignal::new(false),
            panel_open: RwSignal::new(false),
        }
    }
}

/// The level of conversation `room`: the one chosen, or its kind's default.
pub(crate) fn level_of(levels: &SortedMap<String, NotifyLevel>, room: &str) -> NotifyLevel {
    levels.get(room).copied().unwrap_or_else(|| {
        NotifyLevel::default_for(if is_dm(room) {
            RoomKind::Dm
        } else {
            RoomKind::Room
        })
    })
}

/// Whether a new message notifies, at its conversation's `level`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn notifies(level: NotifyLevel, mentions_me: bool) -> bool {
    match level {
        NotifyLevel::All => true,
        NotifyLevel::Mentions => mentions_me,
        NotifyLevel::None => false,
    }
}

/// The tab's title: `(3) Palaver`, with `@` when a mention is unread: `(3) @ Palaver`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn tab_title(unread: u64, mention: bool) -> String {
    let mut title = String::new();
    if unread > 0 {
        title.push_str(&format!("({unread}) "));
    }
    if mention {
        title.push_str("@ ");
    }
    title.push_str(APP_TITLE);
    title
}

/// What the title counts: unread messages in conversations not set to `none`, and whether
/// one of them holds an unread mention.
pub(crate) fn title_counts(
    rooms: &Rooms,
    levels: &SortedMap<String, NotifyLevel>,
    mentioned_in: &SortedMap<String, ()>,
) -> (u64, bool) {
    let mut unread = 0;
    let mut mention = false;
    for info in rooms.joined().iter().chain(rooms.direct().iter()) {
        if level_of(levels, &info.room) == NotifyLevel::None || info.unread == 0 {
            continue;
        }
        unread += info.unread;
        mention |= mentioned_in.contains_key(&info.room);
    }
    (unread, mention)
}

/// The top bar's part: the button that asks for the browser's permission (on a click, never
/// on load), the Mentions list's button, and the tab title kept up to date.
#[component]
pub(crate) fn NotifyBar(
    state: ChatState,
    live: LiveHandle,
    hydrated: Signal<bool>,
) -> impl IntoView {
    let notify = state.notify;
    Effect::new(move |_| {
        let (unread, mention) = state.rooms.with(|rooms| {
            notify
                .levels
                .with(|l| notify.mentioned_in.with(|m| title_counts(rooms, l, m)))
        });
        #[cfg(feature = "hydrate")]
        browser::set_title(&tab_title(unread, mention));
        #[cfg(not(feature = "hydrate"))]
        let _ = (unread, mention);
    });
    // A conversation on screen has no unread mention left.
    Effect::new(move |_| {
        let room = state.active.get();
        if notify
            .mentioned_in
            .with_untracked(|m| m.contains_key(&room))
        {
            notify.mentioned_in.update(|m| {
                m.remove(&room);
            });
        }
    });
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            notify.permission.set(browser::permission());
            notify.sound.set(browser::sound_kept());
        }
    });
    let permission = notify.permission;
    let bell_label = move || match permission.get().as_str() {
        "granted" => "Notifications on",
        "denied" => "Notifications blocked",
        "unsupported" => "No notifications here",
        _ => "Turn on notifications",
    };
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        browser::ask_permission(permission);
    };
    let count = move || notify.mentions.with(Vec::len);
    view! {
        <div class="notify-bar">
            <button
                type="button"
                class="bell"
                data-testid="notify-bell"
                aria-pressed=move || (permission.get() == "granted").to_string()
                title=bell_label
                aria-label=bell_label
                disabled=move || !hydrated.get() || permission.get() != "default"
                on:click=ask
            >
                "🔔"
            </button>
            <button
                type="button"
                class="mentions-toggle"
                data-testid="mentions-toggle"
                aria-controls="mentions-panel"
                aria-expanded=move || notify.panel_open.get().to_string()
                disabled=move || !hydrated.get()
                on:click=move |_| notify.panel_open.update(|o| *o = !*o)
            >
                "Mentions"
                <Show when=move || { count() > 0 }>
                    <span class="badge">{count}</span>
                </Show>
            </button>
        </div>
        <Show when=move || notify.panel_open.get()>
            {crate::ui::lazy::mentions_panel(state, live)}
        </Show>
    }
}

/// The sound toggle, kept in this browser.
#[component]
pub(crate) fn SoundToggle(notify: Notify) -> impl IntoView {
    view! {
        <label class="sound-toggle">
            <input
                type="checkbox"
                data-testid="sound-toggle"
                prop:checked=move || notify.sound.get()
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    notify.sound.set(on);
                    #[cfg(feature = "hydrate")]
                    browser::keep_sound(on);
                }
            />
            " Play a sound"
        </label>
    }
}

/// The conversation header's setting: which of its messages notify.
#[component]
pub(crate) fn NotifySetting(
    room: StoredValue<String>,
    state: ChatState,
    live: LiveHandle,
) -> impl IntoView {
    let notify = state.notify;
    let level = move || notify.levels.with(|l| level_of(l, &room.get_value()));
    let options = [
        (NotifyLevel::All, "All messages"),
        (NotifyLevel::Mentions, "Mentions only"),
        (NotifyLevel::None, "Nothing"),
    ];
    view! {
        <label class="notify-setting">
            <span class="visually-hidden">"Notify me of"</span>
            <select
                data-testid="notify-level"
                aria-label="Notifications for this conversation"
                on:change=move |ev| {
                    if let Some(level) = NotifyLevel::parse(&event_target_value(&ev)) {
                        let room = room.get_value();
                        notify.levels.update(|l| {
                            l.insert(room.clone(), level);
                        });
                        live.run(|l| l.set_notify(room.clone(), level));
                    }
                }
            >
                {options
                    .into_iter()
                    .map(|(value, label)| {
                        view! {
                            <option value=value.as_str() prop:selected=move || level() == value>
                                {label}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The browser's side: permission, notifications, the tone, the title.
#[cfg(feature = "hydrate")]
pub(crate) mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{AudioContext, Notification, NotificationOptions, NotificationPermission};

    use super::SOUND_KEY;

    pub(crate) fn set_title(title: &str) {
        if let Some(doc) = web_sys::window().and_then(|w| w.document())
            && doc.title() != title
        {
            doc.set_title(title);
        }
    }

    fn supported() -> bool {
        web_sys::window()
            .is_some_and(|w| js_sys::Reflect::has(&w, &"Notification".into()).unwrap_or(false))
    }

    pub(crate) fn permission() -> String {
        if !supported() {
            return "unsupported".to_owned();
        }
        match Notification::permission() {
            NotificationPermission::Granted => "granted",
            NotificationPermission::Denied => "denied",
            _ => "default",
        }
        .to_owned()
    }

    /// Asks for the permission; called from a click only.
    pub(crate) fn ask_permission(into: RwSignal<String>) {
        if !supported() {
            into.set("unsupported".to_owned());
            return;
        }
        let Ok(asked) = Notification::request_permission() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(asked).await;
            into.set(permission());
        });
    }

    /// Whether the page is out of sight (another tab, a minimised window).
    pub(crate) fn hidden() -> bool {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden())
    }

    /// Shows a notification; `on_click` runs when it is clicked, with the tab focused.
    pub(crate) fn show(title: &str, body: &str, tag: &str, on_click: impl FnOnce() + 'static) {
        if permission() != "granted" {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        let Ok(shown) = Notification::new_with_options(title, &options) else {
            return;
        };
        let clicked = shown.clone();
        let handler = Closure::once_into_js(move || {
            if let Some(w) = web_sys::window() {
                let _ = w.focus();
            }
            clicked.close();
            on_click();
        });
        shown.set_onclick(Some(handler.unchecked_ref()));
    }

    /// A short, quiet tone, made on the spot (nothing is downloaded).
    pub(crate) fn beep() {
        let Ok(ctx) = AudioContext::new() else {
            return;
        };
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
            return;
        };
        let now = ctx.current_time();
        osc.frequency().set_value(880.0);
        let _ = gain.gain().set_value_at_time(0.08, now);
        let _ = gain
            .gain()
            .exponential_ramp_to_value_at_time(0.001, now + 0.25);
        let _ = osc.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&ctx.destination());
        let _ = osc.start();
        let _ = osc.stop_with_when(now + 0.25);
        // Closed once the tone is over, so that contexts do not pile up.
        let closing = Closure::once_into_js(move || {
            let _ = ctx.close();
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                closing.unchecked_ref(),
                400,
            );
        }
    }

    pub(crate) fn sound_kept() -> bool {
        storage()
            .and_then(|s| s.get_item(SOUND_KEY).ok().flatten())
            .is_some_and(|v| v == "on")
    }

    pub(crate) fn keep_sound(on: bool) {
        if let Some(s) = storage() {
            let _ = s.set_item(SOUND_KEY, if on { "on" } else { "off" });
        }
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{RoomInfo, RoomList};

    #[test]
    fn the_title_shows_the_count_and_a_marker_for_a_mention() {
        assert_eq!(tab_title(0, false), "Palaver");
        assert_eq!(tab_title(3, false), "(3) Palaver");
        assert_eq!(tab_title(3, true), "(3) @ Palaver");
        assert_eq!(tab_title(0, true), "@ Palaver");
    }

    #[test]
    fn levels_default_by_kind_and_decide_what_notifies() {
        let mut levels = SortedMap::default();
        assert_eq!(level_of(&levels, "dm:a:b"), NotifyLevel::All);
        assert_eq!(level_of(&levels, "lobby"), NotifyLevel::Mentions);
        levels.insert("lobby".to_owned(), NotifyLevel::None);
        assert_eq!(level_of(&levels, "lobby"), NotifyLevel::None);
        assert!(notifies(NotifyLevel::All, false));
        assert!(notifies(NotifyLevel::Mentions, true));
        assert!(!notifies(NotifyLevel::Mentions, false));
        assert!(!notifies(NotifyLevel::None, true));
    }

    fn room(id: &str, kind: RoomKind, unread: u64) -> RoomInfo {
        RoomInfo {
            room: id.into(),
            kind,
            title: id.into(),
            members: 2,
            online: 0,
            joined: true,
            unread,
            last_seq: 0,
            private: false,
            listed: true,
            posting: Default::default(),
            manage: false,
        }
    }

    #[test]
    fn the_title_counts_what_its_levels_let_through() {
        let mut rooms = Rooms::default();
        rooms.apply_list(
            RoomList {
                rooms: vec![
                    room("lobby", RoomKind::Room, 2),
                    room("quiet", RoomKind::Room, 5),
                    room("dm:a:b", RoomKind::Dm, 1),
                ],
            },
            "elsewhere",
        );
        let mut levels = SortedMap::default();
        let mentioned: SortedMap<String, ()> = [("quiet".to_owned(), ())].into();
        assert_eq!(title_counts(&rooms, &levels, &mentioned), (8, true));
        levels.insert("quiet".to_owned(), NotifyLevel::None);
        assert_eq!(title_counts(&rooms, &levels, &mentioned), (3, false));
        assert_eq!(
            title_counts(&rooms, &levels, &SortedMap::default()),
            (3, false)
        );
    }
}
