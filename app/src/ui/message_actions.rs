//! What a reader does to a message: reply to it, edit or delete their own (moderators delete
//! anyone's), and jump to the message a reply quotes. The row (`message.rs`) draws these
//! pieces; the conversation provides them their [`Actions`].

use leptos::prelude::*;

use super::focus::focus_composer;
use super::live::LiveHandle;
use super::reactions::Reactions;
use super::state::ChatState;
use crate::events::{ChatMessage, MessageKind, ReplyQuote};

/// How long a message jumped to stays highlighted.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const HIGHLIGHT_MS: u64 = 2_500;

/// The page's state of these actions.
#[derive(Clone, Copy)]
pub(crate) struct ChangesUi {
    /// The message the next post answers, and its conversation.
    replying: RwSignal<Option<(String, ReplyQuote)>>,
    /// The message whose text is being edited.
    editing: RwSignal<Option<i64>>,
    /// The message jumped to, highlighted for a moment.
    highlighted: RwSignal<Option<i64>>,
    /// Why the last action was refused.
    error: RwSignal<Option<String>>,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl ChangesUi {
    pub(crate) fn new() -> ChangesUi {
        ChangesUi {
            replying: RwSignal::new(None),
            editing: RwSignal::new(None),
            highlighted: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }

    /// The reply to send with the next post to `room`, which it is then no longer.
    pub(crate) fn take_reply(&self, room: &str) -> Option<ReplyQuote> {
        let reply = self.replying.with_untracked(|r| {
            r.as_ref()
                .filter(|(r, _)| r == room)
                .map(|(_, q)| q.clone())
        });
        if reply.is_some() {
            self.replying.set(None);
        }
        reply
    }

    pub(crate) fn fail(&self, why: String) {
        self.error.set(Some(why));
    }

    pub(crate) fn fail_clear(&self) {
        if self.error.with_untracked(Option::is_some) {
            self.error.set(None);
        }
    }

    /// Highlights message `id` and scrolls it into view once it is drawn.
    pub(crate) fn highlight(&self, id: i64) {
        self.highlighted.set(Some(id));
        let highlighted = self.highlighted;
        // Two frames on: the list follows its newest message after it grew (an effect, and a
        // frame of its own), and would take the view back.
        request_animation_frame(move || {
            request_animation_frame(move || {
                #[cfg(feature = "hydrate")]
                if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| {
                    d.query_selector(&format!(".conversation li[data-id=\"{id}\"]"))
                        .ok()
                        .flatten()
                }) {
                    let options = web_sys::ScrollIntoViewOptions::new();
                    options.set_block(web_sys::ScrollLogicalPosition::Center);
                    el.scroll_into_view_with_scroll_into_view_options(&options);
                }
                set_timeout(
                    move || {
                        if highlighted.get_untracked() == Some(id) {
                            highlighted.set(None);
                        }
                    },
                    std::time::Duration::from_millis(HIGHLIGHT_MS),
                );
            })
        });
    }
}

/// What a row's actions need, provided by the conversation it is in.
#[derive(Clone, Copy)]
pub(crate) struct Actions {
    pub(crate) state: ChatState,
    pub(crate) live: LiveHandle,
    pub(crate) room: StoredValue<String>,
}

impl Actions {
    /// Provides the actions to the rows of conversation `room`.
    pub(crate) fn provide(state: ChatState, live: LiveHandle, room: StoredValue<String>) {
        provide_context(Actions { state, live, room });
    }

    fn moderates(&self) -> bool {
        self.state
            .account
            .account
            .with(|a| a.as_ref().is_some_and(|a| a.role.moderates()))
    }

    fn named(&self) -> bool {
        self.state.name.with(|n| !n.is_empty())
    }
}

/// Whether message `id` is the one jumped to: for the row's `class:highlighted`.
pub(crate) fn highlighted(id: i64) -> impl Fn() -> bool + Copy + 'static {
    let actions = use_context::<Actions>();
    move || actions.is_some_and(|a| a.state.changes.highlighted.with(|h| *h == Some(id)))
}

/// The message a reply answers, above its text; a click jumps to it.
#[component]
pub(crate) fn QuotedParent(reply: Option<ReplyQuote>) -> impl IntoView {
    let actions = use_context::<Actions>();
    reply.map(|q| {
        let id = q.id;
        let gone = q.author.is_empty();
        let label = if gone {
            "Reply to a deleted message".to_owned()
        } else {
            format!("Reply to {}: show the message", q.author)
        };
        view! {
            <button
                type="button"
                class="quoted"
                data-testid="quoted"
                data-reply-to=id
                aria-label=label
                on:click=move |_| {
                    if let Some(a) = actions {
                        a.live.run(|l| l.jump_to(id));
                    }
                }
            >
                <span class="quoted-author">{if gone { "deleted".to_owned() } else { q.author }}</span>
                " "
                <span class="quoted-excerpt">{q.excerpt}</span>
            </button>
        }
    })
}

