//! One row of the message list: a message, a pending send, or a notice ("ann joined").

use leptos::either::EitherOf3;
use leptos::prelude::*;

use super::attachments;
use super::markdown::MessageText;
use super::markup;
use super::mentions::mentions_me;
use super::message_actions::{MessageFooter, QuotedParent, highlighted};
use super::profiles::{Profiles, push_author};
use super::time;
use super::timeline::{Row, SendState};
use crate::events::{ChatMessage, FileInfo, MessageKind};

#[component]
pub(crate) fn MessageRow(
    row: Row,
    /// Whether it continues the message before it: its header is then for screen readers only.
    grouped: bool,
    /// The reader's own name, to tell their messages apart.
    me: Signal<String>,
    /// Display names and renames.
    profiles: RwSignal<Profiles>,
    /// False while rendering on the server and hydrating; then times switch to local.
    hydrated: Signal<bool>,
    on_retry: Callback<String>,
    on_discard: Callback<String>,
) -> impl IntoView {
    match row {
        Row::Sent(m) if notice_text(&m).is_some() => {
            let text = notice_text(&m).unwrap_or_default();
            let ts = m.meta.ts;
            let markup = move || {
                let mut out = String::new();
                markup::element(&mut out, "span", "notice-text", None, &text);
                out.push(' ');
                markup::time(&mut out, ts, hydrated.get());
                out
            };
            EitherOf3::A(view! {
                <li class="notice" data-testid="notice" data-id=m.id inner_html=markup></li>
            })
        }
        Row::Sent(m) => {
            let ts = m.meta.ts;
            let id = m.id;
            let author = m.meta.author.clone();
            let announcement = m.meta.kind == Some(MessageKind::Announcement);
            // A program's message: its author is a name it gave, never a person's.
            let bot = m.meta.kind == Some(MessageKind::Bot);
            let mine = Signal::derive({
                let author = author.clone();
                move || !bot && me.with(|me| *me == profiles.with(|p| p.current_name(&author, id)))
            });
            // A program's name and the server's are what they gave, not a person's profile.
            let person = m.meta.kind.is_none();
            let text = m.text.clone();
            let mentions_me = move || me.with(|me| mentions_me(&text, me));
            let edited = m.meta.edited;
            let header = move || {
                let mut out = String::new();
                if person {
                    profiles.with(|p| push_author(&mut out, &author, id, p));
                } else {
                    markup::element(&mut out, "span", "author", None, &author);
                }
                if bot {
                    markup::element(
                        &mut out,
                        "span",
                        "badge",
                        Some("posted by a program"),
                        "bot",
                    );
                }
                let local = hydrated.get();
                markup::time(&mut out, ts, local);
                if let Some(at) = edited {
                    let when = format!("edited {}", time::utc_iso(at));
                    out.push_str("<span class=\"edited\" data-testid=\"edited\" title=\"");
                    markup::escape(&mut out, &when);
                    out.push_str("\">(edited)</span>");
                }
                out
            };
            let highlighted = highlighted(id);
            // One class list rather than a binding per class: a binding is a view of its own.
            let class = move || {
                let on = [
                    (mine.get(), " mine"),
                    (grouped, " grouped"),
                    (announcement, " announcement"),
                    (bot, " bot"),
                    (highlighted(), " highlighted"),
                    (mentions_me(), " mentions-me"),
                ];
                on.iter()
                    .filter(|(on, _)| *on)
                    .fold(String::from("message"), |c, (_, name)| c + name)
            };
            EitherOf3::B(view! {
                <li class=class data-testid="message" data-id=id data-state="sent">
                    <div class="meta" inner_html=header></div>
                    <QuotedParent reply=m.meta.reply.clone()/>
                    <MessageText text=m.text.clone() me/>
                    {files(&m.meta.files)}
                    <MessageFooter message=m mine/>
                </li>
            })
        }
        Row::Pending(p) => {
            let failed = match p.state {
                SendState::Sending => None,
                SendState::Failed(reason) => Some(reason),
            };
            let state = if failed.is_some() {
                "failed"
            } else {
                "pending"
            };
            let busy = failed.is_none();
            let key = p.key.clone();
            let discard_key = p.key.clone();
            EitherOf3::C(view! {
                <li class="message mine" class:grouped=grouped data-testid="message" data-state=state aria-busy=busy.to_string()>
                    <div class="meta">
                        <span class="author">{p.author}</span>
                        <span class="sending">{if busy { "sending…" } else { "not sent" }}</span>
                    </div>
                    <MessageText text=p.text me/>
                    {files(&p.files)}
                    {failed.map(|reason| view! {
                        <div class="failure">
                            <span class="error">{reason}</span>
                            <button type="button" class="retry" on:click=move |_| on_retry.run(key.clone())>
                                "Retry"
                            </button>
                            <button type="button" class="discard" on:click=move |_| on_discard.run(discard_key.clone())>
                                "Discard"
                            </button>
                        </div>
                    })}
                </li>
            })
        }
    }
}

/// "ann joined", "ann left": what a notice says; `None` for anything else. A "joined" that
/// names several people says so in its text ("ann, bob and 3 others joined").
fn notice_text(m: &ChatMessage) -> Option<String> {
    match m.meta.kind {
        Some(MessageKind::Joined) if m.text != "joined" && !m.text.is_empty() => {
            Some(m.text.clone())
        }
        Some(MessageKind::Joined) => Some(format!("{} joined", m.meta.author)),
        Some(MessageKind::Left) => Some(format!("{} left", m.meta.author)),
        _ => None,
    }
}

/// A message's files: inline images (or their placeholder while the thumbnail is made), and
/// a chip for any other file; nothing when it has none.
fn files(files: &[FileInfo]) -> Option<impl IntoView + use<>> {
    (!files.is_empty()).then(|| {
        let markup = attachments::files_markup(files);
        view! { <ul class="files" aria-label="Files" inner_html=markup></ul> }
    })
}

#[cfg(test)]
mod tests {
    use super::notice_text;
    use crate::events::{ChatMessage, MessageKind, MessageMeta};

    #[test]
    fn notices_name_who_came_or_went() {
        let with = |kind| ChatMessage {
            text: "joined".into(),
            id: 1,
            meta: MessageMeta {
                room: "rust".into(),
                author: "ann".into(),
                ts: 0,
                seq: 1,
                client_offset: None,
                kind,
                ..Default::default()
            },
        };
        assert_eq!(
            notice_text(&with(Some(MessageKind::Joined))).unwrap(),
            "ann joined"
        );
        assert_eq!(
            notice_text(&with(Some(MessageKind::Left))).unwrap(),
            "ann left"
        );
        assert_eq!(notice_text(&with(None)), None);
        let gathered = ChatMessage {
            text: "ann, bob and cy joined".into(),
            ..with(Some(MessageKind::Joined))
        };
        assert_eq!(notice_text(&gathered).unwrap(), "ann, bob and cy joined");
        assert_eq!(notice_text(&with(Some(MessageKind::Announcement))), None);
    }
}
