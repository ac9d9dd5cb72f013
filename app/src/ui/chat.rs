//! The chat page: header with status and name, the message list, and the composer.

use leptos::html;
use leptos::prelude::*;

use super::live::Live;
use super::message::MessageRow;
use super::status::{Status, StatusBadge};
use super::timeline::{Row, Timeline};
use crate::events::{ChatError, ChatMessage, Presence, typing_phrase, validate_text};
use crate::history::recent_messages;

/// How close to the newest message (in px) still counts as "reading the newest".
const STICK_PX: i32 = 48;

#[component]
pub(crate) fn ChatPage() -> impl IntoView {
    // Blocking: rendered into the first HTML response and serialised for hydration.
    let recent = Resource::new_blocking(|| (), |_| recent_messages());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match recent.await {
                    Ok(messages) => view! { <ChatRoom initial=messages/> }.into_any(),
                    Err(e) => view! {
                        <main class="chat"><p class="fatal" role="alert">{format!("Could not load messages: {e}")}</p></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ChatRoom(initial: Vec<ChatMessage>) -> impl IntoView {
    let timeline = RwSignal::new(Timeline::new(initial));
    let status = RwSignal::new(Status::default());
    let name = RwSignal::new(String::new());
    let name_error = RwSignal::new(None::<String>);
    let presence = RwSignal::new(Presence::default());
    let typists = RwSignal::new(Vec::<String>::new());
    let hydrated = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let composer_error = RwSignal::new(None::<String>);
    // Whether the reader is at the newest message; the list follows it only then.
    let stick = RwSignal::new(true);
    let unseen = RwSignal::new(0usize);
    let scroller = NodeRef::<html::Div>::new();
    // The browser's `Live` holds JS handles, so it needs thread-local storage. The server's is
    // inert and `Send`: local storage there would panic when tokio drops the render's owner on
    // another worker thread.
    #[cfg(feature = "hydrate")]
    let live = StoredValue::new_local(None::<Live>);
    #[cfg(not(feature = "hydrate"))]
    let live = StoredValue::new(None::<Live>);

    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        live.set_value(Some(Live::start(
            timeline, status, name, name_error, presence, typists,
        )));
        hydrated.set(true);
    });

    let scroll_to_newest = move || {
        // The scroller is `column-reverse`, so its newest end is scrollTop 0; that also makes
        // the server-rendered page open at the newest message before any script runs.
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(0);
        }
        unseen.set(0);
    };
    Effect::new(move |previous: Option<usize>| {
        let len = timeline.with(Timeline::len);
        if previous.is_some_and(|p| len > p) {
            if stick.get_untracked() {
                request_animation_frame(scroll_to_newest);
            } else {
                unseen.update(|n| *n += len - previous.unwrap_or(len));
            }
        }
        len
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let at_newest = el.scroll_top() >= -STICK_PX;
            stick.set(at_newest);
            if at_newest {
                unseen.set(0);
            }
        }
    };

    let with_live = move |f: &dyn Fn(&Live)| live.with_value(|l| l.as_ref().map(f));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        match validate_text(&text) {
            Ok(text) => {
                with_live(&|l| l.post(text.to_owned()));
                draft.set(String::new());
                composer_error.set(None);
                stick.set(true);
                request_animation_frame(scroll_to_newest);
            }
            // Nothing to send; not worth an error message.
            Err(ChatError::Empty) => draft.set(String::new()),
            Err(e) => composer_error.set(Some(e.to_string())),
        }
    };
    let on_retry = Callback::new(move |key: String| {
        with_live(&|l| l.retry(key.clone()));
    });
    let on_discard = Callback::new(move |key: String| {
        with_live(&|l| l.discard(key.clone()));
    });
    let me = Signal::derive(move || name.get());
    let hydrated_sig = Signal::from(hydrated);

    view! {
        <main class="chat" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"Palaver"</h1>
                <StatusBadge status/>
                <label class="name">
                    <span class="visually-hidden">"Display name"</span>
                    <input
                        id="display-name"
                        aria-label="Display name"
                        autocomplete="nickname"
                        maxlength="32"
                        placeholder="Pick a name"
                        aria-invalid=move || name_error.get().is_some().to_string()
                        aria-describedby="name-error"
                        prop:value=move || name.get()
                        disabled=move || !hydrated.get()
                        on:change=move |ev| {
                            let value = event_target_value(&ev);
                            with_live(&|l| l.rename(value.clone()));
                        }
                    />
                </label>
                <p id="name-error" class="name-error" role="alert">{move || name_error.get()}</p>
            </header>
            <p class="presence" data-testid="presence">
                {move || presence.with(|p| online_line(&p.online, p.guests))}
            </p>
            <div class="scroller" node_ref=scroller on:scroll=on_scroll>
                <ol
                    class="messages"
                    data-testid="messages"
                    aria-label="Messages"
                    aria-live="polite"
                    aria-relevant="additions"
                >
                    <For
                        each=move || timeline.with(Timeline::rows)
                        key=Row::key
                        children=move |row| view! { <MessageRow row me hydrated=hydrated_sig on_retry on_discard/> }
                    />
                </ol>
                <Show when=move || timeline.with(|t| t.len() == 0)>
                    <p class="empty">"No messages yet. Say hello!"</p>
                </Show>
            </div>
            <Show when=move || { unseen.get() > 0 }>
                <button type="button" class="jump" on:click=move |_| scroll_to_newest()>
                    {move || match unseen.get() {
                        1 => "1 new message ↓".to_owned(),
                        n => format!("{n} new messages ↓"),
                    }}
                </button>
            </Show>
            <p class="typing" data-testid="typing" aria-live="polite">
                {move || typists.with(|t| typing_phrase(t))}
            </p>
            <form class="composer" data-testid="composer" on:submit=submit>
                <input
                    id="message-input"
                    aria-label="Message"
                    autocomplete="off"
                    placeholder="Write a message…"
                    prop:value=move || draft.get()
                    on:input=move |ev| {
                        draft.set(event_target_value(&ev));
                        with_live(&|l| l.typed());
                    }
                    disabled=move || !hydrated.get()
                    aria-invalid=move || composer_error.get().is_some().to_string()
                    aria-describedby="composer-error"
                />
                <button type="submit" disabled=move || !hydrated.get()>"Send"</button>
                <p id="composer-error" class="composer-error" role="alert">{move || composer_error.get()}</p>
            </form>
        </main>
    }
}

/// "Online: ann, bob and 2 guests", or nothing before the server said.
fn online_line(online: &[String], guests: usize) -> String {
    let guests = match guests {
        0 => None,
        1 => Some("1 guest".to_owned()),
        n => Some(format!("{n} guests")),
    };
    match (online.is_empty(), guests) {
        (true, None) => String::new(),
        (true, Some(g)) => format!("Online: {g}"),
        (false, None) => format!("Online: {}", online.join(", ")),
        (false, Some(g)) => format!("Online: {} and {g}", online.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::online_line;

    #[test]
    fn the_online_line_reads_naturally() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(online_line(&[], 0), "");
        assert_eq!(online_line(&names(&["ann", "bob"]), 0), "Online: ann, bob");
        assert_eq!(online_line(&names(&["ann"]), 1), "Online: ann and 1 guest");
        assert_eq!(online_line(&[], 3), "Online: 3 guests");
    }
}
