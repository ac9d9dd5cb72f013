//! A message's reactions: a chip per emoji with its count (the names in its title) that
//! toggles the reader's own, and a small picker of common emoji.

use leptos::prelude::*;

use super::message_actions::Actions;
use crate::events::{ChatMessage, Reaction};

/// What the picker offers.
const COMMON: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "🙏"];

#[component]
pub(crate) fn Reactions(message: ChatMessage) -> impl IntoView {
    let actions = use_context::<Actions>()?;
    let id = message.id;
    let reactions = message.meta.reactions;
    let me = actions.state.name;
    // The server names the first reactors only; past them, one's own may not be shown.
    let mine = move |r: &Reaction| me.with(|me| r.names.iter().any(|n| n == me));
    let toggle = move |emoji: String, on: bool| {
        let room = actions.room.get_value();
        actions
            .live
            .run(|l| l.react(room.clone(), id, emoji.clone(), on));
    };
    let picking = RwSignal::new(false);
    let given = reactions.clone();
    let chips = reactions
        .into_iter()
        .map(|r| {
            let names = r.names.join(", ");
            let emoji = r.emoji.clone();
            let held = StoredValue::new(r.clone());
            let is_mine = move || held.with_value(|r| mine(r));
            let label = format!("{} {}", r.emoji, r.count);
            view! {
                <button
                    type="button"
                    class="reaction"
                    class:mine=is_mine
                    data-testid="reaction"
                    data-emoji=r.emoji.clone()
                    aria-pressed=move || is_mine().to_string()
                    title=names
                    on:click=move |_| toggle(emoji.clone(), !is_mine())
                >
                    {label}
                </button>
            }
        })
        .collect_view();
    Some(view! {
        <div class="reactions" data-testid="reactions">
            {chips}
            <Show when=move || me.with(|n| !n.is_empty())>
                <button
                    type="button"
                    class="reaction add"
                    data-testid="add-reaction"
                    aria-label="Add a reaction"
                    aria-expanded=move || picking.get().to_string()
                    on:click=move |_| picking.update(|p| *p = !*p)
                >
                    "☺+"
                </button>
            </Show>
            <Show when=move || picking.get()>
                {super::lazy::reaction_picker(id, given.clone(), picking)}
            </Show>
        </div>
    })
}

/// The common emoji to choose from; a choice toggles the reader's own and closes it.
#[component]
pub(crate) fn Picker(id: i64, given: Vec<Reaction>, picking: RwSignal<bool>) -> impl IntoView {
    let actions = use_context::<Actions>()?;
    let me = actions.state.name;
    Some(view! {
        <div class="picker" role="group" aria-label="Reactions" data-testid="picker">
            {COMMON
                .iter()
                .map(|e| {
                    let emoji = e.to_string();
                    let given = given.clone();
                    view! {
                        <button
                            type="button"
                            class="pick"
                            data-emoji=*e
                            on:click=move |_| {
                                let on = !given
                                    .iter()
                                    .any(|r| r.emoji == emoji && me.with(|me| r.names.iter().any(|n| n == me)));
                                let room = actions.room.get_value();
                                actions.live.run(|l| l.react(room.clone(), id, emoji.clone(), on));
                                picking.set(false);
                            }
                        >
                            {*e}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    })
}
