//! Jobs as people see them: `jobs` (the person's list, or every job on `/admin`), and `job`
//! whenever one changes. The worker that ran it may be another process or another node, so
//! changes are read from the jobs table ([`watch`]) rather than told by the worker; each node
//! tells its own sockets.

use std::collections::HashMap;
use std::time::Duration;

use app::events::{
    ADMIN_JOBS, Admin, AdminJobChanged, AdminJobs, ChatError, JobChanged, JobInfo, JobKind,
    JobList, JobStarted, JobState, ListJobs, Main, Namespace as _, PERSON_JOBS, StartExport,
};
use tracing::warn;

use crate::cluster::SocketIo;
use crate::conversation::ConversationId;
use crate::conversation::person_room;
use crate::jobs::export::ExportPayload;
use crate::jobs::files::download_link;
use crate::session::Keys;
use crate::socket::access::accessible;
use crate::socket::emit::broadcast;
use crate::socket::identity;
use crate::socket::limits;
use crate::socket::request::{Ctx, HandlerError};
use crate::state::Chat;
use crate::state::limits::Action;
use crate::store::blobs::BlobId;
use crate::store::jobs::{JobId, JobRow};
use crate::store::now_ms;

/// How often the table is read for changed jobs.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// How far back each read looks again: a row's `updated_at` is its writer's clock, and a
/// transaction may commit a little after the time it wrote.
const OVERLAP_MS: i64 = 2_000;
/// Rows read at most per look.
const PAGE: usize = 500;

/// `jobs`: the person's newest jobs. A guest has none.
pub(crate) async fn list(ctx: Ctx, _: ListJobs) -> Result<JobList, HandlerError> {
    let Some(person) = identity::of(&ctx.socket).person else {
        return Ok(JobList::default());
    };
    let rows = ctx
        .chat
        .store
        .jobs(Some(&person), PERSON_JOBS)
        .await
        .map_err(HandlerError::store("the jobs query"))?;
    Ok(JobList {
        jobs: rows
            .iter()
            .map(|r| info(r, false, &ctx.chat.keys))
            .collect(),
    })
}

/// `start export`: queues an export of a conversation the person may read, or of all of them.
pub(crate) async fn start_export(
    ctx: Ctx,
    request: StartExport,
) -> Result<JobStarted, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let person = identity::of(socket).person.ok_or(ChatError::NameRequired)?;
    let conversations = match &request.room {
        Some(room) => {
            let room = ConversationId::parse(room.clone())?;
            accessible(socket, chat, &room).await?;
            vec![room.as_str().to_owned()]
        }
        None => chat
            .store
            .room_list(Some(&person))
            .await
            .map_err(HandlerError::store("the room list query"))?
            .into_iter()
            .filter(|r| r.joined)
            .map(|r| r.name)
            .collect(),
    };
    limits::charge(socket, chat, Action::StartJob, 1)?;
    let payload = ExportPayload {
        conversations,
        room: request.room,
    };
    let job = chat
        .jobs
        .enqueue(JobKind::Export, Some(&person), &payload, None)
        .await
        .map_err(HandlerError::store("queueing an export"))?;
    Ok(JobStarted { job: job.0 })
}

/// `/admin`'s `jobs`: every job, newest first.
pub(crate) async fn list_all(ctx: Ctx, _: AdminJobs) -> Result<JobList, HandlerError> {
    let rows = ctx
        .chat
        .store
        .jobs(None, ADMIN_JOBS)
        .await
        .map_err(HandlerError::store("the jobs query"))?;
    Ok(JobList {
        jobs: rows.iter().map(|r| info(r, true, &ctx.chat.keys)).collect(),
    })
}

/// A job's row as people see it; `with_owner` for `/admin`. What a job made (`blob` in its
/// result) is offered as a download link signed with `keys`, fresh each time.
pub(crate) fn info(row: &JobRow, with_owner: bool, keys: &Keys) -> JobInfo {
    let made: Option<serde_json::Value> = row
        .result
        .as_deref()
        .filter(|_| row.state == JobState::Done)
        .and_then(|r| serde_json::from_str(r).ok());
    let summary = match row.state {
        JobState::Done => made
            .as_ref()
            .and_then(|m| m.get("summary"))
            .and_then(|s| s.as_str())
            .map(str::to_owned),
        // A queued job with an error is waiting to be tried again.
        _ => row.error.clone(),
    };
    JobInfo {
        id: row.id.0,
        kind: row.kind,
        state: row.state,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        done: u64::try_from(row.progress_done).unwrap_or(0),
        total: row.progress_total.and_then(|t| u64::try_from(t).ok()),
        summary,
        download: made
            .as_ref()
            .and_then(|m| m.get("blob"))
            .and_then(|b| b.as_i64())
            .map(|b| download_link(keys, BlobId(b), now_ms())),
        owner: if with_owner {
            row.owner_name.clone()
        } else {
            None
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
        finished_at: row.finished_at,
    }
}

/// Reads changed jobs every [`WATCH_EVERY`], forever, and tells this node's sockets: each
/// owner's, and `/admin`'s.
pub(crate) async fn watch(io: SocketIo, chat: Chat) {
    let store = &chat.store;
    let mut since = now_ms() - OVERLAP_MS;
    // What was told of each job read in the overlap, so that it is told once.
    let mut told: HashMap<JobId, (i64, i64, JobState)> = HashMap::new();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let rows = match store.jobs_updated_since(since, PAGE).await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(error = %e, "reading changed jobs failed");
                continue;
            }
        };
        let newest = rows.last().map(|r| r.updated_at);
        for row in &rows {
            let mark = (row.updated_at, row.progress_done, row.state);
            if told.get(&row.id) == Some(&mark) {
                continue;
            }
            told.insert(row.id, mark);
            if row.kind == JobKind::Thumbnail {
                // A thumbnail is its conversation's news, not its uploader's job.
                crate::socket::files::thumbnail_done(&io, &chat, row).await;
            } else {
                tell(&io, row, &chat.keys).await;
            }
        }
        if rows.len() == PAGE {
            // More changed than one page: read on from the last one.
            since = newest.unwrap_or(since);
        } else {
            since = since.max(now_ms() - OVERLAP_MS);
        }
        told.retain(|_, (at, _, _)| *at >= since);
    }
}

async fn tell(io: &SocketIo, row: &JobRow, keys: &Keys) {
    if let (Some(owner), Some(main)) = (&row.owner, io.of(Main::PATH)) {
        let event = JobChanged {
            job: info(row, false, keys),
        };
        let _ = broadcast(main.local().within(person_room(owner)), &event).await;
    }
    if let Some(admins) = io.of(Admin::PATH) {
        let event = AdminJobChanged {
            job: info(row, true, keys),
        };
        let _ = broadcast(admins.local(), &event).await;
    }
}
