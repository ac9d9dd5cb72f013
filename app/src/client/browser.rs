//! The browser driver: a `WebSocket`, one timer for the protocol's deadlines, and
//! reconnection with backoff. All protocol decisions are [`Connection`]'s; this file only moves
//! frames and time in and carries out what comes out.
//!
//! Single-threaded (the browser's event loop), hence `Rc` and `RefCell`. No `RefCell` borrow is
//! held while user callbacks run, so callbacks may emit freely.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
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
    AckFailure, Connection, DecodeError, EmitError, Incoming, Millis, Ns, Output,
};
use crate::events::{ClientEvent, Namespace, Request, ServerEvent};

/// The state of the one Engine.IO connection behind every [`Socket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first attempt is under way.
    Connecting,
    /// The transport is open and the Engine.IO handshake done.
    Connected,
    /// The connection was lost; `attempt` reconnections have been tried since.
    Reconnecting { attempt: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("not connected")]
    NotConnected,
    #[error("no answer in time")]
    Timeout,
    #[error("the connection was lost before the answer")]
    Disconnected,
    #[error("{0}")]
    Decode(String),
}

/// One Engine.IO connection to the page's own server, shared by every [`Socket`].
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

/// A namespace on a [`Client`], typed so that only `N`'s events can be sent on it.
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
/// Sends a namespace's CONNECT with freshly computed auth.
type Connector = Box<dyn Fn(&mut Connection) -> Result<(), EmitError>>;

struct NsHandlers {
    connect: Connector,
    events: HashMap<&'static str, Vec<EventHandler>>,
    on_connect: Vec<Rc<dyn Fn()>>,
    on_connect_error: Vec<Rc<dyn Fn(String)>>,
    on_disconnect: Vec<Rc<dyn Fn()>>,
    connected: RwSignal<bool>,
}

struct Transport {
    ws: WebSocket,
    // Kept alive as long as the socket may call them.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(web_sys::Event)>,
}

