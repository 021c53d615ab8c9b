//! Command-line definitions only; `main.rs` turns them into a validated configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "iosentinel",
    version,
    about = "Is the disk under this database delivering what was provisioned?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Configuration file [default: /etc/iosentinel/iosentinel.yaml if it exists, else built-in defaults]
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Root of the proc filesystem (tests and containers point it elsewhere)
    #[arg(long, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Root of the sys filesystem
    #[arg(long, default_value = "/sys")]
    pub sys_root: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print per-device I/O figures every interval, like `iostat -x`
    Status {
        #[command(flatten)]
        common: Common,
        /// Sampling interval (e.g. 1s, 500ms)
        #[arg(long, short = 'i', default_value = "1s", value_parser = parse_duration)]
        interval: Duration,
        /// Number of reports, then exit [default: until interrupted]
        #[arg(long, short = 'n')]
        count: Option<u64>,
        /// One JSON object per interval instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Validate a configuration file; exit 0 if valid, 1 with file:line:column: field: message if not
    CheckConfig { path: PathBuf },
    /// Run the daemon
    Run {
        #[command(flatten)]
        common: Common,
        /// Address for /metrics and /v1/health (overrides `listen:`)
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    match iosentinel::config::parse_duration(s) {
        Some(d) if d >= Duration::from_millis(100) => Ok(d),
        Some(_) => Err("the interval must be at least 100ms".into()),
        None => Err(format!("{s:?} is not a duration (e.g. 1s, 500ms, 2m)")),
    }
}
