//! The jobs table (see migration 0011): each job's record, and the claims, progress and ends
//! that workers write. Written through the pool, not the writer: a job's row is written a few
//! times in its life, and the writer's transactions are for messages and their rooms.

use app::events::{JobKind, JobState};
use sqlx::Row as _;

use crate::store::{Pool, Store, StoreError, on_pool};

/// A job's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct JobId(pub(crate) i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A job to queue.
#[derive(Debug, Clone)]
pub(crate) struct NewJob<'a> {
    pub(crate) kind: JobKind,
    /// The person it is for, if any.
    pub(crate) owner: Option<&'a str>,
    pub(crate) payload: &'a str,
    /// At most one unfinished job per key: queueing another with the same key while one waits
    /// or runs queues nothing and gives that one's id.
    pub(crate) dedupe: Option<&'a str>,
    /// Milliseconds since the Unix epoch: not before.
    pub(crate) run_at: i64,
}

/// A job's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobRow {
    pub(crate) id: JobId,
    pub(crate) kind: JobKind,
    pub(crate) owner: Option<String>,
    pub(crate) payload: String,
    pub(crate) state: JobState,
    pub(crate) attempts: i64,
    pub(crate) run_at: i64,
    pub(crate) lease_until: Option<i64>,
    pub(crate) progress_done: i64,
    pub(crate) progress_total: Option<i64>,
    pub(crate) result: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) finished_at: Option<i64>,
    /// The owner's name now, where the query read it.
    pub(crate) owner_name: Option<String>,
}

const JOB_COLUMNS: &str = "id, kind, owner, payload, state, attempts, run_at, lease_until, \
     progress_done, progress_total, result, error, created_at, updated_at, finished_at";
/// [`JOB_COLUMNS`] of `jobs j`, and the owner's name, from `people p`.
const NAMED_JOB_COLUMNS: &str = "j.id, j.kind, j.owner, j.payload, j.state, j.attempts, \
     j.run_at, j.lease_until, j.progress_done, j.progress_total, j.result, j.error, \
     j.created_at, j.updated_at, j.finished_at, p.name AS owner_name";

macro_rules! job_row {
    ($($row:ty),*) => {$(
        impl sqlx::FromRow<'_, $row> for JobRow {
            fn from_row(row: &$row) -> Result<JobRow, sqlx::Error> {
                let kind: String = row.try_get("kind")?;
                let state: String = row.try_get("state")?;
                let decode = |column: &str, value: &str| sqlx::Error::ColumnDecode {
                    index: column.to_owned(),
                    source: format!("unknown value `{value}`").into(),
                };
                Ok(JobRow {
                    id: JobId(row.try_get("id")?),
                    kind: JobKind::parse(&kind).ok_or_else(|| decode("kind", &kind))?,
                    owner: row.try_get("owner")?,
                    payload: row.try_get("payload")?,
                    state: JobState::parse(&state).ok_or_else(|| decode("state", &state))?,
                    attempts: row.try_get("attempts")?,
                    run_at: row.try_get("run_at")?,
                    lease_until: row.try_get("lease_until")?,
                    progress_done: row.try_get("progress_done")?,
                    progress_total: row.try_get("progress_total")?,
                    result: row.try_get("result")?,
                    error: row.try_get("error")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    finished_at: row.try_get("finished_at")?,
                    // Read only by the queries that join the people table.
                    owner_name: row.try_get("owner_name").ok().flatten(),
                })
            }
        }
    )*};
}
job_row!(sqlx::sqlite::SqliteRow, sqlx::postgres::PgRow);

