use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use palaver_server::{BackupConfig, Cli, Command, EmitConfig, backup, emit, run, work};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    match cli.command {
        None => {
            logging("info", false);
            let config = cli.serve;
            let listener = tokio::net::TcpListener::bind(config.addr).await?;
            run(listener, config, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Worker(config)) => {
            logging("info", false);
            match work(&config, shutdown_signal()).await {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "palaver worker: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Some(Command::Emit(config)) => {
            // Stdout is the JSON's alone.
            logging("warn", true);
            Ok(emit_once(&config).await)
        }
        Some(Command::Backup(config)) => {
            logging("warn", true);
            Ok(backup_once(&config).await)
        }
    }
}

fn logging(default: &str, to_stderr: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if to_stderr {
        logs.with_writer(std::io::stderr).init();
    } else {
        logs.init();
    }
}

/// `palaver emit`: what it did as JSON on stdout, or why not on stderr.
async fn emit_once(config: &EmitConfig) -> ExitCode {
    match emit(config).await {
        Ok(emitted) => {
            let json = serde_json::to_string(&emitted).unwrap_or_default();
            let _ = writeln!(std::io::stdout(), "{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "palaver emit: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `palaver backup`: what it made as JSON on stdout, or why not on stderr.
async fn backup_once(config: &BackupConfig) -> ExitCode {
    match backup(&config.database_url, &config.path).await {
        Ok(summary) => {
            let json = serde_json::to_string(&summary).unwrap_or_default();
            let _ = writeln!(std::io::stdout(), "{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "palaver backup: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
