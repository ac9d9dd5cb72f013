//! The composer's keyboard and size: Enter sends, Shift+Enter and an input method's Enter do
//! not; the field grows with its text up to its CSS `max-height`, then scrolls.

/// Whether a key press in the composer sends: Enter, without Shift (a new line) and not while
/// an input method is composing (its Enter picks the candidate). On a touch screen's keyboard,
/// which has no Shift+Enter, Enter makes a new line and the Send button sends.
pub(crate) fn sends(ev: &leptos::ev::KeyboardEvent) -> bool {
    // 229: what some browsers report for every key while composing.
    ev.key() == "Enter"
        && !ev.shift_key()
        && !ev.is_composing()
        && ev.key_code() != 229
        && !touch_keyboard()
}

/// Whether the person types on a touch screen: no pointer that hovers, only a coarse one.
fn touch_keyboard() -> bool {
    #[cfg(feature = "hydrate")]
    return web_sys::window()
        .and_then(|w| {
            w.match_media("(hover: none) and (pointer: coarse)")
                .ok()
                .flatten()
        })
        .is_some_and(|m| m.matches());
    #[cfg(not(feature = "hydrate"))]
    false
}

/// Sizes the composer (element `id`) to its text: its height reset, then set to what the text
/// needs (the CSS `max-height` caps it).
#[cfg(feature = "hydrate")]
pub(crate) fn fit_to_text(id: &str) {
    use wasm_bindgen::JsCast;
    let Some(el) =
        super::focus::element(id).and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    let style = el.style();
    let _ = style.set_property("height", "auto");
    // scrollHeight leaves out the borders, which `box-sizing: border-box` counts.
    let borders = el.offset_height() - el.client_height();
    let _ = style.set_property("height", &format!("{}px", el.scroll_height() + borders));
}

#[cfg(not(feature = "hydrate"))]
pub(crate) fn fit_to_text(_: &str) {}
