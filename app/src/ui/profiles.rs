//! How people show: display names and statuses the server told (`profile`, `profiles`),
//! renames (a message written under an old name shows under the new one), and the initials
//! picture drawn for each name. The model is pure and unit-tested; the components read it.

use leptos::prelude::*;

use super::live::LiveHandle;
use super::markup;
use super::state::ChatState;
use crate::events::{MAX_DISPLAY_NAME_CHARS, MAX_STATUS_CHARS, Profile, name_key};
use crate::sorted_map::SortedMap;

/// Picture colours: a name's is one of these many CSS classes (`hue-0` …), so that the page
/// needs no inline style (the Content-Security-Policy allows none).
const HUES: u32 = 12;

/// What the page knows of people's profiles.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Profiles {
    /// By name key.
    known: SortedMap<String, Profile>,
    /// Names asked for (or told of), so that each is asked once.
    asked: SortedMap<String, ()>,
    /// Old name key → (new name, the newest message id written under the old name): a later
    /// holder of the old name keeps it on their own messages.
    renamed: SortedMap<String, (String, i64)>,
}

impl Profiles {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    /// Takes what the server said of someone. After a rename, messages up to `newest_id` (the
    /// newest the page holds) written under the old name show under the new one.
    pub(crate) fn learn(&mut self, profile: Profile, newest_id: i64) {
        if let Some(from) = &profile.renamed_from {
            let from = name_key(from);
            self.known.remove(&from);
            self.asked.remove(&from);
            // Whoever was renamed to the old name before now goes by the new one too.
            for (name, _) in self.renamed.values_mut() {
                if name_key(name) == from {
                    name.clone_from(&profile.name);
                }
            }
            self.renamed.insert(from, (profile.name.clone(), newest_id));
        }
        let key = name_key(&profile.name);
        self.asked.add(key.clone());
        self.known.insert(
            key,
            Profile {
                renamed_from: None,
                ..profile
            },
        );
    }

    /// The name message `id`, written by `author`, shows under: the author's, or the one they
    /// renamed to since.
    pub(crate) fn current_name(&self, author: &str, id: i64) -> String {
        match self.renamed.get(&name_key(author)) {
            Some((to, up_to)) if id <= *up_to => to.clone(),
            _ => author.to_owned(),
        }
    }

