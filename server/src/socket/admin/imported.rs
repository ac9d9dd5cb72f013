//! `/admin`'s imported authors: the names an import's messages were written under, and their
//! claim by the people they belong to.

use app::events::{
    self, AuthorClaimed, ChatError, ClaimAuthor, ImportedAuthor, ImportedAuthors, MAX_MESSAGE_CHARS,
};
use tracing::info;

use crate::logging::Escaped;
use crate::socket::request::{Ctx, HandlerError};

/// The unclaimed authors, most messages first.
pub(super) async fn list(
    ctx: Ctx,
    _: ImportedAuthors,
) -> Result<Vec<ImportedAuthor>, HandlerError> {
    let authors = ctx
        .chat
        .store
        .imported_authors()
        .await
        .map_err(HandlerError::store("the imported authors query"))?;
    Ok(authors
        .into_iter()
        .map(|(author, messages)| ImportedAuthor { author, messages })
        .collect())
}

/// Gives an author's imported messages to a person. Pages that show them already keep the old
/// name until they load them again.
pub(super) async fn claim(ctx: Ctx, c: ClaimAuthor) -> Result<AuthorClaimed, HandlerError> {
    if c.author.trim().is_empty() {
        return Err(ChatError::Empty.into());
    }
    if c.author.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ChatError::TooLong {
            max: MAX_MESSAGE_CHARS,
        }
        .into());
    }
    let chat = &ctx.chat;
    let claim = chat
        .store
        .claim(&c.author, &events::name_key(&c.name))
        .await
        .map_err(HandlerError::store("claiming an author"))?
        .ok_or(ChatError::UnknownPerson { name: c.name })?;
    let mut messages = 0;
    for span in claim.spans() {
        // Under the order lock, like a deletion, a span at a time so that posts go on between
        // them: a catch-up reading one of the rooms meanwhile reads it again rather than trust
        // what it remembers.
        let _order = chat.order.lock().await;
        let claimed = chat
            .store
            .claim_span(&claim, span)
            .await
            .map_err(HandlerError::store("claiming an author"))?;
        if claimed > 0 {
            for room in &claim.rooms {
                chat.recent.edited(room);
            }
        }
        messages += claimed;
    }
    info!(
        author = %Escaped(&c.author),
        name = %Escaped(&claim.name),
        messages,
        "imported author claimed"
    );
    Ok(AuthorClaimed {
        author: c.author,
        name: claim.name,
        messages,
    })
}
