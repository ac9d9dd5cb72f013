//! Search: the box in the header and the results panel with its filters (the gap between a
//! hit's window and the newest messages is one of the message list's items, `reading.rs`).
//! What is pure here (the filters as a request, the pages of results) is unit-tested; the
//! socket side is `ui/live/search.rs`.

mod panel;

pub(crate) use panel::{ResultsPanel, SearchBox, SearchPanel};

use leptos::prelude::*;

use crate::events::{MAX_SEARCH_CHARS, Search, SearchHit, SearchResults};

/// What the search panel shows: the hits so far, or why there are none.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Results {
    pub(crate) hits: Vec<SearchHit>,
    pub(crate) more: bool,
    pub(crate) error: Option<String>,
    pub(crate) loading: bool,
    /// Whether an answer came for the current query: "no messages found" needs one.
    pub(crate) answered: bool,
    /// The request the hits answer, to ask for the next page of it.
    pub(crate) request: Option<Search>,
    /// Counts requests, so that an answer to an older one is dropped.
    asked: u64,
}

// Without `hydrate` only the server render uses the results; the rest serves the browser.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Results {
    /// A request is on its way; `append` for the next page of the same query. The ticket its
    /// answer must bring back.
    pub(crate) fn begin(&mut self, request: Search, append: bool) -> u64 {
        self.asked += 1;
        self.loading = true;
        self.error = None;
        if !append {
            self.hits.clear();
            self.more = false;
            self.answered = false;
        }
        self.request = Some(request);
        self.asked
    }

    /// The answer to request `ticket`; ignored when a newer one was made meanwhile.
    pub(crate) fn answer(&mut self, ticket: u64, answer: Result<SearchResults, String>) {
        if ticket != self.asked {
            return;
        }
        self.loading = false;
        self.answered = true;
        match answer {
            Ok(page) => {
                self.hits.extend(page.hits);
                self.more = page.more;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The request for the page after the hits held.
    pub(crate) fn next_page(&self) -> Option<Search> {
        let request = self
            .request
            .as_ref()
            .filter(|_| self.more && !self.loading)?;
        Some(Search {
            offset: Some(self.hits.len()),
            ..request.clone()
        })
    }
}

/// What the panel's fields hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Filters {
    pub(crate) query: String,
    /// A conversation's id; empty for all.
    pub(crate) room: String,
    pub(crate) author: String,
    /// `YYYY-MM-DD`, as `<input type="date">` gives it; empty for no bound.
    pub(crate) from: String,
    pub(crate) to: String,
}

impl Filters {
    /// The request the fields ask for, with `midnight` turning a day into the time it starts
    /// (the reader's time zone in the browser). `to` is the last day included.
    pub(crate) fn request(
        &self,
        midnight: impl Fn(i32, u32, u32) -> i64,
    ) -> Result<Search, String> {
        let query = self.query.trim();
        if query.is_empty() {
            return Err("Type a word to search for".to_owned());
        }
        if query.chars().count() > MAX_SEARCH_CHARS {
            return Err(format!("A search is at most {MAX_SEARCH_CHARS} characters"));
        }
        let day = |s: &str, after: bool| -> Result<Option<i64>, String> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            let (y, m, d) = parse_day(s.trim()).ok_or_else(|| format!("Not a date: {s}"))?;
            let start = midnight(y, m, d);
            Ok(Some(if after {
                next_midnight(start, &midnight, (y, m, d))
            } else {
                start
            }))
        };
        let from = day(&self.from, false)?;
        let to = day(&self.to, true)?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err("The first day is after the last".to_owned());
        }
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(Search {
            query: query.to_owned(),
            room: text(&self.room),
            author: text(&self.author).map(|a| a.trim_start_matches('@').to_owned()),
            from,
            to,
            offset: None,
            limit: None,
        })
    }
}

/// The midnight after the day starting at `start`: the next day's, by the same clock.
fn next_midnight(
    start: i64,
    midnight: &impl Fn(i32, u32, u32) -> i64,
    (y, m, d): (i32, u32, u32),
) -> i64 {
    // Day 32 of a month is a later day in every calendar JavaScript's `Date` knows; for the
    // pure clock below, a day's length is enough.
    let next = midnight(y, m, d + 1);
    if next > start {
        next
    } else {
        start + 86_400_000
    }
}

