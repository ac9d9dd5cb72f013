//! The browser driver: a `WebSocket`, one timer for the protocol's deadlines, and
//! reconnection with backoff. All protocol decisions are [`Connection`]'s; this file only moves
//! frames and time in and carries out what comes out.
//!
//! Single-threaded (the browser's event loop), hence `Rc` and `RefCell`. No `RefCell` borrow is
//! held while user code runs (handlers, auth functions), so it may call back into the client.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use leptos::prelude::*;
use socketioxide_core::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{MessageEvent, WebSocket};

use super::backoff::Backoff;
use super::connection::{
    AckFailure, Connection, DecodeError, EmitError, Incoming, Millis, Ns, NsStatus, Output,
};
use super::early;
use crate::events::{ClientEvent, Namespace, Request, ServerEvent};
use crate::sorted_map::SortedMap;

/// The state of the one Engine.IO connection behind every [`Socket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a session, with no failure since the last success: the first connection, or a
    /// new session for fresh auth ([`Socket::refresh_auth`]).
    Connecting,
    /// The transport is open and the Engine.IO handshake done.
    Connected,
    /// The connection was lost; this is reconnection attempt `attempt` (from 1) since.
    Reconnecting { attempt: u32 },
    /// For good: [`Client::close`] was called, or the URL cannot be opened at all.
    Closed,
}

/// Why [`Socket::emit_with_ack`] has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The namespace is not connected; nothing was sent.
    #[error("not connected")]
    NotConnected,
    /// Sent, but no answer within the timeout. The server may still have handled it.
    #[error("no answer in time")]
    Timeout,
    /// Sent, but the connection was lost before the answer.
    #[error("the connection was lost before the answer")]
    Disconnected,
    /// The answer is not the request's `Ack` type (or, rarely, the request did not encode).
    #[error("{0}")]
    Decode(String),
}

/// One Engine.IO connection, shared by every [`Socket`] made from it. Clones share it.
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

/// Namespace `N` on a [`Client`], typed so that only `N`'s events can be sent and handled.
pub struct Socket<N> {
    client: Client,
    ns: Ns<N>,
}

impl<N> Clone for Socket<N> {
    fn clone(&self) -> Self {
        Socket {
            client: self.client.clone(),
            ns: self.ns,
        }
    }
}

type EventHandler = Rc<dyn Fn(&Incoming)>;

/// An event that did not decode as its type: logged and skipped.
#[cold]
fn ignored(event: &str, namespace: &str, e: &DecodeError) {
    leptos::logging::warn!("ignored `{event}` on {namespace}: {e}");
}
/// Computes fresh auth (user code, so it runs with no borrow held) and returns what sends the
/// namespace's CONNECT with it.
type Connector = Rc<dyn Fn() -> Box<dyn FnOnce(&mut Connection) -> Result<(), EmitError>>>;

struct NsHandlers {
    path: &'static str,
    connect: Connector,
    events: SortedMap<&'static str, Vec<EventHandler>>,
    on_connect: Vec<Rc<dyn Fn()>>,
    on_connect_error: Vec<Rc<dyn Fn(String)>>,
    on_disconnect: Vec<Rc<dyn Fn()>>,
    // Reference-counted rather than arena signals, so they live as long as the client rather
    // than as long as whichever component happened to create it.
    connected: ArcRwSignal<bool>,
}

struct Transport {
    ws: WebSocket,
    // Kept alive as long as the socket may call them.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(web_sys::Event)>,
}

