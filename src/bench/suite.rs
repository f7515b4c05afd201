//! Every scenario, each against a fresh server, repeated; the medians as a Markdown table
//! (the README's performance table is this output).

use super::client::ClientError;
use super::fanout::{self, FanoutConfig, FanoutReport};
use super::idle::{self, IdleConfig, IdleReport};
use super::ingest::{self, IngestConfig, IngestReport};
use super::render::{self, RenderConfig, RenderReport};
use super::stats::median;
use super::target::{spawn, Spawned, Target, TargetError};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SuiteError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Where each measurement runs: a server started per measurement, or one given server.
pub enum Server {
    Spawn {
        exe: PathBuf,
        scratch: Option<PathBuf>,
    },
    At(Target),
}

impl Server {
    pub async fn start(&self) -> Result<(Option<Spawned>, Target), TargetError> {
        match self {
            Server::Spawn { exe, scratch } => {
                let spawned = spawn(exe, scratch.as_ref()).await?;
                let target = spawned.target.clone();
                Ok((Some(spawned), target))
            }
            Server::At(target) => Ok((None, target.clone())),
        }
    }
}

pub fn fanout_scenarios(seconds: u64) -> Vec<(&'static str, FanoutConfig)> {
    let config = |runs, subscribers, rate, batch| FanoutConfig {
        runs,
        subscribers,
        rate,
        batch,
        duration: Duration::from_secs(seconds),
        max_in_flight: 512,
        drain: Duration::from_secs(30),
    };
    vec![
        (
            "100 subscribers, 10 runs, 2,000 events/s, 1 per POST",
            config(10, 100, 2_000, 1),
        ),
        (
            "1,000 subscribers, 100 runs, 5,000 events/s, 1 per POST",
            config(100, 1_000, 5_000, 1),
        ),
        (
            "2,000 subscribers, 4 runs, 400 events/s, 1 per POST",
            config(4, 2_000, 400, 1),
        ),
        (
            "5,000 subscribers, 1 run, 500 events/s, 50 per POST",
            config(1, 5_000, 500, 50),
        ),
    ]
}

/// Measures `repeat` times, each against a fresh server, logging each report under `label`.
async fn repeated<R, Fut>(
    server: &Server,
    repeat: usize,
    label: &str,
    measure: impl Fn(Target) -> Fut,
) -> Result<Vec<R>, SuiteError>
where
    R: serde::Serialize,
    Fut: Future<Output = Result<R, ClientError>>,
{
    let mut reports = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let (_guard, target) = server.start().await?;
        let report = measure(target).await?;
        eprintln!(
            "{label}: {}",
            serde_json::to_string(&report).unwrap_or_default()
        );
        reports.push(report);
    }
    Ok(reports)
}

/// Runs everything `repeat` times; returns the table of medians and whether no event was
/// lost, duplicated or reordered.
pub async fn run(
    server: &Server,
    repeat: usize,
    seconds: u64,
    connections: usize,
) -> Result<(String, bool), SuiteError> {
    let mut faultless = true;
    let mut table = String::from(
        "| scenario | deliveries/s | frames/s | latency p50 / p99 / p99.9 | server CPU per delivery / per frame | lost / dup / reordered |\n|---|---|---|---|---|---|\n",
    );
    for (name, config) in fanout_scenarios(seconds) {
        let config = &config;
        let runs = repeated(server, repeat, name, |target| async move {
            fanout::run(&target, config).await
        })
        .await?;
        let m = |f: &dyn Fn(&FanoutReport) -> f64| median(runs.iter().map(f).collect());
        let faults: u64 = runs
            .iter()
            .map(|r| r.lost + r.duplicated + r.reordered)
            .sum();
        faultless &= faults == 0;
        table.push_str(&format!(
            "| {name} | {:.0} | {:.0} | {:.2} / {:.2} / {:.2} ms | {:.1} / {:.1} µs | {} |\n",
            m(&|r| r.deliveries_per_s),
            m(&|r| r.frames_per_s),
            m(&|r| r.latency.p50_ms),
            m(&|r| r.latency.p99_ms),
            m(&|r| r.latency.p999_ms),
            m(&|r| r.server_cpu_us_per_delivery.unwrap_or(f64::NAN)),
            m(&|r| r.server_cpu_us_per_frame.unwrap_or(f64::NAN)),
            if faults == 0 {
                "0 / 0 / 0".to_owned()
            } else {
                let sum = |f: &dyn Fn(&FanoutReport) -> u64| runs.iter().map(f).sum::<u64>();
                format!(
                    "{} / {} / {}",
                    sum(&|r| r.lost),
                    sum(&|r| r.duplicated),
                    sum(&|r| r.reordered)
                )
            },
        ));
    }
    table.push('\n');

    let idle_config = IdleConfig {
        connections,
        runs: 10,
        concurrency: 256,
        settle: Duration::from_secs(2),
    };
    let idle_config = &idle_config;
    let idles = repeated(server, repeat, "idle", |target| async move {
        idle::run(&target, idle_config).await
    })
    .await?;
    let m = |f: &dyn Fn(&IdleReport) -> f64| median(idles.iter().map(f).collect());
    table.push_str(&format!(
        "| idle subscribed connections | held and live | server RSS per connection | connects/s |\n|---|---|---|---|\n| {connections} | {:.0} / {:.0} | {:.1} KB | {:.0} |\n\n",
        m(&|r| r.connected as f64),
        m(&|r| r.live as f64),
        m(&|r| r.rss_kb_per_connection.unwrap_or(f64::NAN)),
        m(&|r| r.connects_per_s),
    ));

    table.push_str(
        "| ingest, events per request | events/s stored | request p50 / p99 |\n|---|---|---|\n",
    );
    for batch in [1, 100, 1_000] {
        let config = IngestConfig {
            batch,
            producers: 16,
            duration: Duration::from_secs(seconds.min(5)),
        };
        let config = &config;
        let label = format!("ingest {batch}");
        let reports = repeated(server, repeat, &label, |target| async move {
            ingest::run(&target, config).await
        })
        .await?;
        let m = |f: &dyn Fn(&IngestReport) -> f64| median(reports.iter().map(f).collect());
        table.push_str(&format!(
            "| {batch} | {:.0} | {:.2} / {:.2} ms |\n",
            m(&|r| r.events_per_s),
            m(&|r| r.request_latency.p50_ms),
            m(&|r| r.request_latency.p99_ms),
        ));
    }
    table.push('\n');

    table.push_str("| run page, steps | server render (median of 20) | HTML |\n|---|---|---|\n");
    for steps in [500, 2_000] {
        let config = RenderConfig {
            steps,
            requests: 20,
        };
        let config = &config;
        let label = format!("render {steps}");
        let reports = repeated(server, repeat, &label, |target| async move {
            render::run(&target, config).await
        })
        .await?;
        let m = |f: &dyn Fn(&RenderReport) -> f64| median(reports.iter().map(f).collect());
        table.push_str(&format!(
            "| {steps} | {:.1} ms | {:.0} KB |\n",
            m(&|r| r.median_ms),
            m(&|r| r.html_kb)
        ));
    }
    Ok((table, faultless))
}

/// The binary to start servers from: this one.
pub fn this_binary() -> Result<PathBuf, TargetError> {
    std::env::current_exe().map_err(|source| TargetError::Spawn {
        exe: "the running binary".into(),
        source,
    })
}

/// A fresh server from `exe` for one measurement.
pub fn spawning(exe: &Path, scratch: Option<PathBuf>) -> Server {
    Server::Spawn {
        exe: exe.to_path_buf(),
        scratch,
    }
}
