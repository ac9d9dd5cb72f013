//! Jobs on the page: the person's Jobs panel (their jobs with live progress, exports, an
//! import form) and the notice when one ends; `/admin`'s table of every job. The list is a
//! pure model (`list`); `upload` sends an archive to import over HTTP.

mod import_form;
mod list;
mod panel;
mod table;
mod upload;

use leptos::prelude::*;

use crate::events::JobInfo;

pub(crate) use import_form::ImportForm;
pub(crate) use list::Jobs;
pub(crate) use panel::{JOBS_OPENER_ID, JobNotices, JobsPanel, NoticeList, Panel};
pub(crate) use table::JobTable;

/// The page's clock, in ms since the Unix epoch: for jobs it lists before the server does.
pub(crate) fn page_now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now() as i64;
    #[cfg(not(feature = "hydrate"))]
    0
}

/// A job's progress bar: `done` of `total`, or an indeterminate bar while the total is not
/// known yet.
#[component]
fn Progress(info: JobInfo) -> impl IntoView {
    let label = format!("{} #{} progress", list::kind_label(info.kind), info.id);
    let line = list::progress_line(&info);
    let running = !info.state.is_final();
    let (max, value) = match info.total {
        Some(total) => (
            Some(total.max(1).to_string()),
            Some(info.done.min(total).to_string()),
        ),
        None => (None, None),
    };
    // A finished job whose size was never known has nothing to show.
    (running || max.is_some()).then(|| {
        view! {
            <span class="job-progress">
                <progress aria-label=label max=max value=value></progress>
                <span class="job-count" data-testid="job-progress">{line}</span>
            </span>
        }
    })
}
