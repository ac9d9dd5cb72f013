//! Profiles: setting one's display name and status, reading others', and carrying a rename
//! into the renamed person's messages. Everyone hears of each change (`profile`).

use app::events::{
    ChatError, ListProfiles, MAX_DISPLAY_NAME_CHARS, MAX_STATUS_CHARS, Main, Namespace as _,
    Profile, ProfileChanged, SetProfile, name_key, validate_profile_text,
};
use tracing::{info, warn};

use crate::cluster::SocketIo;
use crate::logging::Escaped;
use crate::socket::emit::broadcast;
use crate::socket::identity;
use crate::socket::limits::{self, Action};
use crate::socket::request::{Ctx, HandlerError};
use crate::state::Chat;

/// `set profile`.
pub(crate) async fn set(ctx: Ctx, request: SetProfile) -> Result<Profile, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    let person = who.person.as_deref().ok_or(ChatError::NameRequired)?;
    let display_name =
        validate_profile_text(request.display_name.as_deref(), MAX_DISPLAY_NAME_CHARS)?;
    let status = validate_profile_text(request.status.as_deref(), MAX_STATUS_CHARS)?;
    limits::charge(socket, chat, Action::Profile, 1)?;
    let profile = chat
        .store
        .set_profile(person, display_name.as_deref(), status.as_deref())
        .await
        .map_err(HandlerError::store("setting a profile"))?
        .ok_or(ChatError::NameRequired)?;
    tell_everyone(io, &profile).await;
    info!(name = %Escaped(&profile.name), "profile changed");
    Ok(profile)
}

/// `profiles`.
pub(crate) async fn list(ctx: Ctx, request: ListProfiles) -> Result<Vec<Profile>, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    limits::charge(socket, chat, Action::Read, 1)?;
    let keys: Vec<String> = request.names.iter().map(|n| name_key(n)).collect();
    chat.store
        .profiles(&keys)
        .await
        .map_err(HandlerError::store("the profiles query"))
}

/// Carries `person`'s rename from `from` to `to` into their stored messages, a span of ids at
/// a time under the order lock (posts go on between spans), then tells everyone.
pub(crate) async fn carry_rename(
    io: SocketIo,
    chat: Chat,
    person: String,
    from: String,
    to: String,
) {
    let rename = match chat.store.renaming(&person, &from, &to).await {
        Ok(rename) => rename,
        Err(e) => {
            warn!(error = %e, "a rename's messages were not found");
            return;
        }
    };
    let mut rewritten = 0;
    for span in rename.spans() {
        // Under the order lock, like a deletion: a catch-up reading meanwhile reads again
        // rather than trust what it remembers.
        let _order = chat.order.lock().await;
        match chat.store.rename_span(&rename, span).await {
            Ok(n) => rewritten += n,
            Err(e) => {
                warn!(error = %e, "rewriting a renamed person's messages failed");
                return;
            }
        }
        for room in &rename.rooms {
            chat.recent.edited(room);
        }
    }
    let profile = match chat.store.profile_of(&person).await {
        Ok(Some(profile)) => profile,
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "reading a renamed person's profile failed");
            return;
        }
    };
    tell_everyone(
        &io,
        &Profile {
            renamed_from: Some(from.clone()),
            ..profile
        },
    )
    .await;
    info!(from = %Escaped(&from), to = %Escaped(&to), messages = rewritten, "renamed");
}

async fn tell_everyone(io: &SocketIo, profile: &Profile) {
    if let Some(main) = io.of(Main::PATH) {
        let _ = broadcast(main, &ProfileChanged(profile.clone())).await;
    }
}
