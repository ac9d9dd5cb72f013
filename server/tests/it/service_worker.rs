//! The service worker (`/sw.js`) and the site's files: never kept stale by a browser. The
//! worker's script names the build, which changes with the site's files; both are sent to be
//! revalidated at every use.

use crate::support::{TestServer, fetch};

/// The build id in the worker's script.
fn build(script: &str) -> String {
    let start = script.find("const BUILD = \"").expect("no build id") + 15;
    let len = script[start..].find('"').unwrap();
    script[start..start + len].to_owned()
}

#[tokio::test]
async fn the_service_worker_names_the_build_and_a_new_site_is_a_new_build() {
    let mut server = TestServer::start().await;
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("palaver.css"), "body { color: black; }").unwrap();
    // The id is taken when the server starts, as a deployment replaces the site and restarts.
    server.restart().await;

    let (status, headers, script) = fetch(&server, "/sw.js").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"], "text/javascript; charset=utf-8",
        "{headers:?}"
    );
    assert_eq!(headers["cache-control"], "no-cache", "{headers:?}");
    assert!(script.contains("self.skipWaiting()"), "{script}");
    let first = build(&script);
    assert!(first.starts_with(env!("CARGO_PKG_VERSION")), "{first}");
    // The same site, the same build.
    server.restart().await;
    assert_eq!(build(&fetch(&server, "/sw.js").await.2), first);

    // The site's files are revalidated at each use; the page and the API keep their own.
    let (status, headers, _) = fetch(&server, "/pkg/palaver.css").await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-cache", "{headers:?}");
    let (_, headers, _) = fetch(&server, "/healthz").await;
    assert_eq!(headers.get("cache-control"), None, "{headers:?}");

    std::fs::write(pkg.join("palaver.css"), "body { color: navy; }").unwrap();
    server.restart().await;
    let second = build(&fetch(&server, "/sw.js").await.2);
    assert_ne!(second, first);
}

/// The page asks for its scripts and wasm under its build's own address, which serves that
/// build's files only: a page left open across an upgrade never gets another build's chunk.
#[tokio::test]
async fn the_page_asks_for_its_build_s_own_files() {
    let mut server = TestServer::start().await;
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("chunk_1.wasm"), "the first build's chunk").unwrap();
    server.restart().await;
    let first = build(&fetch(&server, "/sw.js").await.2);

    let (_, _, page) = fetch(&server, "/").await;
    assert!(
        page.contains(&format!("/b/{first}/pkg/palaver.js")),
        "the page's script is not under its build: {page}"
    );
    let (status, headers, body) = fetch(&server, &format!("/b/{first}/pkg/chunk_1.wasm")).await;
    assert_eq!((status, body.as_str()), (200, "the first build's chunk"));
    assert_eq!(
        headers["cache-control"], "public, max-age=31536000, immutable",
        "{headers:?}"
    );

    std::fs::write(pkg.join("chunk_1.wasm"), "the second build's chunk").unwrap();
    server.restart().await;
    let second = build(&fetch(&server, "/sw.js").await.2);
    assert_ne!(second, first);
    let (status, headers, _) = fetch(&server, &format!("/b/{first}/pkg/chunk_1.wasm")).await;
    assert_eq!(status, 404, "an older build's file");
    assert_eq!(headers["cache-control"], "no-store", "{headers:?}");
    let (status, _, body) = fetch(&server, &format!("/b/{second}/pkg/chunk_1.wasm")).await;
    assert_eq!((status, body.as_str()), (200, "the second build's chunk"));
}

/// Each page's head names its title and the stylesheet once: the server writes the head alone
/// (the browser hydrates the body only), so nothing adds a second copy or leaves one out.
#[tokio::test]
async fn every_page_names_its_title_and_stylesheet_once() {
    let server = TestServer::start().await;
    for (path, status) in [
        ("/", 200),
        ("/r/lobby", 200),
        ("/admin", 200),
        ("/nowhere", 404),
    ] {
        let (got, _, page) = fetch(&server, path).await;
        assert_eq!(got, status, "{path}");
        let head = &page[..page.find("</head>").expect("a head")];
        for tag in [
            "<title>Palaver</title>",
            r#"<link rel="stylesheet" href="/pkg/palaver.css">"#,
        ] {
            assert_eq!(head.matches(tag).count(), 1, "{tag} on {path}: {head}");
            assert!(!page[head.len()..].contains(tag), "{tag} in {path}'s body");
        }
    }
}
