//! Mentions and notification levels: whom a post mentions (checked here, stored by the writer
//! with the post), the `mentions` list, the `members` a `@` completes to, and each person's
//! notification level per conversation (`notify`, `notify levels`).

use app::events::{
    ChatError, ChatMessage, Levels, ListMembers, ListMentions, MAX_DISPLAY_NAME_CHARS,
    MAX_MEMBERS_LIMIT, MAX_MENTIONS_PAGE, Main, Member, MentionPage, Namespace as _, NotifyChanged,
    NotifyLevels, SetNotify, name_key,
};
use app::mentions;

use crate::conversation::{Conversation, ConversationId, person_room};
use crate::socket::access::accessible;
use crate::socket::emit::broadcast;
use crate::socket::identity;
use crate::socket::limits::{self, Action};
use crate::socket::request::{Ctx, HandlerError};
use crate::state::Chat;
use crate::store::mentions::Mentioned;

/// Candidates read for `members` before the online ones are put first.
const MEMBER_CANDIDATES: usize = 50;

/// The people `text`, posted by `author` (a person's id; `None` for a guest) in `room`,
/// mentions and who may read `room`: nobody else learns of it, or is told by it. The author
/// is left out.
pub(crate) async fn mentioned(
    chat: &Chat,
    room: &ConversationId,
    author: Option<&str>,
    text: &str,
) -> Result<Vec<Mentioned>, HandlerError> {
    let names = mentions::mentioned(text);
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        let key = name_key(name);
        let person = match room.conversation() {
            Conversation::Room(r) => chat.store.mentionable(&key, r).await,
            Conversation::Dm { .. } => chat
                .store
                .person_named(&key)
                .await
                .map(|p| p.map(|(person, name)| Mentioned { person, name })),
        }
        .map_err(HandlerError::store("finding whom a message mentions"))?;
        if let Some(person) = person
            && room_allows(room, &person.person)
            && author != Some(person.person.as_str())
        {
            found.push(person);
        }
    }
    Ok(found)
}

/// A direct conversation is its two people's alone; in rooms the store checked membership.
fn room_allows(room: &ConversationId, person: &str) -> bool {
    match room.conversation() {
        Conversation::Dm { .. } => room.is_party(person),
        Conversation::Room(_) => true,
    }
}

/// `mentions`.
pub(crate) async fn list(ctx: Ctx, r: ListMentions) -> Result<MentionPage, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let person = identity::of(socket).person.ok_or(ChatError::NameRequired)?;
    limits::charge(socket, chat, Action::Read, 1)?;
    let limit = r
        .limit
        .unwrap_or(MAX_MENTIONS_PAGE)
        .clamp(1, MAX_MENTIONS_PAGE);
    let (rows, more) = chat
        .store
        .mentions_of(&person, r.before, limit)
        .await
        .map_err(HandlerError::store("the mentions query"))?;
    Ok(MentionPage {
        messages: rows.into_iter().map(ChatMessage::from).collect(),
        more,
    })
}

/// `members`.
pub(crate) async fn members(ctx: Ctx, r: ListMembers) -> Result<Vec<Member>, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    if r.prefix.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(ChatError::InvalidPayload {
            event: "members".to_owned(),
            detail: format!("prefix is longer than {MAX_DISPLAY_NAME_CHARS} characters"),
        }
        .into());
    }
    limits::charge(socket, chat, Action::Read, 1)?;
    let room = ConversationId::parse(r.room)?;
    accessible(socket, chat, &room).await?;
    let limit = r
        .limit
        .unwrap_or(MAX_MEMBERS_LIMIT)
        .clamp(1, MAX_MEMBERS_LIMIT);
    let within = match room.conversation() {
        Conversation::Room(name) if name == app::events::LOBBY => None,
        _ => Some(room.as_str()),
    };
    let prefix = r.prefix.trim_start_matches('@').to_lowercase();
    let found = chat
        .store
        .members_matching(within, &prefix, MEMBER_CANDIDATES)
        .await
        .map_err(HandlerError::store("the members query"))?;
    let online = chat
        .presence
        .who_and_sockets(room.as_str())
        .map(|(names, _)| names)
        .unwrap_or_default();
    let mut members: Vec<Member> = found
        .into_iter()
        .map(|(name, display_name)| Member {
            online: online.binary_search(&name).is_ok(),
            name,
            display_name,
        })
        .collect();
    // Stable: by name within each part.
    members.sort_by_key(|m| !m.online);
    members.truncate(limit);
    Ok(members)
}

/// `notify`.
pub(crate) async fn set_level(ctx: Ctx, r: SetNotify) -> Result<(), HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let person = identity::of(socket).person.ok_or(ChatError::NameRequired)?;
    limits::charge(socket, chat, Action::MarkRead, 1)?;
    let room = ConversationId::parse(r.room)?;
    accessible(socket, chat, &room).await?;
    chat.store
        .set_notify_level(&person, room.as_str(), r.level)
        .await
        .map_err(HandlerError::store("keeping a notification level"))?;
    if let Some(main) = io.of(Main::PATH) {
        let changed = NotifyChanged {
            room: room.to_string(),
            level: r.level,
        };
        let _ = broadcast(main.within(person_room(&person)), &changed).await;
    }
    Ok(())
}

/// `notify levels`.
pub(crate) async fn levels(ctx: Ctx, _: NotifyLevels) -> Result<Levels, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let Some(person) = identity::of(socket).person else {
        return Ok(Levels::default());
    };
    limits::charge(socket, chat, Action::Read, 1)?;
    Ok(Levels(chat.store.notify_levels(&person).await.map_err(
        HandlerError::store("the notification levels query"),
    )?))
}
