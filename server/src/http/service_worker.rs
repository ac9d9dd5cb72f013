//! `/sw.js`, the service worker that makes the app installable, with the build's id in it:
//! a new build is a new script, which the browser installs at the next visit, and whose
//! cache has a new name (the old one is deleted). The id is the server's version and a hash
//! of the site's files, so a new binary or new front-end files each make a new build.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::Page;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

const TEMPLATE: &str = include_str!("service_worker.js");

/// The path the page registers it at; its scope is the whole site.
pub(crate) const PATH: &str = "/sw.js";

/// The route serving the worker for the build `build` ([`build_id`]).
pub(crate) fn route<S: Clone + Send + Sync + 'static>(build: &str) -> Router<S> {
    let script: Arc<str> = script(build).into();
    Router::new().route(
        PATH,
        get(move || {
            let script = Arc::clone(&script);
            async move {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("text/javascript; charset=utf-8"),
                        ),
                        // Always asked again, so that an upgrade is seen at the next visit.
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    ],
                    script.to_string(),
                )
                    .into_response()
            }
        }),
    )
}

/// Whether `path` is one of the site's own files (not a page, not the server's API): the ones
/// the worker keeps for the offline fallback.
fn is_site_file(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/b/")
        || path.starts_with("/icons/")
        || path == "/manifest.webmanifest"
}

/// The site's files have the same names in every build, so browsers must ask each time
/// whether they changed (a `304 Not Modified` when not): otherwise a browser's heuristic
/// freshness could keep an old build's files, with or without the worker.
pub(crate) async fn revalidate_site_files(request: Request, next: Next) -> Response {
    let site_file = is_site_file(request.uri().path());
    let mut response = next.run(request).await;
    if site_file && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

/// The worker's script for the build `build`.
fn script(build: &str) -> String {
    let pages = serde_json::to_string(&Page::PATHS).unwrap_or_else(|_| "[\"/\"]".to_owned());
    TEMPLATE
        .replace("__PALAVER_BUILD__", build)
        .replace("__PALAVER_PAGES__", &pages)
}

/// The server's version and a hash of every file under `site_root` (path and content), short.
/// A site that cannot be read counts as empty: the server still starts, and serves the page.
pub(crate) fn build_id(site_root: &Path) -> String {
    let mut files = Vec::new();
    collect(site_root, &mut files);
    files.sort();
    let mut hash = Sha256::new();
    for file in &files {
        let Ok(content) = std::fs::read(file) else {
            continue;
        };
        let name = file.strip_prefix(site_root).unwrap_or(file);
        hash.update(name.to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update((content.len() as u64).to_le_bytes());
        hash.update(&content);
    }
    let digest: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{digest}", env!("CARGO_PKG_VERSION"))
}

fn collect(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect(&path, into),
            Ok(kind) if kind.is_file() => into.push(path),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_id_changes_with_any_file_of_the_site() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/palaver.css"), "a {}").unwrap();
        let first = build_id(dir.path());
        assert_eq!(
            build_id(dir.path()),
            first,
            "the same files, the same build"
        );
        std::fs::write(dir.path().join("pkg/palaver.css"), "b {}").unwrap();
        let second = build_id(dir.path());
        assert_ne!(second, first);
        std::fs::write(dir.path().join("manifest.webmanifest"), "{}").unwrap();
        assert_ne!(build_id(dir.path()), second);
        assert!(first.starts_with(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn the_site_s_files_are_told_apart_from_pages_and_the_api() {
        for file in [
            "/pkg/palaver.wasm",
            "/pkg/palaver.css",
            "/icons/icon-192.png",
            "/manifest.webmanifest",
        ] {
            assert!(is_site_file(file), "{file}");
        }
        for other in [
            "/",
            "/admin",
            "/auth/sign-in",
            "/socket.io/",
            "/api/hooks/x",
            "/sw.js",
            "/pkgs",
        ] {
            assert!(!is_site_file(other), "{other}");
        }
    }

    #[test]
    fn the_script_carries_the_build_and_the_pages() {
        let js = script("1.2.3-abc");
        assert!(js.contains(r#"const BUILD = "1.2.3-abc";"#));
        let pages = serde_json::to_string(&Page::PATHS).unwrap();
        assert!(js.contains(&format!("const PAGES = {pages};")), "{js}");
        assert!(!js.contains("__PALAVER_"));
    }
}
