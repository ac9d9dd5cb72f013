//! The person's Jobs panel, opened from the sidebar: exports of the conversation on screen or
//! of everything, the import form, and their jobs with live progress. And the notices, shown
//! whether the panel is open or not, of jobs that ended.

use leptos::html;
use leptos::prelude::*;

use super::list::{download_link, ended_line, kind_label, state_label};
use super::{ImportForm, Progress};
use crate::events::{JobInfo, JobState, is_dm};
use crate::ui::focus::focus_first;
use crate::ui::live::{LiveHandle, session_token};
use crate::ui::state::ChatState;

/// The sidebar's button that opens the panel: focus goes back there when it closes.
pub(crate) const JOBS_OPENER_ID: &str = "jobs-open";

/// The panel, whose code the browser loads when it first opens (`ui::lazy`): it is closed on
/// every page load.
#[component]
pub(crate) fn JobsPanel(
    state: ChatState,
    live: LiveHandle,
    open: RwSignal<bool>,
    hydrated: Signal<bool>,
) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            {crate::ui::lazy::jobs_panel(state, live, open, hydrated)}
        </Show>
    }
}

#[component]
pub(crate) fn Panel(
    state: ChatState,
    live: LiveHandle,
    open: RwSignal<bool>,
    hydrated: Signal<bool>,
) -> impl IntoView {
    let close_button = NodeRef::<html::Button>::new();
    // Asked afresh each time it opens; live `job` events keep it current while it is.
    Effect::new(move |_| {
        if open.get() {
            live.run(|l| l.list_jobs());
            request_animation_frame(move || {
                if let Some(b) = close_button.get_untracked() {
                    let _ = b.focus();
                }
            });
        }
    });
    let close = move || {
        open.set(false);
        // Back where the person was.
        focus_first(&[&format!("#{JOBS_OPENER_ID}")]);
    };
    let room = move || state.active.get();
    let room_title = move || {
        let room = room();
        let title = state.rooms.with(|r| r.title(&room));
        if is_dm(&room) {
            title
        } else {
            format!("#{title}")
        }
    };
    let export_label = move || {
        if is_dm(&room()) {
            "Export this conversation"
        } else {
            "Export this room"
        }
    };
    let token = Callback::new(move |()| match session_token() {
        Some(token) => Ok(Some(token)),
        // Signed in: the cookie says who.
        None if state.account.account.with_untracked(Option::is_some) => Ok(None),
        None => Err("Sign in or pick a name first: an import belongs to a person".into()),
    });
    let on_started = Callback::new(move |job: i64| live.run(|l| l.imported(job)));
    let jobs = move || state.jobs.with(|j| j.newest_first());

    view! {
        <Show when=move || open.get()>
            <section
                id="jobs-panel"
                class="jobs-panel"
                role="dialog"
                aria-modal="false"
                aria-labelledby="jobs-heading"
                data-testid="jobs-panel"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        close();
                    }
                }
            >
                <header class="jobs-head">
                    <h2 id="jobs-heading">"Jobs"</h2>
                    <button type="button" class="close" node_ref=close_button on:click=move |_| close()>
                        "Close"
                    </button>
                </header>
                <section class="jobs-export" aria-labelledby="export-heading">
                    <h3 id="export-heading">"Export"</h3>
                    <p class="export-note">
                        "A ZIP of the messages, to download when it is ready."
                    </p>
                    <div class="export-buttons">
                        <button
                            type="button"
                            aria-describedby="export-room-name"
                            disabled=move || !hydrated.get()
                            on:click=move |_| live.run(|l| l.export(Some(room())))
                        >
                            {export_label}
                        </button>
                        <span id="export-room-name" class="export-room">{room_title}</span>
                        <button
                            type="button"
                            disabled=move || !hydrated.get()
                            on:click=move |_| live.run(|l| l.export(None))
                        >
                            "Export everything"
                        </button>
                    </div>
                    <p class="jobs-alert" data-testid="jobs-alert" role="alert">{move || state.jobs_alert.get()}</p>
                </section>
                <ImportForm
                    token
                    on_started
                    hydrated
                    note="Palaver's own export, or a Slack workspace export. New rooms are made as needed."
                />
                <section class="jobs-list" aria-labelledby="jobs-list-heading">
                    <h3 id="jobs-list-heading">"Your jobs"</h3>
                    <Show when=move || state.jobs.with(|j| j.is_empty())>
                        <p class="jobs-empty">"No jobs yet."</p>
                    </Show>
                    <ul class="jobs" aria-labelledby="jobs-list-heading" data-testid="jobs">
                        <For each=jobs key=row_key children=|info| view! { <JobRow info/> }/>
                    </ul>
                </section>
            </section>
        </Show>
    }
}

/// A row's key: it changes whenever what the row shows does.
pub(super) fn row_key(info: &JobInfo) -> (i64, JobState, u32, i64, u64) {
    (
        info.id,
        info.state,
        info.attempts,
        info.updated_at,
        info.done,
    )
}

/// One of the person's jobs: what and where it stands, its progress, its summary, and its
/// download once there is one.
#[component]
fn JobRow(info: JobInfo) -> impl IntoView {
    let title = format!("{} #{}", kind_label(info.kind), info.id);
    let attempts = (info.attempts > 1).then(|| format!("attempt {}", info.attempts));
    view! {
        <li
            class="job"
            data-testid="job"
            data-job=info.id
            data-kind=info.kind.as_str()
            data-state=info.state.as_str()
        >
            <div class="job-line">
                <span class="job-title">{title}</span>
                <span class="job-state" data-testid="job-state">{state_label(&info, false)}</span>
                {attempts.map(|a| view! { <span class="job-attempts">{a}</span> })}
            </div>
            <Progress info=info.clone()/>
            {info.summary.clone().map(|s| view! { <p class="job-summary" data-testid="job-summary">{s}</p> })}
            {download_link(&info).map(|href| view! {
                <a class="download" href=href download="">"Download"</a>
            })}
        </li>
    }
}

/// The notices of jobs that ended, newest last, until dismissed. The live region is always
/// there, so that what comes into it is read out; the list's code is a chunk (`ui::lazy`),
/// loaded with the first notice: a page without jobs never shows one.
#[component]
pub(crate) fn JobNotices(notices: RwSignal<Vec<JobInfo>>) -> impl IntoView {
    let any = Memo::new(move |_| notices.with(|n| !n.is_empty()));
    view! {
        <div class="job-notices" role="status" aria-live="polite" data-testid="job-notices">
            {move || any.get().then(|| crate::ui::lazy::job_notices(notices))}
        </div>
    }
}

/// The notices themselves.
#[component]
pub(crate) fn NoticeList(notices: RwSignal<Vec<JobInfo>>) -> impl IntoView {
    view! {
            <For
                each=move || notices.get()
                key=|info| info.id
                children=move |info| {
                    let id = info.id;
                    let failed = info.state == JobState::Dead;
                    view! {
                        <p class="job-notice" class:failed=failed data-testid="job-notice" data-job=id>
                            <span class="text">{ended_line(&info)}</span>
                            {download_link(&info).map(|href| view! {
                                <a class="download" href=href download="">"Download"</a>
                            })}
                            <button
                                type="button"
                                class="dismiss"
                                aria-label="Dismiss"
                                on:click=move |_| notices.update(|n| n.retain(|i| i.id != id))
                            >
                                "×"
                            </button>
                        </p>
                    }
                }
            />
    }
}
