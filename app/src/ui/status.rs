//! The connection badge.

use leptos::prelude::*;

/// What the badge shows. Before hydration the page cannot be connected, so it starts as
/// `Connecting` on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) enum Status {
    #[default]
    Connecting,
    Connected,
    Reconnecting,
    /// A moderator disconnected this person; the page does not reconnect until reloaded.
    Removed,
}

impl Status {
    fn state(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
            Status::Removed => "removed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Connecting => "Connecting…",
            Status::Connected => "Connected",
            Status::Reconnecting => "Reconnecting…",
            Status::Removed => "Removed by a moderator",
        }
    }
}

#[component]
pub(crate) fn StatusBadge(status: RwSignal<Status>) -> impl IntoView {
    view! {
        <span
            class="status"
            data-testid="status"
            role="status"
            data-state=move || status.get().state()
        >
            <span class="dot" aria-hidden="true"></span>
            {move || status.get().label()}
        </span>
    }
}
