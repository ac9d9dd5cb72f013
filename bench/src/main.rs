//! `palaver-bench`: the load generator and benchmark suite. See `BENCHMARKS.md`.

mod client;
mod histogram;
mod probe;
mod recorder;
mod report;
mod scenario;
mod servers;
mod suite;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "palaver-bench",
    about = "Palaver against the Node Socket.IO reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the scenarios against both servers and prints the table.
    Suite {
        /// The Palaver server binary (a release build).
        #[arg(long, default_value = "target/release/palaver")]
        palaver: PathBuf,
        /// The built site (for the page and its assets).
        #[arg(long, default_value = "target/site")]
        site_root: PathBuf,
        /// The Node reference (`server.mjs`, `frontend.mjs`, with its node_modules).
        #[arg(long, default_value = "bench/node")]
        node_dir: PathBuf,
        /// The core to pin the servers to; the generator should run on another.
        #[arg(long, default_value_t = 0)]
        server_core: usize,
        /// A small run of everything, to check that the suite works.
        #[arg(long)]
        quick: bool,
        /// Only these scenarios: idle, fanout, latency, rooms, persist, unpinned, frontend.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// The servers to measure (both by default; one while investigating).
        #[arg(long, value_delimiter = ',', default_values = ["palaver", "node"])]
        servers: Vec<String>,
        /// Also write the table here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Holds idle connections for the idle-memory scenario (started by `suite`).
    Hold {
        #[arg(long)]
        server: SocketAddr,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 0)]
        first: usize,
        #[arg(long)]
        prefix: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the generator has one core, and a single-threaded runtime spends it best.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("palaver-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Suite {
                palaver,
                site_root,
                node_dir,
                server_core,
                quick,
                only,
                servers,
                out,
            } => {
                let servers = servers
                    .iter()
                    .filter_map(|s| match s.as_str() {
                        "palaver" => Some(servers::Kind::Palaver),
                        "node" => Some(servers::Kind::Node),
                        _ => None,
                    })
                    .collect();
                let suite = suite::Suite {
                    bins: servers::Binaries {
                        palaver,
                        site_root,
                        node_dir,
                    },
                    plan: if quick {
                        suite::Plan::quick()
                    } else {
                        suite::Plan::full()
                    },
                    server_core,
                    only,
                    servers,
                };
                let (table, ok) = suite.run().await;
                println!("{table}");
                if let Some(out) = out
                    && let Err(e) = std::fs::write(&out, &table)
                {
                    eprintln!("palaver-bench: writing {}: {e}", out.display());
                    return ExitCode::FAILURE;
                }
                if ok {
                    ExitCode::SUCCESS
                } else {
                    eprintln!(
                        "palaver-bench: some scenarios failed or lost deliveries (see above)"
                    );
                    ExitCode::FAILURE
                }
            }
            Command::Hold {
                server,
                count,
                first,
                prefix,
            } => match scenario::idle::hold(server, first, count, &prefix).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    println!("failed {e}");
                    ExitCode::FAILURE
                }
            },
        }
    })
}