impl Transport {
    /// Detaches the handlers first: a closed socket still fires `close`, and the closures are
    /// about to be dropped.
    fn shut(self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

struct Inner {
    url: String,
    connection: RefCell<Connection>,
    transport: RefCell<Option<Transport>>,
    /// Bumped for each new WebSocket, so events of an abandoned one are ignored.
    generation: Cell<u32>,
    closed: Cell<bool>,
    namespaces: RefCell<Vec<NsHandlers>>,
    acks: RefCell<SortedMap<i64, Rc<AckSlot>>>,
    state: ArcRwSignal<ConnectionState>,
    backoff: RefCell<Backoff>,
    /// The pending `setTimeout`s: the protocol's next deadline, and the next reconnection.
    /// Their callbacks are created once and live as long as the client, because a timer
    /// callback re-arms its own timer, and a closure must not be dropped while it runs.
    deadline_timer: Cell<Option<i32>>,
    reconnect_timer: Cell<Option<i32>>,
    on_deadline: RefCell<Option<Closure<dyn FnMut()>>>,
    on_reconnect: RefCell<Option<Closure<dyn FnMut()>>>,
    /// `offline` and `online` listeners on the window, kept alive with the client.
    network: RefCell<Vec<Listener>>,
}

/// A window event listener: the event's name and the callback.
type Listener = (&'static str, Closure<dyn FnMut()>);

impl Drop for Inner {
    /// Leaves nothing behind that would call into freed closures.
    fn drop(&mut self) {
        if let Some(t) = self.transport.get_mut().take() {
            t.shut();
        }
        if let Some(window) = web_sys::window() {
            for timer in [&self.deadline_timer, &self.reconnect_timer] {
                if let Some(handle) = timer.take() {
                    window.clear_timeout_with_handle(handle);
                }
            }
            for (event, callback) in self.network.get_mut().drain(..) {
                let _ = window
                    .remove_event_listener_with_callback(event, callback.as_ref().unchecked_ref());
            }
        }
    }
}

impl Client {
    /// Connects to `/socket.io/` on the page's own host.
    pub fn connect() -> Client {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        Client::with_url(&format!("{scheme}://{host}{}", early::PATH))
    }

    /// Connects to an explicit Engine.IO WebSocket URL
    /// (`ws(s)://host/socket.io/?EIO=4&transport=websocket`).
    pub fn with_url(url: &str) -> Client {
        let client = Client {
            inner: Rc::new(Inner {
                url: url.to_owned(),
                connection: RefCell::new(Connection::new()),
                transport: RefCell::new(None),
                generation: Cell::new(0),
                closed: Cell::new(false),
                namespaces: RefCell::new(Vec::new()),
                acks: RefCell::new(SortedMap::default()),
                state: ArcRwSignal::new(ConnectionState::Connecting),
                backoff: RefCell::new(Backoff::default()),
                deadline_timer: Cell::new(None),
                reconnect_timer: Cell::new(None),
                on_deadline: RefCell::new(None),
                on_reconnect: RefCell::new(None),
                network: RefCell::new(Vec::new()),
            }),
        };
        make_timer_callbacks(&client.inner);
        watch_network(&client.inner);
        open_transport(&client.inner);
        client
    }

    pub fn state(&self) -> ReadSignal<ConnectionState> {
        self.inner.state.read_only().into()
    }

    /// Joins namespace `N`. `auth` is called at every (re)connect, so it can carry state that
    /// changes, such as the last message id seen. Asking again for the same namespace returns
    /// the same socket; its first `auth` stays.
    pub fn socket<N: Namespace>(&self, auth: impl Fn() -> N::Auth + 'static) -> Socket<N> {
        let ns = self.inner.connection.borrow_mut().add_namespace::<N>();
        {
            let mut namespaces = self.inner.namespaces.borrow_mut();
            if namespaces.len() <= ns.index() {
                let connect: Connector = Rc::new(move || {
                    let auth = auth();
                    Box::new(move |c: &mut Connection| c.connect(ns, &auth))
                });
                namespaces.push(NsHandlers {
                    path: N::PATH,
                    connect,
                    events: SortedMap::default(),
                    on_connect: Vec::new(),
                    on_connect_error: Vec::new(),
                    on_disconnect: Vec::new(),
                    connected: ArcRwSignal::new(false),
                });
            }
        }
        let is_idle = self.inner.connection.borrow().status(ns) == NsStatus::Idle;
        if self.inner.connection.borrow().is_open() && is_idle {
            connect_namespace(&self.inner, ns.index());
            pump(&self.inner);
        }
        Socket {
            client: self.clone(),
            ns,
        }
    }

    /// Closes the connection for good: every socket disconnects, pending acks fail with
    /// [`AckError::Disconnected`], and the state becomes [`ConnectionState::Closed`].
    pub fn close(&self) {
        let inner = &self.inner;
        inner.closed.set(true);
        drop_transport(inner);
        inner.state.set(ConnectionState::Closed);
    }
}

impl<N: Namespace> Socket<N> {
    /// Emits an event without ack. Fails when the namespace is not connected: nothing is
    /// buffered, the caller decides whether and when to retry.
    pub fn emit<E: ClientEvent<Namespace = N>>(&self, event: &E) -> Result<(), EmitError> {
        let result = self
            .client
            .inner
            .connection
            .borrow_mut()
            .emit(self.ns, event);
        pump(&self.client.inner);
        result
    }

    /// Emits a request and waits for its ack, at most `timeout`.
    pub async fn emit_with_ack<E: Request<Namespace = N>>(
        &self,
        event: &E,
        timeout: Duration,
    ) -> Result<E::Ack, AckError> {
        let inner = &self.client.inner;
        let sent = inner.connection.borrow_mut().emit_with_ack(
            self.ns,
            event,
            timeout.as_millis() as Millis,
            now(),
        );
        let value = wait_ack(inner, sent).await?;
        Connection::decode_ack::<E>(value).map_err(|DecodeError(e)| AckError::Decode(e))
    }

    /// Calls `handler` for every `E` received. A payload that does not decode as `E` is logged
    /// and skipped.
    pub fn on<E: ServerEvent<Namespace = N>>(&self, handler: impl Fn(E) + 'static) {
        self.add_handler(
            E::NAME,
            Rc::new(move |incoming: &Incoming| match incoming.decode::<E>() {
                Ok(event) => handler(event),
                Err(e) => ignored(E::NAME, N::PATH, &e),
            }),
        );
    }

    /// Calls `handler` for every `E` received, still encoded: for a handler whose decoder is
    /// in a chunk of its own (`ui/lazy.rs`).
    pub fn on_encoded<E: ServerEvent<Namespace = N>>(&self, handler: impl Fn(Incoming) + 'static) {
        self.add_handler(
            E::NAME,
            Rc::new(move |incoming: &Incoming| handler(incoming.clone())),
        );
    }

    /// The part of `on` that is the same for every event, kept out of line: inlined, the wasm
    /// would hold it once for each of the page's two dozen handlers.
    #[inline(never)]
    fn add_handler(&self, event: &'static str, handler: EventHandler) {
        self.with_handlers(|h| h.events.get_or_default(event).push(handler));
    }

    /// Called after every (re)connect of this namespace.
    pub fn on_connect(&self, handler: impl Fn() + 'static) {
        self.with_handlers(|h| h.on_connect.push(Rc::new(handler)));
    }

    /// Called when the server refuses this namespace, with its reason.
    pub fn on_connect_error(&self, handler: impl Fn(String) + 'static) {
        self.with_handlers(|h| h.on_connect_error.push(Rc::new(handler)));
    }

    /// Called when this namespace loses its connection, whatever the cause.
    pub fn on_disconnect(&self, handler: impl Fn() + 'static) {
        self.with_handlers(|h| h.on_disconnect.push(Rc::new(handler)));
    }

    /// Whether this namespace is connected (CONNECT acknowledged, not lost since).
    pub fn connected(&self) -> ReadSignal<bool> {
        self.with_handlers(|h| h.connected.read_only()).into()
    }

    /// Reconnects with freshly computed auth.
    ///
    /// This opens a new Engine.IO session (every namespace of the client reconnects) rather
    /// than sending DISCONNECT then CONNECT on the current one: socketioxide ignores a CONNECT
    /// that arrives while the disconnect handler of the namespace's previous socket is still
    /// running, which would leave the namespace waiting forever.
    pub fn refresh_auth(&self) {
        let inner = &self.client.inner;
        if inner.closed.get() {
            return;
        }
        drop_transport(inner);
        inner.backoff.borrow_mut().reset();
        inner.state.set(ConnectionState::Connecting);
        open_transport(inner);
    }

    fn with_handlers<T>(&self, f: impl FnOnce(&mut NsHandlers) -> T) -> T {
        f(&mut self.client.inner.namespaces.borrow_mut()[self.ns.index()])
    }
}

fn open_transport(inner: &Rc<Inner>) {
    let generation = inner.generation.get().wrapping_add(1);
    inner.generation.set(generation);
    // The first connection takes over the socket the page's head opened, if there is one.
    let adopted = if generation == 1 {
        early::take(&inner.url)
    } else {
        None
    };
    let (ws, early_frames) = match adopted {
        Some(adopted) => adopted,
        None => match WebSocket::new(&inner.url) {
            Ok(ws) => (ws, Vec::new()),
            // A malformed or forbidden URL (SyntaxError, SecurityError): retrying cannot help.
            Err(e) => {
                leptos::logging::warn!("cannot open a WebSocket to {}: {e:?}", inner.url);
                inner.closed.set(true);
                inner.state.set(ConnectionState::Closed);
                return;
            }
        },
    };

    let weak = Rc::downgrade(inner);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let Some(inner) = alive(&weak, generation) else {
            return;
        };
        match ev.data().as_string() {
            Some(text) => {
                inner.connection.borrow_mut().handle_frame(&text, now());
                pump(&inner);
            }
            None => leptos::logging::warn!("Socket.IO: ignored a binary frame"),
        }
    });
    let weak = Rc::downgrade(inner);
    // `error` is always followed by `close`, but a socket that never opened may only report
    // the error; both lead to the same place, and `alive` makes the second call a no-op.
    let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if let Some(inner) = alive(&weak, generation) {
            transport_lost(&inner);
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_close.as_ref().unchecked_ref()));
    *inner.transport.borrow_mut() = Some(Transport {
        ws,
        _on_message: on_message,
        _on_close: on_close,
    });
    // From now on the handshake is due: a socket stuck connecting is given up on.
    inner.connection.borrow_mut().handle_connecting(now());
    pump(inner);
    // What an adopted socket received before it was ours, as if it arrived just now.
    for frame in early_frames {
        inner.connection.borrow_mut().handle_frame(&frame, now());
        pump(inner);
    }
}

