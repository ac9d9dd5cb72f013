//! Where a window of older messages (a jump to a search's hit) ends and the messages not held
//! begin: a row after the window's last message that loads the next page of the gap.

use leptos::prelude::*;

use crate::ui::live::LiveHandle;
use crate::ui::timeline::Timeline;

/// Shown after message `after` while the gap follows it.
#[component]
pub(crate) fn GapMarker(
    timeline: RwSignal<Timeline>,
    after: Option<i64>,
    live: LiveHandle,
) -> impl IntoView {
    let here = move || after.is_some() && timeline.with(Timeline::gap_shown_after) == after;
    let loading = move || timeline.with(|t| t.gap_after().is_none());
    view! {
        <Show when=here>
            <li class="gap" data-testid="gap">
                <button type="button" disabled=loading on:click=move |_| live.run(|l| l.fill_gap())>
                    "Show newer messages"
                </button>
            </li>
        </Show>
    }
}
