//! The jobs a page lists (the person's, or every job on `/admin`), kept from the server's
//! `jobs` and its live `job` events, and which of them ended while the page watched.
//!
//! A list and an event may cross (the list read before a change it arrives after), and a
//! job started here is listed before the server says anything of it: each job keeps the
//! furthest of what was heard, so a late, older word never moves it back. Pure, so those
//! rules are unit-tested.

use crate::events::{JobInfo, JobKind, JobState};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Jobs {
    /// Sorted by id, each once: a B-tree would be its own code in the wasm, for a few dozen.
    by_id: Vec<JobInfo>,
    /// Jobs held at most; the oldest go first.
    cap: usize,
}

// Without `hydrate` only the server render reads the list; the rest serves the browser.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Jobs {
    pub(crate) fn new(cap: usize) -> Jobs {
        Jobs {
            by_id: Vec::new(),
            cap: cap.max(1),
        }
    }

    /// The server's list (on open and on every connect): the jobs it holds that ended since
    /// the page last heard of them, for notices. Jobs the page holds that the list leaves out
    /// stay (started since it was read, or older than its page).
    pub(crate) fn apply_list(&mut self, jobs: Vec<JobInfo>) -> Vec<JobInfo> {
        let mut ended: Vec<JobInfo> = jobs
            .into_iter()
            .filter_map(|info| {
                let known = self.find(info.id).is_some();
                self.apply(info).filter(|_| known)
            })
            .collect();
        ended.sort_by_key(|i| i.id);
        ended
    }

    /// A `job` event: the job as it now is, if this change ended it (for its notice). A job
    /// first heard of when it ends (started in another tab) ends here too.
    pub(crate) fn apply(&mut self, info: JobInfo) -> Option<JobInfo> {
        let was_final = self.find(info.id).map(|held| held.state.is_final());
        if let Some(held) = self.find(info.id)
            && rank(held) > rank(&info)
        {
            return None;
        }
        let ended = info.state.is_final() && was_final != Some(true);
        self.put(info.clone());
        self.trim();
        ended.then_some(info)
    }

    /// A job this page just started (`id` from its answer): listed as queued at once, until
    /// the server tells more. `now` is the page's clock, shown until then.
    pub(crate) fn started(&mut self, id: i64, kind: JobKind, now: i64) {
        if self.find(id).is_some() {
            return;
        }
        self.put(JobInfo {
            id,
            kind,
            state: JobState::Queued,
            attempts: 0,
            done: 0,
            total: None,
            summary: None,
            download: None,
            owner: None,
            created_at: now,
            // Older than anything the server will say of it.
            updated_at: i64::MIN,
            finished_at: None,
        });
        self.trim();
    }

    /// Newest first.
    pub(crate) fn newest_first(&self) -> Vec<JobInfo> {
        self.by_id.iter().rev().cloned().collect()
    }

    #[cfg(test)]
    fn get(&self, id: i64) -> Option<&JobInfo> {
        self.find(id)
    }

    fn find(&self, id: i64) -> Option<&JobInfo> {
        let i = self.by_id.binary_search_by_key(&id, |j| j.id).ok()?;
        Some(&self.by_id[i])
    }

    /// Holds `info` in its place by id, in place of what was held of it.
    fn put(&mut self, info: JobInfo) {
        match self.by_id.binary_search_by_key(&info.id, |j| j.id) {
            Ok(i) => self.by_id[i] = info,
            Err(i) => self.by_id.insert(i, info),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Dead jobs: dead letters, to moderators.
    pub(crate) fn dead(&self) -> usize {
        self.by_id
            .iter()
            .filter(|i| i.state == JobState::Dead)
            .count()
    }

    /// Jobs not finished yet (queued, waiting for a retry, or running).
    pub(crate) fn unfinished(&self) -> usize {
        self.by_id.iter().filter(|i| !i.state.is_final()).count()
    }

    /// "3 jobs: 1 not finished, 1 dead letter", for `/admin`.
    pub(crate) fn counts_line(&self) -> String {
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        format!(
            "{}: {} not finished, {}",
            plural(self.len(), "job"),
            self.unfinished(),
            plural(self.dead(), "dead letter")
        )
    }

    /// Drops the oldest beyond the cap: ids grow, so the smallest are the oldest.
    fn trim(&mut self) {
        if self.by_id.len() > self.cap {
            let over = self.by_id.len() - self.cap;
            self.by_id.drain(..over);
        }
    }
}

/// How far along what was heard of a job is. A job only moves forward: it ends once, each
/// claim counts an attempt, and within one its row's time and progress grow.
fn rank(info: &JobInfo) -> (bool, u32, i64, u64) {
    (
        info.state.is_final(),
        info.attempts,
        info.updated_at,
        info.done,
    )
}

/// A job's download link, if it is one of this site's paths: never another site's, nor a
/// `javascript:` URL, whatever the row says.
pub(crate) fn download_link(info: &JobInfo) -> Option<String> {
    info.download
        .as_deref()
        .filter(|href| href.starts_with('/') && !href.starts_with("//") && !href.contains('\\'))
        .map(str::to_owned)
}

/// "Export", "Import"…
pub(crate) fn kind_label(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "Export",
        JobKind::Import => "Import",
        JobKind::Webhook => "Webhook delivery",
        JobKind::Backup => "Backup",
        JobKind::Thumbnail => "Thumbnail",
    }
}

