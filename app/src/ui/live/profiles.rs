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

impl Live {
    /// Uploads the picture chosen in `input` as the person's.
    pub(crate) fn upload_avatar(&self, input: NodeRef<leptos::html::Input>) {
        let chosen = input
            .get_untracked()
            .and_then(|i| i.files())
            .and_then(|f| f.get(0));
        let Some(file) = chosen else {
            return;
        };
        self.send_avatar("POST", Some(file));
    }

    /// Removes the person's picture.
    pub(crate) fn remove_avatar(&self) {
        self.send_avatar("DELETE", None);
    }

    fn send_avatar(&self, method: &'static str, file: Option<web_sys::File>) {
        let state = self.state;
        state.profile_error.set(None);
        spawn_local(async move {
            match avatar_request(method, file).await {
                Ok(profile) => state.profiles.update(|all| all.learn(profile, 0)),
                Err(why) => state.profile_error.set(Some(why)),
            }
        });
    }
}

/// `method /avatar`, signed in by the cookie (which the browser sends by itself) or the
/// session token: the new profile, or what to tell the person.
async fn avatar_request(
    method: &str,
    file: Option<web_sys::File>,
) -> Result<crate::events::Profile, String> {
    let bearer = super::session_token().map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| ("Authorization", b))
        .into_iter()
        .collect();
    let (status, body) =
        crate::ui::fetch::request(method, "/avatar", &headers, file.map(Into::into))
            .await
            .map_err(|_| "The upload broke off: try again".to_owned())?;
    if (200..300).contains(&status) {
        serde_json::from_str(&body).map_err(|_| "The server's answer was not understood".to_owned())
    } else {
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned));
        Err(message.unwrap_or_else(|| format!("The server refused it ({status})")))
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
