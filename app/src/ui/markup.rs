//! Markup written as text, for the parts of a message row drawn in one piece (`inner_html`):
//! its text, its header and its files. A view per piece would bring its own hydrate, build
//! and rebuild code to the browser's wasm; a row has many pieces, and they rarely change.
//! Every piece of text or attribute value goes through [`escape`].

use super::time;

/// `text` as it reads, in an element or in a quoted attribute value. Ten lines of ours rather
/// than `html-escape` (tachys's), whose encoder weighs more in the wasm than this whole module.
pub(crate) fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `<tag class="class" title="title">text</tag>`; no title when `None`.
pub(crate) fn element(out: &mut String, tag: &str, class: &str, title: Option<&str>, text: &str) {
    out.push('<');
    out.push_str(tag);
    out.push_str(" class=\"");
    escape(out, class);
    out.push('"');
    if let Some(title) = title {
        out.push_str(" title=\"");
        escape(out, title);
        out.push('"');
    }
    out.push('>');
    escape(out, text);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// A message's time, its full date and time in the tooltip: in UTC until `local`.
pub(crate) fn time(out: &mut String, ts: i64, local: bool) {
    let shifted = time::shifted(ts, local);
    out.push_str("<time datetime=\"");
    escape(out, &time::utc_iso(ts));
    out.push_str("\" title=\"");
    escape(out, &time::tooltip(shifted, local));
    out.push_str("\">");
    out.push_str(&time::utc_hm(shifted));
    out.push_str("</time>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut out = String::new();
        escape(&mut out, r#"<b a="1">'&'</b>"#);
        assert_eq!(out, "&lt;b a=&quot;1&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;");
        let mut out = String::new();
        element(&mut out, "span", "author", Some(r#"x" onclick="y"#), "<i>");
        assert_eq!(
            out,
            r#"<span class="author" title="x&quot; onclick=&quot;y">&lt;i&gt;</span>"#
        );
    }

    #[test]
    fn a_time_says_utc_until_local() {
        let mut out = String::new();
        time(&mut out, 1_764_679_500_000, false);
        assert_eq!(
            out,
            "<time datetime=\"2025-12-02T12:45:00Z\" \
             title=\"Tuesday, 2 December 2025 at 12:45 UTC\">12:45</time>"
        );
    }
}