/// Where a job stands, in words. A dead job is a dead letter to moderators (`admin`), and
/// simply failed to its owner.
pub(crate) fn state_label(info: &JobInfo, admin: bool) -> &'static str {
    match info.state {
        JobState::Queued if info.attempts > 0 => "Waiting to retry",
        JobState::Queued => "Queued",
        JobState::Running => "Running",
        JobState::Done => "Done",
        JobState::Dead if admin => "Dead letter",
        JobState::Dead => "Failed",
    }
}

/// "120 of 300", "120 done", or nothing before any progress.
pub(crate) fn progress_line(info: &JobInfo) -> String {
    match info.total {
        Some(total) => format!("{} of {total}", info.done.min(total)),
        None if info.done > 0 => format!("{} done", info.done),
        None => String::new(),
    }
}

/// What a notice says of a job that ended: "Export ready", "Import finished: 300 messages",
/// "Import failed: not a ZIP archive". An export's link goes after it.
pub(crate) fn ended_line(info: &JobInfo) -> String {
    let kind = kind_label(info.kind);
    let summary = info.summary.as_deref().map(str::trim).unwrap_or_default();
    let (verb, summary) = match (info.state, info.kind) {
        (JobState::Done, JobKind::Export) if info.download.is_some() => {
            return "Export ready".into();
        }
        (JobState::Done, _) => ("finished", summary),
        (JobState::Dead, _) if summary.is_empty() => ("failed", "no reason given"),
        (JobState::Dead, _) => ("failed", summary),
        // Not ended: no notice should ask.
        (JobState::Queued | JobState::Running, _) => ("is not finished", ""),
    };
    if summary.is_empty() {
        format!("{kind} {verb}")
    } else {
        format!("{kind} {verb}: {summary}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, state: JobState, attempts: u32, updated_at: i64, done: u64) -> JobInfo {
        JobInfo {
            id,
            kind: JobKind::Import,
            state,
            attempts,
            done,
            total: Some(10),
            summary: None,
            download: None,
            owner: None,
            created_at: 1,
            updated_at,
            finished_at: None,
        }
    }

    fn ids(jobs: &Jobs) -> Vec<i64> {
        jobs.newest_first().iter().map(|i| i.id).collect()
    }

    #[test]
    fn the_list_is_newest_first_and_keeps_jobs_it_leaves_out() {
        let mut jobs = Jobs::new(50);
        jobs.started(9, JobKind::Export, 100);
        let ended = jobs.apply_list(vec![
            job(7, JobState::Done, 1, 5, 10),
            job(8, JobState::Running, 1, 6, 3),
        ]);
        assert!(
            ended.is_empty(),
            "jobs first heard of in a list are old news"
        );
        assert_eq!(ids(&jobs), [9, 8, 7]);
        assert_eq!(jobs.counts_line(), "3 jobs: 2 not finished, 0 dead letters");
        jobs.apply(job(8, JobState::Dead, 5, 9, 3));
        assert_eq!(jobs.counts_line(), "3 jobs: 1 not finished, 1 dead letter");
        assert_eq!(
            Jobs::new(5).counts_line(),
            "0 jobs: 0 not finished, 0 dead letters"
        );
    }

    #[test]
    fn progress_moves_forward_only() {
        let mut jobs = Jobs::new(50);
        assert_eq!(jobs.apply(job(1, JobState::Running, 1, 10, 4)), None);
        // A list read before that event, arriving after it.
        jobs.apply_list(vec![job(1, JobState::Running, 1, 8, 2)]);
        assert_eq!(jobs.get(1).map(|i| i.done), Some(4));
        assert_eq!(jobs.apply(job(1, JobState::Running, 1, 12, 6)), None);
        assert_eq!(jobs.get(1).map(|i| i.done), Some(6));
    }

    #[test]
    fn a_job_ends_once_and_stays_ended() {
        let mut jobs = Jobs::new(50);
        jobs.apply(job(1, JobState::Running, 1, 10, 4));
        let done = job(1, JobState::Done, 1, 20, 10);
        assert_eq!(jobs.apply(done.clone()), Some(done.clone()));
        // Told again (another node, a list): no second notice.
        assert_eq!(jobs.apply(done.clone()), None);
        assert!(jobs.apply_list(vec![done.clone()]).is_empty());
        // A progress event that lost the race cannot reopen it, whatever its clock says.
        assert_eq!(jobs.apply(job(1, JobState::Running, 1, 30, 9)), None);
        assert_eq!(jobs.get(1), Some(&done));
    }

    #[test]
    fn a_retry_after_a_failed_attempt_is_newer_than_the_attempt() {
        let mut jobs = Jobs::new(50);
        jobs.apply(job(1, JobState::Running, 1, 10, 4));
        jobs.apply(job(1, JobState::Queued, 1, 11, 4));
        assert_eq!(
            jobs.get(1).map(|i| state_label(i, false)),
            Some("Waiting to retry")
        );
        // The second attempt's worker clock may lag the first's.
        jobs.apply(job(1, JobState::Running, 2, 9, 0));
        assert_eq!(
            jobs.get(1).map(|i| (i.attempts, i.state)),
            Some((2, JobState::Running))
        );
        let dead = job(1, JobState::Dead, 2, 9, 0);
        assert_eq!(jobs.apply(dead.clone()), Some(dead));
    }

    #[test]
    fn a_job_started_here_is_listed_until_the_server_tells_more() {
        let mut jobs = Jobs::new(50);
        jobs.started(3, JobKind::Import, 1_000);
        let held = jobs.get(3).cloned();
        assert_eq!(held.as_ref().map(|i| i.state), Some(JobState::Queued));
        // The server's clock may be behind the page's: its word still wins.
        jobs.apply(job(3, JobState::Running, 1, 5, 1));
        assert_eq!(jobs.get(3).map(|i| i.state), Some(JobState::Running));
        // Started again (a repeated answer): what the server said stays.
        jobs.started(3, JobKind::Import, 2_000);
        assert_eq!(jobs.get(3).map(|i| i.state), Some(JobState::Running));
    }

    #[test]
    fn a_job_that_ended_while_away_is_noticed_from_the_next_list() {
        let mut jobs = Jobs::new(50);
        jobs.apply_list(vec![
            job(1, JobState::Running, 1, 10, 4),
            job(2, JobState::Queued, 0, 10, 0),
        ]);
        let ended = jobs.apply_list(vec![
            job(1, JobState::Done, 1, 20, 10),
            job(2, JobState::Dead, 5, 30, 0),
        ]);
        assert_eq!(ended.iter().map(|i| i.id).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn a_job_first_heard_of_as_it_ends_is_noticed() {
        let mut jobs = Jobs::new(50);
        let done = job(4, JobState::Done, 1, 20, 10);
        assert_eq!(jobs.apply(done.clone()), Some(done));
    }

    #[test]
    fn the_oldest_go_beyond_the_cap() {
        let mut jobs = Jobs::new(2);
        for id in [3, 1, 2] {
            jobs.apply(job(id, JobState::Queued, 0, 1, 0));
        }
        assert_eq!(ids(&jobs), [3, 2]);
    }

    #[test]
    fn only_this_sites_paths_are_offered_for_download() {
        let mut info = job(1, JobState::Done, 1, 1, 1);
        info.download = Some("/files/3?exp=1&sig=abc".into());
        assert_eq!(
            download_link(&info).as_deref(),
            Some("/files/3?exp=1&sig=abc")
        );
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x",
            "https://evil.example/",
            "/\\evil",
        ] {
            info.download = Some(bad.into());
            assert_eq!(download_link(&info), None, "{bad}");
        }
    }

    #[test]
    fn lines_say_where_a_job_stands_and_how_it_ended() {
        let mut info = job(1, JobState::Running, 1, 1, 120);
        info.total = Some(300);
        assert_eq!(progress_line(&info), "120 of 300");
        info.total = None;
        assert_eq!(progress_line(&info), "120 done");
        info.done = 0;
        assert_eq!(progress_line(&info), "");

        info.state = JobState::Done;
        info.summary = Some("300 messages in 2 rooms".into());
        assert_eq!(
            ended_line(&info),
            "Import finished: 300 messages in 2 rooms"
        );
        info.state = JobState::Dead;
        info.summary = Some("not a ZIP archive".into());
        assert_eq!(ended_line(&info), "Import failed: not a ZIP archive");
        assert_eq!(state_label(&info, false), "Failed");
        assert_eq!(state_label(&info, true), "Dead letter");
        info.summary = None;
        assert_eq!(ended_line(&info), "Import failed: no reason given");

        info.kind = JobKind::Export;
        info.state = JobState::Done;
        info.download = Some("/files/1?exp=1&sig=x".into());
        assert_eq!(ended_line(&info), "Export ready");
        info.download = None;
        info.summary = Some("2 conversations".into());
        assert_eq!(ended_line(&info), "Export finished: 2 conversations");
    }
}