/// Reacts to the browser's own view of the network at once: a WebSocket may otherwise look
/// open for a long time after the network went away (until the ping watchdog fires), and a
/// backoff delay would hold up the return.
fn watch_network(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    let offline = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade()
            && inner.transport.borrow().is_some()
        {
            transport_lost(&inner);
        }
    });
    let weak = Rc::downgrade(inner);
    let online = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade()
            && !inner.closed.get()
            && !inner.connection.borrow().is_open()
        {
            drop_transport(&inner);
            open_transport(&inner);
        }
    });
    let window = window();
    let mut network = inner.network.borrow_mut();
    for (event, callback) in [("offline", offline), ("online", online)] {
        if let Err(e) =
            window.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref())
        {
            leptos::logging::warn!("cannot watch `{event}`: {e:?}");
        }
        network.push((event, callback));
    }
}

/// The inner state, if it still exists and `generation` is still the current transport.
fn alive(weak: &Weak<Inner>, generation: u32) -> Option<Rc<Inner>> {
    weak.upgrade().filter(|i| i.generation.get() == generation)
}

fn transport_lost(inner: &Rc<Inner>) {
    drop_transport(inner);
    schedule_reconnect(inner);
}

/// Abandons the current WebSocket, if any, and tells the protocol it is gone.
fn drop_transport(inner: &Rc<Inner>) {
    // Detach from the old socket first: its late events must not reach the new one.
    inner.generation.set(inner.generation.get().wrapping_add(1));
    clear_timer(&inner.reconnect_timer);
    let transport = inner.transport.borrow_mut().take();
    if let Some(t) = transport {
        t.shut();
    }
    inner.connection.borrow_mut().handle_close();
    pump(inner);
}

