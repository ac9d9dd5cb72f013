//! `@name` autocompletion in the composer: while the word at the caret is `@` and the start
//! of a name, a listbox under the composer offers the conversation's people (the server's
//! `members`). ArrowUp and ArrowDown move, Enter or Tab picks, Escape closes.
//!
//! It holds no reference to the composer's field: it finds the field labelled "Message" in
//! its own form, an `<input>` or a `<textarea>`, makes it the combobox, listens to it, and
//! writes a pick into it as typing would (an `input` event), so that the composer's own
//! handlers keep its draft.

use leptos::html;
use leptos::prelude::*;

use super::live::LiveHandle;
use crate::events::Member;

/// The listbox's id, which the field's `aria-controls` names.
const LIST_ID: &str = "mention-list";

/// Where the suggestions stand.
#[derive(Clone, Copy)]
pub(crate) struct Suggest {
    /// The `@` being typed: where it starts (bytes), and the name's start typed so far.
    pub(crate) typing: RwSignal<Option<(usize, String)>>,
    pub(crate) found: RwSignal<Vec<Member>>,
    pub(crate) active: RwSignal<usize>,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Suggest {
    fn is_open(self) -> bool {
        self.typing.with(Option::is_some) && self.found.with(|f| !f.is_empty())
    }

    fn close(self) {
        self.typing.set(None);
        self.found.set(Vec::new());
        self.active.set(0);
    }

    /// Moves the highlighted option by `by`, round the ends.
    fn step(self, by: isize) {
        let n = self.found.with(Vec::len) as isize;
        if n > 0 {
            self.active
                .update(|a| *a = ((*a as isize + by).rem_euclid(n)) as usize);
        }
    }
}

/// The text with the `@` typed at `at` (and the `typed` after it) replaced by `@name `, and
/// where the caret goes: after the space.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn completed(text: &str, at: usize, typed: &str, name: &str) -> (String, usize) {
    let end = (at + 1 + typed.len()).min(text.len());
    let rest = text.get(end..).unwrap_or_default();
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let head = text.get(..at).unwrap_or(text);
    let done = format!("{head}@{name} ");
    let caret = done.len();
    (format!("{done}{rest}"), caret)
}

