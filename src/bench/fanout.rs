//! Fan-out: many WebSocket subscribers over many runs, events produced over HTTP at a fixed
//! open-loop rate. Each event's latency runs from its *scheduled* send time to its arrival at
//! a subscriber, so a server that falls behind cannot hide the queue it builds up.

use super::client::{self, create_run, post_events, progress_event, scan_events, Socket};
use super::procfs;
use super::stats::{histogram, record, Percentiles};
use super::target::Target;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug, Serialize)]
pub struct FanoutConfig {
    pub runs: usize,
    pub subscribers: usize,
    /// Events per second, all runs together.
    pub rate: u64,
    /// Events per POST.
    pub batch: usize,
    pub duration: Duration,
    /// POSTs in flight at most; a send that must wait for a slot is late, and its lateness
    /// counts in the latency.
    pub max_in_flight: usize,
    /// How long subscribers may take, after the last answer, to receive everything.
    pub drain: Duration,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FanoutReport {
    pub events_stored: u64,
    pub posts_sent: u64,
    /// POSTs never sent: the producer was more than one duration behind its schedule.
    pub posts_unsent: u64,
    pub posts_failed: u64,
    pub deliveries: u64,
    pub frames: u64,
    pub deliveries_per_s: f64,
    pub frames_per_s: f64,
    /// Producer-to-subscriber latency of every delivery.
    pub latency: Percentiles,
    /// Scheduled send to ingest answer, per POST.
    pub post_latency: Percentiles,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Snapshots received after subscribing (the server resynced a lagging subscriber).
    pub resyncs: u64,
    /// Subscribers whose connection ended before the end.
    pub disconnected: u64,
    pub server_cpu_us_per_delivery: Option<f64>,
    pub server_cpu_us_per_frame: Option<f64>,
    /// Share of one core the server used while events flowed.
    pub server_cores: Option<f64>,
    pub server_rss_mb: Option<f64>,
}

/// What one subscriber saw.
struct Seen {
    deliveries: u64,
    frames: u64,
    in_order: u64,
    duplicated: u64,
    reordered: u64,
    resyncs: u64,
    disconnected: bool,
    latency: Histogram<u64>,
}

struct Shared {
    origin: Instant,
    /// Highest acknowledged seq per run, final once `produced` is set.
    acked: Vec<AtomicU64>,
    produced: AtomicBool,
    deadline: Mutex<Option<Instant>>,
}

fn run_ids(config: &FanoutConfig) -> Vec<String> {
    let stamp = chrono::Utc::now().timestamp_micros();
    (0..config.runs)
        .map(|i| format!("bench-{stamp}-{i}"))
        .collect()
}

pub async fn run(
    target: &Target,
    config: &FanoutConfig,
) -> Result<FanoutReport, client::ClientError> {
    let http = client::http_client();
    let runs = run_ids(config);
    let step = vec![("s".to_owned(), Vec::new())];
    for id in &runs {
        create_run(&http, target, id, &step).await?;
    }
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        acked: runs.iter().map(|_| AtomicU64::new(0)).collect(),
        produced: AtomicBool::new(false),
        deadline: Mutex::new(None),
    });
    let sockets = client::open_subscribers(
        target,
        &runs,
        config.subscribers,
        256,
        Duration::from_secs(30),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|(socket, run, start)| tokio::spawn(read(socket, run, start, Arc::clone(&shared))))
        .collect();

    let before = target.pid.and_then(procfs::usage);
    let began = Instant::now();
    let production = produce(&http, target, &runs, config, &shared).await;
    for (run, acked) in production.acked.iter().enumerate() {
        shared.acked[run].store(*acked, Ordering::SeqCst);
    }
    *shared.deadline.lock().unwrap() = Some(Instant::now() + config.drain);
    shared.produced.store(true, Ordering::SeqCst);

    let mut report = FanoutReport {
        events_stored: production.stored,
        posts_sent: production.sent,
        posts_unsent: production.unsent,
        posts_failed: production.failed,
        post_latency: Percentiles::of(&production.latency),
        ..FanoutReport::default()
    };
    let mut latency = histogram();
    for reader in readers {
        let Ok((run, start_seq, seen)) = reader.await else {
            report.disconnected += 1;
            continue;
        };
        report.deliveries += seen.deliveries;
        report.frames += seen.frames;
        report.duplicated += seen.duplicated;
        report.reordered += seen.reordered;
        report.resyncs += seen.resyncs;
        report.disconnected += u64::from(seen.disconnected);
        report.lost += production.acked[run]
            .saturating_sub(start_seq)
            .saturating_sub(seen.in_order);
        latency.add(&seen.latency).expect("same bounds");
    }
    let elapsed = began.elapsed().as_secs_f64();
    let after = target.pid.and_then(procfs::usage);
    report.latency = Percentiles::of(&latency);
    report.deliveries_per_s = report.deliveries as f64 / elapsed;
    report.frames_per_s = report.frames as f64 / elapsed;
    if let (Some(before), Some(after)) = (before, after) {
        let cpu_us = (after.cpu - before.cpu).as_secs_f64() * 1e6;
        report.server_cores = Some(cpu_us / 1e6 / elapsed);
        report.server_rss_mb = Some(after.rss_bytes as f64 / 1e6);
        if report.deliveries > 0 {
            report.server_cpu_us_per_delivery = Some(cpu_us / report.deliveries as f64);
            report.server_cpu_us_per_frame = Some(cpu_us / report.frames.max(1) as f64);
        }
    }
    Ok(report)
}

