//! The CPU-heavy half of a job (reading an archive) runs on a thread of its own whose
//! scheduling priority is lowered: on a machine whose cores the chat needs, the kernel then
//! runs the chat's threads first, and the job takes the time they leave. Linux gives each
//! thread its own `nice` value; elsewhere the thread keeps the server's.
//!
//! A thread of its own rather than one of tokio's blocking threads: those are reused, and an
//! unprivileged process cannot raise a thread's priority back once lowered.

use std::future::Future;

use tokio::sync::oneshot;
use tracing::debug;

/// How much lower than the server's own: 10 of `nice`'s steps gives such a thread about a
/// tenth of the share of a thread at the server's priority when both want the core.
const LOWER_BY: i32 = 10;

/// The thread ended without an answer: it panicked.
#[derive(Debug, thiserror::Error)]
#[error("the job's thread {0} ended without finishing")]
pub(crate) struct ThreadLost(String);

/// Runs `work` on a new thread called `name`, at a lowered priority; its result.
pub(crate) fn spawn_lowered<T, F>(
    name: &str,
    work: F,
) -> std::io::Result<impl Future<Output = Result<T, ThreadLost>>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tell, told) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_this_thread();
            let _ = tell.send(work());
        })?;
    let name = name.to_owned();
    Ok(async move { told.await.map_err(|_| ThreadLost(name)) })
}

fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let lowered = nice_of_this_thread()
            .ok_or_else(|| std::io::Error::other("its priority cannot be read"))
            .and_then(|was| set_nice_of_this_thread(was.saturating_add(LOWER_BY).min(19)));
        if let Err(e) = lowered {
            debug!(error = %e, "a job's thread keeps the server's priority");
        }
    }
}

#[cfg(target_os = "linux")]
fn nice_of_this_thread() -> Option<i32> {
    // With a thread's id, PRIO_PROCESS reads and sets that thread's value alone (Linux).
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
}

#[cfg(target_os = "linux")]
fn set_nice_of_this_thread(nice: i32) -> std::io::Result<()> {
    rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice)
        .map_err(std::io::Error::from)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_runs_lowered_on_its_own_thread_and_answers() {
        let ours = nice_of_this_thread().unwrap();
        let (name, nice) = spawn_lowered("lowered", || {
            (
                std::thread::current().name().map(str::to_owned),
                nice_of_this_thread().unwrap(),
            )
        })
        .unwrap()
        .await
        .unwrap();
        assert_eq!(name.as_deref(), Some("lowered"));
        assert_eq!(nice, (ours + LOWER_BY).min(19));
        assert_eq!(nice_of_this_thread().unwrap(), ours, "only that thread");
    }

    #[tokio::test]
    async fn a_thread_that_panics_is_an_error() {
        let lost = spawn_lowered("panics", || -> u8 { panic!("on purpose") })
            .unwrap()
            .await;
        assert!(lost.is_err());
    }
}
