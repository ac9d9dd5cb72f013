//! How the server-rendered page gets its first messages.
//!
//! `app` must not depend on the server's store, so the server puts a [`RecentMessages`] loader
//! into the Leptos context and the chat page calls it while rendering.

use crate::events::ChatMessage;

#[cfg(feature = "ssr")]
pub use ssr::RecentMessages;

#[cfg(feature = "ssr")]
mod ssr {
    use super::ChatMessage;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    type LoadFuture = Pin<Box<dyn Future<Output = Result<Vec<ChatMessage>, String>> + Send>>;

    /// Loads the newest lobby messages, oldest first. Provided by the server as context.
    #[derive(Clone)]
    pub struct RecentMessages(Arc<dyn Fn() -> LoadFuture + Send + Sync>);

    impl RecentMessages {
        pub fn new<F, Fut>(load: F) -> Self
        where
            F: Fn() -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<Vec<ChatMessage>, String>> + Send + 'static,
        {
            RecentMessages(Arc::new(move || Box::pin(load())))
        }

        pub(crate) async fn load(&self) -> Result<Vec<ChatMessage>, String> {
            (self.0)().await
        }
    }
}

/// The newest lobby messages for the first render. On the server this asks the store; in the
/// browser it is never awaited, because hydration reads the value serialised into the page.
pub(crate) async fn recent_messages() -> Result<Vec<ChatMessage>, String> {
    #[cfg(feature = "ssr")]
    {
        match leptos::prelude::use_context::<RecentMessages>() {
            Some(source) => source.load().await,
            None => Err("no message source in context".to_owned()),
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        Ok(Vec::new())
    }
}
