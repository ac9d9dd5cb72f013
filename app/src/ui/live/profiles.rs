//! People's profiles: asked for as their messages appear, changed by `profile` events
//! (renames included), and the person's own set from the profile form.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use crate::events::{ListProfiles, MAX_PROFILES_ASKED, ProfileChanged, SetProfile};
use crate::ui::profiles::Profiles;
use crate::ui::state::ChatState;
use crate::ui::timeline::Timeline;

impl Live {
    /// Follows profiles for as long as the page lives.
    pub(super) fn follow_profiles(&self) {
        let state = self.state;
        self.socket.on(move |ProfileChanged(profile)| {
            let newest = newest_id(&state);
            state.profiles.update(|all| all.learn(profile, newest));
        });
        // The authors of the conversation on screen, as its messages arrive.
        let this = self.clone();
        Effect::new(move |_| {
            let room = state.active.get();
            if let Some(timeline) = state.timelines.with(|all| all.get(&room).cloned()) {
                this.ask_authors(timeline.with(Timeline::authors));
            }
        });
        // Asked before the socket was up, or changed while it was down: asked again.
        let this = self.clone();
        self.socket.on_connect(move || {
            state.profiles.update_untracked(Profiles::forget_asked);
            let room = state.active.get_untracked();
            if let Some(timeline) = state.timeline(&room) {
                this.ask_authors(timeline.with_untracked(Timeline::authors));
            }
        });
    }

    /// Asks for the profiles of those of `authors` not asked for yet.
    fn ask_authors(&self, authors: Vec<String>) {
        let wanted = self
            .state
            .profiles
            .try_update_untracked(|all| all.take_unasked(authors.iter().map(String::as_str)))
            .unwrap_or_default();
        for names in wanted.chunks(MAX_PROFILES_ASKED) {
            self.ask_profiles(names.to_vec());
        }
    }

    fn ask_profiles(&self, names: Vec<String>) {
        let this = self.clone();
        spawn_local(async move {
            let answer = this
                .socket
                .emit_with_ack(&ListProfiles { names }, ACK_TIMEOUT)
                .await;
            if let Ok(Ok(profiles)) = answer.map(|r| r.into_result()) {
                this.state.profiles.update(|all| {
                    for profile in profiles {
                        all.learn(profile, 0);
                    }
                });
            }
        });
    }

    /// Sets the person's display name and status.
    pub(crate) fn set_profile(&self, display_name: String, status: String) {
        let this = self.clone();
        self.state.profile_error.set(None);
        spawn_local(async move {
            let request = SetProfile {
                display_name: Some(display_name),
                status: Some(status),
            };
            let answer = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
            match answer.map(|r| r.into_result()) {
                Ok(Ok(profile)) => this.state.profiles.update(|all| all.learn(profile, 0)),
                Ok(Err(e)) => this.state.profile_error.set(Some(e.to_string())),
                Err(_) => this
                    .state
                    .profile_error
                    .set(Some("No answer from the server; try again".to_owned())),
            }
        });
    }
}

/// The newest message id the page holds, in any conversation.
fn newest_id(state: &ChatState) -> i64 {
    state.timelines.with_untracked(|all| {
        all.values()
            .map(|t| t.with_untracked(Timeline::newest_id))
            .max()
            .unwrap_or(0)
    })
}
