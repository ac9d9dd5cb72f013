//! Message text as the Markdown subset people write in chat: bold, italic, inline code, code
//! blocks, quotes, lists, and links (bare `http(s)` addresses are linked too).
//!
//! [`parse`] is pure, and turns text into a small tree of [`Block`]s and [`Inline`]s; the
//! server's render and the browser's hydration both draw that tree with [`MessageText`], so
//! they agree. Nothing in a message ever becomes markup: raw HTML is kept as text, and a link
//! goes only to `http`, `https` or `mailto` (anything else stays its text). Headings, images
//! and tables are not part of the subset: a heading is drawn as a paragraph, an image as a link
//! to it, and a table as the text it is. Entities (`&lt;`) are not decoded, and a newline is
//! a line break, as people mean it in chat.
//!
//! The parser is ours: pulldown-cmark with linkify would have added several times this
//! part's share of the front end's size. It reads lines into blocks, then each paragraph
//! into inlines, every construct falling back to its text when it does not close.
//!
//! Plain text stays in [`Inline::Text`] nodes of its own, so that other kinds of node (a
//! mention, say) can be cut out of them after parsing.

use leptos::prelude::*;

use super::markup::escape;
use crate::mentions::{self, Piece};

/// How deep quotes and lists nest before deeper ones are read as text, so that a message of
/// a thousand `>` cannot make parsing or drawing it recurse a thousand times.
const MAX_DEPTH: usize = 12;

/// The link schemes a message may link to.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    Paragraph(Vec<Inline>),
    /// A fenced or indented code block, its text as written.
    Code(String),
    Quote(Vec<Block>),
    /// A list: numbered from `start`, or bulleted when `None`. Each item holds blocks.
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
    Rule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inline {
    Text(String),
    Code(String),
    Strong(Vec<Inline>),
    Emphasis(Vec<Inline>),
    /// A link to a checked `http`, `https` or `mailto` address.
    Link {
        href: String,
        children: Vec<Inline>,
    },
    /// A line break: every newline in a paragraph is kept, as people mean it in chat.
    Break,
}

/// The tree of `text`.
pub(crate) fn parse(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    blocks(&lines, 0)
}

/// Whether `href` may be linked to: one of [`SCHEMES`], written with no space or control.
pub(crate) fn safe_href(href: &str) -> bool {
    let Some((scheme, rest)) = href.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme))
        && !href.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The blocks of `lines`, `depth` quotes and lists deep.
fn blocks(lines: &[&str], depth: usize) -> Vec<Block> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            i += 1;
        } else if trimmed.starts_with("```") {
            // A fence runs to its closing fence, or to the end.
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i]);
                i += 1;
            }
            i += 1;
            out.push(Block::Code(code.join("\n")));
        } else if trimmed.starts_with('>') && depth < MAX_DEPTH {
            let mut inner = Vec::new();
            while let Some(rest) = lines.get(i).and_then(|l| l.trim_start().strip_prefix('>')) {
                inner.push(rest.strip_prefix(' ').unwrap_or(rest));
                i += 1;
            }
            out.push(Block::Quote(blocks(&inner, depth + 1)));
        } else if is_rule(trimmed) {
            out.push(Block::Rule);
            i += 1;
        } else if let Some(first) = list_item(line).filter(|_| depth < MAX_DEPTH) {
            i = list(lines, i, first, depth, &mut out);
        } else {
            let start = i;
            i += 1;
            while i < lines.len() && !starts_block(lines[i], depth) {
                i += 1;
            }
            let text = lines[start..i]
                .iter()
                .map(|l| heading_text(l.trim()))
                .collect::<Vec<_>>()
                .join("\n");
            out.push(Block::Paragraph(inlines(&text, true)));
        }
    }
    out
}

/// Whether `line` ends a paragraph: a blank line or the start of another block.
fn starts_block(line: &str, depth: usize) -> bool {
    let t = line.trim_start();
    t.is_empty()
        || t.starts_with("```")
        || (t.starts_with('>') && depth < MAX_DEPTH)
        || is_rule(t)
        || (list_item(line).is_some() && depth < MAX_DEPTH)
}

/// `---`, `***` or `___`, spaces allowed between.
fn is_rule(t: &str) -> bool {
    let marks: String = t.chars().filter(|c| *c != ' ').collect();
    marks.len() >= 3
        && ["-", "*", "_"]
            .iter()
            .any(|m| marks.chars().all(|c| c.to_string() == *m))
}

