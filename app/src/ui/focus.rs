//! Moving focus: to an element found by selector, and the "Skip to message" link, the first
//! thing the keyboard reaches on the chat page, which leads to the composer.

use leptos::prelude::*;

/// The composer, as a selector and as its id (`conversation.rs`).
const COMPOSER: &str = "#message-input";
pub(crate) const COMPOSER_ID: &str = COMPOSER.split_at(1).1;

/// The page's element `id`, found when needed rather than held: a `NodeRef` is a signal of
/// its own element type, code of its own in the wasm. Only called in the browser.
pub(crate) fn element(id: &str) -> Option<leptos::web_sys::Element> {
    document().get_element_by_id(id)
}

/// Focuses the composer; whether there is one (a read-only room has none).
pub(crate) fn focus_composer() -> bool {
    focus_first(&[COMPOSER])
}

/// Focuses the first element matching one of `selectors`, in order; whether one was found.
pub(crate) fn focus_first(selectors: &[&str]) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return false;
        };
        for selector in selectors {
            if let Some(el) = document
                .query_selector(selector)
                .ok()
                .flatten()
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
                return true;
            }
        }
        false
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = selectors;
        false
    }
}

/// First in the page: hidden until focused, then it leads to the composer, past the header
/// and the sidebar. A link rather than focus put on the composer at load, which would open a
/// phone's keyboard and skip the header for someone who wants it.
#[component]
pub(crate) fn SkipToMessage() -> impl IntoView {
    view! {
        <a
            class="skip-link"
            href=COMPOSER
            on:click=move |ev| {
                // Focused by hand: following the link to an input scrolls to it but need not
                // focus it. Without a composer (a read-only room) the link does as links do.
                if focus_composer() {
                    ev.prevent_default();
                }
            }
        >
            "Skip to message"
        </a>
    }
}
