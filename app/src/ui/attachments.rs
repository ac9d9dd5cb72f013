//! Files in messages: the composer's attach button, files dropped on the conversation or
//! pasted into the composer, the chips of uploads on their way (progress, refusals), and a
//! message's files (images as their thumbnail, opening the whole image; other files as a chip
//! with name and size).
//!
//! A file is uploaded as soon as it is picked (`POST /uploads`, the file streamed from disk),
//! and the message carries the uploads' ids when it is sent. Only accounts may upload.

use leptos::prelude::*;

use super::markup;
use crate::events::{
    FileInfo, MAX_FILES_PER_MESSAGE, Thumbnail, UPLOADS_PATH, path_segment, size_text,
};

/// The composer's hidden file input, which the attach button opens.
const PICKER_ID: &str = "attach-input";

/// Where an upload is.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UploadState {
    /// Sent so far, in percent: whole numbers, which format without the float machinery.
    Sending(u8),
    Done(FileInfo),
    /// Refused or broken off: what to tell the person.
    Failed(String),
}

impl UploadState {
    /// Changes whenever the chip must be drawn again.
    fn stage(&self) -> u16 {
        match self {
            UploadState::Sending(sent) => u16::from(*sent),
            UploadState::Done(_) => 101,
            UploadState::Failed(_) => 102,
        }
    }
}

/// One file picked for the next message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Upload {
    /// This page's own key for it.
    pub(crate) key: u32,
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) state: UploadState,
}

