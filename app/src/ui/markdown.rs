//! Message text as the Markdown subset people write in chat: bold, italic, inline code, code
//! blocks, quotes, lists, and links (bare `http(s)` addresses are linked too).
//!
//! [`parse`] is pure, and turns text into a small tree of [`Block`]s and [`Inline`]s; the
//! server's render and the browser's hydration both draw that tree with [`MessageText`], so
//! they agree. Nothing in a message ever becomes markup: raw HTML is kept as text, and a link
//! goes only to `http`, `https` or `mailto` (anything else stays its text). Headings, images
//! and tables are not part of the subset: a heading is drawn as a paragraph, an image as a link
//! to it, and a table as the text it is.
//!
//! Plain text stays in [`Inline::Text`] nodes of its own, so that other kinds of node (a
//! mention, say) can be cut out of them after parsing.

use leptos::prelude::*;
use pulldown_cmark::{Event, LinkType, Parser, Tag};

/// How deep quotes, lists and emphasis nest before deeper ones are drawn flat, so that a
/// message of a thousand `>` cannot make drawing it recurse a thousand times.
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
    let mut builder = Builder {
        stack: vec![Open::Blocks(Container::Root, Vec::new())],
    };
    for event in Parser::new(text) {
        builder.event(event);
    }
    while builder.stack.len() > 1 {
        builder.close();
    }
    match builder.stack.pop() {
        Some(Open::Blocks(_, blocks)) => blocks,
        _ => Vec::new(),
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Root,
    Quote,
    Item,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Paragraph,
    Strong,
    Emphasis,
}

/// An element being built.
#[derive(Debug)]
enum Open {
    Blocks(Container, Vec<Block>),
    List(Option<u64>, Vec<Vec<Block>>),
    Inlines(Span, Vec<Inline>),
    /// A link: its address if it may be linked to; its text either way.
    Link(Option<String>, Vec<Inline>),
    Code(String),
    /// Something outside the subset or too deep: what it holds goes to its parent.
    Flat,
}