fn schedule_reconnect(inner: &Rc<Inner>) {
    if inner.closed.get() {
        return;
    }
    let delay = inner
        .backoff
        .borrow_mut()
        .next_delay(js_sys::Math::random());
    let attempt = inner.backoff.borrow().attempt();
    inner.state.set(ConnectionState::Reconnecting { attempt });
    set_timer(&inner.reconnect_timer, &inner.on_reconnect, delay);
}

fn make_timer_callbacks(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    let on_deadline = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            inner.deadline_timer.set(None);
            inner.connection.borrow_mut().handle_timeout(now());
            pump(&inner);
        }
    });
    let weak = Rc::downgrade(inner);
    let on_reconnect = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            inner.reconnect_timer.set(None);
            if !inner.closed.get() {
                open_transport(&inner);
            }
        }
    });
    *inner.on_deadline.borrow_mut() = Some(on_deadline);
    *inner.on_reconnect.borrow_mut() = Some(on_reconnect);
}

/// Sends namespace `index`'s CONNECT with fresh auth.
fn connect_namespace(inner: &Inner, index: usize) {
    let (path, connector) = {
        let namespaces = inner.namespaces.borrow();
        (namespaces[index].path, namespaces[index].connect.clone())
    };
    let send = connector();
    if let Err(e) = send(&mut inner.connection.borrow_mut()) {
        leptos::logging::warn!("cannot connect namespace {path}: {e}");
    }
}