/// `YYYY-MM-DD`.
fn parse_day(s: &str) -> Option<(i32, u32, u32)> {
    let mut parts = s.splitn(3, '-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// Midnight UTC of a day (what the server renders; tests use it).
#[cfg_attr(feature = "hydrate", allow(dead_code))]
pub(crate) fn utc_midnight(y: i32, m: u32, d: u32) -> i64 {
    // Howard Hinnant's days_from_civil.
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400_000
}

/// Midnight of a day in the reader's time zone.
#[cfg(feature = "hydrate")]
pub(crate) fn local_midnight(y: i32, m: u32, d: u32) -> i64 {
    // `Date` rolls day 32 over into the next month, as `next_midnight` needs.
    js_sys::Date::new_with_year_month_day(y as u32, m as i32 - 1, d as i32).get_time() as i64
}

/// The panel's open state, fields and results, shared by the box and the panel.
#[derive(Clone, Copy)]
pub(crate) struct SearchState {
    pub(crate) open: RwSignal<bool>,
    /// Counts the searches asked for in the header's box; the panel runs each.
    pub(crate) asked: RwSignal<u32>,
    pub(crate) filters: RwSignal<Filters>,
    pub(crate) results: RwSignal<Results>,
}

impl SearchState {
    pub(crate) fn new() -> SearchState {
        SearchState {
            open: RwSignal::new(false),
            asked: RwSignal::new(0),
            filters: RwSignal::new(Filters::default()),
            results: RwSignal::new(Results::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ChatMessage, MessageMeta, Snippet};

    fn hit(id: i64) -> SearchHit {
        SearchHit {
            message: ChatMessage {
                text: "t".into(),
                id,
                meta: MessageMeta {
                    room: "lobby".into(),
                    author: "ann".into(),
                    ts: 0,
                    seq: id,
                    ..Default::default()
                },
            },
            snippet: vec![Snippet {
                text: "t".into(),
                hit: true,
            }],
        }
    }

    #[test]
    fn fields_become_a_request() {
        let f = Filters {
            query: "  rust  ".into(),
            room: "rust".into(),
            author: "@bob ".into(),
            from: "2024-02-28".into(),
            to: "2024-02-29".into(),
        };
        let r = f.request(utc_midnight).unwrap();
        assert_eq!(r.query, "rust");
        assert_eq!(
            (r.room.as_deref(), r.author.as_deref()),
            (Some("rust"), Some("bob"))
        );
        // The last day is included: up to the midnight after it.
        assert_eq!(r.from, Some(1_709_078_400_000));
        assert_eq!(r.to, Some(1_709_251_200_000));
        let bare = Filters {
            query: "x".into(),
            ..Filters::default()
        };
        let r = bare.request(utc_midnight).unwrap();
        assert_eq!((r.room, r.author, r.from, r.to), (None, None, None, None));
    }

    #[test]
    fn bad_fields_are_told_before_asking() {
        let with = |query: &str, from: &str, to: &str| Filters {
            query: query.into(),
            from: from.into(),
            to: to.into(),
            ..Filters::default()
        };
        assert!(with("  ", "", "").request(utc_midnight).is_err());
        assert!(
            with(&"a".repeat(MAX_SEARCH_CHARS + 1), "", "")
                .request(utc_midnight)
                .is_err()
        );
        assert!(with("x", "2024-13-01", "").request(utc_midnight).is_err());
        assert!(with("x", "yesterday", "").request(utc_midnight).is_err());
        assert!(
            with("x", "2024-03-02", "2024-03-01")
                .request(utc_midnight)
                .is_err()
        );
        assert!(
            with("x", "2024-03-01", "2024-03-01")
                .request(utc_midnight)
                .is_ok()
        );
    }

    #[test]
    fn pages_add_up_and_a_stale_answer_is_dropped() {
        let mut r = Results::default();
        let q = Search {
            query: "x".into(),
            ..Search::default()
        };
        let first = r.begin(q.clone(), false);
        assert!(r.loading && !r.answered);
        let page = |ids: &[i64], more| SearchResults {
            hits: ids.iter().copied().map(hit).collect(),
            more,
        };
        r.answer(first, Ok(page(&[1, 2], true)));
        assert_eq!((r.hits.len(), r.more, r.loading), (2, true, false));
        let next = r.next_page().unwrap();
        assert_eq!(next.offset, Some(2));
        let second = r.begin(next, true);
        // A new query meanwhile: the older answer is dropped.
        let third = r.begin(q, false);
        r.answer(second, Ok(page(&[3], false)));
        assert!(r.hits.is_empty() && r.loading);
        r.answer(third, Err("too many at once".into()));
        assert_eq!(r.error.as_deref(), Some("too many at once"));
        assert!(r.answered && r.next_page().is_none());
        assert_eq!(utc_midnight(1970, 1, 1), 0);
    }
}