    /// The profile of the person called `name`, if known.
    pub(crate) fn of(&self, name: &str) -> Option<&Profile> {
        self.known.get(&name_key(name))
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    /// Forgets which names were asked for: everything is asked for again (after a reconnect,
    /// when what was asked before may have been lost, or changed meanwhile).
    pub(crate) fn forget_asked(&mut self) {
        self.asked.clear();
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    /// Of `names`, those not asked for yet, now marked asked.
    pub(crate) fn take_unasked<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        names
            .into_iter()
            .filter(|n| self.asked.add(name_key(n)))
            .map(str::to_owned)
            .collect()
    }
}

/// Up to two letters for `name`'s picture: the first letters of the first two words of the
/// display name if there is one (else of the name, whose words `.`, `-` and `_` part).
pub(crate) fn initials(name: &str, display_name: Option<&str>) -> String {
    let text = display_name.unwrap_or(name);
    let words = text.split(|c: char| c.is_whitespace() || matches!(c, '.' | '-' | '_'));
    let letters: String = words
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .collect();
    if letters.is_empty() {
        "?".to_owned()
    } else {
        capitals(&letters)
    }
}

/// `text` in capitals. The browser asks the page's own `toUpperCase`: std's table of capitals
/// would be 12 KB of the wasm for the two letters of a picture.
#[cfg(feature = "hydrate")]
fn capitals(text: &str) -> String {
    js_sys::JsString::from(text).to_upper_case().into()
}

#[cfg(not(feature = "hydrate"))]
fn capitals(text: &str) -> String {
    text.to_uppercase()
}

/// Where `name`'s uploaded picture of version `v` is.
pub(crate) fn avatar_url(name: &str, v: i64) -> String {
    format!("/avatars/{name}?v={v}")
}

/// The CSS class of `name`'s picture colour: the same for the same name, on every page.
pub(crate) fn hue_class(name: &str) -> String {
    // FNV-1a: small, and stable across builds and platforms.
    let hash = name_key(name).bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("hue-{}", hash % HUES)
}

/// A message's author, as markup: their picture, their display name (or name), and their
/// name beside a display name; the status as the author's title.
pub(crate) fn push_author(out: &mut String, author: &str, id: i64, profiles: &Profiles) {
    let name = profiles.current_name(author, id);
    let profile = profiles.of(&name);
    let display_name = profile.and_then(|p| p.display_name.as_deref());
    match profile.and_then(|p| p.avatar) {
        Some(v) => {
            out.push_str("<img class=\"avatar\" src=\"");
            markup::escape(out, &avatar_url(&name, v));
            out.push_str("\" alt=\"\" aria-hidden=\"true\">");
        }
        None => {
            out.push_str("<span class=\"avatar ");
            out.push_str(&hue_class(&name));
            out.push_str("\" aria-hidden=\"true\">");
            markup::escape(out, &initials(&name, display_name));
            out.push_str("</span>");
        }
    }
    let title = match profile.and_then(|p| p.status.as_deref()) {
        Some(status) => format!("{name} — {status}"),
        None => name.clone(),
    };
    markup::element(
        out,
        "span",
        "author",
        Some(&title),
        display_name.unwrap_or(&name),
    );
    if display_name.is_some() {
        markup::element(out, "span", "handle", None, &format!("@{name}"));
    }
}

/// The person's own profile: what they are shown as, and their status. Shown once they have
/// a name, which the server's page never has: its code is loaded then (`ui::lazy`).
#[component]
pub(crate) fn ProfileForm(state: ChatState, live: LiveHandle) -> impl IntoView {
    view! {
        <Show when=move || state.name.with(|n| !n.is_empty())>
            {crate::ui::lazy::profile_form(state, live)}
        </Show>
    }
}

#[component]
pub(crate) fn OwnProfile(state: ChatState, live: LiveHandle) -> impl IntoView {
    let display_name = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    // Filled from what the server says of us, until the person edits a field.
    let edited = RwSignal::new(false);
    Effect::new(move |_| {
        let mine = state
            .name
            .with(|me| state.profiles.with(|p| p.of(me).cloned()));
        if !edited.get_untracked()
            && let Some(mine) = mine
        {
            display_name.set(mine.display_name.unwrap_or_default());
            status.set(mine.status.unwrap_or_default());
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        edited.set(false);
        live.run(|l| l.set_profile(display_name.get_untracked(), status.get_untracked()));
    };
    let error = state.profile_error;
    let picture = NodeRef::<leptos::html::Input>::new();
    let mine_avatar = move || {
        state
            .name
            .with(|me| state.profiles.with(|p| p.of(me).and_then(|p| p.avatar)))
    };
    view! {
        <Show when=move || state.name.with(|n| !n.is_empty())>
            <details class="profile" data-testid="profile">
                <summary>"Profile"</summary>
                <form on:submit=save>
                    <label>
                        "Shown as "
                        <input
                            data-testid="profile-display-name"
                            maxlength=MAX_DISPLAY_NAME_CHARS.to_string()
                            placeholder=move || state.name.get()
                            prop:value=move || display_name.get()
                            on:input=move |ev| {
                                edited.set(true);
                                display_name.set(event_target_value(&ev));
                            }
                        />
                    </label>
                    <label>
                        "Status "
                        <input
                            data-testid="profile-status"
                            maxlength=MAX_STATUS_CHARS.to_string()
                            placeholder="What you are up to"
                            prop:value=move || status.get()
                            on:input=move |ev| {
                                edited.set(true);
                                status.set(event_target_value(&ev));
                            }
                        />
                    </label>
                    <label>
                        "Picture "
                        <input
                            type="file"
                            data-testid="profile-picture"
                            accept="image/png,image/jpeg,image/gif,image/webp"
                            node_ref=picture
                            on:change=move |_| live.run(|l| l.upload_avatar(picture))
                        />
                    </label>
                    <Show when=move || mine_avatar().is_some()>
                        <button type="button" data-testid="profile-picture-remove" on:click=move |_| live.run(|l| l.remove_avatar())>
                            "Remove picture"
                        </button>
                    </Show>
                    <button type="submit" data-testid="profile-save">"Save"</button>
                    <p class="error" role="alert">{move || error.get()}</p>
                </form>
            </details>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, display: Option<&str>, from: Option<&str>) -> Profile {
        Profile {
            name: name.into(),
            display_name: display.map(Into::into),
            status: None,
            avatar: None,
            renamed_from: from.map(Into::into),
        }
    }

    #[test]
    fn a_rename_shows_old_messages_under_the_new_name_and_not_a_later_holders() {
        let mut p = Profiles::default();
        p.learn(profile("anna", None, Some("ann")), 10);
        assert_eq!(p.current_name("ann", 9), "anna");
        assert_eq!(p.current_name("Ann", 10), "anna");
        assert_eq!(
            p.current_name("ann", 11),
            "ann",
            "a later ann is someone else"
        );
        // Renamed again: the oldest messages follow.
        p.learn(profile("annabel", Some("Annabel"), Some("anna")), 20);
        assert_eq!(p.current_name("ann", 5), "annabel");
        assert_eq!(p.current_name("anna", 15), "annabel");
        assert_eq!(
            p.of("annabel").unwrap().display_name.as_deref(),
            Some("Annabel")
        );
        assert!(p.of("anna").is_none());
    }

    #[test]
    fn each_name_is_asked_for_once() {
        let mut p = Profiles::default();
        assert_eq!(p.take_unasked(["ann", "bob", "Ann"]), ["ann", "bob"]);
        assert!(p.take_unasked(["bob"]).is_empty());
        p.learn(profile("cy", None, None), 0);
        assert!(p.take_unasked(["CY"]).is_empty(), "told of already");
    }

    #[test]
    fn pictures_take_two_initials_and_a_stable_colour() {
        assert_eq!(initials("ann", None), "A");
        assert_eq!(initials("ann.smith", None), "AS");
        assert_eq!(initials("ann", Some("Ann Marie Smith")), "AM");
        assert_eq!(initials("x", Some("élodie")), "É");
        assert_eq!(initials("..", None), "?");
        assert_eq!(hue_class("Ann"), hue_class("ann"));
        let all: std::collections::HashSet<String> =
            (0..200).map(|i| hue_class(&format!("p{i}"))).collect();
        assert!(all.len() > 6, "names spread over the colours: {all:?}");
    }
}
