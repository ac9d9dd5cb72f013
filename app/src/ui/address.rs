//! A conversation's own address: `/` for the lobby, `/r/<room>` for a room and `/dm/<name>`
//! for a direct conversation, percent-encoded. The server renders the chat page at each of
//! them, with the named conversation's title over an "Opening…" note rather than the lobby;
//! the browser opens the conversation once it knows the person's conversations (or says why
//! not and shows the lobby), pushes an entry as the reader moves between conversations, and
//! follows the back and forward buttons. The History API does this directly: a router would
//! add to the wasm for one page.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::events::{LOBBY, is_dm};

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
/// What a path segment keeps as it is: letters, digits and `-._~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The conversation an address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Lobby,
    Room(String),
    /// A direct conversation, by the other person's name.
    Dm(String),
}

/// The conversation at `path`; `None` for a path that names none.
pub(crate) fn target(path: &str) -> Option<Target> {
    if path == "/" {
        return Some(Target::Lobby);
    }
    let (kind, segment) = path.strip_prefix('/')?.split_once('/')?;
    if segment.is_empty() || segment.contains('/') {
        return None;
    }
    let name = percent_decode_str(segment).decode_utf8().ok()?.into_owned();
    if name.trim().is_empty() {
        return None;
    }
    match kind {
        "r" if name == LOBBY => Some(Target::Lobby),
        "r" => Some(Target::Room(name)),
        "dm" => Some(Target::Dm(name)),
        _ => None,
    }
}

/// The conversation the page was loaded at, other than the lobby, until it is on screen or
/// refused: the lobby is not being read meanwhile, and is not drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Landing {
    pub(crate) to: Target,
    /// Opening it was asked for (the person's conversations are known).
    pub(crate) asked: bool,
}

impl Landing {
    /// Where the page is loaded: the request's path on the server, the location's in the
    /// browser, so that both draw the same page.
    pub(crate) fn at_load() -> Option<Landing> {
        #[cfg(feature = "ssr")]
        let path = leptos::prelude::use_context::<http::request::Parts>()
            .map(|parts| parts.uri.path().to_owned());
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        let path = leptos::prelude::window().location().pathname().ok();
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        let path: Option<String> = None;
        Landing::at(path.as_deref()?)
    }

    fn at(path: &str) -> Option<Landing> {
        match target(path)? {
            Target::Lobby => None,
            to => Some(Landing { to, asked: false }),
        }
    }

    /// What the conversation is called until it opens: the room's name, the other person's.
    pub(crate) fn title(&self) -> String {
        match &self.to {
            Target::Lobby => LOBBY.to_owned(),
            Target::Room(name) | Target::Dm(name) => name.clone(),
        }
    }
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
/// The address of conversation `room`, whose title (for a direct one, the other person's
/// name) is `title`.
pub(crate) fn path(room: &str, title: &str) -> String {
    if room == LOBBY {
        "/".to_owned()
    } else if is_dm(room) {
        format!("/dm/{}", utf8_percent_encode(title, SEGMENT))
    } else {
        format!("/r/{}", utf8_percent_encode(room, SEGMENT))
    }
}

#[cfg(feature = "hydrate")]
pub(crate) use browser::{follow, land, landing_dropped};

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;

    use super::{Target, path, target};
    use crate::events::LOBBY;
    use crate::ui::live::{Live, LiveHandle};
    use crate::ui::state::ChatState;

    fn location_path() -> Option<String> {
        window().location().pathname().ok()
    }

    fn set_address(path: &str, push: bool) {
        let Ok(history) = window().history() else {
            return;
        };
        let state = wasm_bindgen::JsValue::NULL;
        let _ = if push {
            history.push_state_with_url(&state, "", Some(path))
        } else {
            history.replace_state_with_url(&state, "", Some(path))
        };
    }

    /// Keeps the address and the conversation on screen in step, in both directions.
    pub(crate) fn follow(state: ChatState, live: LiveHandle) {
        // Another conversation on screen: a new entry, unless the address names it already
        // (it was opened from the address, or by the back button).
        Effect::new(move |before: Option<String>| {
            let room = state.active.get();
            if before.is_some_and(|b| b != room) {
                state.landing.set(None);
                let title = state.rooms.with_untracked(|r| r.title(&room));
                let to = path(&room, &title);
                if location_path().as_deref() != Some(to.as_str()) {
                    set_address(&to, true);
                }
            }
            room
        });
        // The landing conversation could not be opened (the alert says why): the address
        // goes back to what is on screen.
        Effect::new(move |_| {
            let asked = state
                .landing
                .with_untracked(|l| l.as_ref().is_some_and(|l| l.asked));
            if state.alert.with(Option::is_some) && asked {
                landing_dropped(state);
            }
        });
        // Kept for as long as the page is open: the handle only removes it if asked.
        let _listener = window_event_listener(leptos::ev::popstate, move |_| {
            let Some(to) = location_path().as_deref().and_then(target) else {
                return;
            };
            live.run(|l| go_back(l, state, to));
        });
    }

