//! The clap types of the two long-running commands that are not about one
//! lock: `locksmith serve` and `locksmith bench`.

use super::{ConnectOpts, FormatOpts, MetricsOpts, ProbeOpts};
use crate::bench::BenchOptions;
use crate::cli::values::{parse_duration, parse_lease, parse_phase};
use clap::Args;
use std::time::Duration;

/// Options of `locksmith serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// The address to listen on, IP:PORT (port 0: any free port). Loopback
    /// by default: to serve other hosts, put it behind a reverse proxy
    /// with authentication and TLS (see README).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
    /// Read the database at most once per this long: scrapes and page
    /// loads within it get the last read.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// How long one scrape may take (--timeout too bounds it): a database
    /// that does not answer in time shows as locksmith_up 0.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub scrape_timeout: Duration,
    #[command(flatten)]
    pub metrics: MetricsOpts,
    #[command(flatten)]
    pub probe: ProbeOpts,
}

/// Options of `locksmith bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How long each phase (INT ceiling, row ceiling, locks) runs in all;
    /// they alternate in four slices.
    #[arg(long, default_value = "3s", value_parser = parse_phase)]
    pub duration: Duration,
    /// Fill the scratch row with this many other locks first.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=2000))]
    pub held: u16,
    /// Register each worker as a holder with this lease, as `locks run`
    /// does (the registry's writes and heartbeats then count too).
    #[arg(long, value_name = "DURATION", value_parser = parse_lease)]
    pub lease: Option<Duration>,
    #[command(flatten)]
    pub format: FormatOpts,
}

impl BenchArgs {
    /// The ready form.
    pub fn options(&self) -> BenchOptions {
        BenchOptions {
            workers: usize::from(self.workers),
            duration: self.duration,
            held: usize::from(self.held),
            lease: self.lease,
        }
    }
}