/// How a claimed job ends, or waits for another try.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ending<'a> {
    /// Finished; `result` is the kind's JSON of what it made.
    Done { result: Option<&'a str> },
    /// Failed; tried again at `retry_at`.
    Retry { error: &'a str, retry_at: i64 },
    /// Failed for good.
    Dead { error: &'a str },
}

impl Store {
    /// Queues `job`: its id, and whether it was queued now (`false`: an unfinished job with
    /// the same dedupe key was there already, and that is its id).
    pub(crate) async fn enqueue_job(
        &self,
        job: &NewJob<'_>,
        now: i64,
    ) -> Result<(JobId, bool), StoreError> {
        let inserted: Option<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "INSERT INTO jobs (kind, owner, payload, state, run_at, dedupe, created_at, updated_at)
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6)
             ON CONFLICT (dedupe) DO NOTHING
             RETURNING id",
        )
        .bind(job.kind.as_str())
        .bind(job.owner)
        .bind(job.payload)
        .bind(job.run_at)
        .bind(job.dedupe)
        .bind(now)
        .fetch_optional(p)
        .await?);
        if let Some((id,)) = inserted {
            return Ok((JobId(id), true));
        }
        let (id,): (i64,) = on_pool!(self, p => sqlx::query_as(
            "SELECT id FROM jobs WHERE dedupe = $1",
        )
        .bind(job.dedupe)
        .fetch_one(p)
        .await?);
        Ok((JobId(id), false))
    }

    /// Claims the job that is due first, of `kinds`, for `worker` until `lease_until`: one
    /// queued and due, or running with its lease run out (its worker died) and claimed fewer
    /// than `max_attempts` times. Two workers never claim the same job at once.
    pub(crate) async fn claim_job(
        &self,
        kinds: &[JobKind],
        worker: &str,
        now: i64,
        lease_until: i64,
        max_attempts: i64,
    ) -> Result<Option<JobRow>, StoreError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let kinds = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".to_owned());
        let due = "((state = 'queued' AND run_at <= $1)
                    OR (state = 'running' AND lease_until < $1 AND attempts < $4))";
        Ok(match &self.pool {
            // One statement: SQLite runs it under its write lock, so nobody claims in between.
            Pool::Sqlite { pool, .. } => {
                sqlx::query_as(&format!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $2,
                         lease_until = $3, updated_at = $1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE {due} AND kind IN (SELECT value FROM json_each($5))
                                 ORDER BY run_at, id LIMIT 1)
                     RETURNING {JOB_COLUMNS}"
                ))
                .bind(now)
                .bind(worker)
                .bind(lease_until)
                .bind(max_attempts)
                .bind(&kinds)
                .fetch_optional(pool)
                .await?
            }
            // Other nodes' workers claim at the same time: each skips the rows another locked.
            Pool::Postgres { pool, .. } => {
                sqlx::query_as(&format!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $2,
                         lease_until = $3, updated_at = $1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE {due}
                                   AND kind IN (SELECT json_array_elements_text($5::json))
                                 ORDER BY run_at, id LIMIT 1
                                 FOR UPDATE SKIP LOCKED)
                     RETURNING {JOB_COLUMNS}"
                ))
                .bind(now)
                .bind(worker)
                .bind(lease_until)
                .bind(max_attempts)
                .bind(&kinds)
                .fetch_optional(pool)
                .await?
            }
        })
    }

    /// Claims job `id` as [`Store::claim_job`] would claim it, if it is due: `None` when it is
    /// not (done, dead, waiting for its retry, or running under a live claim).
    pub(crate) async fn claim_job_by_id(
        &self,
        id: JobId,
        worker: &str,
        now: i64,
        lease_until: i64,
        max_attempts: i64,
    ) -> Result<Option<JobRow>, StoreError> {
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $2,
                 lease_until = $3, updated_at = $1
             WHERE id = $5
               AND ((state = 'queued' AND run_at <= $1)
                    OR (state = 'running' AND lease_until < $1 AND attempts < $4))
             RETURNING {JOB_COLUMNS}"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(now)
            .bind(worker)
            .bind(lease_until)
            .bind(max_attempts)
            .bind(id.0)
            .fetch_optional(p)
            .await?))
    }

    /// Records a claimed job's progress and extends its lease, if `worker` still holds it:
    /// `false` when it does not (its lease ran out and another worker claimed it).
    pub(crate) async fn job_progress(
        &self,
        id: JobId,
        worker: &str,
        done: i64,
        total: Option<i64>,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let updated = on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET progress_done = $1, progress_total = COALESCE($2, progress_total),
                 lease_until = $3, updated_at = $4
             WHERE id = $5 AND state = 'running' AND worker = $6",
        )
        .bind(done)
        .bind(total)
        .bind(lease_until)
        .bind(now)
        .bind(id.0)
        .bind(worker)
        .execute(p)
        .await?
        .rows_affected());
        Ok(updated == 1)
    }

    /// Extends `worker`'s claim on a job it is still running: `false` when it lost it.
    pub(crate) async fn renew_job(
        &self,
        id: JobId,
        worker: &str,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let updated = on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND state = 'running' AND worker = $3",
        )
        .bind(lease_until)
        .bind(id.0)
        .bind(worker)
        .execute(p)
        .await?
        .rows_affected());
        Ok(updated == 1)
    }

    /// Ends a claimed job, or puts it back for a retry, if `worker` still holds it.
    pub(crate) async fn end_job(
        &self,
        id: JobId,
        worker: &str,
        ending: &Ending<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (state, result, error, run_at, finished) = match ending {
            Ending::Done { result } => ("done", *result, None, None, Some(now)),
            Ending::Retry { error, retry_at } => {
                ("queued", None, Some(*error), Some(*retry_at), None)
            }
            Ending::Dead { error } => ("dead", None, Some(*error), None, Some(now)),
        };
        let updated = on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET state = $1, result = COALESCE($2, result), error = $3,
                 run_at = COALESCE($4, run_at), finished_at = $5, lease_until = NULL,
                 worker = NULL, updated_at = $6,
                 dedupe = CASE WHEN $5 IS NULL THEN dedupe ELSE NULL END
             WHERE id = $7 AND state = 'running' AND worker = $8",
        )
        .bind(state)
        .bind(result)
        .bind(error)
        .bind(run_at)
        .bind(finished)
        .bind(now)
        .bind(id.0)
        .bind(worker)
        .execute(p)
        .await?
        .rows_affected());
        Ok(updated == 1)
    }

    /// Marks dead the jobs whose workers died holding them `max_attempts` times.
    pub(crate) async fn bury_abandoned_jobs(
        &self,
        now: i64,
        max_attempts: i64,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(self, p => sqlx::query(
            "UPDATE jobs SET state = 'dead', error = 'its worker stopped during every attempt',
                 finished_at = $1, updated_at = $1, lease_until = NULL, worker = NULL,
                 dedupe = NULL
             WHERE state = 'running' AND lease_until < $1 AND attempts >= $2",
        )
        .bind(now)
        .bind(max_attempts)
        .execute(p)
        .await?
        .rows_affected()))
    }

    #[cfg(test)]
    pub(crate) async fn job(&self, id: JobId) -> Result<Option<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {NAMED_JOB_COLUMNS} FROM jobs j LEFT JOIN people p ON p.person = j.owner
             WHERE j.id = $1"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(id.0).fetch_optional(p).await?))
    }

    /// When the newest job of `kind` was queued.
    pub(crate) async fn newest_job_of(&self, kind: JobKind) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT created_at FROM jobs WHERE kind = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .fetch_optional(p)
        .await?);
        Ok(row.map(|(at,)| at))
    }

    /// The newest `limit` jobs, of `owner` when given, newest first.
    pub(crate) async fn jobs(
        &self,
        owner: Option<&str>,
        limit: usize,
    ) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {NAMED_JOB_COLUMNS} FROM jobs j LEFT JOIN people p ON p.person = j.owner
             WHERE ($1 IS NULL OR j.owner = $1)
             ORDER BY j.id DESC LIMIT $2"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(owner)
            .bind(limit as i64)
            .fetch_all(p)
            .await?))
    }

    /// Jobs updated at or after `since`, oldest update first, at most `limit`.
    pub(crate) async fn jobs_updated_since(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {NAMED_JOB_COLUMNS} FROM jobs j LEFT JOIN people p ON p.person = j.owner
             WHERE j.updated_at >= $1
             ORDER BY j.updated_at, j.id LIMIT $2"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(since)
            .bind(limit as i64)
            .fetch_all(p)
            .await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::stores;

    fn job(dedupe: Option<&str>) -> NewJob<'_> {
        NewJob {
            kind: JobKind::Export,
            owner: Some("p1"),
            payload: "{}",
            dedupe,
            run_at: 10,
        }
    }

    const ALL: [JobKind; 5] = JobKind::ALL;

    #[tokio::test]
    async fn a_job_is_claimed_once_reported_and_ended() {
        for (_dir, store) in stores().await {
            let (id, queued) = store.enqueue_job(&job(None), 5).await.unwrap();
            assert!(queued);
            assert!(
                store
                    .claim_job(&ALL, "w1", 9, 100, 5)
                    .await
                    .unwrap()
                    .is_none(),
                "not due before run_at"
            );
            assert!(
                store
                    .claim_job(&[JobKind::Import], "w1", 10, 100, 5)
                    .await
                    .unwrap()
                    .is_none(),
                "only the kinds asked for"
            );
            let row = store
                .claim_job(&ALL, "w1", 10, 100, 5)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (row.id, row.state, row.attempts),
                (id, JobState::Running, 1)
            );
            assert!(
                store
                    .claim_job(&ALL, "w2", 11, 100, 5)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                store
                    .job_progress(id, "w1", 3, Some(9), 12, 200)
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .job_progress(id, "w2", 4, None, 12, 200)
                    .await
                    .unwrap(),
                "only its worker reports"
            );
            let ended = Ending::Done {
                result: Some("{\"file\":\"x\"}"),
            };
            assert!(store.end_job(id, "w1", &ended, 20).await.unwrap());
            let row = store.job(id).await.unwrap().unwrap();
            assert_eq!(row.state, JobState::Done);
            assert_eq!((row.progress_done, row.progress_total), (3, Some(9)));
            assert_eq!(row.result.as_deref(), Some("{\"file\":\"x\"}"));
            assert_eq!(row.finished_at, Some(20));
            assert!(
                !store.end_job(id, "w1", &ended, 21).await.unwrap(),
                "ended once"
            );
        }
    }

    #[tokio::test]
    async fn a_dedupe_key_holds_one_unfinished_job() {
        for (_dir, store) in stores().await {
            let (first, queued) = store.enqueue_job(&job(Some("hook:1")), 1).await.unwrap();
            assert!(queued);
            let (again, queued) = store.enqueue_job(&job(Some("hook:1")), 2).await.unwrap();
            assert_eq!((again, queued), (first, false));
            store
                .claim_job(&ALL, "w", 10, 100, 5)
                .await
                .unwrap()
                .unwrap();
            let (running, queued) = store.enqueue_job(&job(Some("hook:1")), 3).await.unwrap();
            assert_eq!(
                (running, queued),
                (first, false),
                "running counts as unfinished"
            );
            let done = Ending::Done { result: None };
            store.end_job(first, "w", &done, 11).await.unwrap();
            let (next, queued) = store.enqueue_job(&job(Some("hook:1")), 12).await.unwrap();
            assert!(queued && next != first, "a finished job frees its key");
        }
    }

    #[tokio::test]
    async fn a_job_whose_worker_died_is_claimed_again_then_buried() {
        for (_dir, store) in stores().await {
            let (id, _) = store.enqueue_job(&job(None), 1).await.unwrap();
            store
                .claim_job(&ALL, "dead", 10, 20, 2)
                .await
                .unwrap()
                .unwrap();
            assert!(
                store
                    .claim_job(&ALL, "w2", 19, 50, 2)
                    .await
                    .unwrap()
                    .is_none()
            );
            let again = store
                .claim_job(&ALL, "w2", 21, 50, 2)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((again.id, again.attempts), (id, 2));
            assert!(
                !store.renew_job(id, "dead", 100).await.unwrap(),
                "the first worker lost it"
            );
            assert_eq!(store.bury_abandoned_jobs(40, 2).await.unwrap(), 0);
            assert!(
                store
                    .claim_job(&ALL, "w3", 51, 80, 2)
                    .await
                    .unwrap()
                    .is_none(),
                "claimed as often as allowed"
            );
            assert_eq!(store.bury_abandoned_jobs(51, 2).await.unwrap(), 1);
            let row = store.job(id).await.unwrap().unwrap();
            assert_eq!(row.state, JobState::Dead);
            assert!(row.error.unwrap().contains("worker stopped"));
        }
    }

    #[tokio::test]
    async fn a_retry_waits_for_its_time() {
        for (_dir, store) in stores().await {
            let (id, _) = store.enqueue_job(&job(None), 1).await.unwrap();
            store
                .claim_job(&ALL, "w", 10, 100, 5)
                .await
                .unwrap()
                .unwrap();
            let retry = Ending::Retry {
                error: "receiver down",
                retry_at: 50,
            };
            assert!(store.end_job(id, "w", &retry, 11).await.unwrap());
            let row = store.job(id).await.unwrap().unwrap();
            assert_eq!(row.state, JobState::Queued);
            assert_eq!(row.error.as_deref(), Some("receiver down"));
            assert!(
                store
                    .claim_job(&ALL, "w", 49, 100, 5)
                    .await
                    .unwrap()
                    .is_none()
            );
            let row = store
                .claim_job(&ALL, "w", 50, 100, 5)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.attempts, 2);
        }
    }

    #[tokio::test]
    async fn concurrent_workers_never_claim_one_job_twice() {
        for (_dir, store) in stores().await {
            for _ in 0..40 {
                store.enqueue_job(&job(None), 1).await.unwrap();
            }
            let claimers = (0..4).map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    while let Some(row) = store
                        .claim_job(&ALL, &format!("w{w}"), 10, 1_000, 5)
                        .await
                        .unwrap()
                    {
                        got.push(row.id);
                    }
                    got
                })
            });
            let mut all = Vec::new();
            for c in claimers {
                all.extend(c.await.unwrap());
            }
            let n = all.len();
            all.sort();
            all.dedup();
            assert_eq!((n, all.len()), (40, 40));
        }
    }
}
