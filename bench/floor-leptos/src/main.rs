//! Serves the floor page: rendered by `leptos_axum` as Palaver's is, its assets from `pkg/`
//! (with the brotli and gzip copies `build.sh` writes), the page compressed as Palaver's is.
//!
//!   floor-leptos --addr 127.0.0.1:3000 --site-root target/bench/floor-site

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use leptos::config::LeptosOptions;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

#[derive(Parser)]
#[command(
    name = "floor-leptos",
    about = "Serves the benchmark's minimal Leptos page"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The built site: `pkg/` with `floor.js`, `floor.wasm` and `floor.css` (named as
    /// cargo-leptos names Palaver's: leptos is compiled with `LEPTOS_OUTPUT_NAME` set, see
    /// `.cargo/config.toml`).
    #[arg(long, default_value = "target/bench/floor-site")]
    site_root: PathBuf,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _ = any_spawner::Executor::init_tokio();
    let options = LeptosOptions::builder()
        .output_name("floor")
        .site_root(args.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .build();
    let page = leptos_axum::render_app_to_stream_with_context(|| (), {
        let options = options.clone();
        move || floor_leptos::shell(options.clone())
    });
    let assets = ServeDir::new(args.site_root.join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    let app = Router::new()
        .route("/", get(page))
        .nest_service("/pkg", assets)
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(5)))
        .with_state(options);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    axum::serve(listener, app).await
}
