//! The search box (in the header) and the results panel: filters, hits with their excerpts
//! (matched words in `<mark>`, as text), room, author and date; Escape closes it.

use leptos::html;
use leptos::prelude::*;

use super::{Filters, SearchState};
use crate::events::{SearchHit, Snippet};
use crate::ui::live::LiveHandle;
use crate::ui::state::ChatState;
use crate::ui::time;

/// Runs the search the fields ask for, from its first page.
fn run(search: SearchState, live: LiveHandle) {
    #[cfg(feature = "hydrate")]
    let midnight = super::local_midnight;
    #[cfg(not(feature = "hydrate"))]
    let midnight = super::utc_midnight;
    match search.filters.with_untracked(|f| f.request(midnight)) {
        Ok(request) => live.run(|l| l.search(request, search.results, false)),
        Err(e) => search.results.update(|r| {
            *r = super::Results {
                error: Some(e),
                answered: true,
                ..Default::default()
            }
        }),
    }
}

#[component]
pub(crate) fn SearchBox(search: SearchState, hydrated: Signal<bool>) -> impl IntoView {
    let filters = search.filters;
    view! {
        <form
            class="search-box"
            role="search"
            on:submit=move |ev| {
                ev.prevent_default();
                // The panel, a chunk of its own (`ui/lazy.rs`), asks the server.
                search.open.set(true);
                search.asked.update(|n| *n += 1);
            }
        >
            <input
                id="search-input"
                type="search"
                aria-label="Search messages"
                placeholder="Search messages"
                autocomplete="off"
                maxlength="200"
                disabled=move || !hydrated.get()
                prop:value=move || filters.with(|f| f.query.clone())
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    filters.update(|f| f.query = value);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        search.open.set(false);
                    }
                }
            />
            <button type="submit" class="search-go" disabled=move || !hydrated.get()>"Search"</button>
        </form>
    }
}

/// The results panel while it is open.
#[component]
pub(crate) fn SearchPanel(
    search: SearchState,
    state: ChatState,
    live: LiveHandle,
) -> impl IntoView {
    view! {
        <Show when=move || search.open.get()>
            {crate::ui::lazy::search_results(search, state, live)}
        </Show>
    }
}

/// The panel's filters and hits; it runs every search the header's box asks for.
#[component]
pub(crate) fn ResultsPanel(
    search: SearchState,
    state: ChatState,
    live: LiveHandle,
) -> impl IntoView {
    Effect::new(move |_| {
        search.asked.track();
        run(search, live);
    });
    let panel = NodeRef::<html::Section>::new();
    let close = move || {
        search.open.set(false);
        // Back where the search started.
        #[cfg(feature = "hydrate")]
        if let Some(input) = document().get_element_by_id("search-input")
            && let Ok(input) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(input)
        {
            let _ = input.focus();
        }
    };
    let field = move |get: fn(&Filters) -> String, set: fn(&mut Filters, String)| {
        (
            move || search.filters.with(get),
            move |ev: leptos::ev::Event| {
                let value = event_target_value(&ev);
                search.filters.update(|f| set(f, value));
            },
        )
    };
    let (author, on_author) = field(|f| f.author.clone(), |f, v| f.author = v);
    let (from, on_from) = field(|f| f.from.clone(), |f, v| f.from = v);
    let (to, on_to) = field(|f| f.to.clone(), |f, v| f.to = v);
    let (room, on_room) = field(|f| f.room.clone(), |f, v| f.room = v);
    let conversations = move || {
        state.rooms.with(|r| {
            r.joined()
                .into_iter()
                .chain(r.direct())
                .map(|i| (i.room.clone(), i.title.clone()))
                .collect::<Vec<_>>()
        })
    };
    let results = search.results;
    let more = move |_| {
        if let Some(next) = results.with_untracked(super::Results::next_page) {
            live.run(|l| l.search(next, results, true));
        }
    };
    view! {
            <section
                class="search-panel"
                aria-label="Search results"
                data-testid="search-panel"
                node_ref=panel
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        close();
                    }
                }
            >
                <header class="search-head">
                    <h2>"Search"</h2>
                    <button type="button" class="search-close" aria-label="Close search" on:click=move |_| close()>"×"</button>
                </header>
                <form class="search-filters" on:submit=move |ev| {
                    ev.prevent_default();
                    run(search, live);
                }>
                    <label>
                        "In "
                        <select aria-label="Conversation" prop:value=room on:change=on_room>
                            <option value="">"All conversations"</option>
                            <For each=conversations key=|(id, _)| id.clone() let:((id, title))>
                                <option value=id.clone() selected=move || room() == id>{title}</option>
                            </For>
                        </select>
                    </label>
                    <label>
                        "By "
                        <input type="text" aria-label="Author" placeholder="anyone" prop:value=author on:input=on_author/>
                    </label>
                    <label>
                        "Since "
                        <input type="date" aria-label="From date" prop:value=from on:input=on_from/>
                    </label>
                    <label>
                        "Until "
                        <input type="date" aria-label="To date" prop:value=to on:input=on_to/>
                    </label>
                    <button type="submit">"Apply"</button>
                </form>
                <p class="search-error" role="alert">{move || results.with(|r| r.error.clone())}</p>
                <Show when=move || results.with(|r| r.answered && r.error.is_none() && r.hits.is_empty())>
                    <p class="search-empty" data-testid="search-empty">"No messages found."</p>
                </Show>
                <ol class="search-hits" aria-label="Messages found">
                    <For
                        each=move || results.with(|r| r.hits.clone())
                        key=|h| h.message.id
                        children=move |hit| view! { <Hit hit state live search/> }
                    />
                </ol>
                <p class="search-loading" aria-live="polite">{move || results.with(|r| r.loading).then_some("Searching…")}</p>
                <Show when=move || results.with(|r| r.more && !r.loading)>
                    <button type="button" class="search-more" on:click=more>"More results"</button>
                </Show>
            </section>
    }
}

#[component]
fn Hit(hit: SearchHit, state: ChatState, live: LiveHandle, search: SearchState) -> impl IntoView {
    let m = hit.message;
    let (room, id, ts) = (m.meta.room.clone(), m.id, m.meta.ts);
    let title = {
        let room = room.clone();
        move || state.rooms.with(|r| r.title(&room))
    };
    let author = m.meta.author.clone();
    let jump = move |_| {
        search.open.set(false);
        let room = room.clone();
        live.run(|l| l.jump(room, id));
    };
    view! {
        <li class="search-hit" data-testid="search-hit" data-id=id>
            <button type="button" class="hit-open" on:click=jump>
                <span class="hit-meta">
                    <span class="hit-room">{title}</span>
                    " · "
                    <span class="hit-author">{author}</span>
                    " · "
                    <time datetime=time::utc_iso(ts)>{when(ts)}</time>
                </span>
                <span class="hit-text" dir="auto">{excerpt(hit.snippet)}</span>
            </button>
        </li>
    }
}

/// The excerpt: matched words marked, everything text.
fn excerpt(snippet: Vec<Snippet>) -> Vec<AnyView> {
    snippet
        .into_iter()
        .map(|s| {
            if s.hit {
                view! { <mark>{s.text}</mark> }.into_any()
            } else {
                s.text.into_any()
            }
        })
        .collect()
}

/// The day and time of a hit, in the reader's time zone.
fn when(ts: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            d.get_full_year(),
            d.get_month() + 1,
            d.get_date(),
            d.get_hours(),
            d.get_minutes()
        )
    }
    #[cfg(not(feature = "hydrate"))]
    time::utc_iso(ts)
}
