//! The person's jobs: listed on every connect and when the panel opens, changed by `job`
//! events, a notice when one ends; exports started from the panel.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use crate::client::{AckError, Incoming};
use crate::events::{Event as _, JobChanged, JobInfo, JobKind, ListJobs, PERSON_JOBS, StartExport};
use crate::ui::jobs::{Jobs, page_now_ms};

/// What the jobs' chunk is asked to do.
pub(crate) enum JobsWork {
    /// Ask for the person's jobs.
    List,
    /// A `job` event, still encoded.
    Changed(Incoming),
}

/// Notices shown at once at most; the oldest go first.
const NOTICES: usize = 3;

impl Live {
    /// Follows the person's jobs for as long as the page lives. The code that does is a chunk
    /// of its own (`ui/lazy.rs`), loaded by the first `job` event or the first connect with a
    /// name: a guest without one has no jobs.
    pub(super) fn follow_jobs(&self) {
        let this = self.clone();
        self.socket.on_encoded::<JobChanged>(move |event| {
            crate::ui::lazy::jobs(this.clone(), JobsWork::Changed(event))
        });
        let this = self.clone();
        // What changed while we were away; the `job` events tell the rest.
        self.socket.on_connect(move || {
            if this.state.name.with_untracked(|n| !n.is_empty()) {
                crate::ui::lazy::jobs(this.clone(), JobsWork::List);
            }
        });
    }

    /// Does `work`, in the jobs' chunk.
    pub(crate) fn jobs_work(&self, work: JobsWork) {
        match work {
            JobsWork::List => self.list_jobs(),
            JobsWork::Changed(event) => match event.decode::<JobChanged>() {
                Ok(JobChanged { job }) => {
                    let ended = self.state.jobs.try_update(|j| j.apply(job)).flatten();
                    if let Some(info) = ended {
                        self.notice(info);
                    }
                }
                Err(e) => leptos::logging::warn!("ignored `{}`: {e}", JobChanged::NAME),
            },
        }
    }

    /// Asks for the person's jobs.
    pub(crate) fn list_jobs(&self) {
        let this = self.clone();
        spawn_local(async move {
            let result = this.socket.emit_with_ack(&ListJobs {}, ACK_TIMEOUT).await;
            match result.map(|r| r.into_result()) {
                Ok(Ok(list)) => {
                    let ended = this.state.jobs.try_update(|j| j.apply_list(list.jobs));
                    for info in ended.unwrap_or_default() {
                        this.notice(info);
                    }
                }
                // The next connect, or opening the panel, asks again.
                Ok(Err(e)) => leptos::logging::warn!("jobs refused: {e}"),
                Err(e) => leptos::logging::warn!("jobs failed: {e:?}"),
            }
        });
    }

    /// Starts an export of `room`, or of every conversation the person may read.
    pub(crate) fn export(&self, room: Option<String>) {
        self.state.jobs_alert.set(None);
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .socket
                .emit_with_ack(&StartExport { room }, ACK_TIMEOUT)
                .await;
            match result.map(|r| r.into_result()) {
                Ok(Ok(started)) => this
                    .state
                    .jobs
                    .update(|j| j.started(started.job, JobKind::Export, page_now_ms())),
                Ok(Err(e)) => this
                    .state
                    .jobs_alert
                    .set(Some(format!("The export did not start: {e}"))),
                Err(AckError::NotConnected) => this.state.jobs_alert.set(Some(
                    "Not connected: export again once connected".to_owned(),
                )),
                // It may have started: the list says.
                Err(e) => {
                    this.state.jobs_alert.set(Some(format!(
                        "No answer to the export ({e}): see whether it is listed"
                    )));
                    this.list_jobs();
                }
            }
        });
    }

    /// An import this page uploaded: listed at once.
    pub(crate) fn imported(&self, job: i64) {
        self.state
            .jobs
            .update(|j| j.started(job, JobKind::Import, page_now_ms()));
    }

    /// Forgets the jobs of who we were.
    pub(super) fn forget_jobs(&self) {
        self.state.jobs.set(Jobs::new(PERSON_JOBS));
        self.state.job_notices.set(Vec::new());
    }

    fn notice(&self, info: JobInfo) {
        self.state.job_notices.update(|n| {
            n.retain(|i| i.id != info.id);
            n.push(info);
            let over = n.len().saturating_sub(NOTICES);
            n.drain(..over);
        });
    }
}