/// The files picked for the next message of one conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Uploads {
    pub(crate) files: Vec<Upload>,
    next: u32,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Uploads {
    /// Adds a file about to be sent: its key.
    pub(crate) fn add(&mut self, name: String, size: u64) -> u32 {
        self.next += 1;
        self.files.push(Upload {
            key: self.next,
            name,
            size,
            state: UploadState::Sending(0),
        });
        self.next
    }

    pub(crate) fn set(&mut self, key: u32, state: UploadState) {
        if let Some(u) = self.files.iter_mut().find(|u| u.key == key) {
            u.state = state;
        }
    }

    pub(crate) fn remove(&mut self, key: u32) {
        self.files.retain(|u| u.key != key);
    }

    /// Whether an upload is still on its way.
    pub(crate) fn busy(&self) -> bool {
        self.files
            .iter()
            .any(|u| matches!(u.state, UploadState::Sending(_)))
    }

    /// The files uploaded, for the message.
    pub(crate) fn done(&self) -> Vec<FileInfo> {
        self.files
            .iter()
            .filter_map(|u| match &u.state {
                UploadState::Done(info) => Some(info.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether another file may be picked.
    pub(crate) fn has_room(&self) -> bool {
        self.files.len() < MAX_FILES_PER_MESSAGE
    }
}

/// What the server answered an upload: the file, or what to tell the person.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn outcome(status: u16, body: &str) -> Result<FileInfo, String> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body)
            .map_err(|_| "The server took the file but did not say where".to_owned());
    }
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .filter(|m| !m.trim().is_empty());
    let why = match status {
        0 => return Err("The upload broke off: check the connection and try again".to_owned()),
        401 => return Err("Sign in to share files".to_owned()),
        413 => "Too big",
        429 => "Too many files",
        503 => "The server is busy",
        _ => "Refused",
    };
    Err(match message {
        Some(message) => format!("{why}: {message}"),
        None => format!("{why} (HTTP {status})"),
    })
}

/// A message row's key for keyed rendering: its id, and where its thumbnails are, so that a
/// thumbnail made redraws the row.
pub(crate) fn row_key(m: &crate::events::ChatMessage) -> String {
    let mut key = format!("m{}", m.id);
    for f in &m.meta.files {
        key.push(match f.thumbnail {
            Thumbnail::None => 'n',
            Thumbnail::Pending => 'p',
            Thumbnail::Ready => 'r',
            Thumbnail::Failed => 'f',
        });
    }
    key
}

/// Where a file is uploaded to.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn upload_path(name: &str) -> String {
    format!("{UPLOADS_PATH}?name={}", path_segment(name))
}

/// Uploads each of `files` (a picker's, a drop's or a paste's) into `uploads`. The files are
/// taken from the list at once: a drop's or a paste's list may be emptied after its event,
/// and the code that sends them is a chunk of its own (`ui/lazy.rs`).
#[cfg(feature = "hydrate")]
pub(crate) fn send_all(uploads: RwSignal<Uploads>, files: Option<web_sys::FileList>) {
    let Some(files) = files else {
        return;
    };
    let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    if !files.is_empty() {
        super::lazy::upload(uploads, files);
    }
}

/// Sends `files`, as many as there is room for.
#[cfg(feature = "hydrate")]
pub(crate) fn send_files(uploads: RwSignal<Uploads>, files: Vec<web_sys::File>) {
    for file in files {
        if !uploads.with_untracked(Uploads::has_room) {
            return;
        }
        browser::send(uploads, file);
    }
}

/// Files that could not be sent because the code that sends them did not arrive.
#[cfg(feature = "split")]
pub(crate) fn not_sent(uploads: RwSignal<Uploads>, files: &[web_sys::File], why: &str) {
    uploads.update(|u| {
        for file in files {
            let key = u.add(file.name(), file.size() as u64);
            u.set(key, UploadState::Failed(why.to_owned()));
        }
    });
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast as _;
    use wasm_bindgen::prelude::Closure;

    use super::{UploadState, Uploads, outcome, upload_path};

    /// Uploads `file`, its progress and outcome kept in `uploads`.
    pub(super) fn send(uploads: RwSignal<Uploads>, file: web_sys::File) {
        let key = uploads
            .try_update(|u| u.add(file.name(), file.size() as u64))
            .unwrap_or_default();
        let failed = move |why: &str| {
            uploads.update(|u| u.set(key, UploadState::Failed(why.to_owned())));
        };
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            return failed("This browser cannot upload");
        };
        if xhr
            .open_with_async("POST", &upload_path(&file.name()), true)
            .is_err()
        {
            return failed("This browser cannot upload");
        }
        // Progress as the browser sends it (`fetch` tells none).
        let progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    let sent = (e.loaded() / e.total() * 100.0).clamp(0.0, 100.0) as u8;
                    uploads.update(|u| u.set(key, UploadState::Sending(sent)));
                }
            });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        }
        let answered = xhr.clone();
        // Called once, at the end, whatever the end; it frees the progress handler too.
        let end = Closure::once_into_js(move || {
            drop(progress);
            let status = answered.status().unwrap_or(0);
            let body = answered.response_text().ok().flatten().unwrap_or_default();
            let state = match outcome(status, &body) {
                Ok(info) => UploadState::Done(info),
                Err(why) => UploadState::Failed(why),
            };
            uploads.update(|u| u.set(key, state));
        });
        xhr.set_onloadend(Some(end.unchecked_ref()));
        if xhr.send_with_opt_blob(Some(&file)).is_err() {
            failed("The upload could not start");
        }
    }
}

/// A paste into the composer: its files, if it carries any, are uploaded (and not pasted as
/// text); anything else is pasted as usual.
pub(crate) fn pasted(
    uploads: RwSignal<Uploads>,
    signed_in: Signal<bool>,
) -> impl Fn(leptos::ev::ClipboardEvent) + Copy + 'static {
    move |ev| {
        #[cfg(feature = "hydrate")]
        if let Some(files) = ev.clipboard_data().and_then(|d| d.files())
            && files.length() > 0
            && signed_in.get_untracked()
        {
            ev.prevent_default();
            send_all(uploads, Some(files));
        }
        let _ = (ev, uploads, signed_in);
    }
}

/// Dragging over the conversation: files may be dropped there.
pub(crate) fn dragged_over(ev: leptos::ev::DragEvent) {
    ev.prevent_default();
}

/// Files dropped on the conversation are uploaded for the next message.
pub(crate) fn dropped(
    uploads: RwSignal<Uploads>,
    signed_in: Signal<bool>,
) -> impl Fn(leptos::ev::DragEvent) + Copy + 'static {
    move |ev| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        if signed_in.get_untracked() {
            send_all(uploads, ev.data_transfer().and_then(|d| d.files()));
        }
        let _ = (uploads, signed_in);
    }
}