struct Inner {
    url: String,
    connection: RefCell<Connection>,
    transport: RefCell<Option<Transport>>,
    /// Bumped for each new WebSocket, so events of an abandoned one are ignored.
    generation: Cell<u32>,
    namespaces: RefCell<Vec<NsHandlers>>,
    acks: RefCell<HashMap<i64, Rc<AckSlot>>>,
    state: RwSignal<ConnectionState>,
    backoff: RefCell<Backoff>,
    /// The pending `setTimeout`s: the protocol's next deadline, and the next reconnection.
    /// Their callbacks are created once and live as long as the client, because a timer
    /// callback re-arms its own timer, and a closure must not be dropped while it runs.
    deadline_timer: Cell<Option<i32>>,
    reconnect_timer: Cell<Option<i32>>,
    on_deadline: RefCell<Option<Closure<dyn FnMut()>>>,
    on_reconnect: RefCell<Option<Closure<dyn FnMut()>>>,
    /// `offline` and `online` listeners on the window, kept alive with the client.
    network: RefCell<Vec<Closure<dyn FnMut()>>>,
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
        Client::with_url(&format!(
            "{scheme}://{host}/socket.io/?EIO=4&transport=websocket"
        ))
    }

    /// Connects to an explicit Engine.IO WebSocket URL.
    pub fn with_url(url: &str) -> Client {
        let client = Client {
            inner: Rc::new(Inner {
                url: url.to_owned(),
                connection: RefCell::new(Connection::new()),
                transport: RefCell::new(None),
                generation: Cell::new(0),
                namespaces: RefCell::new(Vec::new()),
                acks: RefCell::new(HashMap::new()),
                state: RwSignal::new(ConnectionState::Connecting),
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
        self.inner.state.read_only()
    }

    /// Joins namespace `N`. `auth` is called at every (re)connect, so it can carry state that
    /// changes, such as the last message id seen.
    pub fn socket<N: Namespace>(&self, auth: impl Fn() -> N::Auth + 'static) -> Socket<N> {
        let ns = self.inner.connection.borrow_mut().add_namespace::<N>();
        {
            let mut namespaces = self.inner.namespaces.borrow_mut();
            if namespaces.len() <= ns.index() {
                namespaces.push(NsHandlers {
                    connect: Box::new(move |c: &mut Connection| c.connect(ns, &auth())),
                    events: HashMap::new(),
                    on_connect: Vec::new(),
                    on_connect_error: Vec::new(),
                    on_disconnect: Vec::new(),
                    connected: RwSignal::new(false),
                });
            }
        }
        let socket = Socket {
            client: self.clone(),
            ns,
        };
        if self.inner.connection.borrow().is_open() {
            socket.connect_now();
        }
        socket
    }
}

impl<N: Namespace> Socket<N> {
    /// Emits an event without ack. Fails when the namespace is not connected: the caller
    /// decides whether and when to retry.
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
        let id = match sent {
            Ok(id) => id,
            Err(EmitError::NotConnected) => return Err(AckError::NotConnected),
            Err(EmitError::Encode(e)) => return Err(AckError::Decode(e)),
        };
        let slot = Rc::new(AckSlot::default());
        inner.acks.borrow_mut().insert(id, slot.clone());
        pump(inner);
        match AckWait(slot).await {
            Ok(value) => {
                Connection::decode_ack::<E>(value).map_err(|DecodeError(e)| AckError::Decode(e))
            }
            Err(AckFailure::Timeout) => Err(AckError::Timeout),
            Err(AckFailure::Disconnected) => Err(AckError::Disconnected),
        }
    }

    /// Calls `handler` for every `E` received. A payload that does not decode as `E` is logged
    /// and skipped.
    pub fn on<E: ServerEvent<Namespace = N>>(&self, handler: impl Fn(E) + 'static) {
        let handler: EventHandler =
            Rc::new(
                move |incoming: &Incoming| match incoming.clone().decode::<E>() {
                    Ok(event) => handler(event),
                    Err(e) => leptos::logging::warn!("ignored `{}`: {e}", E::NAME),
                },
            );
        self.with_handlers(|h| h.events.entry(E::NAME).or_default().push(handler));
    }

    /// Called after every (re)connect of this namespace.
    pub fn on_connect(&self, handler: impl Fn() + 'static) {
        self.with_handlers(|h| h.on_connect.push(Rc::new(handler)));
    }

    /// Called when the server refuses this namespace, with its reason.
    pub fn on_connect_error(&self, handler: impl Fn(String) + 'static) {
        self.with_handlers(|h| h.on_connect_error.push(Rc::new(handler)));
    }

    pub fn on_disconnect(&self, handler: impl Fn() + 'static) {
        self.with_handlers(|h| h.on_disconnect.push(Rc::new(handler)));
    }

    pub fn connected(&self) -> ReadSignal<bool> {
        self.with_handlers(|h| h.connected.read_only())
    }

    /// Reconnects with freshly computed auth.
    ///
    /// This opens a new Engine.IO session (every namespace reconnects) rather than sending
    /// DISCONNECT then CONNECT on the current one: socketioxide keys a namespace's socket by
    /// the session id and ignores a CONNECT that races the preceding DISCONNECT.
    pub fn refresh_auth(&self) {
        let inner = &self.client.inner;
        drop_transport(inner);
        open_transport(inner);
    }

    fn connect_now(&self) {
        let inner = &self.client.inner;
        let result = {
            let namespaces = inner.namespaces.borrow();
            let mut connection = inner.connection.borrow_mut();
            (namespaces[self.ns.index()].connect)(&mut connection)
        };
        if let Err(e) = result {
            leptos::logging::warn!("cannot connect namespace {}: {e}", N::PATH);
        }
        pump(inner);
    }

    fn with_handlers<T>(&self, f: impl FnOnce(&mut NsHandlers) -> T) -> T {
        f(&mut self.client.inner.namespaces.borrow_mut()[self.ns.index()])
    }
}

fn open_transport(inner: &Rc<Inner>) {
    let generation = inner.generation.get().wrapping_add(1);
    inner.generation.set(generation);
    let ws = match WebSocket::new(&inner.url) {
        Ok(ws) => ws,
        Err(e) => {
            leptos::logging::warn!("cannot open a WebSocket: {e:?}");
            return schedule_reconnect(inner);
        }
    };

    let weak = Rc::downgrade(inner);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let Some(inner) = alive(&weak, generation) else {
            return;
        };
        if let Some(text) = ev.data().as_string() {
            inner.connection.borrow_mut().handle_frame(&text, now());
            pump(&inner);
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
            && !inner.connection.borrow().is_open()
        {
            drop_transport(&inner);
            open_transport(&inner);
        }
    });
    let window = window();
    for (event, callback) in [("offline", &offline), ("online", &online)] {
        if let Err(e) =
            window.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref())
        {
            leptos::logging::warn!("cannot watch `{event}`: {e:?}");
        }
    }
    inner.network.borrow_mut().extend([offline, online]);
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
    if let Some(t) = inner.transport.borrow_mut().take() {
        t.ws.set_onmessage(None);
        t.ws.set_onclose(None);
        t.ws.set_onerror(None);
        let _ = t.ws.close();
    }
    inner.connection.borrow_mut().handle_close();
    pump(inner);
}

