//! Mentions on screen: a message's text with its `@name`s shown as mentions (ours stand
//! out), and the "Mentions" panel that lists the messages mentioning us.

use leptos::prelude::*;

use super::live::LiveHandle;
use super::markdown::MessageText;
use super::notifications::SoundToggle;
use super::state::ChatState;
use crate::events::ChatMessage;
use crate::mentions;

/// Whether `text` mentions the reader `me` (nobody, for a guest).
pub(crate) fn mentions_me(text: &str, me: &str) -> bool {
    !me.is_empty() && mentions::mentions(text, me)
}

/// The messages that mention us, newest first; a click opens the conversation.
#[component]
pub(crate) fn MentionsPanel(state: ChatState, live: LiveHandle) -> impl IntoView {
    let notify = state.notify;
    Effect::new(move |_| live.run(|l| l.load_mentions()));
    let me = Signal::derive(move || state.name.get());
    view! {
        <aside id="mentions-panel" class="mentions-panel" data-testid="mentions-panel" aria-label="Mentions">
            <header>
                <h2>"Mentions"</h2>
                <SoundToggle notify/>
                <button type="button" class="close" on:click=move |_| notify.panel_open.set(false)>
                    "Close"
                </button>
            </header>
            <Show
                when=move || notify.mentions.with(|m| !m.is_empty())
                fallback=|| view! { <p class="empty">"Nobody has mentioned you yet."</p> }
            >
                <ul class="mention-items">
                    <For
                        each=move || notify.mentions.get()
                        key=|m| m.id
                        children=move |m: ChatMessage| {
                            let room = m.meta.room.clone();
                            let title = state.rooms.with_untracked(|r| r.title(&room));
                            let place = if crate::events::is_dm(&room) {
                                title
                            } else {
                                format!("#{title}")
                            };
                            let open = room.clone();
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        class="mention-item"
                                        data-testid="mention-item"
                                        on:click=move |_| {
                                            notify.panel_open.set(false);
                                            live.run(|l| l.open(open.clone()));
                                        }
                                    >
                                        <span class="where">{format!("{} in {place}", m.meta.author)}</span>
                                        <MessageText text=m.text.clone() me/>
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
            </Show>
        </aside>
    }
}
