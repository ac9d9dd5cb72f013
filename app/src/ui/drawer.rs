//! On a phone the sidebar is a drawer: the menu button in the conversation's header opens it
//! over the conversation; Escape, a tap beside it, or choosing a conversation closes it. Focus
//! goes into it when it opens and back to the button when it closes. On wider screens
//! (`style/main.css` draws the difference) the button and the backdrop are not shown and the
//! sidebar stays beside the conversation.

use leptos::prelude::*;

use super::focus::focus_first;

/// The sidebar's id, which the menu button controls.
pub(crate) const SIDEBAR_ID: &str = "sidebar";
/// The menu button's id: focus comes back to it. The conversation (and so its header and this
/// button) is drawn afresh for each conversation, so it is found by id, not kept.
const TOGGLE_ID: &str = "drawer-toggle";

/// Whether the drawer is open; provided by the chat page to its sidebar and header.
#[derive(Clone, Copy)]
pub(crate) struct Drawer {
    open: RwSignal<bool>,
}

impl Drawer {
    /// The page's drawer, closed, provided to the components under it. It closes when the
    /// conversation on screen changes, however it was chosen.
    pub(crate) fn provide(active: RwSignal<String>) -> Drawer {
        let drawer = Drawer {
            open: RwSignal::new(false),
        };
        provide_context(drawer);
        Effect::new(move |previous: Option<String>| {
            let now = active.get();
            if previous.is_some_and(|p| p != now) && drawer.open.get_untracked() {
                drawer.close();
            }
            now
        });
        // Escape closes it wherever focus is, but in a dialog over it (the Jobs panel), which
        // takes its own Escape.
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let handle = window_event_listener(leptos::ev::keydown, move |ev| {
                let in_dialog = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .and_then(|el| el.closest("[role=\"dialog\"]").ok().flatten())
                    .is_some();
                if ev.key() == "Escape" && !in_dialog && drawer.open.get_untracked() {
                    drawer.close();
                }
            });
            on_cleanup(move || handle.remove());
        }
        drawer
    }

    pub(crate) fn is_open(self) -> bool {
        self.open.get()
    }

    fn show(self) {
        self.open.set(true);
        // Into the drawer, at the conversation on screen, once it is visible.
        request_animation_frame(move || {
            focus_first(&[
                &format!("#{SIDEBAR_ID} .convo[aria-current=\"true\"]"),
                &format!("#{SIDEBAR_ID}"),
            ]);
        });
    }

    /// Closes it and gives focus back to the menu button.
    pub(crate) fn close(self) {
        self.open.set(false);
        request_animation_frame(|| {
            focus_first(&[&format!("#{TOGGLE_ID}")]);
        });
    }

    /// Closes it when focus moves from inside it to outside it: Tab past its end reaches the
    /// menu button, Shift+Tab past its start the page's header. A dialog opened from it (the
    /// Jobs panel) goes over it, and leaves it open beneath.
    pub(crate) fn on_focus_out(self, ev: leptos::ev::FocusEvent) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let inside = |target: Option<web_sys::EventTarget>| {
                target
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| {
                        el.closest(&format!("#{SIDEBAR_ID}, [role=\"dialog\"]"))
                            .ok()
                            .flatten()
                            .is_some()
                    })
            };
            // Nothing focused next (a tap on nothing, the window losing focus): stays open.
            if self.open.get_untracked()
                && ev.related_target().is_some()
                && !inside(ev.related_target())
            {
                // Focus has gone elsewhere already: it stays there.
                self.open.set(false);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    }
}

/// The menu button, first in the conversation's header; shown on phones only.
#[component]
pub(crate) fn DrawerToggle() -> impl IntoView {
    let drawer = use_context::<Drawer>();
    let open = move || drawer.is_some_and(Drawer::is_open);
    view! {
        <button
            type="button"
            id=TOGGLE_ID
            class="drawer-toggle"
            data-testid="drawer-toggle"
            aria-label="Conversations"
            aria-controls=SIDEBAR_ID
            aria-expanded=move || open().to_string()
            on:click=move |_| {
                if let Some(d) = drawer {
                    if d.open.get_untracked() { d.close() } else { d.show() }
                }
            }
        >
            // Three bars, drawn in CSS: no icon to load.
            <span class="bars" aria-hidden="true"></span>
        </button>
    }
}

/// What lies beside the open drawer: a tap on it closes the drawer.
#[component]
pub(crate) fn DrawerBackdrop(drawer: Drawer) -> impl IntoView {
    view! {
        <Show when=move || drawer.is_open()>
            <div class="drawer-backdrop" aria-hidden="true" on:click=move |_| drawer.close()></div>
        </Show>
    }
}
