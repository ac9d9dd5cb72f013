//! `/admin`'s imported authors: the names an import's messages were written under that nobody
//! has claimed, and the form that gives an author's messages to their person.

use leptos::either::Either;
use leptos::prelude::*;

use crate::events::ImportedAuthor;

/// The authors as last listed; `None` before the first list.
pub(crate) type Authors = RwSignal<Option<Vec<ImportedAuthor>>>;

/// The section: `list` asks for the authors, `claim` gives (author, name) and lists again.
#[component]
pub(crate) fn ImportedAuthorsPanel(
    authors: Authors,
    list: Callback<()>,
    claim: Callback<(String, String)>,
) -> impl IntoView {
    let author = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        claim.run((author.get_untracked(), name.get_untracked()));
    };
    view! {
        <form class="admin-action" on:submit=submit aria-labelledby="authors-heading">
            <h2 id="authors-heading">"Imported authors"</h2>
            <p class="import-note">
                "Imported messages keep the names they were written under. Give an author's messages to the person they belong to, and they show under that person's name."
            </p>
            <button type="button" on:click=move |_| list.run(())>"Show unclaimed"</button>
            {move || authors.get().map(|all| {
                if all.is_empty() {
                    return Either::Left(view! { <p class="recent-empty">"Nobody left to claim."</p> });
                }
                Either::Right(view! {
                    <ol class="recent" data-testid="imported-authors">
                        {all.into_iter().map(|a| {
                            let picked = a.author.clone();
                            view! {
                                <li data-testid="imported-author">
                                    <span class="author">{a.author}</span>
                                    <span class="text">{format!("{} message(s)", a.messages)}</span>
                                    <button type="button" on:click=move |_| author.set(picked.clone())>"Pick"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                })
            })}
            <input
                aria-label="Imported author"
                placeholder="Author, as listed"
                prop:value=move || author.get()
                on:input=move |ev| author.set(event_target_value(&ev))
            />
            <input
                aria-label="Their name here"
                placeholder="Their name here"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <button type="submit">"Give them their messages"</button>
        </form>
    }
}
