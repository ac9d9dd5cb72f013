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
}

impl Status {
    fn state(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Connecting => "Connecting…",
            Status::Connected => "Connected",
            Status::Reconnecting => "Reconnecting…",
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
