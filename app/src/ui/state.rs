//! What the chat page shows, as signals: the live side (`live.rs`) writes them, the components
//! read them.

use leptos::prelude::*;

use super::account::AccountState;
use super::address::Landing;
use super::jobs::Jobs;
use super::notifications::Notify;
use super::profiles::Profiles;
use super::rooms::{Browse, Rooms};
use super::status::Status;
use super::timeline::Timeline;
use crate::events::{ChatMessage, JobInfo, LOBBY, PERSON_JOBS, Presence};
use crate::sorted_map::SortedMap;

/// One timeline per conversation the page has opened, by conversation id. Each has its own
/// signal, so a message in one conversation does not redraw another.
pub(crate) type Timelines = SortedMap<String, ArcRwSignal<Timeline>>;

#[derive(Clone, Copy)]
pub(crate) struct ChatState {
    /// The conversation on screen. Its timeline always exists.
    pub(crate) active: RwSignal<String>,
    /// The conversation the page's address named, drawn as opening in place of `active`
    /// (the lobby) until it is on screen.
    pub(crate) landing: RwSignal<Option<Landing>>,
    pub(crate) timelines: RwSignal<Timelines>,
    pub(crate) rooms: RwSignal<Rooms>,
    /// The "More rooms" list's filter and next page.
    pub(crate) browse: RwSignal<Browse>,
    pub(crate) status: RwSignal<Status>,
    /// Who we are (the server's `session` or `account`), or the name we are claiming; empty
    /// for a guest.
    pub(crate) name: RwSignal<String>,
    /// What the name field holds: a refused name stays there, with its error, until the
    /// person edits it or a name is taken.
    pub(crate) name_draft: RwSignal<String>,
    pub(crate) name_error: RwSignal<Option<String>>,
    /// Signing in, up and out.
    pub(crate) account: AccountState,
    /// Who is online, per room.
    pub(crate) presence: RwSignal<SortedMap<String, Presence>>,
    /// Who is typing where: (conversation, name).
    pub(crate) typists: RwSignal<Vec<(String, String)>>,
    /// Why the last join, leave, create or open did not work.
    pub(crate) alert: RwSignal<Option<String>>,
    /// The person's jobs (imports, exports).
    pub(crate) jobs: RwSignal<Jobs>,
    /// Jobs that ended while the page watched, for their notices; newest last.
    pub(crate) job_notices: RwSignal<Vec<JobInfo>>,
    /// Why the last export did not start.
    pub(crate) jobs_alert: RwSignal<Option<String>>,
    /// People's display names and statuses, and renames.
    pub(crate) profiles: RwSignal<Profiles>,
    /// Why the last profile change did not work.
    pub(crate) profile_error: RwSignal<Option<String>>,
    /// Editing, replying to and jumping between messages.
    pub(crate) changes: super::message_actions::ChangesUi,
    /// Notification levels, mentions, and the browser's permission.
    pub(crate) notify: Notify,
}

impl ChatState {
    /// The page's state before the socket says anything: the lobby, with the messages the
    /// server rendered.
    pub(crate) fn new(lobby: Vec<ChatMessage>) -> ChatState {
        let timelines = Timelines::from([(
            LOBBY.to_owned(),
            ArcRwSignal::new(Timeline::new(LOBBY, lobby)),
        )]);
        ChatState {
            active: RwSignal::new(LOBBY.to_owned()),
            landing: RwSignal::new(Landing::at_load()),
            timelines: RwSignal::new(timelines),
            rooms: RwSignal::new(Rooms::default()),
            browse: RwSignal::new(Browse::default()),
            status: RwSignal::new(Status::default()),
            name: RwSignal::new(String::new()),
            name_draft: RwSignal::new(String::new()),
            name_error: RwSignal::new(None),
            account: AccountState::new(),
            presence: RwSignal::new(SortedMap::default()),
            typists: RwSignal::new(Vec::new()),
            alert: RwSignal::new(None),
            jobs: RwSignal::new(Jobs::new(PERSON_JOBS)),
            job_notices: RwSignal::new(Vec::new()),
            jobs_alert: RwSignal::new(None),
            profiles: RwSignal::new(Profiles::default()),
            profile_error: RwSignal::new(None),
            changes: super::message_actions::ChangesUi::new(),
            notify: Notify::new(),
        }
    }

    /// The timeline of `room`, if the page holds one. Not tracked.
    pub(crate) fn timeline(&self, room: &str) -> Option<ArcRwSignal<Timeline>> {
        self.timelines.with_untracked(|m| m.get(room).cloned())
    }
}
