use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

mod cli;
mod daemon;

use cli::{Cli, Command, Common};
use iosentinel::config::{self, Config};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("iosentinel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::CheckConfig { path } => match Config::load(&path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Status {
            common,
            interval,
            count,
            json,
        } => {
            let cfg = load_config(&common)?;
            daemon::status(&common, &cfg, interval, count, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { common, listen } => {
            let mut cfg = load_config(&common)?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            daemon::run(common, cfg)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An explicit `--config` must exist; the default path is used only if present, so a
/// fresh machine runs on built-in defaults.
fn load_config(common: &Common) -> Result<Config> {
    match &common.config {
        Some(p) => Ok(Config::load(p)?),
        None => {
            let p = config::default_path();
            if p.exists() {
                Config::load(&p)
                    .with_context(|| format!("loading the default configuration {}", p.display()))
            } else {
                Ok(Config::default())
            }
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("IOSENTINEL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
