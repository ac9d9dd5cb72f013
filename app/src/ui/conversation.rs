//! The conversation on screen: its header (title, counts, Members, Leave), who is online, the
//! message list with older pages at its top, who is typing, and the composer (or why there is
//! none).

use leptos::either::{EitherOf3, EitherOf4, EitherOf5};
use leptos::prelude::*;

use super::attachments::{self, AttachButton, UploadChips, Uploads};
use super::composer::{fit_to_text, sends};
use super::drawer::DrawerToggle;
use super::focus::{COMPOSER_ID, element};
use super::live::LiveHandle;
use super::message::MessageRow;
use super::message_actions::{Actions, ReplyBanner};
use super::notifications::NotifySetting;
use super::reading::{self, Item, reading_state};
use super::room_settings::{Lock, MembersPanel, READ_ONLY};
use super::rooms::counts_line;
use super::state::ChatState;
use super::time;
use super::timeline::Timeline;
use crate::events::{ChatError, LOBBY, Presence, RoomKind, is_dm, typing_phrase, validate_text};
use crate::sorted_map::SortedMap;

/// The id of the message list's scrolling element.
const SCROLLER_ID: &str = "scroller";
/// How close to the newest message (in px) still counts as "reading the newest".
const STICK_PX: i32 = 48;
/// How close to the oldest message held (in px) asks for the page before it.
const OLDER_PX: i32 = 400;

/// Drafts by conversation, so switching does not lose or misdirect what was being written.
pub(crate) type Drafts = StoredValue<SortedMap<String, String>>;

