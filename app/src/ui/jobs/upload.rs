//! Sending an archive to import: `POST /imports?format=…&name=…` with the file as the body and
//! a bearer token (the person's name's token, or the admin token) or, signed in to an account,
//! the session cookie alone; answered `202 {"job": id}` or with a JSON error (`{"error": code,
//! "message": text}`).
//!
//! The browser streams the file from disk (`fetch` with the `File` as its body): the page
//! never reads it into memory.

/// Which archive an import reads: the server's `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ImportFormat {
    /// Palaver's own export.
    #[default]
    Palaver,
    /// A Slack workspace export.
    Slack,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl ImportFormat {
    pub(crate) const ALL: [ImportFormat; 2] = [ImportFormat::Palaver, ImportFormat::Slack];

    /// As the query names it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Palaver => "palaver",
            ImportFormat::Slack => "slack",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            ImportFormat::Palaver => "Palaver export",
            ImportFormat::Slack => "Slack export",
        }
    }
}

/// The upload's address: the format, and the file's name (for the server's records).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn import_path(format: ImportFormat, name: &str) -> String {
    format!("/imports?format={}&name={}", format.as_str(), encode(name))
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the server answered: the import job's id, or what to tell the person.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn outcome(status: u16, body: &str) -> Result<i64, String> {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).cloned();
    if (200..300).contains(&status) {
        return field("job")
            .and_then(|j| j.as_i64())
            .ok_or_else(|| "The server took the archive but named no job for it".to_owned());
    }
    let why = match status {
        400 => "The server refused the archive",
        401 => "Not signed in",
        403 => "Not allowed",
        413 => "The archive is too large",
        429 => "Too many imports lately",
        503 => "The server is busy",
        _ => "The import failed",
    };
    let message = field("message")
        .and_then(|m| m.as_str().map(str::to_owned))
        .filter(|m| !m.trim().is_empty());
    Err(match message {
        Some(message) => format!("{why} (HTTP {status}): {message}"),
        None => format!("{why} (HTTP {status})"),
    })
}

#[cfg(feature = "hydrate")]
pub(crate) use browser::post;

#[cfg(feature = "hydrate")]
mod browser {

    use super::{ImportFormat, import_path, outcome};

    /// Uploads `file` to import as `format`, with `token` as the bearer if there is one (the
    /// session cookie goes along either way): the job's id, or what to tell the person.
    pub(crate) async fn post(
        file: web_sys::File,
        format: ImportFormat,
        token: Option<&str>,
    ) -> Result<i64, String> {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/zip")];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer.as_str()));
        }
        let path = import_path(format, &file.name());
        let (status, body) = crate::ui::fetch::request("POST", &path, &headers, Some(file.into()))
            .await
            .map_err(|_| "The upload broke off: check the connection and try again".to_owned())?;
        outcome(status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_the_format_and_the_file() {
        assert_eq!(
            import_path(ImportFormat::Slack, "My Workspace Export (1).zip"),
            "/imports?format=slack&name=My%20Workspace%20Export%20%281%29.zip"
        );
        assert_eq!(
            import_path(ImportFormat::Palaver, "a&b=c/é.zip"),
            "/imports?format=palaver&name=a%26b%3Dc%2F%C3%A9.zip"
        );
    }

    #[test]
    fn accepted_gives_the_job() {
        assert_eq!(outcome(202, r#"{"job": 42}"#), Ok(42));
        assert!(outcome(202, "").is_err());
    }

    #[test]
    fn refusals_say_the_servers_message() {
        assert_eq!(
            outcome(
                413,
                r#"{"error":"too_large","message":"an archive may be at most 100 bytes"}"#
            ),
            Err("The archive is too large (HTTP 413): an archive may be at most 100 bytes".into())
        );
        assert_eq!(
            outcome(
                401,
                r#"{"error":"unauthorized","message":"send your session token"}"#
            ),
            Err("Not signed in (HTTP 401): send your session token".into())
        );
        assert_eq!(
            outcome(400, r#"{"error":"empty","message":"the upload is empty"}"#),
            Err("The server refused the archive (HTTP 400): the upload is empty".into())
        );
        // A proxy's page, not the server's JSON.
        assert_eq!(
            outcome(502, "<html>Bad gateway</html>"),
            Err("The import failed (HTTP 502)".into())
        );
    }
}
