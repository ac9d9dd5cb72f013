//! The site's built files under the build's own address, `/b/<build>/pkg/…`, where the page
//! asks for its scripts, wasm and chunks. A page left open across an upgrade then never loads
//! a chunk of another build: a chunk writes into the page's memory and function table at
//! places its own build chose, so a chunk of the new build in an old page would corrupt it.
//! Another build's files are not found instead, and the page says that the part could not be
//! loaded. A build's files never change, so they may be kept for a year.
//!
//! `/pkg/…` still serves the same files (the stylesheet, `cargo leptos watch`, tools).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

/// Where the build `build`'s files are: what the page's scripts are asked for under.
pub(crate) fn root(build: &str) -> String {
    format!("/b/{build}")
}

/// Serves the files of the build `build` from `site_root`'s `pkg/`.
pub(crate) fn route<S: Clone + Send + Sync + 'static>(site_root: &Path, build: &str) -> Router<S> {
    let dir = ServeDir::new(site_root.join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    let prefix: Arc<str> = format!("{}/pkg", root(build)).into();
    Router::new().route(
        "/b/{build}/pkg/{*file}",
        get(move |request: Request| serve(dir.clone(), Arc::clone(&prefix), request)),
    )
}

async fn serve(dir: ServeDir, prefix: Arc<str>, request: Request) -> Response {
    let Some(file) = request
        .uri()
        .path()
        .strip_prefix(&*prefix)
        .and_then(|rest| rest.parse::<Uri>().ok())
    else {
        // Another build's file: gone with its build.
        return (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        )
            .into_response();
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = file;
    let Ok(mut response) = dir.oneshot(Request::from_parts(parts, body)).await;
    if response.status().is_success() {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        // The `.br` or `.gz` copy goes to those who accept it: a shared cache must tell.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response.map(Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(router: &Router, path: &str, encoding: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(e) = encoding {
            request = request.header(header::ACCEPT_ENCODING, e);
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_build_serves_its_own_files_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/chunk_1.wasm"), b"\0asm one").unwrap();
        std::fs::write(dir.path().join("pkg/chunk_1.wasm.br"), b"brotli").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"no").unwrap();
        let router: Router = route(dir.path(), "1.0-abc");

        let ok = get(&router, "/b/1.0-abc/pkg/chunk_1.wasm", None).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(
            ok.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(ok.headers()[header::VARY], "accept-encoding");
        let br = get(&router, "/b/1.0-abc/pkg/chunk_1.wasm", Some("br")).await;
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(br.headers()[header::VARY], "accept-encoding");

        let other = get(&router, "/b/0.9-old/pkg/chunk_1.wasm", None).await;
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
        assert_eq!(other.headers()[header::CACHE_CONTROL], "no-store");
        let missing = get(&router, "/b/1.0-abc/pkg/chunk_9.wasm", None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.headers().get(header::CACHE_CONTROL).is_none());
        let outside = get(&router, "/b/1.0-abc/pkg/../secret.txt", None).await;
        assert_ne!(outside.status(), StatusCode::OK);
        let encoded = get(&router, "/b/1.0-abc/pkg/..%2Fsecret.txt", None).await;
        assert_ne!(encoded.status(), StatusCode::OK);
    }
}