/// Reads one subscriber's frames until it has every acknowledged event of its run, or the
/// drain deadline passes.
async fn read(
    mut socket: Socket,
    run: usize,
    start: u64,
    shared: Arc<Shared>,
) -> (usize, u64, Seen) {
    let mut seen = Seen {
        deliveries: 0,
        frames: 0,
        in_order: 0,
        duplicated: 0,
        reordered: 0,
        resyncs: 0,
        disconnected: false,
        latency: histogram(),
    };
    let mut last = start;
    loop {
        if shared.produced.load(Ordering::SeqCst) {
            let target = shared.acked[run].load(Ordering::SeqCst);
            let late = shared
                .deadline
                .lock()
                .unwrap()
                .is_some_and(|d| Instant::now() > d);
            if last >= target || late {
                break;
            }
        }
        let message = match tokio::time::timeout(Duration::from_millis(100), socket.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(message))) => message,
            Ok(_) => {
                seen.disconnected = true;
                break;
            }
        };
        let Message::Text(text) = message else {
            continue;
        };
        let now_us = shared.origin.elapsed().as_micros() as u64;
        let Some(events) = scan_events(text.as_str()) else {
            if text.as_str().starts_with(r#"{"type":"snapshot""#) {
                seen.resyncs += 1;
                if let Some(seq) = serde_json::from_str::<serde_json::Value>(text.as_str())
                    .ok()
                    .and_then(|v| v["seq"].as_u64())
                {
                    last = last.max(seq);
                }
            }
            continue;
        };
        seen.frames += 1;
        for event in events {
            seen.deliveries += 1;
            if event.seq <= last {
                seen.duplicated += 1;
                continue;
            }
            if event.seq == last + 1 {
                seen.in_order += 1;
            } else {
                seen.reordered += 1;
            }
            last = event.seq;
            if let Some((_, scheduled_us)) = event.mark {
                record(&mut seen.latency, now_us.saturating_sub(scheduled_us));
            }
        }
    }
    let _ = socket.close(None).await;
    (run, start, seen)
}

struct Production {
    sent: u64,
    unsent: u64,
    failed: u64,
    stored: u64,
    acked: Vec<u64>,
    latency: Histogram<u64>,
}

/// Sends POSTs on schedule: POST `i` is due at `i × batch / rate` seconds, to run `i mod runs`.
async fn produce(
    http: &reqwest::Client,
    target: &Target,
    runs: &[String],
    config: &FanoutConfig,
    shared: &Arc<Shared>,
) -> Production {
    let posts = (config.rate as f64 * config.duration.as_secs_f64() / config.batch as f64) as u64;
    let every = Duration::from_secs_f64(config.batch as f64 / config.rate as f64);
    let slots = Arc::new(Semaphore::new(config.max_in_flight));
    let acked: Arc<Vec<AtomicU64>> = Arc::new(runs.iter().map(|_| AtomicU64::new(0)).collect());
    let outcome = Arc::new(Mutex::new((0u64, 0u64, histogram())));
    let start = tokio::time::Instant::now();
    let give_up = start + config.duration * 2;
    let mut sent = 0;
    let mut unsent = 0;
    for i in 0..posts {
        let due = start + every.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let Ok(slot) = tokio::time::timeout_at(give_up, Arc::clone(&slots).acquire_owned()).await
        else {
            unsent = posts - i;
            break;
        };
        let slot = slot.expect("never closed");
        let run = (i as usize) % runs.len();
        let round = i / runs.len() as u64;
        let scheduled_us = (due.into_std() - shared.origin).as_micros() as u64;
        let events: Vec<String> = (0..config.batch as u64)
            .map(|k| progress_event("s", round * config.batch as u64 + k, scheduled_us))
            .collect();
        let body = format!("[{}]", events.join(","));
        let (http, target, id) = (http.clone(), target.clone(), runs[run].clone());
        let (acked, outcome) = (Arc::clone(&acked), Arc::clone(&outcome));
        let batch = config.batch as u64;
        sent += 1;
        tokio::spawn(async move {
            let answer = post_events(&http, &target, &id, body).await;
            let took = due.elapsed().as_micros() as u64;
            let mut outcome = outcome.lock().unwrap();
            match answer {
                Ok(seq) => {
                    acked[run].fetch_max(seq, Ordering::SeqCst);
                    outcome.0 += batch;
                    record(&mut outcome.2, took);
                }
                Err(e) => {
                    if outcome.1 == 0 {
                        eprintln!("bench: a POST failed: {e}");
                    }
                    outcome.1 += 1;
                }
            }
            drop(slot);
        });
    }
    // Every POST answered (or timed out in the client).
    let _ = slots.acquire_many(config.max_in_flight as u32).await;
    let (stored, failed, latency) =
        std::mem::replace(&mut *outcome.lock().unwrap(), (0, 0, histogram()));
    Production {
        sent,
        unsent,
        failed,
        stored,
        acked: acked.iter().map(|a| a.load(Ordering::SeqCst)).collect(),
        latency,
    }
}