/// A heading's text without its `#`s: headings are drawn as paragraphs.
fn heading_text(line: &str) -> &str {
    let hashes = line.len() - line.trim_start_matches('#').len();
    match line[hashes..].strip_prefix(' ') {
        Some(rest) if (1..=6).contains(&hashes) => rest.trim(),
        _ => line,
    }
}

/// A list item's line: its indent, its number (`None` for a bullet), where its text starts.
#[derive(Debug, Clone, Copy)]
struct ItemLine {
    indent: usize,
    number: Option<u64>,
    bullet: Option<char>,
    content: usize,
}

fn list_item(line: &str) -> Option<ItemLine> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let (number, bullet, marker) = match rest.chars().next()? {
        c @ ('-' | '*' | '+') => (None, Some(c), 1),
        c if c.is_ascii_digit() => {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 9 || !matches!(rest.as_bytes().get(digits), Some(b'.' | b')')) {
                return None;
            }
            (rest[..digits].parse().ok(), None, digits + 1)
        }
        _ => return None,
    };
    let after = &rest[marker..];
    let spaces = after.len() - after.trim_start_matches(' ').len();
    (spaces > 0 && !after.trim().is_empty()).then_some(ItemLine {
        indent,
        number,
        bullet,
        content: indent + marker + spaces,
    })
}

/// Reads the list starting at line `i`; returns the line after it.
fn list(
    lines: &[&str],
    mut i: usize,
    first: ItemLine,
    depth: usize,
    out: &mut Vec<Block>,
) -> usize {
    let same_kind = |item: &ItemLine| {
        item.indent < first.content
            && item.bullet == first.bullet
            && item.number.is_some() == first.number.is_some()
    };
    let mut items = Vec::new();
    while let Some(item) = lines.get(i).and_then(|l| list_item(l)).filter(same_kind) {
        let mut inner = vec![&lines[i][item.content..]];
        i += 1;
        // What is indented past the marker belongs to the item (a nested list, say).
        while let Some(line) = lines.get(i) {
            let indent = line.len() - line.trim_start_matches(' ').len();
            if line.trim().is_empty() || indent < item.content {
                break;
            }
            inner.push(&line[item.content..]);
            i += 1;
        }
        items.push(blocks(&inner, depth + 1));
        // A blank line between items keeps the list.
        if lines.get(i).is_some_and(|l| l.trim().is_empty())
            && lines
                .get(i + 1)
                .and_then(|l| list_item(l))
                .is_some_and(|n| same_kind(&n))
        {
            i += 1;
        }
    }
    out.push(Block::List {
        start: first.number,
        items,
    });
    i
}