    /// The conversation the page was loaded at will not be opened (refused, or the lobby was
    /// chosen meanwhile): the lobby is shown, at its own address.
    pub(crate) fn landing_dropped(state: ChatState) {
        if state.landing.with_untracked(Option::is_none) {
            return;
        }
        state.landing.set(None);
        let room = state.active.get_untracked();
        let title = state.rooms.with_untracked(|r| r.title(&room));
        set_address(&path(&room, &title), false);
    }

    /// The person's conversations are known: opens the one the page was loaded at, once.
    /// A room they are not in is joined (a shared link is how people are brought to one);
    /// if that is refused, the alert says why and the lobby is shown.
    pub(crate) fn land(live: &Live, state: ChatState) {
        let Some(to) = state
            .landing
            .with_untracked(|l| l.as_ref().filter(|l| !l.asked).map(|l| l.to.clone()))
        else {
            return;
        };
        state.landing.update(|l| {
            if let Some(l) = l {
                l.asked = true;
            }
        });
        match to {
            Target::Lobby => live.open(LOBBY.to_owned()),
            Target::Room(room) if state.rooms.with_untracked(|r| r.is_member(&room)) => {
                live.open(room)
            }
            Target::Room(room) => live.join(room),
            Target::Dm(name) => match dm_with(state, &name) {
                Some(room) => live.open(room),
                None => live.open_dm(name),
            },
        }
    }

    /// The back or forward button reached an entry: its conversation, if still ours.
    fn go_back(live: &Live, state: ChatState, to: Target) {
        let room = match to {
            Target::Lobby => Some(LOBBY.to_owned()),
            Target::Room(room) => state
                .rooms
                .with_untracked(|r| r.is_member(&room))
                .then_some(room),
            Target::Dm(name) => dm_with(state, &name),
        };
        match room {
            Some(room) => live.open(room),
            None => {
                // Left since: the address shows what is on screen instead.
                let room = state.active.get_untracked();
                let title = state.rooms.with_untracked(|r| r.title(&room));
                set_address(&path(&room, &title), false);
                state.alert.set(Some(
                    "That conversation is no longer one of yours.".to_owned(),
                ));
            }
        }
    }

    /// The direct conversation with `name` the page lists, if any.
    fn dm_with(state: ChatState, name: &str) -> Option<String> {
        state.rooms.with_untracked(|r| {
            r.direct()
                .into_iter()
                .find(|info| info.title == name)
                .map(|info| info.room)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_conversations() {
        assert_eq!(target("/"), Some(Target::Lobby));
        assert_eq!(target("/r/lobby"), Some(Target::Lobby));
        assert_eq!(target("/r/rust"), Some(Target::Room("rust".into())));
        assert_eq!(target("/dm/bob"), Some(Target::Dm("bob".into())));
        assert_eq!(
            target("/dm/Ann%20Smith%20%C3%A9"),
            Some(Target::Dm("Ann Smith é".into()))
        );
        for none in [
            "", "/r/", "/dm/", "/r/a/b", "/x/rust", "/admin", "/r", "/r/%20", "/r/%FF", "r/rust",
        ] {
            assert_eq!(target(none), None, "{none}");
        }
    }

    #[test]
    fn a_page_lands_elsewhere_at_a_room_or_a_dm_only() {
        assert_eq!(Landing::at("/"), None);
        assert_eq!(Landing::at("/r/lobby"), None);
        assert_eq!(Landing::at("/admin"), None);
        let room = Landing::at("/r/rust").expect("a room");
        assert_eq!((room.title(), room.asked), ("rust".to_owned(), false));
        assert_eq!(
            Landing::at("/dm/Ann%20B").map(|l| l.title()),
            Some("Ann B".to_owned())
        );
    }

    #[test]
    fn each_conversation_reads_back_from_its_address() {
        assert_eq!(path(LOBBY, LOBBY), "/");
        assert_eq!(path("rust", "rust"), "/r/rust");
        assert_eq!(path("dm:1:2", "bob"), "/dm/bob");
        assert_eq!(
            path("dm:1:2", "Ann Smith/é?#"),
            "/dm/Ann%20Smith%2F%C3%A9%3F%23"
        );
        for (room, title, to) in [
            ("rust", "rust", Target::Room("rust".into())),
            (
                "dm:1:2",
                "Ann Smith/é?#",
                Target::Dm("Ann Smith/é?#".into()),
            ),
            (LOBBY, LOBBY, Target::Lobby),
        ] {
            assert_eq!(target(&path(room, title)), Some(to));
        }
    }
}
