//! How the server-rendered page gets its first messages, and how the browser gets the same ones
//! back to hydrate it.
//!
//! The server loads the newest lobby messages before it renders `/` and hands them to the
//! render as a request extension, a [`FirstPage`]. The chat page draws them, and the shell writes
//! the same value as JSON into the document's head, where the browser reads it synchronously
//! before hydrating. (A `Resource` inside `Suspense` did this before; it made the wasm carry an
//! asynchronous copy of the page's hydration code as well.)

use serde::{Deserialize, Serialize};

use crate::events::ChatMessage;

/// The newest lobby messages, oldest first, or why they could not be loaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FirstPage(pub Result<Vec<ChatMessage>, String>);

/// The `<script type="application/json">` in the head that carries the [`FirstPage`].
pub(crate) const ELEMENT_ID: &str = "palaver-first-page";

impl FirstPage {
    /// The page to render with. None on the server for a request that carries none; in the
    /// browser, none after a navigation inside the app (the socket's history fills the lobby).
    pub(crate) fn current() -> Option<FirstPage> {
        #[cfg(feature = "ssr")]
        {
            leptos::prelude::use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<FirstPage>().cloned())
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            let text = web_sys::window()?
                .document()?
                .get_element_by_id(ELEMENT_ID)?
                .text_content()?;
            Some(FirstPage::from_json(&text))
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            None
        }
    }

    /// The JSON to put inside the head's script element. `<` is escaped, so no message text can
    /// close the element or open a comment; JSON readers turn `\u003c` back into `<`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("a first page is plain data and always serialises")
            .replace('<', "\\u003c")
    }

    /// Reads what [`FirstPage::to_json`] wrote; anything else is an error to show, not a panic.
    pub fn from_json(text: &str) -> FirstPage {
        crate::client::args::read(text)
            .unwrap_or_else(|e| FirstPage(Err(format!("the page's messages are unreadable: {e}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::MessageMeta;

    fn message(text: &str) -> ChatMessage {
        ChatMessage {
            text: text.to_owned(),
            id: 42,
            meta: MessageMeta {
                room: "lobby".to_owned(),
                author: "ann".to_owned(),
                ts: 1_700_000_000_000,
                seq: 7,
                client_offset: None,
                kind: None,
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_json_cannot_close_its_script_element_and_reads_back_the_same() {
        let page = FirstPage(Ok(vec![message(
            "</script><script>alert(1)</script><!-- x",
        )]));
        let json = page.to_json();
        assert!(!json.contains('<'), "{json}");
        assert_eq!(FirstPage::from_json(&json), page);

        let failed = FirstPage(Err("database unavailable".to_owned()));
        assert_eq!(FirstPage::from_json(&failed.to_json()), failed);
    }

    #[test]
    fn unreadable_json_is_an_error_to_show() {
        let FirstPage(result) = FirstPage::from_json("{\"Ok\": [1, 2]}");
        assert!(result.unwrap_err().contains("unreadable"));
    }
}