fn schedule_reconnect(inner: &Rc<Inner>) {
    let delay = inner
        .backoff
        .borrow_mut()
        .next_delay(js_sys::Math::random());
    let attempt = inner.backoff.borrow().attempt();
    inner.state.set(ConnectionState::Reconnecting { attempt });
    set_timer(&inner.reconnect_timer, &inner.on_reconnect, delay as i32);
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
            open_transport(&inner);
        }
    });
    *inner.on_deadline.borrow_mut() = Some(on_deadline);
    *inner.on_reconnect.borrow_mut() = Some(on_reconnect);
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
                    let result = {
                        let namespaces = inner.namespaces.borrow();
                        let mut connection = inner.connection.borrow_mut();
                        (namespaces[index].connect)(&mut connection)
                    };
                    if let Err(e) = result {
                        leptos::logging::warn!("cannot connect a namespace: {e}");
                    }
                }
            }
            Output::Connected(index) => {
                let handlers = with_ns(inner, index, |h| {
                    h.connected.set(true);
                    h.on_connect.clone()
                });
                handlers.iter().for_each(|f| f());
            }
            Output::ConnectError(index, reason) => {
                let handlers = with_ns(inner, index, |h| h.on_connect_error.clone());
                handlers.iter().for_each(|f| f(reason.clone()));
            }
            Output::Disconnected(index) => {
                let handlers = with_ns(inner, index, |h| {
                    h.connected.set(false);
                    h.on_disconnect.clone()
                });
                handlers.iter().for_each(|f| f());
            }
            Output::Event(index, incoming) => {
                let handlers = with_ns(inner, index, |h| {
                    h.events
                        .get(incoming.name.as_str())
                        .cloned()
                        .unwrap_or_default()
                });
                if handlers.is_empty() {
                    leptos::logging::warn!("no handler for `{}`", incoming.name);
                }
                handlers.iter().for_each(|f| f(&incoming));
            }
            Output::Ack(id, result) => {
                if let Some(slot) = inner.acks.borrow_mut().remove(&id) {
                    slot.complete(result);
                }
            }
            Output::ProtocolError(e) => leptos::logging::warn!("Socket.IO: {e}"),
        }
    }
    arm_deadline(inner);
}

fn with_ns<T>(inner: &Inner, index: usize, f: impl FnOnce(&NsHandlers) -> T) -> T {
    f(&inner.namespaces.borrow()[index])
}

fn arm_deadline(inner: &Rc<Inner>) {
    match inner.connection.borrow().next_deadline() {
        Some(deadline) => {
            let delay = (deadline - now()).ceil().max(0.0) as i32;
            set_timer(&inner.deadline_timer, &inner.on_deadline, delay);
        }
        None => clear_timer(&inner.deadline_timer),
    }
}

fn set_timer(
    id: &Cell<Option<i32>>,
    callback: &RefCell<Option<Closure<dyn FnMut()>>>,
    delay_ms: i32,
) {
    clear_timer(id);
    let callback = callback.borrow();
    let Some(callback) = callback.as_ref() else {
        return;
    };
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
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

struct AckWait(Rc<AckSlot>);

impl Future for AckWait {
    type Output = Result<Value, AckFailure>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.result.borrow_mut().take() {
            Some(result) => Poll::Ready(result),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
