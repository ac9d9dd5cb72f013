//! The Leptos UI: the HTML shell, the choice of page, the chat page and the admin page.

mod account;
mod admin;
mod attachments;
mod chat;
mod conversation;
#[cfg(feature = "hydrate")]
mod fetch;
mod jobs;
mod live;
mod message;
mod outbox;
mod profiles;
mod room_settings;
mod rooms;
mod sidebar;
mod state;
mod status;
mod time;
mod timeline;

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};

use crate::client::early;
use crate::history::{self, FirstPage};

/// A speech bubble, inline so the page needs no static assets besides the build output.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Cpath fill='%233056d3' d='M4 6a4 4 0 0 1 4-4h16a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H13l-7 6v-6H8a4 4 0 0 1-4-4z'/%3E%3C/svg%3E";

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // Only the chat page's request carries one; read (and cloned) once for both scripts.
    let first_page = FirstPage::current();
    // The nonce the response's Content-Security-Policy names (leptos' own scripts carry it
    // too). A data block is not run, but carries it so that every script of the page does.
    let nonce = use_nonce();
    let early_socket = first_page.as_ref().filter(|page| page.0.is_ok()).map(|_| {
        let nonce = nonce.clone();
        view! { <script nonce=nonce inner_html=early::script()></script> }
    });
    let first_page_json = first_page.map(|page| {
        view! { <script type="application/json" nonce=nonce id=history::ELEMENT_ID inner_html=page.to_json()></script> }
    });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href=FAVICON/>
                // Ahead of everything the page loads: opens its socket (`client::early`).
                {early_socket}
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
                // The first messages, for the browser to hydrate with (`history`).
                {first_page_json}
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/palaver.css"/>
        <Title text="Palaver"/>
        {match Page::current() {
            Page::Chat => EitherOf3::A(view! { <chat::ChatPage/> }),
            Page::Admin => EitherOf3::B(view! { <admin::AdminPage/> }),
            Page::NotFound => EitherOf3::C(view! { <NotFound/> }),
        }}
    }
}

/// The app's pages. Each load shows one, picked by its path; links between them load the page
/// anew. No client-side router: with two pages it would only add to the wasm, and its erased
/// route views keep an asynchronous copy of each page's hydration code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Chat,
    Admin,
    NotFound,
}

impl Page {
    /// The paths the server renders the app at; every other path is [`Page::NotFound`].
    pub const PATHS: [&str; 2] = ["/", "/admin"];

    /// The page at `path`: the one place that maps paths to pages.
    pub fn at(path: &str) -> Page {
        match path {
            "/" => Page::Chat,
            "/admin" => Page::Admin,
            _ => Page::NotFound,
        }
    }

    /// The page being rendered: from the request on the server, from the address in the browser.
    fn current() -> Page {
        #[cfg(feature = "ssr")]
        let path = use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_owned());
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        let path = web_sys::window().and_then(|w| w.location().pathname().ok());
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        let path: Option<String> = None;
        Page::at(path.as_deref().unwrap_or_default())
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="not-found">
            <h1>"Not found"</h1>
            <p><a href="/">"Back to the chat"</a></p>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server registers `PATHS`; each must be a page, and every page but "not found" listed.
    #[test]
    fn every_path_the_server_registers_is_a_page() {
        let pages = Page::PATHS.map(Page::at);
        assert_eq!(pages, [Page::Chat, Page::Admin]);
        for other in ["/admin/", "/chat", "", "/index.html"] {
            assert_eq!(Page::at(other), Page::NotFound, "{other}");
        }
    }
}