/// Under a message: its reactions, and what the reader may do with it (reply, react, edit
/// and delete their own, delete anyone's as a moderator); and its text being edited.
#[component]
pub(crate) fn MessageFooter(message: ChatMessage, mine: Signal<bool>) -> impl IntoView {
    let actions = use_context::<Actions>()?;
    let id = message.id;
    let changes = actions.state.changes;
    let person = message.meta.kind.is_none();
    let quote = ReplyQuote {
        id,
        author: message.meta.author.clone(),
        excerpt: message
            .text
            .chars()
            .take(crate::events::REPLY_EXCERPT_CHARS)
            .collect(),
    };
    let reply = move |_| {
        changes
            .replying
            .set(Some((actions.room.get_value(), quote.clone())));
        focus_composer();
    };
    let may_edit = move || person && mine.get();
    let may_delete = move || (person && mine.get()) || actions.moderates();
    let editing = move || changes.editing.with(|e| *e == Some(id));
    let remove = move |_| {
        let room = actions.room.get_value();
        actions.live.run(|l| l.remove_message(room.clone(), id));
    };
    let text = message.text.clone();
    let reactable = message.meta.kind != Some(MessageKind::Deleted);
    Some(view! {
        <Show when=editing>
            {super::lazy::edit_form(id, text.clone())}
        </Show>
        {reactable.then(|| view! { <Reactions message=message.clone()/> })}
        <Show when=move || actions.named()>
            <div class="message-actions" data-testid="message-actions">
                <button type="button" class="action" data-testid="reply" on:click=reply.clone()>
                    "Reply"
                </button>
                <Show when=may_edit>
                    <button
                        type="button"
                        class="action"
                        data-testid="edit"
                        on:click=move |_| changes.editing.set(Some(id))
                    >
                        "Edit"
                    </button>
                </Show>
                <Show when=may_delete>
                    <button type="button" class="action" data-testid="delete" on:click=remove>
                        "Delete"
                    </button>
                </Show>
            </div>
        </Show>
    })
}

/// The text of message `id` being edited: Enter (or Save) saves, Escape (or Cancel) does not.
#[component]
pub(crate) fn EditForm(id: i64, text: String) -> impl IntoView {
    let actions = use_context::<Actions>().expect("rows have actions");
    let changes = actions.state.changes;
    let draft = RwSignal::new(text);
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let room = actions.room.get_value();
        let text = draft.get_untracked();
        actions
            .live
            .run(|l| l.edit_message(room.clone(), id, text.clone()));
        changes.editing.set(None);
    };
    view! {
        <form class="edit-form" data-testid="edit-form" on:submit=save>
            <input
                node_ref=input
                aria-label="Edit message"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        changes.editing.set(None);
                    }
                }
            />
            <button type="submit">"Save"</button>
            <button type="button" on:click=move |_| changes.editing.set(None)>"Cancel"</button>
        </form>
    }
}

/// Above the composer: the message the next post answers, and a way to not answer it.
#[component]
pub(crate) fn ReplyBanner() -> impl IntoView {
    let actions = use_context::<Actions>()?;
    let changes = actions.state.changes;
    let quote = move || {
        changes.replying.with(|r| {
            r.as_ref()
                .filter(|(room, _)| actions.room.with_value(|here| here == room))
                .map(|(_, q)| q.clone())
        })
    };
    Some(view! {
        {move || quote().map(|q| crate::ui::lazy::replying(q, changes))}
        {move || changes.error.get().map(|why| view! {
            <p class="action-error" role="alert" data-testid="action-error">
                {why}
                <button type="button" class="action" aria-label="Dismiss" on:click=move |_| changes.error.set(None)>"×"</button>
            </p>
        })}
    })
}

/// The message the next post answers; a chunk (`ui::lazy`), loaded on the first reply.
#[component]
pub(crate) fn Replying(quote: ReplyQuote, changes: ChangesUi) -> impl IntoView {
    view! {
        <div class="reply-banner" data-testid="reply-banner">
            <span>"Replying to " <strong>{quote.author}</strong> ": " <span class="quoted-excerpt">{quote.excerpt}</span></span>
            <button
                type="button"
                class="action"
                aria-label="Cancel the reply"
                on:click=move |_| changes.replying.set(None)
            >
                "×"
            </button>
        </div>
    }
}