/// Carries out everything the connection has to say, then re-arms the deadline timer.
fn pump(inner: &Rc<Inner>) {
    loop {
        let Some(output) = inner.connection.borrow_mut().poll_output() else {
            break;
        };
        match output {
            Output::Send(frame) => {
                if let Some(t) = inner.transport.borrow().as_ref()
                    && let Err(e) = t.ws.send_with_str(&frame)
                {
                    leptos::logging::warn!("WebSocket send failed: {e:?}");
                }
            }
            Output::CloseTransport => transport_lost(inner),
            Output::Opened => {
                inner.backoff.borrow_mut().reset();
                inner.state.set(ConnectionState::Connected);
                let count = inner.namespaces.borrow().len();
                for index in 0..count {
                    connect_namespace(inner, index);
                }
            }
            Output::Connected(index) => {
                let (connected, handlers) = with_ns(inner, index, |h| {
                    (h.connected.clone(), h.on_connect.clone())
                });
                connected.set(true);
                handlers.iter().for_each(|f| f());
            }
            Output::ConnectError(index, reason) => {
                let (path, handlers) =
                    with_ns(inner, index, |h| (h.path, h.on_connect_error.clone()));
                if handlers.is_empty() {
                    leptos::logging::warn!("namespace {path} refused: {reason}");
                }
                handlers.iter().for_each(|f| f(reason.clone()));
            }
            Output::Disconnected(index) => {
                let (connected, handlers) = with_ns(inner, index, |h| {
                    (h.connected.clone(), h.on_disconnect.clone())
                });
                connected.set(false);
                handlers.iter().for_each(|f| f());
            }
            Output::Event(index, incoming) => {
                let (path, handlers) = with_ns(inner, index, |h| {
                    let handlers = h.events.get(incoming.name.as_str()).cloned();
                    (h.path, handlers.unwrap_or_default())
                });
                if handlers.is_empty() {
                    leptos::logging::warn!("no handler for `{}` on {path}", incoming.name);
                }
                handlers.iter().for_each(|f| f(&incoming));
            }
            Output::Ack(id, result) => {
                let slot = inner.acks.borrow_mut().remove(&id);
                if let Some(slot) = slot {
                    slot.complete(result);
                }
            }
            Output::ProtocolError(e) => leptos::logging::warn!("Socket.IO: {e}"),
        }
    }
    arm_deadline(inner);
}

/// Reads namespace `index`'s handlers; the borrow ends before anything found is called.
fn with_ns<T>(inner: &Inner, index: usize, f: impl FnOnce(&NsHandlers) -> T) -> T {
    f(&inner.namespaces.borrow()[index])
}

fn arm_deadline(inner: &Rc<Inner>) {
    let deadline = inner.connection.borrow().next_deadline();
    match deadline {
        Some(deadline) => {
            let delay = (deadline - now()).ceil().max(0.0) as u64;
            set_timer(&inner.deadline_timer, &inner.on_deadline, delay);
        }
        None => clear_timer(&inner.deadline_timer),
    }
}

fn set_timer(
    id: &Cell<Option<i32>>,
    callback: &RefCell<Option<Closure<dyn FnMut()>>>,
    delay_ms: u64,
) {
    clear_timer(id);
    let callback = callback.borrow();
    let Some(callback) = callback.as_ref() else {
        return;
    };
    // setTimeout takes an i32; longer delays would fire at once.
    let delay_ms = delay_ms.min(i32::MAX as u64) as i32;
    match window().set_timeout_with_callback_and_timeout_and_arguments_0(
        callback.as_ref().unchecked_ref(),
        delay_ms,
    ) {
        Ok(handle) => id.set(Some(handle)),
        Err(e) => leptos::logging::warn!("setTimeout failed: {e:?}"),
    }
}

fn clear_timer(id: &Cell<Option<i32>>) {
    if let Some(handle) = id.take() {
        window().clear_timeout_with_handle(handle);
    }
}

/// What every request does whatever its type, written once rather than in each request's own
/// future: sends the packet `sent` queued and waits for its ack.
async fn wait_ack(inner: &Rc<Inner>, sent: Result<i64, EmitError>) -> Result<Value, AckError> {
    let id = match sent {
        Ok(id) => id,
        Err(EmitError::NotConnected) => return Err(AckError::NotConnected),
        Err(EmitError::Encode(e)) => return Err(AckError::Decode(e)),
    };
    let slot = Rc::new(AckSlot::default());
    inner.acks.borrow_mut().insert(id, slot.clone());
    pump(inner);
    AckWait(slot).await.map_err(|failure| match failure {
        AckFailure::Timeout => AckError::Timeout,
        AckFailure::Disconnected => AckError::Disconnected,
    })
}

/// Monotonic milliseconds. Not `std::time::Instant`, which panics in wasm32.
fn now() -> Millis {
    window().performance().map(|p| p.now()).unwrap_or_default()
}

/// Where an ack's outcome lands, and who is waiting for it.
#[derive(Default)]
struct AckSlot {
    result: RefCell<Option<Result<Value, AckFailure>>>,
    waker: RefCell<Option<Waker>>,
}

impl AckSlot {
    fn complete(&self, result: Result<Value, AckFailure>) {
        *self.result.borrow_mut() = Some(result);
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

struct AckWait(Rc<AckSlot>);

impl Future for AckWait {
    type Output = Result<Value, AckFailure>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = self.0.result.borrow_mut().take();
        match result {
            Some(result) => Poll::Ready(result),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