/// The attach button beside the composer: picks files and uploads them. Guests are told that
/// only accounts may share files.
#[component]
pub(crate) fn AttachButton(
    uploads: RwSignal<Uploads>,
    /// Whether the reader is signed in to an account.
    signed_in: Signal<bool>,
    hydrated: Signal<bool>,
) -> impl IntoView {
    let title = move || {
        if signed_in.get() {
            "Attach files (or drop them here, or paste)"
        } else {
            "Sign in to share files: guests cannot"
        }
    };
    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        if let Some(input) = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok())
        {
            send_all(uploads, input.files());
            input.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <button
            type="button"
            class="attach"
            data-testid="attach"
            aria-label="Attach files"
            title=title
            disabled=move || !hydrated.get() || !signed_in.get() || !uploads.with(Uploads::has_room)
            on:click=move |_| {
                #[cfg(feature = "hydrate")]
                if let Some(input) = super::focus::element(PICKER_ID)
                    .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el).ok())
                {
                    input.click();
                }
            }
        >
            "📎"
        </button>
        <input
            type="file"
            multiple
            hidden
            id=PICKER_ID
            data-testid="attach-input"
            on:change=on_change
        />
    }
}

/// The files picked for the next message: name, size, progress or refusal, and a way to drop
/// each.
#[component]
pub(crate) fn UploadChips(uploads: RwSignal<Uploads>) -> impl IntoView {
    view! {
        <Show when=move || uploads.with(|u| !u.files.is_empty())>
            {super::lazy::upload_chips(uploads)}
        </Show>
    }
}

