//! The devices the account is signed in on (`sessions`), each but this one with "End"
//! (`end session`): that device is signed out at once.

use leptos::prelude::*;

use crate::events::SessionInfo;
use crate::ui::live::LiveHandle;

/// The answer to the last `sessions`: `None` while it is asked.
pub(crate) type SessionList = RwSignal<Option<Result<Vec<SessionInfo>, String>>>;

#[component]
pub(crate) fn SessionsPanel(live: LiveHandle, list: SessionList) -> impl IntoView {
    view! {
        <section class="sessions" data-testid="sessions" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Signed in on"</h2>
            {move || match list.get() {
                None => view! { <p class="sessions-loading">"Loading…"</p> }.into_any(),
                Some(Err(why)) => view! { <p class="sessions-error" role="alert">{why}</p> }.into_any(),
                Some(Ok(sessions)) => view! {
                    <ul>
                        {sessions.into_iter().map(|s| view! { <SessionRow live list session=s/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn SessionRow(live: LiveHandle, list: SessionList, session: SessionInfo) -> impl IntoView {
    let id = session.id.clone();
    let device = session.device.clone();
    view! {
        <li data-testid="session" data-session=session.id.clone() data-current=session.current.to_string()>
            <span class="device">{session.device.clone()}</span>
            <span class="seen">{format!("last seen {}", seen(session.last_seen))}</span>
            {if session.current {
                view! { <span class="this-device" data-testid="this-device">"this device"</span> }.into_any()
            } else {
                view! {
                    <button
                        type="button"
                        aria-label=format!("End the session on {device}")
                        on:click=move |_| {
                            let id = id.clone();
                            live.run(|l| l.end_session(id, list));
                        }
                    >
                        "End"
                    </button>
                }.into_any()
            }}
        </li>
    }
}

fn seen(ts_ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    return crate::ui::time::local_hm(ts_ms);
    #[cfg(not(feature = "hydrate"))]
    crate::ui::time::utc_hm(ts_ms)
}
