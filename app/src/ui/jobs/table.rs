//! `/admin`'s table of every job: whose, what, where it stands, how many attempts, and what it
//! said. Dead jobs (dead letters: every attempt failed, or none could succeed) stand out.

use leptos::prelude::*;

use super::Progress;
use super::list::{Jobs, kind_label, state_label};
use super::panel::row_key;
use crate::events::{JobInfo, JobState};

#[component]
pub(crate) fn JobTable(jobs: RwSignal<Jobs>) -> impl IntoView {
    let rows = move || jobs.with(|j| j.newest_first());
    let counts = move || jobs.with(Jobs::counts_line);
    view! {
        <p class="job-counts" data-testid="job-counts">{counts}</p>
        <div class="table-scroll">
            <table class="job-table" aria-labelledby="jobs-heading" data-testid="job-table">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Owner"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col">"Summary"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=rows key=row_key children=|info| view! { <JobTableRow info/> }/>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn JobTableRow(info: JobInfo) -> impl IntoView {
    let dead = info.state == JobState::Dead;
    view! {
        <tr
            data-testid="admin-job"
            data-job=info.id
            data-state=info.state.as_str()
            class:dead=dead
        >
            <th scope="row">{format!("#{}", info.id)}</th>
            <td class="owner">{info.owner.clone().unwrap_or_else(|| "(server)".to_owned())}</td>
            <td>{kind_label(info.kind)}</td>
            <td class="state">
                {dead.then(|| view! { <span class="dead-mark" aria-hidden="true">"⚠ "</span> })}
                <span data-testid="admin-job-state">{state_label(&info, true)}</span>
            </td>
            <td>{info.attempts}</td>
            <td><Progress info=info.clone()/></td>
            <td class="summary">{info.summary.clone()}</td>
        </tr>
    }
}
