//! `@name` mentions in message text, read the same way by the server (which stores whom a
//! message mentions) and the page (which highlights them and fills in names).
//!
//! A mention is `@` followed by a nickname's characters (see
//! [`crate::events::validate_name`]): ASCII letters, digits, `-`, `_` and `.`. The `@` must
//! not follow such a character, so an address such as `ann@example.org` mentions nobody, and
//! a final `.` is the sentence's, not the name's (`thanks @ann.`).

use crate::events::{MAX_NAME_CHARS, name_key};

/// The most people one message mentions; further names are text.
pub const MAX_MENTIONS: usize = 20;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A piece of a message's text: plain text, or a mention (`name` without its `@`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Mention(&'a str),
}

/// The text cut into plain text and mentions, in order; joined again they are the text.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut plain_from = 0;
    let mut found = 0;
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts = c == '@' && !prev.is_some_and(|p| is_name_char(p) || p == '@');
        prev = Some(c);
        if !starts || found == MAX_MENTIONS {
            continue;
        }
        let from = at + 1;
        let mut to = from;
        while let Some(&(i, n)) = chars.peek() {
            if !is_name_char(n) {
                break;
            }
            to = i + n.len_utf8();
            prev = Some(n);
            chars.next();
        }
        let name = text[from..to].trim_end_matches('.');
        if name.is_empty() || name.len() > MAX_NAME_CHARS || name.chars().all(|c| c == '.') {
            continue;
        }
        if plain_from < at {
            out.push(Piece::Text(&text[plain_from..at]));
        }
        out.push(Piece::Mention(name));
        plain_from = from + name.len();
        found += 1;
    }
    if plain_from < text.len() {
        out.push(Piece::Text(&text[plain_from..]));
    }
    out
}

/// The names a text mentions, each once (names compare case-insensitively), in order.
pub fn mentioned(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Mention(name) = piece
            && !names.iter().any(|n| n.eq_ignore_ascii_case(name))
        {
            names.push(name);
        }
    }
    names
}

/// Whether `text` mentions the person called `name`.
pub fn mentions(text: &str, name: &str) -> bool {
    let key = name_key(name);
    mentioned(text).iter().any(|n| name_key(n) == key)
}

/// The `@name` being typed where the caret is, for autocompletion: the byte at which its `@`
/// starts and what follows it so far. `None` when the caret is not in such a word.
pub fn typing_at(text: &str, caret: usize) -> Option<(usize, &str)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    if !typed.chars().all(is_name_char) || typed.len() > MAX_NAME_CHARS {
        return None;
    }
    let starts = !before[..at]
        .chars()
        .next_back()
        .is_some_and(|p| is_name_char(p) || p == '@');
    starts.then_some((at, typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_after_an_at_are_mentions_and_the_rest_is_text() {
        assert_eq!(
            pieces("hi @ann, and @Bob_2."),
            [
                Piece::Text("hi "),
                Piece::Mention("ann"),
                Piece::Text(", and "),
                Piece::Mention("Bob_2"),
                Piece::Text("."),
            ]
        );
        assert_eq!(mentioned("@ann @ANN @bob"), ["ann", "bob"]);
        assert_eq!(mentioned("@a.b.c!"), ["a.b.c"]);
    }

    #[test]
    fn addresses_lone_ats_and_long_words_mention_nobody() {
        assert!(mentioned("mail ann@example.org").is_empty());
        assert!(mentioned("@ alone, @@ann, @... and @!").is_empty());
        let long = format!("@{}", "a".repeat(MAX_NAME_CHARS + 1));
        assert!(mentioned(&long).is_empty());
        assert_eq!(pieces(&long), [Piece::Text(long.as_str())]);
    }

    #[test]
    fn pieces_join_back_into_the_text() {
        for text in ["", "@", "x @ann y", "é@ann @bob.", "@ann@bob", "a\n@c"] {
            let joined: String = pieces(text)
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.to_string(),
                    Piece::Mention(n) => format!("@{n}"),
                })
                .collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn mentions_compares_names_as_names_are_compared() {
        assert!(mentions("hey @Ann!", "ann"));
        assert!(!mentions("hey @anna", "ann"));
        assert!(!mentions("ann@x.org", "ann"));
    }

    #[test]
    fn at_most_max_mentions_are_counted() {
        let text: String = (0..MAX_MENTIONS + 5).map(|i| format!("@p{i} ")).collect();
        assert_eq!(mentioned(&text).len(), MAX_MENTIONS);
    }

    #[test]
    fn the_word_being_typed_is_found_at_the_caret() {
        assert_eq!(typing_at("hi @an", 6), Some((3, "an")));
        assert_eq!(typing_at("@", 1), Some((0, "")));
        assert_eq!(typing_at("hi @an there", 6), Some((3, "an")));
        assert_eq!(typing_at("hi @an there", 12), None);
        assert_eq!(typing_at("mail ann@ex", 11), None);
        assert_eq!(typing_at("no at", 5), None);
    }
}
