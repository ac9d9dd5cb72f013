//! The `/admin` page's handle on its connection, for panels that ask one thing at a time.

use leptos::prelude::*;

use crate::events::{Admin, Reply, Request};

#[cfg(feature = "hydrate")]
type LiveCell = StoredValue<Option<super::browser::AdminLive>, LocalStorage>;
#[cfg(not(feature = "hydrate"))]
type LiveCell = StoredValue<Option<super::inert::AdminLive>>;

/// `Copy`, so every panel and handler can hold one.
#[derive(Clone, Copy)]
pub(crate) struct AdminHandle(
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))] pub(super) LiveCell,
);

impl AdminHandle {
    /// Sends `request` and gives `then` its answer, or what to tell the person.
    pub(crate) fn ask<R, T>(&self, request: R, then: impl FnOnce(Result<T, String>) + 'static)
    where
        R: Request<Namespace = Admin, Ack = Reply<T>> + 'static,
        T: 'static,
    {
        #[cfg(feature = "hydrate")]
        {
            let socket = self.0.with_value(|l| l.as_ref().map(|l| l.socket()));
            let Some(socket) = socket else {
                return then(Err("not connected".to_owned()));
            };
            leptos::task::spawn_local(async move {
                let answer = socket
                    .emit_with_ack(&request, super::browser::ACK_TIMEOUT)
                    .await;
                then(match answer {
                    Ok(reply) => reply.into_result().map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                });
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (request, then);
    }
}