struct Builder {
    stack: Vec<Open>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.open(tag),
            Event::End(_) => self.close(),
            Event::Text(text) => self.text(&text),
            // Raw HTML is text like any other.
            Event::Html(text) | Event::InlineHtml(text) => self.text(&text),
            Event::Code(code) => self.inline(Inline::Code(code.into_string())),
            Event::SoftBreak | Event::HardBreak => self.inline(Inline::Break),
            Event::Rule => self.block(Block::Rule),
            // Footnotes, task lists and maths are not enabled; nothing else is left.
            _ => {}
        }
    }

    fn depth(&self) -> usize {
        self.stack.len()
    }

    fn open(&mut self, tag: Tag<'_>) {
        let deep = self.depth() > MAX_DEPTH;
        let open = match tag {
            // A paragraph inside a paragraph cannot happen; one too deep is still a paragraph.
            Tag::Paragraph | Tag::Heading { .. } | Tag::HtmlBlock => {
                Open::Inlines(Span::Paragraph, Vec::new())
            }
            Tag::CodeBlock(_) => Open::Code(String::new()),
            Tag::BlockQuote(_) if !deep => Open::Blocks(Container::Quote, Vec::new()),
            Tag::List(start) if !deep => Open::List(start, Vec::new()),
            Tag::Item if matches!(self.stack.last(), Some(Open::List(..))) => {
                Open::Blocks(Container::Item, Vec::new())
            }
            Tag::Strong if !deep => Open::Inlines(Span::Strong, Vec::new()),
            Tag::Emphasis if !deep => Open::Inlines(Span::Emphasis, Vec::new()),
            Tag::Link {
                link_type,
                dest_url,
                ..
            }
            | Tag::Image {
                link_type,
                dest_url,
                ..
            } => {
                let href = if link_type == LinkType::Email {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.into_string()
                };
                // A link inside a link is not one: only its text is kept.
                let nested = self.stack.iter().any(|o| matches!(o, Open::Link(..)));
                Open::Link(
                    (safe_href(&href) && !nested && !deep).then_some(href),
                    Vec::new(),
                )
            }
            _ => Open::Flat,
        };
        self.stack.push(open);
    }

    /// Ends the innermost element and gives it to its parent.
    fn close(&mut self) {
        if self.stack.len() <= 1 {
            return;
        }
        match self.stack.pop() {
            Some(Open::Blocks(Container::Item, blocks)) => match self.stack.last_mut() {
                Some(Open::List(_, items)) => items.push(blocks),
                _ => blocks.into_iter().for_each(|b| self.block(b)),
            },
            Some(Open::Blocks(_, blocks)) => self.block(Block::Quote(blocks)),
            Some(Open::List(start, items)) => self.block(Block::List { start, items }),
            Some(Open::Inlines(Span::Paragraph, mut inlines)) => {
                while inlines.last() == Some(&Inline::Break) {
                    inlines.pop();
                }
                if !inlines.is_empty() {
                    self.block(Block::Paragraph(inlines));
                }
            }
            Some(Open::Inlines(Span::Strong, inlines)) => self.inline(Inline::Strong(inlines)),
            Some(Open::Inlines(Span::Emphasis, inlines)) => self.inline(Inline::Emphasis(inlines)),
            Some(Open::Link(Some(href), children)) => self.inline(Inline::Link { href, children }),
            Some(Open::Link(None, children)) => children.into_iter().for_each(|i| self.inline(i)),
            Some(Open::Code(mut code)) => {
                if code.ends_with('\n') {
                    code.pop();
                }
                self.block(Block::Code(code))
            }
            Some(Open::Flat) | None => {}
        }
    }

    /// The innermost element that is not [`Open::Flat`].
    fn target(&mut self) -> &mut Open {
        let at = self
            .stack
            .iter()
            .rposition(|o| !matches!(o, Open::Flat))
            .unwrap_or(0);
        &mut self.stack[at]
    }

    fn block(&mut self, block: Block) {
        match self.target() {
            Open::Blocks(_, blocks) => blocks.push(block),
            Open::List(_, items) => match items.last_mut() {
                Some(item) => item.push(block),
                None => items.push(vec![block]),
            },
            Open::Code(code) => code.push_str(&plain_block(&block)),
            Open::Inlines(_, inlines) | Open::Link(_, inlines) => {
                inlines.push(Inline::Text(plain_block(&block)))
            }
            Open::Flat => {}
        }
    }

    fn inline(&mut self, inline: Inline) {
        match self.target() {
            Open::Inlines(_, inlines) | Open::Link(_, inlines) => push_merged(inlines, inline),
            Open::Code(code) => code.push_str(&plain(&[inline])),
            // A tight list's items, and what a flattened element held, have no paragraph
            // of their own: the text makes one.
            Open::Blocks(_, blocks) => match blocks.last_mut() {
                Some(Block::Paragraph(inlines)) => push_merged(inlines, inline),
                _ => blocks.push(Block::Paragraph(vec![inline])),
            },
            Open::List(_, items) => {
                if items.is_empty() {
                    items.push(Vec::new());
                }
                if let Some(item) = items.last_mut() {
                    match item.last_mut() {
                        Some(Block::Paragraph(inlines)) => push_merged(inlines, inline),
                        _ => item.push(Block::Paragraph(vec![inline])),
                    }
                }
            }
            Open::Flat => {}
        }
    }

    fn text(&mut self, text: &str) {
        if let Open::Code(code) = self.target() {
            code.push_str(text);
            return;
        }
        let in_link = self.stack.iter().any(|o| matches!(o, Open::Link(..)));
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.inline(Inline::Break);
            }
            if line.is_empty() {
                continue;
            }
            if in_link {
                self.inline(Inline::Text(line.to_owned()));
            } else {
                for piece in autolink(line) {
                    self.inline(piece);
                }
            }
        }
    }
}

