//! The Leptos UI: the HTML shell, the choice of page, the chat page and the admin page.

mod account;
mod address;
mod admin;
mod attachments;
mod autocomplete;
mod chat;
mod composer;
mod conversation;
mod drawer;
#[cfg(feature = "hydrate")]
mod fetch;
mod focus;
mod jobs;
mod lazy;
mod live;
mod markdown;
mod markup;
mod mentions;
mod message;
mod message_actions;
mod notifications;
mod outbox;
mod profiles;
mod reactions;
mod reading;
mod room_browser;
mod room_settings;
mod rooms;
mod search;
mod sidebar;
mod state;
mod status;
mod time;
mod timeline;

use leptos::either::EitherOf3;
use leptos::prelude::*;

use crate::client::early;
use crate::history::{self, FirstPage};

/// A speech bubble, inline so the page needs no static assets besides the build output.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Cpath fill='%233056d3' d='M4 6a4 4 0 0 1 4-4h16a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H13l-7 6v-6H8a4 4 0 0 1-4-4z'/%3E%3C/svg%3E";

/// Registers the service worker (served by the server at this path) once the page has loaded,
/// so that it never competes with the page's own files.
const REGISTER_WORKER: &str = r#"if("serviceWorker"in navigator)addEventListener("load",()=>navigator.serviceWorker.register("/sw.js").catch(()=>{}))"#;

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
    let register_worker =
        view! { <script nonce=nonce.clone() inner_html=REGISTER_WORKER></script> };
    // The build's own address for its scripts, wasm and chunks (the server's `build_files`).
    let root = use_context::<BuildRoot>().map(|r| r.0).unwrap_or_default();
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
                <title>"Palaver"</title>
                <link rel="stylesheet" href="/pkg/palaver.css"/>
                <link rel="icon" href=FAVICON/>
                // Installing the app: its manifest, icons and the colour of its bar (the header's).
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png"/>
                <meta name="theme-color" media="(prefers-color-scheme: light)" content="#ffffff"/>
                <meta name="theme-color" media="(prefers-color-scheme: dark)" content="#1a1f25"/>
                {register_worker}
                // Ahead of everything the page loads: opens its socket (`client::early`).
                {early_socket}
                <AutoReload options=options.clone()/>
                <HydrationScripts options root/>
                // The first messages, for the browser to hydrate with (`history`).
                {first_page_json}
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Where the page asks for its build's scripts, wasm and chunks: `/b/<build>`, given by the
/// server so that a page never loads another build's chunk. Without it, `/pkg/` itself.
#[derive(Clone, Debug)]
pub struct BuildRoot(pub String);

/// The page's body. Its head is the shell's alone, written by the server and never hydrated:
/// nothing in the browser changes it but the tab's title (`notifications`), through the
/// document itself.
#[component]
pub fn App() -> impl IntoView {
    match Page::current() {
        Page::Chat => EitherOf3::A(view! { <chat::ChatPage/> }),
        Page::Admin => EitherOf3::B(lazy::admin_page()),
        Page::NotFound => EitherOf3::C(view! { <NotFound/> }),
    }
}

/// Hydrates the page the server rendered. `/admin`'s code may be a chunk of its own
/// (`lazy`): it is fetched first.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    #[cfg(feature = "split")]
    if Page::current() == Page::Admin {
        wasm_bindgen_futures::spawn_local(async {
            match lazy::load_admin().await {
                Ok(()) => leptos::mount::hydrate_body(App),
                // The server's page stays, inert: without its code it cannot be hydrated.
                Err(e) => leptos::logging::error!("/admin: {e}; reload the page"),
            }
        });
        return;
    }
    leptos::mount::hydrate_body(App);
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
    /// Conversations' addresses (`address.rs`), in axum's syntax: the chat page too.
    pub const CONVERSATION_PATHS: [&str; 2] = ["/r/{room}", "/dm/{name}"];

    /// The page at `path`: the one place that maps paths to pages.
    pub fn at(path: &str) -> Page {
        match path {
            "/admin" => Page::Admin,
            path if address::target(path).is_some() => Page::Chat,
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
        assert_eq!(Page::CONVERSATION_PATHS.map(Page::at), [Page::Chat; 2]);
        assert_eq!(Page::at("/r/rust"), Page::Chat);
        assert_eq!(Page::at("/dm/Ann%20Smith"), Page::Chat);
        for other in [
            "/admin/",
            "/chat",
            "",
            "/index.html",
            "/r/",
            "/r/a/b",
            "/dm/",
        ] {
            assert_eq!(Page::at(other), Page::NotFound, "{other}");
        }
    }
}