#[component]
pub(crate) fn Conversation(
    room: String,
    timeline: ArcRwSignal<Timeline>,
    state: ChatState,
    live: LiveHandle,
    hydrated: Signal<bool>,
    drafts: Drafts,
) -> impl IntoView {
    let timeline = RwSignal::from(timeline);
    let room = StoredValue::new(room);
    Actions::provide(state, live, room);
    let draft =
        RwSignal::new(drafts.with_value(|d| d.get(&room.get_value()).cloned().unwrap_or_default()));
    let composer_error = RwSignal::new(None::<String>);
    let suggesting = RwSignal::new(false);
    let uploads = RwSignal::new(Uploads::default());
    let signed_in = Signal::derive(move || state.account.account.with(Option::is_some));
    // Whether the reader is at the newest message; the list follows it only then. `mark` is
    // the newest message they saw there.
    let stick = RwSignal::new(true);
    let mark = RwSignal::new(timeline.with_untracked(Timeline::newest_id));
    // Where the reader was when an older page was asked for: restored once it is in, since
    // the browser would otherwise keep the view at the top, over the new page, and the next
    // scroll event would ask for another.
    let keep = StoredValue::new(None::<i32>);
    // Where the last scroll event found the view: only a move towards the oldest end asks
    // for an older page, not the events that layout and restoring `keep` cause.
    let last_top = StoredValue::new(0_i32);
    // The list's scrolling element, found by id: one conversation is on screen at a time.
    let scroller = move || element(SCROLLER_ID);
    let load_older = move || {
        if !timeline.with_untracked(Timeline::can_load_older) {
            return;
        }
        if let Some(el) = scroller() {
            keep.set_value(Some(el.scroll_top()));
        }
        live.run(|l| l.load_older());
    };

    let scroll_to_newest = move || {
        // The scroller is `column-reverse`, so its newest end is scrollTop 0; that also makes
        // the server-rendered page open at the newest message before any script runs.
        if let Some(el) = scroller() {
            el.set_scroll_top(0);
        }
        stick.set(true);
        mark.set(timeline.with_untracked(Timeline::newest_id));
    };
    Effect::new(move |previous: Option<(i64, usize)>| {
        let (now, loading_older) =
            timeline.with(|t| ((t.newest_id(), t.len()), t.is_loading_older()));
        if !loading_older
            && let Some(top) = keep.try_update_value(Option::take).flatten()
            && let Some(el) = scroller()
        {
            // `column-reverse`: scrollTop counts from the newest end, which did not move.
            el.set_scroll_top(top);
            last_top.set_value(top);
        }
        if previous.is_some_and(|p| p != now) && stick.get_untracked() {
            request_animation_frame(scroll_to_newest);
        }
        now
    });
    let unseen = move || {
        if stick.get() {
            0
        } else {
            timeline.with(|t| t.shown_after(mark.get()))
        }
    };
    let on_scroll = move |_| {
        let Some(el) = scroller() else {
            return;
        };
        let at_newest = el.scroll_top() >= -STICK_PX;
        if at_newest != stick.get_untracked() {
            stick.set(at_newest);
        }
        if at_newest {
            mark.set(timeline.with_untracked(Timeline::newest_id));
        }
        // scrollTop runs from 0 (newest) down to -(scrollHeight - clientHeight) (oldest).
        let top = el.scroll_top();
        let towards_oldest = top < last_top.get_value();
        last_top.set_value(top);
        let to_oldest = el.scroll_height() - el.client_height() + top;
        if towards_oldest && to_oldest < OLDER_PX {
            load_older();
        }
    };

    let send = move || {
        let text = draft.get_untracked();
        if uploads.with_untracked(Uploads::busy) {
            composer_error.set(Some("Wait until the files are uploaded".to_owned()));
            return;
        }
        let files = uploads.with_untracked(Uploads::done);
        // A message of files alone may have no text.
        let checked = match validate_text(&text) {
            Err(ChatError::Empty) if !files.is_empty() => Ok(std::borrow::Cow::Borrowed("")),
            checked => checked,
        };
        match checked {
            Ok(text) => {
                live.run(|l| l.post_with(text.into_owned(), files));
                uploads.set(Uploads::default());
                draft.set(String::new());
                drafts.update_value(|d| {
                    d.remove(&room.get_value());
                });
                composer_error.set(None);
                request_animation_frame(scroll_to_newest);
            }
            // Nothing to send; not worth an error message.
            Err(ChatError::Empty) => draft.set(String::new()),
            Err(e) => composer_error.set(Some(e.to_string())),
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    // The composer grows with its text, up to its CSS `max-height`, then scrolls.
    Effect::new(move |_| {
        draft.track();
        fit_to_text(COMPOSER_ID);
    });
    let (now, unread_from) = reading_state(room, timeline, state);
    let on_retry = Callback::new(move |key: String| live.run(|l| l.retry(key.clone())));
    let on_discard = Callback::new(move |key: String| live.run(|l| l.discard(key.clone())));
    let me = Signal::derive(move || state.name.get());
    let typing = move || {
        state.typists.with(|all| {
            let names: Vec<String> = room.with_value(|room| {
                all.iter()
                    .filter(|(r, _)| r == room)
                    .map(|(_, n)| n.clone())
                    .collect()
            });
            typing_phrase(&names)
        })
    };
    let may_post = move || state.rooms.with(|r| r.may_post(&room.get_value()));
    let placeholder = move || {
        let title = state.rooms.with(|r| r.title(&room.get_value()));
        if is_dm(&room.get_value()) {
            format!("Message {title}…")
        } else {
            format!("Message #{title}…")
        }
    };

    view! {
        <section
            class="conversation"
            aria-label="Conversation"
            data-room=room.get_value()
            on:dragover=attachments::dragged_over
            on:drop=attachments::dropped(uploads, signed_in)
        >
            <Header room state live/>
            <PresenceLine room state live/>
            <div class="scroller" id=SCROLLER_ID on:scroll=on_scroll>
                <ol
                    class="messages"
                    data-testid="messages"
                    aria-label="Messages"
                    aria-live="polite"
                    aria-relevant="additions"
                >
                    <For
                        each=move || {
                            let local = hydrated.get();
                            let (rows, gap_after, loading) = timeline.with(|t| {
                                (t.rows(), t.gap_shown_after(), t.gap_after().is_none())
                            });
                            let items = reading::items(rows, unread_from.get(), now.get(), |ts| time::shifted(ts, local));
                            reading::mark_gap(items, gap_after, loading)
                        }
                        key=Item::key
                        children=move |item| match item {
                            Item::Day { day, label } => EitherOf4::A(view! {
                                <li class="day-separator" data-testid="day-separator" data-day=day>
                                    <span>{label}</span>
                                </li>
                            }),
                            Item::Unread => EitherOf4::B(view! {
                                <li class="new-divider" data-testid="new-messages"><span>"New messages"</span></li>
                            }),
                            Item::Row { row, grouped } => {
                                let profiles = state.profiles;
                                EitherOf4::C(view! {
                                    <MessageRow row grouped me profiles hydrated on_retry on_discard/>
                                })
                            }
                            // Where a window of older messages ends and those not held begin.
                            Item::Gap { loading } => EitherOf4::D(view! {
                                <li class="gap" data-testid="gap">
                                    <button type="button" disabled=loading on:click=move |_| live.run(|l| l.fill_gap())>
                                        "Show newer messages"
                                    </button>
                                </li>
                            }),
                        }
                    />
                </ol>
                // After the list in the DOM: `column-reverse` shows it above, at the oldest end.
                <HistoryEdge timeline load_older/>
            </div>
            <Show when=move || { unseen() > 0 }>
                <button type="button" class="jump" on:click=move |_| scroll_to_newest()>
                    {move || match unseen() {
                        1 => "1 new message ↓".to_owned(),
                        n => format!("{n} new messages ↓"),
                    }}
                </button>
            </Show>
            <p class="typing" data-testid="typing" aria-live="polite">{typing}</p>
            <Show
                when=may_post
                fallback=|| view! { <p class="read-only" data-testid="read-only-notice">{READ_ONLY}</p> }
            >
                <ReplyBanner/>
                <form class="composer" data-testid="composer" on:submit=submit on:paste=attachments::pasted(uploads, signed_in)>
                    <UploadChips uploads/>
                    <AttachButton uploads signed_in hydrated/>
                    <textarea
                        id=COMPOSER_ID
                        aria-label="Message"
                        autocomplete="off"
                        rows="1"
                        dir="auto"
                        placeholder=placeholder
                        prop:value=move || draft.get()
                        on:keydown=move |ev| {
                            if sends(&ev) {
                                ev.prevent_default();
                                send();
                            }
                        }
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            drafts.update_value(|d| {
                                d.insert(room.get_value(), value.clone());
                            });
                            if !suggesting.get_untracked() && value.contains('@') {
                                suggesting.set(true);
                            }
                            draft.set(value);
                            live.run(|l| l.typed());
                        }
                        disabled=move || !hydrated.get()
                        aria-invalid=move || composer_error.get().is_some().to_string()
                        aria-describedby="composer-error"
                    ></textarea>
                    // A chunk of its own (`ui/lazy.rs`), drawn when an `@` is first typed.
                    <Show when=move || suggesting.get()>{super::lazy::mention_suggest(room, live)}</Show>
                    <button type="submit" disabled=move || !hydrated.get()>"Send"</button>
                    <p id="composer-error" class="composer-error" role="alert">{move || composer_error.get()}</p>
                </form>
            </Show>
        </section>
    }
}

/// The conversation the page's address names, while it is opened: its title over a note,
/// rather than the lobby, which it is not.
#[component]
pub(crate) fn Opening(title: String) -> impl IntoView {
    view! {
        <section class="conversation" aria-label="Conversation" aria-busy="true" data-testid="opening">
            <header class="convo-head">
                <DrawerToggle/>
                <h2 class="convo-title" data-testid="convo-title">{title}</h2>
            </header>
            <div class="scroller">
                <p class="edge" data-testid="history-loading" role="status">"Opening…"</p>
            </div>
        </section>
    }
}

/// The conversation's name (locked if private), its counts, the Members panel's button for
/// rooms we are in but the lobby, and Leave for rooms that can be left.
#[component]
fn Header(room: StoredValue<String>, state: ChatState, live: LiveHandle) -> impl IntoView {
    let info = move || state.rooms.with(|r| r.get(&room.get_value()).cloned());
    let kind = move || info().map_or(RoomKind::Room, |i| i.kind);
    let title = move || state.rooms.with(|r| r.title(&room.get_value()));
    let counts = move || match info() {
        Some(i) if i.kind == RoomKind::Dm => "Direct conversation".to_owned(),
        Some(i) => counts_line(&i),
        None => String::new(),
    };
    let can_leave = move || {
        room.with_value(|r| r != LOBBY)
            && info().is_some_and(|i| i.kind == RoomKind::Room && i.joined)
    };
    let private = move || info().is_some_and(|i| i.private);
    // Like Leave: a room we are in, not the lobby (everyone is in it) nor a direct one.
    let has_members = can_leave;
    let members_open = RwSignal::new(false);
    view! {
        <header class="convo-head">
            <DrawerToggle/>
            <h2
                class="convo-title"
                data-testid="convo-title"
                data-kind=move || if kind() == RoomKind::Dm { "dm" } else { "room" }
            >
                {title}
            </h2>
            <Show when=private>
                <Lock/>
            </Show>
            <span class="convo-counts" data-testid="convo-counts">{counts}</span>
            <NotifySetting room state live/>
            <Show when=has_members>
                <button
                    type="button"
                    class="members-toggle"
                    data-testid="members-toggle"
                    aria-controls="members-panel"
                    aria-expanded=move || members_open.get().to_string()
                    on:click=move |_| members_open.update(|o| *o = !*o)
                >
                    "Members"
                </button>
            </Show>
            <Show when=can_leave>
                <button
                    type="button"
                    class="leave"
                    on:click=move |_| live.run(|l| l.leave(room.get_value()))
                >
                    "Leave"
                </button>
            </Show>
        </header>
        <Show when=move || has_members() && members_open.get()>
            <MembersPanel room state live/>
        </Show>
    }
}

/// "Online: ann, bob": who is in the room; in a direct conversation, which of its two people
/// are online. Other people's names open a direct conversation with them.
#[component]
fn PresenceLine(room: StoredValue<String>, state: ChatState, live: LiveHandle) -> impl IntoView {
    let pieces = move || {
        let room = room.get_value();
        let me = state.name.get();
        state.presence.with(|all| {
            if is_dm(&room) {
                let other = state.rooms.with(|r| r.title(&room));
                online_pieces(&dm_online(all, &room, &me, &other), 0, 0)
            } else {
                all.get(&room)
                    .map_or_else(Vec::new, |p| online_pieces(&p.online, p.more, p.guests))
            }
        })
    };
    view! {
        <p class="presence" data-testid="presence">
            {move || {
                let me = state.name.get();
                pieces()
                    .into_iter()
                    .map(|piece| match piece {
                        Piece::Person(name) if name != me => {
                            let label = format!("Message {name}");
                            let target = name.clone();
                            EitherOf3::A(view! {
                                <button
                                    type="button"
                                    class="person"
                                    aria-label=label.clone()
                                    title=label
                                    on:click=move |_| live.run(|l| l.open_dm(target.clone()))
                                >
                                    {name}
                                </button>
                            })
                        }
                        Piece::Person(name) => EitherOf3::B(view! { <span class="person me">{name}</span> }),
                        Piece::Text(text) => EitherOf3::C(text),
                    })
                    .collect_view()
            }}
        </p>
    }
}

/// The oldest end of the list: the beginning of the conversation, or a way to load more.
#[component]
fn HistoryEdge(
    timeline: RwSignal<Timeline>,
    load_older: impl Fn() + Copy + Send + 'static,
) -> impl IntoView {
    move || {
        timeline.with(|t| {
            if t.is_reloading() {
                EitherOf5::A(view! { <p class="edge" data-testid="history-loading" role="status">"Loading messages…"</p> })
            } else if t.is_complete() && t.len() == 0 {
                EitherOf5::B(view! { <p class="empty">"No messages yet. Say hello!"</p> })
            } else if t.is_complete() {
                EitherOf5::C(view! { <p class="edge" data-testid="history-start">"This is the beginning of the conversation."</p> })
            } else if t.is_loading_older() {
                EitherOf5::D(view! { <p class="edge" role="status">"Loading older messages…"</p> })
            } else {
                EitherOf5::E(view! {
                    <button
                        type="button"
                        class="edge older"
                        data-testid="load-older"
                        on:click=move |_| load_older()
                    >
                        "Load older messages"
                    </button>
                })
            }
        })
    }
}

/// A piece of the presence line: plain text, or a person's name.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Person(String),
}

