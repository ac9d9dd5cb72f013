//! One HTTP request from the page, for the routes the socket cannot serve (accounts,
//! imports, pictures): same-origin credentials, so the session cookie goes along.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `method path` with `headers` and `body`: the answer's status and text (empty when it has
/// none); `Err` when the request could not be made or broke off.
pub(crate) async fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<JsValue>,
) -> Result<(u16, String), JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    let sent = web_sys::Headers::new()?;
    for (name, value) in headers {
        sent.set(name, value)?;
    }
    init.set_headers(&sent);
    if let Some(body) = &body {
        init.set_body(body);
    }
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await?
        .dyn_into()?;
    let text = match response.text() {
        Ok(text) => JsFuture::from(text)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((response.status(), text))
}
