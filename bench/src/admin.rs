//! A moderator's connection to `/admin` (the admin token's requests: jobs, outgoing webhooks),
//! driven by the browser's protocol logic and typed by the shared wire contract, as
//! [`crate::client`] is for `/`. Its events (`stats`, `job`) are read and let go.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use app::client::{Connection, Ns, Output};
use app::events::{Admin, AdminAuth, Reply, Request};
use futures_util::{SinkExt, StreamExt};
use socketioxide_core::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{ClientError, Ws, handshake, now_ms};

/// How long a request may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes a request into the connection; its ack id, or `None` when not connected.
type Frame = Box<dyn FnOnce(&mut Connection, Ns<Admin>) -> Option<i64> + Send>;

struct Command {
    frame: Frame,
    done: oneshot::Sender<Result<Value, String>>,
}

/// A handle on a connected `/admin` socket; dropping it closes the connection.
pub(crate) struct AdminClient {
    commands: mpsc::UnboundedSender<Command>,
}

/// Connects to `/admin` with `token`.
pub(crate) async fn connect(server: SocketAddr, token: &str) -> Result<AdminClient, ClientError> {
    let auth = AdminAuth {
        token: token.to_owned(),
    };
    let (ws, conn, admin) = handshake::<Admin>(server, Ipv4Addr::LOCALHOST, &auth).await?;
    let (commands, inbox) = mpsc::unbounded_channel();
    tokio::spawn(run(ws, conn, admin, inbox));
    Ok(AdminClient { commands })
}

impl AdminClient {
    /// Sends `event` and waits for its answer: the data, or the server's error as
    /// [`ClientError::Request`].
    pub(crate) async fn request<R, T>(&self, event: R) -> Result<T, ClientError>
    where
        R: Request<Namespace = Admin, Ack = Reply<T>> + Send,
    {
        let (done, answer) = oneshot::channel();
        let frame: Frame = Box::new(move |c, ns| {
            c.emit_with_ack(ns, &event, ANSWER_TIMEOUT.as_millis() as f64, now_ms())
                .ok()
        });
        self.commands
            .send(Command { frame, done })
            .map_err(|_| ClientError::Closed)?;
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, answer)
            .await
            .map_err(|_| ClientError::Request(format!("{}: no answer", R::NAME)))?
            .map_err(|_| ClientError::Closed)?
            .map_err(ClientError::Request)?;
        Connection::decode_ack::<R>(answer)
            .map_err(|e| ClientError::Request(format!("{}: {e}", R::NAME)))?
            .into_result()
            .map_err(|e| ClientError::Request(format!("{}: {e}", R::NAME)))
    }
}

/// The actor: frames in, frames out, until the handle is dropped or the server leaves.
async fn run(
    mut ws: Ws,
    mut conn: Connection,
    admin: Ns<Admin>,
    mut inbox: mpsc::UnboundedReceiver<Command>,
) {
    let mut pending: HashMap<i64, oneshot::Sender<Result<Value, String>>> = HashMap::new();
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => conn.handle_frame(&text, now_ms()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            command = inbox.recv() => match command {
                Some(Command { frame, done }) => match frame(&mut conn, admin) {
                    Some(id) => {
                        pending.insert(id, done);
                    }
                    None => {
                        let _ = done.send(Err("not connected".into()));
                    }
                },
                None => {
                    let _ = ws.close(None).await;
                    return;
                }
            },
        }
        while let Some(out) = conn.poll_output() {
            match out {
                Output::Send(frame) => {
                    let _ = ws.feed(Message::text(frame)).await;
                }
                Output::Ack(id, answer) => {
                    if let Some(done) = pending.remove(&id) {
                        let _ = done.send(answer.map_err(|e| e.to_string()));
                    }
                }
                Output::CloseTransport => return,
                _ => {}
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}
