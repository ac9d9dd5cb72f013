//! `palaver-bench`: the load generator and benchmark suite. See `BENCHMARKS.md`.

mod admin;
mod client;
mod cursor;
mod histogram;
mod probe;
mod raw;
mod recorder;
mod report;
mod scenario;
mod servers;
mod services;
mod slack_export;
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
    /// Runs the scenarios against the servers and prints the tables.
    Suite {
        /// The Palaver server binary (a release build).
        #[arg(long, env = "BENCH_PALAVER", default_value = "target/release/palaver")]
        palaver: PathBuf,
        /// The bare socketioxide server (`palaver-bare`, built with the generator).
        #[arg(
            long,
            env = "BENCH_BARE",
            default_value = "target/release/palaver-bare"
        )]
        bare: PathBuf,
        /// Extra environment for Palaver, `NAME=value`, repeatable: settings under test, such
        /// as a memory bound (pass the same bound to `--memory-bound-mib`).
        #[arg(long = "palaver-env", value_parser = parse_env)]
        palaver_env: Vec<(String, String)>,
        /// The memory bound Palaver was configured with, in MiB: the attacks' peak memory is
        /// held against it plus 64 MiB.
        #[arg(long)]
        memory_bound_mib: Option<u64>,
        /// A setting for the Postgres the suite starts, `NAME=value` (its `-c`), repeatable:
        /// a setting under test, such as `synchronous_commit=off`.
        #[arg(long = "postgres-conf", value_parser = parse_env)]
        postgres_conf: Vec<(String, String)>,
        /// The built minimal Leptos page (`bench/floor-leptos/build.sh`), to compare the front
        /// end with; without it (or when it is not a directory), those rows say "not built".
        #[arg(long)]
        floor_site: Option<PathBuf>,
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
        /// Only these scenarios: idle, fanout, latency, rooms, persist, cluster,
        /// persist-postgres, unpinned, frontend, reconnect, connstorm, attack (all four),
        /// attack-history, attack-polling, attack-idle, attack-slowloris, import,
        /// import-postgres, hooks-failing.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// The servers to measure (all by default; fewer while investigating). `bare` runs
        /// only where it has the events: idle, fanout, latency.
        #[arg(long, value_delimiter = ',', default_values = ["palaver", "node", "bare"])]
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

/// `NAME=value`.
fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected NAME=value, got {s:?}"))
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
                bare,
                palaver_env,
                memory_bound_mib,
                postgres_conf,
                floor_site,
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
                        "bare" => Some(servers::Kind::Bare),
                        _ => None,
                    })
                    .collect();
                let suite = suite::Suite {
                    bins: servers::Binaries {
                        palaver,
                        bare,
                        site_root,
                        node_dir,
                        floor_site: floor_site.filter(|d| d.is_dir()),
                        palaver_env,
                    },
                    plan: if quick {
                        suite::Plan::quick()
                    } else {
                        suite::Plan::full()
                    },
                    server_core,
                    only,
                    servers,
                    memory_bound_mib,
                    postgres_conf,
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