/// The chips themselves, a chunk of their own: none show until a file is picked.
#[component]
pub(crate) fn Chips(uploads: RwSignal<Uploads>) -> impl IntoView {
    view! {
            <ul class="uploads" data-testid="uploads" aria-label="Files to send">
                <For
                    each=move || uploads.with(|u| u.files.clone())
                    key=|u| (u.key, u.state.stage())
                    children=move |u| {
                        let key = u.key;
                        let (state, note) = match &u.state {
                            UploadState::Sending(sent) => {
                                ("sending", format!("{sent}%"))
                            }
                            UploadState::Done(_) => ("done", size_text(u.size)),
                            UploadState::Failed(why) => ("failed", why.clone()),
                        };
                        let progress = match u.state {
                            UploadState::Sending(sent) => Some(sent),
                            _ => None,
                        };
                        view! {
                            <li class="upload-chip" data-state=state data-testid="upload-chip">
                                <span class="file-name">{u.name.clone()}</span>
                                {progress.map(|sent| view! { <progress max="100" value=sent.to_string()></progress> })}
                                <span class="file-note" role=(state == "failed").then_some("alert")>{note}</span>
                                <button
                                    type="button"
                                    class="remove-upload"
                                    aria-label=format!("Remove {}", u.name)
                                    on:click=move |_| uploads.update(|all| all.remove(key))
                                >
                                    "×"
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
    }
}

/// A message's files as markup (`<li>`s): an inline image links to the file around its
/// thumbnail, or a placeholder while the thumbnail is made; any other file is a chip that
/// downloads it.
pub(crate) fn files_markup(files: &[FileInfo]) -> String {
    let mut out = String::new();
    for f in files {
        let url = f.url();
        let inline = f.is_inline_image();
        if inline && matches!(f.thumbnail, Thumbnail::Ready | Thumbnail::Pending) {
            out.push_str("<li class=\"file image\"><a href=\"");
            markup::escape(&mut out, &url);
            out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer\" title=\"");
            markup::escape(&mut out, &format!("{} ({})", f.name, size_text(f.size)));
            out.push_str("\">");
            if f.thumbnail == Thumbnail::Ready {
                out.push_str("<img src=\"");
                markup::escape(&mut out, &f.thumbnail_url());
                out.push_str("\" alt=\"");
                markup::escape(&mut out, &f.name);
                out.push_str("\" loading=\"lazy\" data-testid=\"thumbnail\">");
            } else {
                out.push_str(
                    "<span class=\"thumbnail-placeholder\" data-testid=\"thumbnail-placeholder\" \
                     role=\"img\" aria-label=\"",
                );
                markup::escape(&mut out, &format!("{} (preparing)", f.name));
                out.push_str("\"></span>");
            }
            out.push_str("</a></li>");
        } else {
            out.push_str("<li class=\"file\"><a class=\"file-chip\" href=\"");
            markup::escape(&mut out, &url);
            out.push_str("\" download=\"");
            markup::escape(&mut out, &f.name);
            out.push_str("\" data-testid=\"file-chip\">");
            markup::element(&mut out, "span", "file-name", None, &f.name);
            out.push(' ');
            markup::element(&mut out, "span", "file-size", None, &size_text(f.size));
            out.push_str("</a></li>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: i64) -> FileInfo {
        FileInfo {
            id,
            name: format!("f{id}.png"),
            size: 10,
            content_type: "image/png".into(),
            thumbnail: Thumbnail::Pending,
        }
    }

    #[test]
    fn files_are_drawn_as_images_or_chips_and_their_names_stay_text() {
        let image = FileInfo {
            name: "<b>\"a\".png".into(),
            thumbnail: Thumbnail::Ready,
            ..info(1)
        };
        let drawn = files_markup(&[image]);
        assert!(drawn.starts_with("<li class=\"file image\"><a href=\"/uploads/1/"));
        assert!(drawn.contains(
            "title=\"&lt;b&gt;&quot;a&quot;.png (10 B)\"><img src=\"/uploads/1/thumbnail/"
        ));
        assert!(drawn.contains("alt=\"&lt;b&gt;&quot;a&quot;.png\" loading=\"lazy\""));
        assert!(!drawn.contains("<b>"));
        assert!(files_markup(&[info(2)]).contains(
            "data-testid=\"thumbnail-placeholder\" role=\"img\" aria-label=\"f2.png (preparing)\""
        ));
        let other = FileInfo {
            content_type: "application/pdf".into(),
            thumbnail: Thumbnail::None,
            ..info(3)
        };
        assert_eq!(
            files_markup(&[other]),
            "<li class=\"file\"><a class=\"file-chip\" href=\"/uploads/3/f3.png\" download=\"f3.png\" \
             data-testid=\"file-chip\"><span class=\"file-name\">f3.png</span> \
             <span class=\"file-size\">10 B</span></a></li>"
        );
    }

    #[test]
    fn only_finished_uploads_go_with_the_message() {
        let mut u = Uploads::default();
        let a = u.add("a.png".into(), 10);
        let b = u.add("b.bin".into(), 20);
        let c = u.add("c.bin".into(), 30);
        assert!(u.busy());
        u.set(a, UploadState::Done(info(7)));
        u.set(b, UploadState::Failed("Too big".into()));
        assert!(u.busy(), "c is still on its way");
        u.remove(c);
        assert!(!u.busy());
        assert_eq!(u.done(), vec![info(7)]);
    }

    #[test]
    fn a_message_carries_a_bounded_number_of_files() {
        let mut u = Uploads::default();
        for i in 0..MAX_FILES_PER_MESSAGE {
            assert!(u.has_room());
            u.add(format!("{i}"), 1);
        }
        assert!(!u.has_room());
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            outcome(201, &serde_json::to_string(&info(3)).unwrap()),
            Ok(info(3))
        );
        assert_eq!(
            outcome(
                413,
                r#"{"error":"too_large","message":"a file may be at most 10.0 MB"}"#
            ),
            Err("Too big: a file may be at most 10.0 MB".into())
        );
        assert_eq!(outcome(401, "{}"), Err("Sign in to share files".into()));
        assert_eq!(outcome(502, "<html>"), Err("Refused (HTTP 502)".into()));
        assert!(outcome(0, "").unwrap_err().contains("broke off"));
    }

    #[test]
    fn the_name_goes_in_the_query_encoded() {
        assert_eq!(upload_path("a b&c.png"), "/uploads?name=a%20b%26c.png");
    }
}