/// Adds `inline`, joined to the text before it if both are text: the parser hands out text
/// in pieces (around entities and escapes), and one run of text is one node.
fn push_merged(inlines: &mut Vec<Inline>, inline: Inline) {
    match (inlines.last_mut(), inline) {
        (Some(Inline::Text(before)), Inline::Text(text)) => before.push_str(&text),
        (_, inline) => inlines.push(inline),
    }
}

/// `text` with its bare `http` and `https` addresses as links.
fn autolink(text: &str) -> Vec<Inline> {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    finder
        .spans(text)
        .map(|span| {
            let s = span.as_str();
            let is_web = span.kind().is_some()
                && ["http://", "https://"].iter().any(|p| {
                    s.get(..p.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(p))
                });
            if is_web && safe_href(s) {
                Inline::Link {
                    href: s.to_owned(),
                    children: vec![Inline::Text(s.to_owned())],
                }
            } else {
                Inline::Text(s.to_owned())
            }
        })
        .collect()
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
pub(crate) fn MessageText(text: String) -> impl IntoView {
    let blocks = parse(&text);
    view! { <div class="text" dir="auto">{blocks_view(blocks)}</div> }
}

fn blocks_view(blocks: Vec<Block>) -> AnyView {
    blocks.into_iter().map(block_view).collect_view().into_any()
}

fn block_view(block: Block) -> AnyView {
    match block {
        Block::Paragraph(inlines) => view! { <p dir="auto">{inlines_view(inlines)}</p> }.into_any(),
        Block::Code(code) => view! { <pre dir="ltr"><code>{code}</code></pre> }.into_any(),
        Block::Quote(blocks) => {
            view! { <blockquote dir="auto">{blocks_view(blocks)}</blockquote> }.into_any()
        }
        Block::List {
            start: Some(start),
            items,
        } => view! { <ol start=start.to_string()>{items_view(items)}</ol> }.into_any(),
        Block::List { start: None, items } => view! { <ul>{items_view(items)}</ul> }.into_any(),
        Block::Rule => view! { <hr/> }.into_any(),
    }
}

fn items_view(items: Vec<Vec<Block>>) -> AnyView {
    items
        .into_iter()
        .map(|item| view! { <li dir="auto">{blocks_view(item)}</li> })
        .collect_view()
        .into_any()
}

fn inlines_view(inlines: Vec<Inline>) -> AnyView {
    inlines
        .into_iter()
        .map(inline_view)
        .collect_view()
        .into_any()
}

fn inline_view(inline: Inline) -> AnyView {
    match inline {
        Inline::Text(text) => text.into_any(),
        Inline::Code(code) => view! { <code>{code}</code> }.into_any(),
        Inline::Strong(c) => view! { <strong>{inlines_view(c)}</strong> }.into_any(),
        Inline::Emphasis(c) => view! { <em>{inlines_view(c)}</em> }.into_any(),
        Inline::Link { href, children } => view! {
            <a href=href target="_blank" rel="noopener noreferrer">{inlines_view(children)}</a>
        }
        .into_any(),
        Inline::Break => view! { <br/> }.into_any(),
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
        // Entities are read as the characters they stand for, and drawn as text.
        assert_eq!(parse("&lt;b&gt; \\*"), para(vec![t("<b> *")]));
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
            parse("<ann@example.com>"),
            para(vec![link("mailto:ann@example.com", "ann@example.com")])
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
    fn headings_are_paragraphs() {
        assert_eq!(parse("# Title"), para(vec![t("Title")]));
        assert_eq!(parse("#rust"), para(vec![t("#rust")]));
    }

    #[test]
    fn deep_nesting_is_drawn_flat_and_loses_no_text() {
        let deep = ">".repeat(3000) + " deep";
        let tree = parse(&deep);
        assert!(depth(&tree) <= MAX_DEPTH + 1, "{}", depth(&tree));
        assert_eq!(plain_of(&deep), "deep");
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
