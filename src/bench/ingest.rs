//! Ingest throughput: producers post batches of events back to back (closed loop) for a
//! while; every answered event is durably stored, so events/s is the stored rate.

use super::client::{self, create_run, post_events, progress_event};
use super::stats::{histogram, record, Percentiles};
use super::target::Target;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct IngestConfig {
    /// Events per request.
    pub batch: usize,
    /// Concurrent producers, each posting to a run of its own.
    pub producers: usize,
    pub duration: Duration,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct IngestReport {
    pub events: u64,
    pub requests: u64,
    pub failed: u64,
    pub events_per_s: f64,
    pub request_latency: Percentiles,
}

pub async fn run(
    target: &Target,
    config: &IngestConfig,
) -> Result<IngestReport, client::ClientError> {
    let http = client::http_client();
    let stamp = chrono::Utc::now().timestamp_micros();
    let step = vec![("s".to_owned(), Vec::new())];
    let mut runs = Vec::with_capacity(config.producers);
    for p in 0..config.producers {
        let id = format!("ingest-{stamp}-{p}");
        create_run(&http, target, &id, &step).await?;
        runs.push(id);
    }
    let latency = Arc::new(Mutex::new(histogram()));
    let began = Instant::now();
    let until = began + config.duration;
    let producers: Vec<_> = runs
        .into_iter()
        .map(|run| {
            let (http, target, latency) = (http.clone(), target.clone(), Arc::clone(&latency));
            let batch = config.batch;
            tokio::spawn(async move {
                let (mut events, mut requests, mut failed, mut counter) = (0u64, 0u64, 0u64, 0u64);
                while Instant::now() < until {
                    let body = format!(
                        "[{}]",
                        (0..batch)
                            .map(|k| progress_event("s", counter + k as u64, 0))
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    counter += batch as u64;
                    let sent = Instant::now();
                    match post_events(&http, &target, &run, body).await {
                        Ok(_) => {
                            events += batch as u64;
                            requests += 1;
                            let took = sent.elapsed().as_micros() as u64;
                            record(&mut latency.lock().unwrap(), took);
                        }
                        Err(e) => {
                            if failed == 0 {
                                eprintln!("bench: an ingest request failed: {e}");
                            }
                            failed += 1;
                        }
                    }
                }
                (events, requests, failed)
            })
        })
        .collect();
    let mut report = IngestReport::default();
    for producer in producers {
        let (events, requests, failed) = producer.await.unwrap_or((0, 0, 1));
        report.events += events;
        report.requests += requests;
        report.failed += failed;
    }
    let elapsed = began.elapsed().as_secs_f64();
    report.events_per_s = report.events as f64 / elapsed;
    report.request_latency = Percentiles::of(&latency.lock().unwrap());
    Ok(report)
}
