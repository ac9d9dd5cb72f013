//! The `/admin` page: an administrator's or moderator's session cookie lets them in, the admin
//! token otherwise; then live statistics, announcements to one room or all, deleting
//! messages, kicking a person, and for administrators every job (with an import form),
//! imported authors to claim (`authors.rs`), people and their roles (`people.rs`) and join
//! links (`invites.rs`), over the `/admin` namespace.

mod authors;
mod handle;
mod invites;
mod people;

use leptos::either::Either;
use leptos::prelude::*;

use self::authors::ImportedAuthorsPanel;
use self::handle::AdminHandle;
use self::invites::InvitesPanel;
use self::people::PeoplePanel;
use super::jobs::{ImportForm, JobTable, Jobs, page_now_ms};
use crate::events::{
    ADMIN_JOBS, AdminIdentity, ChatMessage, JobKind, LOBBY, MessageKind, Role, Stats,
};

/// Where the page keeps the admin token between visits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const TOKEN_KEY: &str = "palaver.admin";

/// Where the page's connection stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) enum Access {
    #[default]
    SignedOut,
    Connecting,
    Connected,
    /// The server refused the token (its `connect_error` code).
    Refused(String),
}

#[component]
pub(crate) fn AdminPage() -> impl IntoView {
    let token = RwSignal::new(String::new());
    let access = RwSignal::new(Access::default());
    let stats = RwSignal::new(None::<Stats>);
    let jobs = RwSignal::new(Jobs::new(ADMIN_JOBS));
    let feedback = RwSignal::new(None::<String>);
    let hydrated = RwSignal::new(false);
    // Who the server let in (`whoami`), and whether by the session cookie (no token sent).
    let who = RwSignal::new(None::<AdminIdentity>);
    let by_cookie = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    let live = StoredValue::new_local(None::<browser::AdminLive>);
    #[cfg(not(feature = "hydrate"))]
    let live = StoredValue::new(None::<inert::AdminLive>);
    let admin = AdminHandle(live);

    #[cfg(feature = "hydrate")]
    let signals = browser::Signals {
        token,
        by_cookie,
        access,
        who,
        stats,
        jobs,
    };
    // The session cookie first: a moderator needs no token. Refused, the saved token if any.
    Effect::new(move |_| {
        hydrated.set(true);
        #[cfg(feature = "hydrate")]
        {
            by_cookie.set(true);
            live.set_value(Some(browser::AdminLive::start(signals)));
        }
    });
    let sign_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            live.update_value(|l| {
                if let Some(old) = l.take() {
                    old.close();
                }
            });
            by_cookie.set(false);
            who.set(None);
            live.set_value(Some(browser::AdminLive::start(signals)));
        }
    };
    let room = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let kick_name = RwSignal::new(String::new());
    let kick_reason = RwSignal::new(String::new());
    let announce = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (r, t) = (room.get_untracked(), text.get_untracked());
        live.with_value(|l| {
            if let Some(l) = l {
                l.announce((!r.is_empty()).then_some(r), t, feedback);
            }
        });
        text.set(String::new());
    };
    let kick = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, r) = (kick_name.get_untracked(), kick_reason.get_untracked());
        live.with_value(|l| {
            if let Some(l) = l {
                l.kick(n, (!r.is_empty()).then_some(r), feedback);
            }
        });
    };
    // A ban is a kick that lasts: same name and reason; lifted by name alone.
    let ban = move |lift: bool| {
        let (n, r) = (kick_name.get_untracked(), kick_reason.get_untracked());
        live.with_value(|l| {
            if let Some(l) = l {
                l.ban(n, (!r.is_empty()).then_some(r), lift, feedback);
            }
        });
    };
    let moderated = RwSignal::new(LOBBY.to_owned());
    let recent = RwSignal::new(None::<Vec<ChatMessage>>);
    let load_recent = move |_| {
        let r = moderated.get_untracked();
        live.with_value(|l| {
            if let Some(l) = l {
                l.recent(r, recent, feedback);
            }
        });
    };
    let delete = Callback::new(move |id: i64| {
        let r = moderated.get_untracked();
        live.with_value(|l| {
            if let Some(l) = l {
                l.delete(id, r, recent, feedback);
            }
        });
    });
    let connected = move || access.get() == Access::Connected;
    // The admin token is an administrator's, whatever `whoami` says and before it does.
    let is_admin = move || {
        let by_token = !by_cookie.get() && access.get() == Access::Connected;
        by_token || who.with(|w| w.as_ref().is_some_and(|w| w.role == Role::Admin))
    };
    // The token form, unless the cookie is being tried or let us in.
    let token_form = move || {
        !(by_cookie.get() && matches!(access.get(), Access::Connecting | Access::Connected))
    };
    let import_token = Callback::new(move |()| {
        if by_cookie.get_untracked() {
            return Ok(None);
        }
        Some(token.get_untracked())
            .filter(|t| !t.is_empty())
            .map(Some)
            .ok_or_else(|| "Sign in with the admin token first".to_owned())
    });
    let imported = Callback::new(move |job: i64| {
        jobs.update(|j| j.started(job, JobKind::Import, page_now_ms()))
    });
    let hydrated_signal: Signal<bool> = hydrated.into();
    let authors = RwSignal::new(None);
    let list_authors = Callback::new(move |()| {
        live.with_value(|l| {
            if let Some(l) = l {
                l.imported_authors(authors, feedback);
            }
        });
    });
    let claim_author = Callback::new(move |(author, name): (String, String)| {
        live.with_value(|l| {
            if let Some(l) = l {
                l.claim_author(author, name, authors, feedback);
            }
        });
    });

    view! {
        <main class="admin" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"Palaver admin"</h1>
                <a href="/">"Back to the chat"</a>
            </header>
            <p class="admin-whoami" data-testid="admin-whoami">
                {move || who.get().map(|w| match w.name {
                    Some(name) => format!("Signed in as {name} ({})", w.role.as_str()),
                    None => "With the admin token (admin)".to_owned(),
                })}
            </p>
            <form class="admin-signin" on:submit=sign_in hidden=move || !token_form()>
                <label>
                    "Admin token "
                    <input
                        id="admin-token"
                        type="password"
                        autocomplete="off"
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev))
                        disabled=move || !hydrated.get()
                    />
                </label>
                <button type="submit" disabled=move || !hydrated.get()>"Sign in"</button>
            </form>
            <p class="admin-access" data-testid="admin-access" role="status">
                    {move || match access.get() {
                        Access::SignedOut => "Signed out".to_owned(),
                        Access::Connecting => "Connecting…".to_owned(),
                        Access::Connected => "Connected".to_owned(),
                        Access::Refused(code) => format!("Refused: {code}"),
                    }}
                </p>
            <Show when=connected>
                <StatsPanel stats/>
                <form class="admin-action" on:submit=announce>
                    <h2>"Announce"</h2>
                    <RoomChoice stats room/>
                    <TextInput label="Announcement" placeholder="Announcement" value=text/>
                    <button type="submit">"Announce"</button>
                </form>
                <section class="admin-action" aria-labelledby="moderate-heading">
                    <h2 id="moderate-heading">"Messages"</h2>
                    <select
                        aria-label="Room to moderate"
                        prop:value=move || moderated.get()
                        on:change=move |ev| {
                            moderated.set(event_target_value(&ev));
                            recent.set(None);
                        }
                    >
                        <RoomOptions stats/>
                    </select>
                    <button type="button" on:click=load_recent>"Show recent"</button>
                    <RecentList recent delete/>
                </section>
                <form class="admin-action" on:submit=kick>
                    <h2>"Kick"</h2>
                    <TextInput label="Name to kick" placeholder="Name" value=kick_name/>
                    <TextInput label="Reason" placeholder="Reason (shown to them)" value=kick_reason/>
                    <button type="submit">"Kick"</button>
                    <button type="button" on:click=move |_| ban(false)>"Ban"</button>
                    <button type="button" on:click=move |_| ban(true)>"Unban"</button>
                </form>
                <p class="admin-feedback" data-testid="admin-feedback" role="status">{move || feedback.get()}</p>
                <Show when=is_admin>
                <PeoplePanel admin feedback/>
                <InvitesPanel admin feedback/>
                <section class="admin-jobs" aria-labelledby="jobs-heading">
                    <h2 id="jobs-heading">"Jobs"</h2>
                    <JobTable jobs/>
                    <ImportForm
                        token=import_token
                        on_started=imported
                        hydrated=hydrated_signal
                        note="As an administrator: an import may add to existing public rooms."
                    />
                </section>
                <ImportedAuthorsPanel authors list=list_authors claim=claim_author/>
                </Show>
            </Show>
        </main>
    }
}

