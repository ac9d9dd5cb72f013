//! Slack's message markup as plain text: `<@U123>` becomes `@name`, `<#C123|general>`
//! `#general`, `<!here>` `@here`, a link `<http://x|label>` `label (http://x)`, and `&amp;`,
//! `&lt;`, `&gt;` their characters.

/// Whom and what the markup names.
pub(crate) trait Names {
    /// A user's display name, by id.
    fn user(&self, id: &str) -> Option<&str>;
    /// A channel's name, by id.
    fn channel(&self, id: &str) -> Option<&str>;
}

/// `text`, in Slack's markup, as plain text.
pub(crate) fn plain(text: &str, names: &dyn Names) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        unescape_into(&rest[..open], &mut out);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            // Not markup: Slack escapes a lone `<`, but a hand-made export may not.
            unescape_into(&rest[open..], &mut out);
            return out;
        };
        reference(&after[..close], names, &mut out);
        rest = &after[close + 1..];
    }
    unescape_into(rest, &mut out);
    out
}

/// A `<…>` reference as text.
fn reference(inner: &str, names: &dyn Names, out: &mut String) {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label).filter(|l| !l.is_empty())),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        out.push('@');
        match label.or_else(|| names.user(id)) {
            Some(name) => unescape_into(name.trim_start_matches('@'), out),
            None => out.push_str(id),
        }
    } else if let Some(id) = target.strip_prefix('#') {
        out.push('#');
        match label.or_else(|| names.channel(id)) {
            Some(name) => unescape_into(name, out),
            None => out.push_str(id),
        }
    } else if let Some(special) = target.strip_prefix('!') {
        match (special, label) {
            ("here" | "channel" | "everyone", _) => {
                out.push('@');
                out.push_str(special);
            }
            // A user group (`!subteam^ID`), a date (`!date^…`): their label is their text.
            (_, Some(label)) => unescape_into(label, out),
            (_, None) => unescape_into(special.split('^').next().unwrap_or(special), out),
        }
    } else {
        let url = target;
        let shown = url.strip_prefix("mailto:").unwrap_or(url);
        match label {
            Some(label) if label != url && label != shown => {
                unescape_into(label, out);
                out.push_str(" (");
                unescape_into(shown, out);
                out.push(')');
            }
            _ => unescape_into(shown, out),
        }
    }
}

/// Appends `text` with Slack's three escapes undone.
fn unescape_into(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (c, len) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(c);
        rest = &tail[len..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Known;

    impl Names for Known {
        fn user(&self, id: &str) -> Option<&str> {
            (id == "U1").then_some("Ann Smith")
        }
        fn channel(&self, id: &str) -> Option<&str> {
            (id == "C1").then_some("general")
        }
    }

    #[test]
    fn slack_markup_becomes_plain_text() {
        let cases = [
            ("hi <@U1>, see <#C1>", "hi @Ann Smith, see #general"),
            ("<@U2|bob> and <@U3>", "@bob and @U3"),
            ("<#C9|random>", "#random"),
            ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
            (
                "<!subteam^S1|@devs> <!date^1392734382^{date}|Feb 18>",
                "@devs Feb 18",
            ),
            (
                "<https://x.org/a?b=1&amp;c=2|the docs>",
                "the docs (https://x.org/a?b=1&c=2)",
            ),
            ("<https://x.org>", "https://x.org"),
            ("<https://x.org|https://x.org>", "https://x.org"),
            ("<mailto:a@b.org|a@b.org>", "a@b.org"),
            (
                "1 &lt; 2 &amp;&amp; 3 &gt; 2 &amp;c &nbsp",
                "1 < 2 && 3 > 2 &c &nbsp",
            ),
            ("a < b", "a < b"),
            ("é <@U1>", "é @Ann Smith"),
        ];
        for (slack, plain_text) in cases {
            assert_eq!(plain(slack, &Known), plain_text, "{slack}");
        }
    }
}
