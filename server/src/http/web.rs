//! The HTTP side: the server-rendered chat page, static files, `/healthz`, `/metrics`, and the
//! Socket.IO layer in front of them all, behind the handshake's origin check.

use std::sync::Arc;

use crate::cluster::Adapter;
use app::events::{ChatMessage, HISTORY_PAGE, LOBBY};
use app::history::FirstPage;
use app::{Page, shell};
use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderName, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::get;
use leptos::config::LeptosOptions;
use socketioxide::layer::SocketIoLayer;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;

use crate::http::admission::{self, Admission};
use crate::http::build_files;
use crate::http::handshake;
use crate::http::headers::{self, Policy};
use crate::http::origin::{self, Access};
use crate::http::service_worker;
use crate::metrics::Metrics;
use crate::socket::backlog::{self, Backlogs};
use crate::store::Store;

#[derive(Clone, FromRef)]
struct WebState {
    leptos_options: LeptosOptions,
    store: Store,
    metrics: Arc<Metrics>,
    backlogs: Backlogs,
}

/// What stands in front of the Socket.IO layer.
pub(crate) struct Guards {
    pub(crate) access: Access,
    pub(crate) admission: Admission,
    pub(crate) backlogs: Backlogs,
}

pub(crate) fn router(
    options: LeptosOptions,
    store: Store,
    metrics: Arc<Metrics>,
    sockets: SocketIoLayer<Adapter>,
    guards: Guards,
    files: crate::http::files::FilesState,
    api: Router,
) -> Router {
    let policy = Policy::new(guards.access.public_origin(), &options);
    let state = WebState {
        leptos_options: options.clone(),
        store,
        metrics,
        backlogs: guards.backlogs.clone(),
    };
    let site_root = std::path::Path::new(&*options.site_root);
    let build = service_worker::build_id(site_root);
    let worker = service_worker::route(&build);
    let build_files = build_files::route(site_root, &build);
    // The render's context: the request's nonce, and where its build's scripts are.
    let root = build_files::root(&build);
    let context = move || {
        headers::provide_nonce();
        leptos::prelude::provide_context(app::BuildRoot(root.clone()));
    };
    // Leptos spawns the render's tasks on tokio (`leptos_routes` did this before; an error
    // only says it is set already, as when tests start several servers in one process).
    let _ = any_spawner::Executor::init_tokio();
    // The app's pages; any other path that is not a file gets the app's "not found" page.
    // The render's scripts carry the nonce the response's policy names.
    let page = leptos_axum::render_app_to_stream_with_context(context.clone(), move || {
        shell(options.clone())
    });
    let mut router = Router::new()
        .merge(worker)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text));
    for path in Page::PATHS {
        router = router.route(path, get(page.clone()));
        // `/admin/` is the same page as typed by many: sent to its one address.
        if path != "/" {
            router = router.route(
                &format!("{path}/"),
                get(move |uri: Uri| without_slash(path, uri)),
            );
        }
    }
    // A conversation's own address: the chat page, which opens it (`app::ui::address`).
    for path in Page::CONVERSATION_PATHS {
        router = router.route(path, get(page.clone()));
    }
    let files_or_not_found =
        leptos_axum::file_and_error_handler_with_context::<WebState, _>(context, shell);
    let router = router
        .merge(build_files)
        .fallback(files_or_not_found)
        .layer(middleware::from_fn(service_worker::revalidate_site_files))
        .layer(middleware::from_fn_with_state(
            state.store.clone(),
            first_page,
        ))
        .with_state(state)
        // Incoming webhooks and the bot API (`api.rs`).
        .merge(api)
        // The fallback serves the `.br`/`.gz` copies that `cargo leptos build --release
        // --precompress` writes (brotli 11, no work per visit; compressing the wasm on each
        // request made it arrive late). This layer
        // compresses the page, and the assets when no copy exists (`cargo leptos watch`);
        // responses that already carry an encoding pass through. Quality 5: near the best
        // ratio at a fraction of the CPU of 11.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(5)))
        // Jobs' files are ZIPs, compressed already: past the compression layer.
        .merge(crate::http::files::routes(files))
        .layer(sockets)
        // Outside the Socket.IO layer, which keeps each handshake's request for the session.
        .layer(middleware::from_fn(handshake::detach))
        .layer(middleware::from_fn_with_state(
            guards.backlogs,
            backlog::drain,
        ))
        // Outside the Socket.IO layer, so a refused handshake never reaches it.
        .layer(middleware::from_fn_with_state(
            guards.admission,
            admission::check,
        ))
        .layer(middleware::from_fn_with_state(guards.access, origin::check));
    // Outermost: refusals carry the headers too.
    headers::secure(router, policy)
}

/// Loads the chat page's first messages before it is rendered, so that rendering, and the
/// browser's hydration after it, need no asynchronous step (see `app::history`).
async fn first_page(State(store): State<Store>, mut request: Request, next: Next) -> Response {
    if request.method() == Method::GET && Page::at(request.uri().path()) == Page::Chat {
        let page = store
            .latest(LOBBY, HISTORY_PAGE)
            .await
            .map(|rows| rows.into_iter().map(ChatMessage::from).collect())
            .map_err(|e| {
                tracing::error!(error = %e, "could not load the chat page's messages");
                e.to_string()
            });
        request.extensions_mut().insert(FirstPage(page));
    }
    next.run(request).await
}

/// A permanent redirect to `path`, keeping the request's query.
async fn without_slash(path: &'static str, uri: Uri) -> Redirect {
    match uri.query() {
        Some(query) => Redirect::permanent(&format!("{path}?{query}")),
        None => Redirect::permanent(path),
    }
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(store): State<Store>) -> (StatusCode, &'static str) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

async fn metrics_text(
    State(metrics): State<Arc<Metrics>>,
    State(backlogs): State<Backlogs>,
) -> ([(HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render() + &backlogs.render(),
    )
}
