//! `search`: full-text search over what the asker may read. The store finds the words
//! ([`crate::store::search`]); this checks the request, its filters and the asker's budget.

use app::events::{
    ChatError, ChatMessage, MAX_SEARCH_LIMIT, MAX_SEARCH_OFFSET, SEARCH_PAGE, Search, SearchHit,
    SearchResults,
};

use crate::conversation::ConversationId;
use crate::socket::access::accessible;
use crate::socket::identity;
use crate::socket::limits::{self, Action};
use crate::socket::request::{Ctx, HandlerError};
use crate::store::search::{SearchQuery, Terms};

fn invalid(detail: impl Into<String>) -> ChatError {
    ChatError::InvalidQuery {
        detail: detail.into(),
    }
}

/// `search`: a page of the hits the asker may read, best first.
pub(crate) async fn search(ctx: Ctx, r: Search) -> Result<SearchResults, HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    // Checked before the budget is charged: a typo costs nothing.
    let terms = Terms::parse(&r.query).map_err(|e| invalid(e.to_string()))?;
    if let (Some(from), Some(to)) = (r.from, r.to)
        && from >= to
    {
        return Err(invalid("the start of the range is not before its end").into());
    }
    let offset = r.offset.unwrap_or(0);
    if offset > MAX_SEARCH_OFFSET {
        return Err(invalid(format!("results go {MAX_SEARCH_OFFSET} deep at most")).into());
    }
    let limit = r.limit.unwrap_or(SEARCH_PAGE).clamp(1, MAX_SEARCH_LIMIT);
    limits::charge(socket, chat, Action::Search, 1)?;
    // A conversation the asker may not read is refused as `history` refuses it.
    let room = match r.room.filter(|r| !r.is_empty()) {
        Some(room) => {
            let room = ConversationId::parse(room)?;
            accessible(socket, chat, &room).await?;
            Some(room)
        }
        None => None,
    };
    let author = r.author.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let who = identity::of(socket);
    let query = SearchQuery {
        terms: &terms,
        reader: who.person.as_deref(),
        room: room.as_ref().map(ConversationId::as_str),
        author,
        from: r.from,
        to: r.to,
        offset,
        limit,
    };
    let (found, more) = chat
        .store
        .search(&query)
        .await
        .map_err(HandlerError::store("the search"))?;
    Ok(SearchResults {
        hits: found
            .into_iter()
            .map(|f| SearchHit {
                message: ChatMessage::from(f.message),
                snippet: f.snippet,
            })
            .collect(),
        more,
    })
}
