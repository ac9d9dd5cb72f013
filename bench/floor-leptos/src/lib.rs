//! The front end's floor: the least a hydrated Leptos 0.8 page costs. A page of 50 messages
//! (as many as Palaver's first page shows) in a reactive list, hydrated by a wasm with nothing
//! else in it: no socket, no router, no `leptos_meta`. The benchmark measures its first load
//! and its hydration beside Palaver's, the same way (`bench/node/frontend.mjs`).

use leptos::prelude::*;

/// Messages on the page: Palaver's first page (`app::events::HISTORY_PAGE`).
pub const MESSAGES: usize = 50;

/// The whole document, as the server renders it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"Floor"</title>
                <link rel="stylesheet" href="/pkg/floor.css"/>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run in the browser only, once hydration has attached the page.
    Effect::new(move |_| hydrated.set(true));
    let messages = RwSignal::new(
        (1..=MESSAGES)
            .map(|i| {
                (
                    i,
                    format!("user{}", i % 7),
                    format!("message {i}: lorem ipsum dolor sit amet consectetur adipiscing elit"),
                )
            })
            .collect::<Vec<_>>(),
    );
    view! {
        <main data-hydrated=move || hydrated.get().to_string()>
            <header>
                <h1>"lobby"</h1>
                // No socket here: the badge the benchmark waits for is there from the start,
                // so its "hydrated and connected" is this page's "hydrated".
                <span data-testid="status" data-state="connected">"connected"</span>
            </header>
            <ul>
                <For
                    each=move || messages.get()
                    key=|(i, _, _)| *i
                    children=|(_, author, text)| {
                        view! {
                            <li data-testid="message">
                                <b>{author}</b>
                                " "
                                <span>{text}</span>
                            </li>
                        }
                    }
                />
            </ul>
        </main>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
