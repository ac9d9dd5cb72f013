//! The import form: an archive (.zip), its format, and Import. The person's panel sends it with
//! their name's token or their account's cookie; `/admin` with the admin token or the cookie.

use leptos::html;
use leptos::prelude::*;

use super::upload::ImportFormat;

#[component]
pub(crate) fn ImportForm(
    /// The bearer token to upload with, read when the form is sent: `None` to rely on the
    /// session cookie; `Err` says why the upload cannot be made.
    token: Callback<(), Result<Option<String>, String>>,
    /// Told the new import job's id.
    on_started: Callback<i64>,
    hydrated: Signal<bool>,
    /// A line under the heading: what this form may import into.
    note: &'static str,
) -> impl IntoView {
    let format = RwSignal::new(ImportFormat::default());
    let file = NodeRef::<html::Input>::new();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let queued = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        #[cfg(feature = "hydrate")]
        send(
            file,
            format.get_untracked(),
            token,
            on_started,
            busy,
            error,
            queued,
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (&token, &on_started, &file, &queued);
    };
    view! {
        <form class="import-form" aria-labelledby="import-heading" on:submit=submit>
            <h3 id="import-heading">"Import"</h3>
            <p class="import-note">{note}</p>
            <label class="file">
                "Archive (.zip) "
                <input
                    type="file"
                    accept=".zip,application/zip"
                    node_ref=file
                    disabled=move || !hydrated.get() || busy.get()
                    on:change=move |_| {
                        error.set(None);
                        queued.set(None);
                    }
                />
            </label>
            <fieldset class="formats">
                <legend>"Format"</legend>
                {ImportFormat::ALL
                    .into_iter()
                    .map(|f| {
                        view! {
                            <label class="format">
                                <input
                                    type="radio"
                                    name="import-format"
                                    value=f.as_str()
                                    prop:checked=move || format.get() == f
                                    on:change=move |_| format.set(f)
                                />
                                {f.label()}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <button type="submit" disabled=move || !hydrated.get() || busy.get()>
                {move || if busy.get() { "Uploading…" } else { "Import" }}
            </button>
            <p class="import-error" data-testid="import-error" role="alert">{move || error.get()}</p>
            <p class="import-queued" data-testid="import-queued" role="status">{move || queued.get()}</p>
        </form>
    }
}

/// Uploads the chosen file, then says how it went.
#[cfg(feature = "hydrate")]
fn send(
    file: NodeRef<html::Input>,
    format: ImportFormat,
    token: Callback<(), Result<Option<String>, String>>,
    on_started: Callback<i64>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    queued: RwSignal<Option<String>>,
) {
    let input = file.get_untracked();
    let Some(chosen) = input
        .as_ref()
        .and_then(|i| i.files())
        .and_then(|f| f.get(0))
    else {
        error.set(Some("Choose a .zip file to import".to_owned()));
        return;
    };
    let token = match token.run(()) {
        Ok(token) => token,
        Err(why) => return error.set(Some(why)),
    };
    busy.set(true);
    error.set(None);
    queued.set(None);
    leptos::task::spawn_local(async move {
        let result = super::upload::post(chosen, format, token.as_deref()).await;
        busy.set(false);
        match result {
            Ok(job) => {
                on_started.run(job);
                queued.set(Some(format!("Uploaded: import #{job} is queued")));
                if let Some(input) = input {
                    input.set_value("");
                }
            }
            Err(why) => error.set(Some(why)),
        }
    });
}