/// "Online: ann, bob, 3 more and 2 guests" in pieces, or nothing before the server said.
/// `more` counts the people online whom a big room's presence does not name.
fn online_pieces(online: &[String], more: usize, guests: usize) -> Vec<Piece> {
    let guests = match guests {
        0 => None,
        1 => Some("1 guest".to_owned()),
        n => Some(format!("{n} guests")),
    };
    if online.is_empty() {
        return guests
            .map(|g| vec![Piece::Text(format!("Online: {g}"))])
            .unwrap_or_default();
    }
    let mut pieces = vec![Piece::Text("Online: ".to_owned())];
    for (i, name) in online.iter().enumerate() {
        if i > 0 {
            pieces.push(Piece::Text(", ".to_owned()));
        }
        pieces.push(Piece::Person(name.clone()));
    }
    if more > 0 {
        pieces.push(Piece::Text(format!(", {more} more")));
    }
    if let Some(g) = guests {
        pieces.push(Piece::Text(format!(" and {g}")));
    }
    pieces
}

/// Which of a direct conversation's two people (`me` and `other`) are online: as the server
/// told it for the conversation, or until it has, as far as the lobby's names tell (they
/// leave out people beyond the first 20).
fn dm_online(all: &SortedMap<String, Presence>, room: &str, me: &str, other: &str) -> Vec<String> {
    if let Some(p) = all.get(room) {
        return p.online.clone();
    }
    all.get(LOBBY).map_or_else(Vec::new, |p| {
        p.online
            .iter()
            .filter(|n| *n == me || *n == other)
            .cloned()
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::{Piece, SortedMap, dm_online, online_pieces};
    use crate::events::Presence;

    fn presence(room: &str, online: &[&str], more: usize) -> (String, Presence) {
        let p = Presence {
            room: room.into(),
            online: online.iter().map(|s| s.to_string()).collect(),
            more,
            guests: 0,
        };
        (room.into(), p)
    }

    #[test]
    fn a_direct_conversation_trusts_its_own_presence_over_the_lobby() {
        // 150 online: the lobby names 100 of them, and not zed.
        let lobby = presence("lobby", &["amy", "ann"], 148);
        let mut all: SortedMap<String, Presence> = [lobby].into();
        assert_eq!(dm_online(&all, "dm:p1:p2", "ann", "zed"), ["ann"]);
        all.extend([presence("dm:p1:p2", &["ann", "zed"], 0)]);
        assert_eq!(dm_online(&all, "dm:p1:p2", "ann", "zed"), ["ann", "zed"]);
        all.extend([presence("dm:p1:p2", &["ann"], 0)]);
        assert_eq!(dm_online(&all, "dm:p1:p2", "ann", "zed"), ["ann"]);
    }

    /// The line as it reads.
    fn online_line(online: &[&str], guests: usize) -> String {
        online_line_with_more(online, 0, guests)
    }

    fn online_line_with_more(online: &[&str], more: usize, guests: usize) -> String {
        let online: Vec<String> = online.iter().map(|s| s.to_string()).collect();
        online_pieces(&online, more, guests)
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) | Piece::Person(t) => t,
            })
            .collect()
    }

    #[test]
    fn the_online_line_reads_naturally() {
        assert_eq!(online_line(&[], 0), "");
        assert_eq!(online_line(&["ann", "bob"], 0), "Online: ann, bob");
        assert_eq!(online_line(&["ann"], 1), "Online: ann and 1 guest");
        assert_eq!(online_line(&[], 3), "Online: 3 guests");
        assert_eq!(
            online_line_with_more(&["ann", "bob"], 3, 2),
            "Online: ann, bob, 3 more and 2 guests"
        );
    }

    #[test]
    fn names_are_pieces_of_their_own() {
        let pieces = online_pieces(&["ann".into(), "bob".into()], 0, 0);
        let people: Vec<&Piece> = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Person(_)))
            .collect();
        assert_eq!(
            people,
            [&Piece::Person("ann".into()), &Piece::Person("bob".into())]
        );
    }
}