/// The live statistics, as the last `stats` had them.
#[component]
fn StatsPanel(stats: RwSignal<Option<Stats>>) -> impl IntoView {
    view! {
        <section class="admin-stats" data-testid="admin-stats" aria-label="Live statistics">
            {move || stats.get().map(|s| view! {
                <p>
                    <span data-testid="messages-per-minute">{s.messages_per_minute}</span>
                    " messages in the last minute"
                </p>
                <ul class="namespaces">
                    {s.namespaces.into_iter().map(|n| view! {
                        <li data-testid="namespace">{format!("{}: {} sockets", n.path, n.sockets)}</li>
                    }).collect_view()}
                </ul>
                <RoomTable rooms=s.rooms/>
            })}
        </section>
    }
}

#[component]
fn RoomTable(rooms: Vec<crate::events::RoomStats>) -> impl IntoView {
    view! {
        <table class="rooms">
            <thead><tr><th>"Room"</th><th>"Sockets"</th><th>"Members"</th></tr></thead>
            <tbody>
                {rooms.into_iter().map(|r| view! {
                    <tr data-testid="room" data-room=r.room.clone()>
                        <td>{r.room.clone()}</td>
                        <td>{r.sockets}</td>
                        <td class="members">{r.members.join(", ")}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Every room, or one of those `stats` lists.
#[component]
fn RoomChoice(stats: RwSignal<Option<Stats>>, room: RwSignal<String>) -> impl IntoView {
    view! {
        <select
            aria-label="Room"
            prop:value=move || room.get()
            on:change=move |ev| room.set(event_target_value(&ev))
        >
            <option value="">"Every room"</option>
            <RoomOptions stats/>
        </select>
    }
}

/// One option per room `stats` lists: the lobby (always) first, then by name. Keyed, so the
/// option chosen is not redrawn (and unchosen) by every `stats`.
#[component]
fn RoomOptions(stats: RwSignal<Option<Stats>>) -> impl IntoView {
    let rooms = move || {
        let mut rooms: Vec<String> = stats.with(|s| {
            s.as_ref()
                .map(|s| s.rooms.iter().map(|r| r.room.clone()).collect())
                .unwrap_or_default()
        });
        rooms.retain(|r| r != LOBBY);
        rooms.sort();
        rooms.insert(0, LOBBY.to_owned());
        rooms
    };
    view! {
        <For
            each=rooms
            key=|r| r.clone()
            children=|r| view! { <option value=r.clone()>{r.clone()}</option> }
        />
    }
}

/// The newest messages of the room being moderated, each with Delete.
#[component]
fn RecentList(recent: RwSignal<Option<Vec<ChatMessage>>>, delete: Callback<i64>) -> impl IntoView {
    move || {
        recent.get().map(|messages| {
            let shown: Vec<ChatMessage> = messages
                .into_iter()
                .filter(|m| m.meta.kind != Some(MessageKind::Deleted))
                .collect();
            if shown.is_empty() {
                return Either::Left(view! { <p class="recent-empty">"No messages."</p> });
            }
            Either::Right(view! {
                <ol class="recent" data-testid="recent">
                    {shown.into_iter().map(|m| {
                        let id = m.id;
                        let notice = matches!(m.meta.kind, Some(MessageKind::Joined | MessageKind::Left));
                        view! {
                            <li data-testid="recent-message" data-id=id class:notice=notice>
                                <span class="author">{m.meta.author}</span>
                                <span class="text">{m.text}</span>
                                <button type="button" on:click=move |_| delete.run(id)>"Delete"</button>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            })
        })
    }
}

#[component]
fn TextInput(
    label: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <input
            aria-label=label
            placeholder=placeholder
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    }
}

#[cfg(not(feature = "hydrate"))]
mod inert {
    use leptos::prelude::RwSignal;

    /// The server renders the page but never runs its handlers.
    pub(crate) struct AdminLive;

    type Recent = RwSignal<Option<Vec<crate::events::ChatMessage>>>;
    use super::authors::Authors;

    impl AdminLive {
        pub(crate) fn announce(&self, _: Option<String>, _: String, _: RwSignal<Option<String>>) {}
        pub(crate) fn kick(&self, _: String, _: Option<String>, _: RwSignal<Option<String>>) {}
        pub(crate) fn ban(
            &self,
            _: String,
            _: Option<String>,
            _: bool,
            _: RwSignal<Option<String>>,
        ) {
        }
        pub(crate) fn recent(&self, _: String, _: Recent, _: RwSignal<Option<String>>) {}
        pub(crate) fn delete(&self, _: i64, _: String, _: Recent, _: RwSignal<Option<String>>) {}
        pub(crate) fn imported_authors(&self, _: Authors, _: RwSignal<Option<String>>) {}
        pub(crate) fn claim_author(
            &self,
            _: String,
            _: String,
            _: Authors,
            _: RwSignal<Option<String>>,
        ) {
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::time::Duration;

    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::authors::Authors;
    use super::{Access, TOKEN_KEY};
    use crate::client::{Client, Socket};
    use crate::events::{
        Admin, AdminAuth, AdminIdentity, AdminJobChanged, AdminJobs, Announce, Ban, ChatMessage,
        ClaimAuthor, DeleteMessage, ImportedAuthors, Kick, RecentInRoom, Stats, Unban,
    };
    use crate::ui::jobs::Jobs;

    pub(super) const ACK_TIMEOUT: Duration = Duration::from_secs(5);

    /// What the connection writes to (and, for the token, reads from).
    #[derive(Clone, Copy)]
    pub(crate) struct Signals {
        pub(crate) token: RwSignal<String>,
        /// Whether to connect with the session cookie alone (no token).
        pub(crate) by_cookie: RwSignal<bool>,
        pub(crate) access: RwSignal<Access>,
        pub(crate) who: RwSignal<Option<AdminIdentity>>,
        pub(crate) stats: RwSignal<Option<Stats>>,
        pub(crate) jobs: RwSignal<Jobs>,
    }

    type Recent = RwSignal<Option<Vec<ChatMessage>>>;

    #[derive(Clone)]
    pub(crate) struct AdminLive {
        client: Client,
        socket: Socket<Admin>,
    }

    pub(crate) fn saved_token() -> Option<String> {
        storage()?
            .get_item(TOKEN_KEY)
            .ok()
            .flatten()
            .filter(|t| !t.is_empty())
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    impl AdminLive {
        pub(crate) fn start(signals: Signals) -> AdminLive {
            let Signals {
                token,
                by_cookie,
                access,
                who,
                stats,
                jobs,
            } = signals;
            access.set(Access::Connecting);
            let client = Client::connect();
            let socket = client.socket::<Admin>(move || {
                if by_cookie.get_untracked() {
                    AdminAuth::default()
                } else {
                    AdminAuth {
                        token: token.get_untracked(),
                    }
                }
            });
            socket.on(move |w: AdminIdentity| who.set(Some(w)));
            socket.on(move |s: Stats| stats.set(Some(s)));
            socket.on(move |AdminJobChanged { job }| {
                jobs.update(|j| {
                    j.apply(job);
                })
            });
            let lister = socket.clone();
            socket.on_connect(move || {
                // What changed while away; the `job` events tell the rest.
                let socket = lister.clone();
                spawn_local(async move {
                    match socket.emit_with_ack(&AdminJobs {}, ACK_TIMEOUT).await {
                        Ok(reply) => match reply.into_result() {
                            Ok(list) => jobs.update(|j| {
                                j.apply_list(list.jobs);
                            }),
                            Err(e) => leptos::logging::warn!("jobs refused: {e}"),
                        },
                        Err(e) => leptos::logging::warn!("jobs failed: {e}"),
                    }
                });
                access.set(Access::Connected);
                if by_cookie.get_untracked() {
                    return;
                }
                if let Some(s) = storage() {
                    let _ = s.set_item(TOKEN_KEY, &token.get_untracked());
                }
            });
            let closer = client.clone();
            let retrier = socket.clone();
            socket.on_connect_error(move |code| {
                if by_cookie.get_untracked() {
                    // No session of a moderator here: the saved token if there is one, or
                    // the form.
                    by_cookie.set(false);
                    if let Some(saved) = saved_token() {
                        token.set(saved);
                        let socket = retrier.clone();
                        spawn_local(async move { socket.refresh_auth() });
                    } else {
                        access.set(Access::SignedOut);
                        closer.close();
                    }
                    return;
                }
                // A wrong token stays wrong: stop, forget it, and say so.
                access.set(Access::Refused(code));
                if let Some(s) = storage() {
                    let _ = s.remove_item(TOKEN_KEY);
                }
                closer.close();
            });
            AdminLive { client, socket }
        }

        pub(crate) fn close(&self) {
            self.client.close();
        }

        pub(crate) fn socket(&self) -> Socket<Admin> {
            self.socket.clone()
        }

        pub(crate) fn announce(
            &self,
            room: Option<String>,
            text: String,
            feedback: RwSignal<Option<String>>,
        ) {
            let socket = self.socket.clone();
            spawn_local(async move {
                let result = socket
                    .emit_with_ack(&Announce { room, text }, ACK_TIMEOUT)
                    .await;
                feedback.set(Some(match result.map(|r| r.into_result()) {
                    Ok(Ok(posted)) => format!("Announced in {} room(s)", posted.len()),
                    Ok(Err(e)) => format!("Not announced: {e}"),
                    Err(e) => format!("Not announced: {e:?}"),
                }));
            });
        }

        pub(crate) fn kick(
            &self,
            name: String,
            reason: Option<String>,
            feedback: RwSignal<Option<String>>,
        ) {
            let socket = self.socket.clone();
            spawn_local(async move {
                let request = Kick {
                    name: name.clone(),
                    reason,
                };
                let result = socket.emit_with_ack(&request, ACK_TIMEOUT).await;
                feedback.set(Some(match result.map(|r| r.into_result()) {
                    Ok(Ok(done)) => format!("Kicked {name} ({} connection(s))", done.sockets),
                    Ok(Err(e)) => format!("Not kicked: {e}"),
                    Err(e) => format!("Not kicked: {e:?}"),
                }));
            });
        }

        /// Bans the person called `name` (disconnected, tokens refused, name kept), or with
        /// `lift`, lifts their ban.
        pub(crate) fn ban(
            &self,
            name: String,
            reason: Option<String>,
            lift: bool,
            feedback: RwSignal<Option<String>>,
        ) {
            let socket = self.socket.clone();
            spawn_local(async move {
                let told = if lift {
                    let request = Unban { name: name.clone() };
                    match socket.emit_with_ack(&request, ACK_TIMEOUT).await {
                        Ok(reply) => match reply.into_result() {
                            Ok(done) => format!("Lifted the ban of {}", done.name),
                            Err(e) => format!("Not unbanned: {e}"),
                        },
                        Err(e) => format!("Not unbanned: {e:?}"),
                    }
                } else {
                    let request = Ban {
                        name: name.clone(),
                        reason,
                    };
                    match socket.emit_with_ack(&request, ACK_TIMEOUT).await {
                        Ok(reply) => match reply.into_result() {
                            Ok(done) => {
                                format!("Banned {name} ({} connection(s) closed)", done.sockets)
                            }
                            Err(e) => format!("Not banned: {e}"),
                        },
                        Err(e) => format!("Not banned: {e:?}"),
                    }
                };
                feedback.set(Some(told));
            });
        }

        /// Shows the newest messages of `room`, to pick what to delete.
        pub(crate) fn recent(
            &self,
            room: String,
            recent: Recent,
            feedback: RwSignal<Option<String>>,
        ) {
            let socket = self.socket.clone();
            spawn_local(async move {
                let result = socket
                    .emit_with_ack(&RecentInRoom { room: room.clone() }, ACK_TIMEOUT)
                    .await;
                match result.map(|r| r.into_result()) {
                    Ok(Ok(page)) => recent.set(Some(page.messages)),
                    Ok(Err(e)) => feedback.set(Some(format!("Cannot show {room}: {e}"))),
                    Err(e) => feedback.set(Some(format!("Cannot show {room}: {e:?}"))),
                }
            });
        }

        /// Deletes message `id` for everyone, then shows `room`'s newest messages again.
        pub(crate) fn delete(
            &self,
            id: i64,
            room: String,
            recent: Recent,
            feedback: RwSignal<Option<String>>,
        ) {
            let this = self.clone();
            spawn_local(async move {
                let result = this
                    .socket
                    .emit_with_ack(&DeleteMessage { id }, ACK_TIMEOUT)
                    .await;
                feedback.set(Some(match result.map(|r| r.into_result()) {
                    Ok(Ok(done)) => format!("Deleted message {} in {}", done.id, done.room),
                    Ok(Err(e)) => format!("Not deleted: {e}"),
                    Err(e) => format!("Not deleted: {e:?}"),
                }));
                this.recent(room, recent, feedback);
            });
        }

        /// Lists the imported authors nobody has claimed.
        pub(crate) fn imported_authors(
            &self,
            authors: Authors,
            feedback: RwSignal<Option<String>>,
        ) {
            let socket = self.socket.clone();
            spawn_local(async move {
                match socket
                    .emit_with_ack(&ImportedAuthors {}, ACK_TIMEOUT)
                    .await
                    .map(|r| r.into_result())
                {
                    Ok(Ok(list)) => authors.set(Some(list)),
                    Ok(Err(e)) => feedback.set(Some(format!("Cannot list the authors: {e}"))),
                    Err(e) => feedback.set(Some(format!("Cannot list the authors: {e:?}"))),
                }
            });
        }

        /// Gives `author`'s imported messages to the person called `name`, then lists again.
        pub(crate) fn claim_author(
            &self,
            author: String,
            name: String,
            authors: Authors,
            feedback: RwSignal<Option<String>>,
        ) {
            let this = self.clone();
            spawn_local(async move {
                let result = this
                    .socket
                    .emit_with_ack(&ClaimAuthor { author, name }, ACK_TIMEOUT)
                    .await;
                feedback.set(Some(match result.map(|r| r.into_result()) {
                    Ok(Ok(done)) => format!(
                        "{} message(s) of {} are now {}'s",
                        done.messages, done.author, done.name
                    ),
                    Ok(Err(e)) => format!("Not claimed: {e}"),
                    Err(e) => format!("Not claimed: {e:?}"),
                }));
                this.imported_authors(authors, feedback);
            });
        }
    }
}
