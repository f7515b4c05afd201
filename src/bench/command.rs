//! `signalbox bench …`: the command line of the load generator.

use super::fanout::{self, FanoutConfig};
use super::idle::{self, IdleConfig};
use super::ingest::{self, IngestConfig};
use super::render::{self, RenderConfig};
use super::suite::{self, Server, SuiteError};
use super::target::{wait_healthy, Target};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
    /// Measure the server already listening here instead of starting one per measurement.
    #[arg(long, global = true)]
    addr: Option<SocketAddr>,
    /// With --addr: the server's process id, for its CPU and memory readings.
    #[arg(long, global = true, requires = "addr")]
    pid: Option<u32>,
    /// Where started servers keep their (temporary) data; default: the system's temp dir.
    #[arg(long, global = true)]
    scratch: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Subscribers over runs, events at an open-loop rate: latency, loss, CPU per delivery.
    Fanout {
        #[arg(long, default_value_t = 100)]
        runs: usize,
        #[arg(long, default_value_t = 1_000)]
        subscribers: usize,
        /// Events per second, all runs together.
        #[arg(long, default_value_t = 5_000)]
        rate: u64,
        /// Events per POST.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Idle subscribed connections: memory per connection, connects per second.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Stored events per second with a batch size.
    Ingest {
        #[arg(long, default_value_t = 100)]
        batch: usize,
        #[arg(long, default_value_t = 16)]
        producers: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Server render time of a run page with this many steps.
    Render {
        #[arg(long, default_value_t = 500)]
        steps: usize,
        #[arg(long, default_value_t = 20)]
        requests: usize,
    },
    /// Everything, repeated; prints the README's table of medians.
    Suite {
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Seconds each fan-out scenario produces events.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Idle connections to hold (the open-files limit is 20,000 per process).
        #[arg(long, default_value_t = 19_000)]
        connections: usize,
    },
}

/// Runs the chosen scenario; `Ok(false)` when events were lost, duplicated or reordered.
pub async fn run(args: BenchArgs) -> Result<bool, SuiteError> {
    let server = match args.addr {
        Some(addr) => {
            let target = Target {
                addr,
                pid: args.pid,
            };
            wait_healthy(&target).await?;
            Server::At(target)
        }
        None => suite::spawning(&suite::this_binary()?, args.scratch),
    };
    match args.scenario {
        Scenario::Fanout {
            runs,
            subscribers,
            rate,
            batch,
            seconds,
        } => {
            let config = FanoutConfig {
                runs,
                subscribers,
                rate,
                batch: batch.max(1),
                duration: Duration::from_secs(seconds),
                max_in_flight: 512,
                drain: Duration::from_secs(30),
            };
            let (_guard, target) = server.start().await?;
            let report = fanout::run(&target, &config).await?;
            print(&report);
            Ok(report.lost + report.duplicated + report.reordered == 0)
        }
        Scenario::Idle { connections, runs } => {
            let config = IdleConfig {
                connections,
                runs,
                concurrency: 256,
                settle: Duration::from_secs(2),
            };
            let (_guard, target) = server.start().await?;
            let report = idle::run(&target, &config).await?;
            print(&report);
            Ok(report.live == report.connected)
        }
        Scenario::Ingest {
            batch,
            producers,
            seconds,
        } => {
            let config = IngestConfig {
                batch: batch.max(1),
                producers,
                duration: Duration::from_secs(seconds),
            };
            let (_guard, target) = server.start().await?;
            print(&ingest::run(&target, &config).await?);
            Ok(true)
        }
        Scenario::Render { steps, requests } => {
            let (_guard, target) = server.start().await?;
            print(&render::run(&target, &RenderConfig { steps, requests }).await?);
            Ok(true)
        }
        Scenario::Suite {
            repeat,
            seconds,
            connections,
        } => {
            let (table, faultless) =
                suite::run(&server, repeat.max(1), seconds, connections).await?;
            println!("{table}");
            Ok(faultless)
        }
    }
}

/// Prints a report as one line of JSON.
fn print(report: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(report).unwrap_or_default());
}