#[component]
pub(crate) fn MentionSuggest(room: StoredValue<String>, live: LiveHandle) -> impl IntoView {
    let suggest = Suggest {
        typing: RwSignal::new(None),
        found: RwSignal::new(Vec::new()),
        active: RwSignal::new(0),
    };
    let list = NodeRef::<html::Ul>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(ul) = list.get() {
            browser::wire(&ul, suggest, room, live);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (room, live);
    let pick = move |i: usize| {
        #[cfg(feature = "hydrate")]
        if let Some(ul) = list.get_untracked() {
            browser::pick(&ul, suggest, i);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = i;
    };
    view! {
        <ul
            id=LIST_ID
            class="mention-list"
            role="listbox"
            aria-label="People to mention"
            node_ref=list
            hidden=move || !suggest.is_open()
        >
            {move || {
                suggest
                    .found
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let selected = move || suggest.active.get() == i;
                        view! {
                            <li
                                id=format!("{LIST_ID}-{i}")
                                role="option"
                                class="mention-option"
                                class:active=selected
                                aria-selected=move || selected().to_string()
                                // Not a click: the field would lose its focus first.
                                on:mousedown=move |ev| {
                                    ev.prevent_default();
                                    pick(i);
                                }
                            >
                                <span class="name">{format!("@{}", m.name)}</span>
                                {m.display_name.map(|d| view! { <span class="display">{d}</span> })}
                                {m.online.then(|| view! { <span class="online" title="online">"●"</span> })}
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{Element, Event, KeyboardEvent};

    use super::{LIST_ID, Suggest, completed};
    use crate::mentions::typing_at;
    use crate::ui::live::LiveHandle;

    /// The composer's field in the list's form.
    fn field(list: &Element) -> Option<Element> {
        list.closest("form")
            .ok()??
            .query_selector("[aria-label=\"Message\"]")
            .ok()?
    }

    fn get(el: &Element, key: &str) -> wasm_bindgen::JsValue {
        js_sys::Reflect::get(el, &key.into()).unwrap_or_default()
    }

    /// The field's text and caret (as a byte offset), whichever kind of field it is.
    fn text_and_caret(el: &Element) -> (String, usize) {
        let text = get(el, "value").as_string().unwrap_or_default();
        let caret_utf16 = get(el, "selectionStart").as_f64().unwrap_or(0.0) as usize;
        let mut units = 0;
        let caret = text
            .char_indices()
            .find(|(_, c)| {
                let before = units;
                units += c.len_utf16();
                before >= caret_utf16
            })
            .map_or(text.len(), |(i, _)| i);
        (text, caret)
    }

    /// Makes the field a combobox over the list, and follows its typing and keys.
    pub(super) fn wire(list: &Element, s: Suggest, room: StoredValue<String>, live: LiveHandle) {
        let Some(field) = field(list) else {
            return;
        };
        let Some(form) = list.closest("form").ok().flatten() else {
            return;
        };
        // ARIA in HTML lets an `<input>` be a combobox but not a `<textarea>`: the composer
        // names the list it completes from and its active option, without the role.
        let combobox = !field.tag_name().eq_ignore_ascii_case("textarea");
        let _ = field.set_attribute("aria-autocomplete", "list");
        let _ = field.set_attribute("aria-controls", LIST_ID);
        if combobox {
            let _ = field.set_attribute("role", "combobox");
        }
        let f = field.clone();
        Effect::new(move |_| {
            let open = s.is_open();
            if combobox {
                let _ = f.set_attribute("aria-expanded", &open.to_string());
            }
            match (open, s.active.get()) {
                (true, i) => {
                    let _ = f.set_attribute("aria-activedescendant", &format!("{LIST_ID}-{i}"));
                }
                _ => {
                    let _ = f.remove_attribute("aria-activedescendant");
                }
            }
        });
        let asked = StoredValue::new_local(String::new());
        let typed = {
            let field = field.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                let (text, caret) = text_and_caret(&field);
                match typing_at(&text, caret) {
                    Some((at, prefix)) => {
                        let prefix = prefix.to_owned();
                        s.typing.set(Some((at, prefix.clone())));
                        if asked.get_value() != prefix || s.found.with_untracked(Vec::is_empty) {
                            asked.set_value(prefix.clone());
                            s.active.set(0);
                            let still = move |p: &str| {
                                s.typing
                                    .with_untracked(|t| t.as_ref().is_some_and(|(_, now)| now == p))
                            };
                            live.run(|l| l.members(room.get_value(), prefix, s.found, still));
                        }
                    }
                    None => {
                        asked.set_value(String::new());
                        s.close();
                    }
                }
            })
        };
        let _ = field.add_event_listener_with_callback("input", typed.as_ref().unchecked_ref());
        // The list is drawn when an `@` is first typed: what is typed by now counts.
        if let Ok(ev) = Event::new("input") {
            let _ = typed
                .as_ref()
                .unchecked_ref::<js_sys::Function>()
                .call1(&wasm_bindgen::JsValue::NULL, &ev);
        }
        typed.forget();
        let list_el = list.clone();
        // Captured at the form, so that it comes before the field's own keys (Enter sends).
        let keys = Closure::<dyn FnMut(KeyboardEvent)>::new(move |ev: KeyboardEvent| {
            if !s.is_open() {
                return;
            }
            match ev.key().as_str() {
                "ArrowDown" => s.step(1),
                "ArrowUp" => s.step(-1),
                "Enter" | "Tab" => pick(&list_el, s, s.active.get_untracked()),
                "Escape" => s.close(),
                _ => return,
            }
            ev.prevent_default();
            ev.stop_propagation();
        });
        let _ = form.add_event_listener_with_callback_and_bool(
            "keydown",
            keys.as_ref().unchecked_ref(),
            true,
        );
        keys.forget();
        let blur = Closure::<dyn FnMut(Event)>::new(move |_: Event| s.close());
        let _ = field.add_event_listener_with_callback("blur", blur.as_ref().unchecked_ref());
        blur.forget();
    }

    /// Writes option `i`'s name over the `@` being typed, as if typed.
    pub(super) fn pick(list: &Element, s: Suggest, i: usize) {
        let (Some(field), Some((at, typed))) = (field(list), s.typing.get_untracked()) else {
            return;
        };
        let Some(name) = s.found.with_untracked(|f| f.get(i).map(|m| m.name.clone())) else {
            return;
        };
        let (text, _) = text_and_caret(&field);
        let (text, caret) = completed(&text, at, &typed, &name);
        let _ = js_sys::Reflect::set(&field, &"value".into(), &text.as_str().into());
        let caret = text[..caret].encode_utf16().count() as u32;
        if let Ok(set) = js_sys::Reflect::get(&field, &"setSelectionRange".into())
            && let Ok(set) = set.dyn_into::<js_sys::Function>()
        {
            let _ = set.call2(&field, &caret.into(), &caret.into());
        }
        s.close();
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        if let Ok(ev) = Event::new_with_event_init_dict("input", &init) {
            let _ = field.dispatch_event(&ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::completed;

    #[test]
    fn a_pick_replaces_the_word_and_leaves_the_caret_after_a_space() {
        assert_eq!(
            completed("hi @an", 3, "an", "anna"),
            ("hi @anna ".into(), 9)
        );
        assert_eq!(
            completed("hi @an there", 3, "an", "anna"),
            ("hi @anna there".into(), 9)
        );
        assert_eq!(completed("@", 0, "", "bob"), ("@bob ".into(), 5));
    }
}