/// The inlines of `text` (a paragraph's lines, joined by newlines); `links`: whether links
/// may be made (not inside a link's own text).
fn inlines(text: &str, links: bool) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let made = match c {
            '\\' => escaped(rest),
            '`' => code_span(rest),
            '*' | '_' => emphasis(rest, &plain, links),
            '[' | '!' if links => link(rest),
            '<' if links => angle_link(rest),
            'h' | 'H' if links && !plain.ends_with(|c: char| c.is_alphanumeric()) => bare_url(rest),
            '\n' => Some((Inline::Break, 1)),
            _ => None,
        };
        match made {
            Some((inline, used)) => {
                flush(&mut plain, &mut out);
                push_merged(&mut out, inline);
                rest = &rest[used..];
            }
            None => {
                plain.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    flush(&mut plain, &mut out);
    out
}

fn flush(plain: &mut String, out: &mut Vec<Inline>) {
    if !plain.is_empty() {
        push_merged(out, Inline::Text(std::mem::take(plain)));
    }
}

/// `\*`: the character itself, as text.
fn escaped(rest: &str) -> Option<(Inline, usize)> {
    let c = rest[1..]
        .chars()
        .next()
        .filter(char::is_ascii_punctuation)?;
    Some((Inline::Text(c.to_string()), 1 + c.len_utf8()))
}

/// `` `code` ``: up to the next run of as many backticks.
fn code_span(rest: &str) -> Option<(Inline, usize)> {
    let n = rest.len() - rest.trim_start_matches('`').len();
    let fence = &rest[..n];
    let body = &rest[n..];
    let mut from = 0;
    while let Some(at) = body[from..].find(fence) {
        let at = from + at;
        let run = body[at..].len() - body[at..].trim_start_matches('`').len();
        if run == n {
            let code = &body[..at];
            let code = match code.strip_prefix(' ').and_then(|c| c.strip_suffix(' ')) {
                Some(inner) if !inner.trim().is_empty() => inner,
                _ => code,
            };
            return Some((Inline::Code(code.replace('\n', " ")), n + at + n));
        }
        from = at + run;
    }
    None
}

/// `*em*`, `**strong**`, `***both***` (or with `_`, not inside a word), up to a closing run
/// of the same length after something that is not a space.
fn emphasis(rest: &str, before: &str, links: bool) -> Option<(Inline, usize)> {
    let mark = rest.chars().next()?;
    let n = rest.len() - rest.trim_start_matches(mark).len();
    let after = rest[n..].chars().next()?;
    if n > 3 || after.is_whitespace() {
        return None;
    }
    if mark == '_' && before.ends_with(|c: char| c.is_alphanumeric()) {
        return None;
    }
    let body = &rest[n..];
    let mut i = 0;
    while i < body.len() {
        let tail = &body[i..];
        let c = tail.chars().next()?;
        if c == '\\' {
            i += 1 + tail[1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if c == '`'
            && let Some((_, used)) = code_span(tail)
        {
            i += used;
            continue;
        }
        if c == mark {
            let run = tail.len() - tail.trim_start_matches(mark).len();
            let closes = run == n
                && !body[..i].ends_with(char::is_whitespace)
                && i > 0
                && (mark == '*' || !tail[run..].starts_with(|c: char| c.is_alphanumeric()));
            if closes {
                let inner = inlines(&body[..i], links);
                let node = match n {
                    1 => Inline::Emphasis(inner),
                    2 => Inline::Strong(inner),
                    _ => Inline::Emphasis(vec![Inline::Strong(inner)]),
                };
                return Some((node, n + i + n));
            }
            i += run;
            continue;
        }
        i += c.len_utf8();
    }
    None
}

/// `[text](address)` and `![alt](address)`: a link if the address may be linked to, else
/// its text.
fn link(rest: &str) -> Option<(Inline, usize)> {
    let image = rest.starts_with('!');
    let open = usize::from(image);
    if !rest[open..].starts_with('[') {
        return None;
    }
    let mut level = 0;
    let mut close = None;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '[' => level += 1,
            ']' => {
                level -= 1;
                if level == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let target = rest[close + 1..].strip_prefix('(')?;
    let mut level = 0;
    let end = target.char_indices().find_map(|(i, c)| match c {
        '(' => {
            level += 1;
            None
        }
        ')' if level == 0 => Some(i),
        ')' => {
            level -= 1;
            None
        }
        _ => None,
    })?;
    let href = target[..end].trim();
    if href.contains(char::is_whitespace) {
        return None;
    }
    let children = inlines(&rest[open + 1..close], false);
    let used = close + 2 + end + 1;
    Some(if safe_href(href) {
        (
            Inline::Link {
                href: href.to_owned(),
                children,
            },
            used,
        )
    } else {
        (Inline::Text(plain(&children)), used)
    })
}

/// `<https://…>` or `<mailto:…>`: a link to what it says.
fn angle_link(rest: &str) -> Option<(Inline, usize)> {
    let end = rest.find('>')?;
    let href = &rest[1..end];
    safe_href(href).then(|| {
        (
            Inline::Link {
                href: href.to_owned(),
                children: vec![Inline::Text(href.to_owned())],
            },
            end + 1,
        )
    })
}

/// A bare `http://` or `https://` address, up to a space, without the punctuation that ends
/// a sentence (or an unbalanced closing bracket).
fn bare_url(rest: &str) -> Option<(Inline, usize)> {
    let head = rest.get(..8)?.to_ascii_lowercase();
    let scheme = if head.starts_with("https://") {
        8
    } else if head.starts_with("http://") {
        7
    } else {
        return None;
    };
    let mut end = rest
        .find(|c: char| c.is_whitespace() || c == '<')
        .unwrap_or(rest.len());
    loop {
        let url = &rest[..end];
        let trim = url.ends_with(['.', ',', ':', ';', '!', '?', '\'', '"', '*', '_'])
            || (url.ends_with(')') && url.matches('(').count() < url.matches(')').count());
        if !trim {
            break;
        }
        end -= 1;
    }
    let url = &rest[..end];
    (end > scheme && safe_href(url)).then(|| {
        (
            Inline::Link {
                href: url.to_owned(),
                children: vec![Inline::Text(url.to_owned())],
            },
            end,
        )
    })
}

/// Adds `inline`, joined to the text before it if both are text, so that one run of text
/// is one node.
fn push_merged(inlines: &mut Vec<Inline>, inline: Inline) {
    match (inlines.last_mut(), inline) {
        (Some(Inline::Text(before)), Inline::Text(text)) => before.push_str(&text),
        (_, inline) => inlines.push(inline),
    }
}

/// The text of inlines, as a reader would read it.
fn plain(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(t) | Inline::Code(t) => t.clone(),
            Inline::Strong(c) | Inline::Emphasis(c) | Inline::Link { children: c, .. } => plain(c),
            Inline::Break => "\n".to_owned(),
        })
        .collect()
}

#[cfg(test)]
fn plain_block(block: &Block) -> String {
    match block {
        Block::Paragraph(inlines) => plain(inlines),
        Block::Code(code) => code.clone(),
        Block::Quote(blocks) => blocks.iter().map(plain_block).collect(),
        Block::List { items, .. } => items.iter().flatten().map(plain_block).collect(),
        Block::Rule => String::new(),
    }
}

/// A message's text, drawn from its tree.
#[component]
pub(crate) fn MessageText(
    text: String,
    /// The reader's name: mentions of it stand out.
    me: Signal<String>,
) -> impl IntoView {
    let blocks = parse(&text);
    // Markup of our own writing (every piece of the text escaped) rather than a view per node,
    // each kind of which would bring its own hydrate, build and rebuild code to the wasm.
    let markup = move || me.with(|me| html(&blocks, me));
    view! { <div class="text" dir="auto" inner_html=markup></div> }
}

/// The markup of `blocks`: only the subset's own elements; every piece of text escaped.
pub(crate) fn html(blocks: &[Block], me: &str) -> String {
    let mut out = String::new();
    push_blocks(&mut out, blocks, me);
    out
}

fn push_blocks(out: &mut String, blocks: &[Block], me: &str) {
    for block in blocks {
        match block {
            Block::Paragraph(inlines) => {
                out.push_str("<p dir=\"auto\">");
                push_inlines(out, inlines, me);
                out.push_str("</p>");
            }
            Block::Code(code) => {
                out.push_str("<pre dir=\"ltr\"><code>");
                escape(out, code);
                out.push_str("</code></pre>");
            }
            Block::Quote(blocks) => {
                out.push_str("<blockquote dir=\"auto\">");
                push_blocks(out, blocks, me);
                out.push_str("</blockquote>");
            }
            Block::List { start, items } => {
                match start {
                    Some(start) => {
                        out.push_str("<ol start=\"");
                        out.push_str(&start.to_string());
                        out.push_str("\">");
                    }
                    None => out.push_str("<ul>"),
                }
                for item in items {
                    out.push_str("<li dir=\"auto\">");
                    push_blocks(out, item, me);
                    out.push_str("</li>");
                }
                out.push_str(if start.is_some() { "</ol>" } else { "</ul>" });
            }
            Block::Rule => out.push_str("<hr>"),
        }
    }
}

fn push_inlines(out: &mut String, inlines: &[Inline], me: &str) {
    for inline in inlines {
        let (open, children, close) = match inline {
            Inline::Text(text) => {
                push_text(out, text, me);
                continue;
            }
            Inline::Code(code) => {
                out.push_str("<code>");
                escape(out, code);
                out.push_str("</code>");
                continue;
            }
            Inline::Break => {
                out.push_str("<br>");
                continue;
            }
            Inline::Strong(c) => ("<strong>", c, "</strong>"),
            Inline::Emphasis(c) => ("<em>", c, "</em>"),
            Inline::Link { href, children } => {
                out.push_str("<a href=\"");
                escape(out, href);
                out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer\">");
                ("", children, "</a>")
            }
        };
        out.push_str(open);
        push_inlines(out, children, me);
        out.push_str(close);
    }
}

/// Plain text, its `@name`s as mentions; the reader's own stand out.
fn push_text(out: &mut String, text: &str, me: &str) {
    for piece in mentions::pieces(text) {
        match piece {
            Piece::Text(t) => escape(out, t),
            Piece::Mention(name) => {
                out.push_str(if me.eq_ignore_ascii_case(name) {
                    "<span class=\"mention me\">@"
                } else {
                    "<span class=\"mention\">@"
                });
                escape(out, name);
                out.push_str("</span>");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Block::{Code as CodeBlock, List, Paragraph, Quote};
    use super::Inline::{Break, Code, Emphasis, Link, Strong, Text};
    use super::*;

    fn t(s: &str) -> Inline {
        Text(s.to_owned())
    }

    fn link(href: &str, text: &str) -> Inline {
        Link {
            href: href.to_owned(),
            children: vec![t(text)],
        }
    }

    fn para(inlines: Vec<Inline>) -> Vec<Block> {
        vec![Paragraph(inlines)]
    }

    #[test]
    fn plain_text_is_one_paragraph_and_keeps_its_lines() {
        assert_eq!(parse("hello"), para(vec![t("hello")]));
        assert_eq!(
            parse("one\ntwo\nthree"),
            para(vec![t("one"), Break, t("two"), Break, t("three")])
        );
        assert_eq!(
            parse("a\n\nb"),
            vec![Paragraph(vec![t("a")]), Paragraph(vec![t("b")])]
        );
        assert_eq!(parse(""), vec![]);
    }

    #[test]
    fn emphasis_nests() {
        assert_eq!(
            parse("**bold *and italic* here**"),
            para(vec![Strong(vec![
                t("bold "),
                Emphasis(vec![t("and italic")]),
                t(" here")
            ])])
        );
        assert_eq!(parse("_it_"), para(vec![Emphasis(vec![t("it")])]));
        assert_eq!(
            parse("***both***"),
            para(vec![Emphasis(vec![Strong(vec![t("both")])])])
        );
    }

    #[test]
    fn unterminated_markers_stay_as_written() {
        assert_eq!(plain_of("**not bold"), "**not bold");
        assert_eq!(plain_of("`not code"), "`not code");
        assert_eq!(plain_of("a * b * c"), "a * b * c");
        assert_eq!(plain_of("[text](http://x"), "[text](http://x");
        assert!(
            !parse("**not bold")
                .iter()
                .any(|b| matches!(b, Paragraph(i) if i.iter().any(|i| matches!(i, Strong(_)))))
        );
        // An unclosed fence runs to the end: still code, never lost.
        assert_eq!(parse("```\nlet x;"), vec![CodeBlock("let x;".into())]);
    }

    #[test]
    fn escapes_make_markers_text() {
        assert_eq!(plain_of(r"\*not italic\*"), "*not italic*");
        assert_eq!(parse(r"\*x\*").len(), 1);
        assert!(
            matches!(&parse(r"\*x\*")[0], Paragraph(i) if !i.iter().any(|i| matches!(i, Emphasis(_))))
        );
        assert_eq!(plain_of(r"1\. not a list"), "1. not a list");
    }

    #[test]
    fn code_keeps_its_text_untouched() {
        assert_eq!(
            parse("run `**x** <b>`"),
            para(vec![t("run "), Code("**x** <b>".into())])
        );
        assert_eq!(
            parse("```rust\nfn main() {\n    *x* <i>\n}\n```"),
            vec![CodeBlock("fn main() {\n    *x* <i>\n}".into())]
        );
    }

    #[test]
    fn quotes_and_lists_hold_blocks() {
        assert_eq!(
            parse("> quoted **bold**\n> more"),
            vec![Quote(vec![Paragraph(vec![
                t("quoted "),
                Strong(vec![t("bold")]),
                Break,
                t("more")
            ])])]
        );
        assert_eq!(
            parse("- one\n- two\n  - nested"),
            vec![List {
                start: None,
                items: vec![
                    vec![Paragraph(vec![t("one")])],
                    vec![
                        Paragraph(vec![t("two")]),
                        List {
                            start: None,
                            items: vec![vec![Paragraph(vec![t("nested")])]]
                        }
                    ],
                ]
            }]
        );
        assert_eq!(
            parse("3. three\n4. four"),
            vec![List {
                start: Some(3),
                items: vec![
                    vec![Paragraph(vec![t("three")])],
                    vec![Paragraph(vec![t("four")])]
                ]
            }]
        );
    }

    #[test]
    fn raw_html_is_text() {
        assert_eq!(
            plain_of("<script>alert(1)</script>"),
            "<script>alert(1)</script>"
        );
        assert_eq!(plain_of("a <b>bold</b> word"), "a <b>bold</b> word");
        assert_eq!(
            plain_of("<img src=x onerror=alert(1)>"),
            "<img src=x onerror=alert(1)>"
        );
        // Entities are not read: they are text too.
        assert_eq!(parse("&lt;b&gt; \\*"), para(vec![t("&lt;b&gt; *")]));
    }

    #[test]
    fn links_go_to_web_and_mail_addresses_only() {
        assert_eq!(
            parse("[docs](https://example.com/a?b=1)"),
            para(vec![link("https://example.com/a?b=1", "docs")])
        );
        assert_eq!(
            parse("[mail](mailto:ann@example.com)"),
            para(vec![link("mailto:ann@example.com", "mail")])
        );
        assert_eq!(
            parse("<https://example.com>"),
            para(vec![link("https://example.com", "https://example.com")])
        );
        for refused in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x](data:text/html,hi)",
            "[x](vbscript:x)",
            "[x](/admin)",
            "[x](//evil.example)",
            "<javascript:alert(1)>",
        ] {
            assert!(
                !has_link(&parse(refused)),
                "{refused}: {:?}",
                parse(refused)
            );
        }
        assert_eq!(plain_of("[x](javascript:alert(1))"), "x");
        // An image is a link to it, never an image.
        assert_eq!(
            parse("![cat](https://example.com/cat.png)"),
            para(vec![link("https://example.com/cat.png", "cat")])
        );
        assert!(!has_link(&parse("![x](javascript:alert(1))")));
    }

    #[test]
    fn bare_web_addresses_are_linked() {
        assert_eq!(
            parse("see https://example.com/x, then"),
            para(vec![
                t("see "),
                link("https://example.com/x", "https://example.com/x"),
                t(", then")
            ])
        );
        assert_eq!(
            parse("HTTP://EXAMPLE.COM"),
            para(vec![link("HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM")])
        );
        for not_linked in [
            "javascript://example.com/%0aalert(1)",
            "ftp://example.com",
            "ann@example.com",
            "example.com",
        ] {
            assert!(!has_link(&parse(not_linked)), "{not_linked}");
        }
        // A link's own text is not linked again.
        assert_eq!(
            parse("[https://a.example](https://b.example)"),
            para(vec![link("https://b.example", "https://a.example")])
        );
        // Nor is an address inside code.
        assert_eq!(
            parse("`https://a.example`"),
            para(vec![Code("https://a.example".into())])
        );
    }

    #[test]
    fn chat_text_is_not_taken_for_markers() {
        assert_eq!(parse("snake_case_name"), para(vec![t("snake_case_name")]));
        assert_eq!(parse("2 * 3 * 4"), para(vec![t("2 * 3 * 4")]));
        assert_eq!(
            parse("(see https://example.com/a_(b)), ok."),
            para(vec![
                t("("),
                t("see "),
                link("https://example.com/a_(b)", "https://example.com/a_(b)"),
                t("), ok.")
            ])
            .into_iter()
            .map(|b| match b {
                Paragraph(i) => Paragraph(merged(i)),
                b => b,
            })
            .collect::<Vec<_>>()
        );
        assert_eq!(
            parse("- a\n\n- b"),
            vec![List {
                start: None,
                items: vec![vec![Paragraph(vec![t("a")])], vec![Paragraph(vec![t("b")])]]
            }]
        );
    }

    fn merged(inlines: Vec<Inline>) -> Vec<Inline> {
        let mut out = Vec::new();
        for i in inlines {
            push_merged(&mut out, i);
        }
        out
    }

    #[test]
    fn headings_are_paragraphs() {
        assert_eq!(parse("# Title"), para(vec![t("Title")]));
        assert_eq!(parse("#rust"), para(vec![t("#rust")]));
    }

    #[test]
    fn deep_nesting_is_drawn_flat_and_loses_no_text() {
        let deep = ">".repeat(3000) + " deep";
        let tree = parse(&deep);
        assert!(depth(&tree) <= MAX_DEPTH + 1, "{}", depth(&tree));
        assert!(plain_of(&deep).ends_with("> deep"));
        let stars = "*a ".repeat(1500) + &"b* ".repeat(1500);
        assert!(plain_of(&stars).contains('a'));
        let lists = (0..200)
            .map(|i| format!("{}- {i}", "  ".repeat(i)))
            .collect::<Vec<_>>()
            .join("\n");
        let tree = parse(&lists);
        assert!(depth(&tree) <= MAX_DEPTH + 1);
        assert!(plain_of(&lists).contains("199"));
    }

    #[test]
    fn safe_hrefs() {
        assert!(safe_href("https://example.com"));
        assert!(safe_href("HTTP://example.com"));
        assert!(safe_href("mailto:a@b"));
        assert!(!safe_href("https:"));
        assert!(!safe_href("javascript:alert(1)"));
        assert!(!safe_href("java\tscript:alert(1)"));
        assert!(!safe_href("https://a.example/\nx"));
        assert!(!safe_href("no scheme"));
    }

    fn markup(text: &str, me: &str) -> String {
        html(&parse(text), me)
    }

    #[test]
    fn markup_escapes_every_piece_of_text() {
        assert_eq!(
            markup("<script>alert(1)</script> & \"x\" 'y'", ""),
            "<p dir=\"auto\">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;</p>"
        );
        assert_eq!(
            markup("```\n<img src=x onerror=alert(1)>\n```", ""),
            "<pre dir=\"ltr\"><code>&lt;img src=x onerror=alert(1)&gt;</code></pre>"
        );
        assert_eq!(
            markup("`<b>`", ""),
            "<p dir=\"auto\"><code>&lt;b&gt;</code></p>"
        );
        // An address cannot close its attribute: its quote is escaped.
        assert_eq!(
            markup("[x](https://e.org/\"onmouseover=\"alert(1))", ""),
            "<p dir=\"auto\"><a href=\"https://e.org/&quot;onmouseover=&quot;alert(1)\" \
             target=\"_blank\" rel=\"noopener noreferrer\">x</a></p>"
        );
    }

    #[test]
    fn markup_has_the_subsets_elements() {
        assert_eq!(
            markup("**b** *i* a\nb", ""),
            "<p dir=\"auto\"><strong>b</strong> <em>i</em> a<br>b</p>"
        );
        assert_eq!(
            markup("> q\n\n3. one\n4. two\n\n- x\n\n---", ""),
            "<blockquote dir=\"auto\"><p dir=\"auto\">q</p></blockquote>\
             <ol start=\"3\"><li dir=\"auto\"><p dir=\"auto\">one</p></li>\
             <li dir=\"auto\"><p dir=\"auto\">two</p></li></ol>\
             <ul><li dir=\"auto\"><p dir=\"auto\">x</p></li></ul><hr>"
        );
        assert_eq!(
            markup("see https://e.org", ""),
            "<p dir=\"auto\">see <a href=\"https://e.org\" target=\"_blank\" \
             rel=\"noopener noreferrer\">https://e.org</a></p>"
        );
    }

    #[test]
    fn markup_marks_mentions_and_the_readers_own() {
        assert_eq!(
            markup("hi @Bob and @cy", "bob"),
            "<p dir=\"auto\">hi <span class=\"mention me\">@Bob</span> and \
             <span class=\"mention\">@cy</span></p>"
        );
        assert_eq!(
            markup("@bob", ""),
            "<p dir=\"auto\"><span class=\"mention\">@bob</span></p>"
        );
    }

    fn plain_of(text: &str) -> String {
        parse(text).iter().map(plain_block).collect()
    }

    fn has_link(blocks: &[Block]) -> bool {
        fn inline_has(i: &Inline) -> bool {
            match i {
                Link { .. } => true,
                Strong(c) | Emphasis(c) => c.iter().any(inline_has),
                _ => false,
            }
        }
        blocks.iter().any(|b| match b {
            Paragraph(i) => i.iter().any(inline_has),
            Quote(b) => has_link(b),
            List { items, .. } => items.iter().any(|i| has_link(i)),
            _ => false,
        })
    }

    fn depth(blocks: &[Block]) -> usize {
        blocks
            .iter()
            .map(|b| match b {
                Quote(b) => 1 + depth(b),
                List { items, .. } => 1 + items.iter().map(|i| depth(i)).max().unwrap_or(0),
                _ => 1,
            })
            .max()
            .unwrap_or(0)
    }
}
