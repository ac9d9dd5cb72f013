//! The socket the chat page opens while it is still loading, before its wasm has arrived.
//!
//! The WebSocket's own handshake and Engine.IO's `open` then happen while the wasm downloads,
//! compiles and hydrates, instead of after: on a remote server that is two round trips fewer
//! before the page is live. A small script in the page's head opens it and keeps the frames
//! that arrive; the [`Client`](super::Client) adopts it, replays those frames, and carries on
//! as with a socket of its own. A socket that has closed meanwhile, or goes to another URL, is
//! not adopted; the client then opens its own, as it always did.

/// The Engine.IO WebSocket endpoint on the page's own host.
pub(crate) const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

/// Where the head's script leaves the socket and its frames for the client.
const GLOBAL: &str = "__palaverEarlySocket";

/// The head's script. Any failure (no WebSocket, a refused URL) leaves nothing behind, and the
/// client connects the usual way.
pub(crate) fn script() -> String {
    format!(
        "try{{const s=new WebSocket((location.protocol===\"https:\"?\"wss://\":\"ws://\")+location.host+{path:?}),e={{socket:s,frames:[]}};s.onmessage=m=>e.frames.push(m.data);window.{GLOBAL}=e}}catch(_){{}}",
        path = PATH,
    )
}

/// Takes the head's socket, if it is still usable and goes to `url`, with the frames it has
/// received so far. Once only: later connections open their own.
#[cfg(feature = "hydrate")]
pub(crate) fn take(url: &str) -> Option<(web_sys::WebSocket, Vec<String>)> {
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::WebSocket;

    let window = web_sys::window()?;
    let key = JsValue::from_str(GLOBAL);
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    if early.is_undefined() {
        return None;
    }
    let _ = js_sys::Reflect::delete_property(&window, &key);
    let socket: WebSocket = js_sys::Reflect::get(&early, &JsValue::from_str("socket"))
        .ok()?
        .dyn_into()
        .ok()?;
    let usable = matches!(
        socket.ready_state(),
        WebSocket::CONNECTING | WebSocket::OPEN
    );
    if !usable || socket.url() != url {
        socket.set_onmessage(None);
        let _ = socket.close();
        return None;
    }
    let frames: js_sys::Array = js_sys::Reflect::get(&early, &JsValue::from_str("frames"))
        .ok()?
        .dyn_into()
        .ok()?;
    let frames = frames.iter().filter_map(|f| f.as_string()).collect();
    Some((socket, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_opens_the_clients_endpoint_and_keeps_frames_where_the_client_looks() {
        let script = script();
        assert!(
            script.contains(r#""/socket.io/?EIO=4&transport=websocket""#),
            "{script}"
        );
        assert!(script.contains(&format!("window.{GLOBAL}=")), "{script}");
        assert!(script.contains("frames.push(m.data)"), "{script}");
        // Inside a <script> element: nothing may end it early.
        assert!(!script.contains('<'), "{script}");
    }
}
