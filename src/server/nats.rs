//! NATS ingest (`--nats nats://host:4222`): progress published on NATS lands in runs exactly
//! as if it had been posted over HTTP.
//!
//! - `signalbox.<tenant>.events.<run>`: our own ingest body (one event or an array, with
//!   `step.log` batches), validated and stored as `POST /api/v1/runs/{run}/events` would.
//! - `tenant.<tenant>.job.<job>.progress`: the job-progress messages of other tools
//!   ([`job_progress`]).
//!
//! A message with a reply subject gets the answer the HTTP API would give (`{"run", "seqs"}`
//! or `{"error": {"message"}}`). Subscriptions are in a queue group, so several servers
//! sharing a NATS split the messages instead of each storing them. NATS being down, at start or
//! later, never stops the server: it logs one warning per outage and picks up again when NATS
//! returns (the client reconnects and resubscribes by itself). Whoever may publish on these
//! subjects may report to every tenant: NATS's own accounts and permissions guard them.

mod job_progress;
mod outage;

use super::ingest::parse_ingest_body;
use super::runs::{IngestItem, RunError};
use super::tenants::{Tenant, Tenants};
use crate::domain::{Graph, Seq};
use async_nats::{Client, ConnectOptions, Message};
use futures::StreamExt;
use job_progress::JobProgress;
use outage::{Notice, Outage};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Subscribed subjects (with the queue group that shares them between servers).
const EVENTS_SUBJECT: &str = "signalbox.*.events.>";
const JOB_SUBJECT: &str = "tenant.*.job.*.progress";
const QUEUE_GROUP: &str = "signalbox";
/// Longest pause between reconnection attempts: NATS coming back is noticed within it.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// Subscribes and ingests until `stopping`. Returns at once if `url` is malformed (logged).
pub async fn ingest(url: String, tenants: Arc<Tenants>, stopping: CancellationToken) {
    let outage = Arc::new(Mutex::new(Outage::default()));
    let report = Arc::clone(&outage);
    let target = url.clone();
    let options = ConnectOptions::new()
        .name("signalbox")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            (Duration::from_millis(100) * 2u32.saturating_pow(attempts.min(8) as u32))
                .min(MAX_RECONNECT_DELAY)
        })
        .event_callback(move |event| {
            let notice = report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .observe(&event);
            let url = target.clone();
            async move {
                match notice {
                    Some(Notice::Lost(why)) => tracing::warn!(
                        nats.url = %url,
                        reason = %why,
                        "NATS unreachable: NATS ingest paused until it is back (HTTP ingest goes on)"
                    ),
                    Some(Notice::Back) => tracing::info!(nats.url = %url, "NATS is back: NATS ingest resumed"),
                    Some(Notice::Up) => tracing::info!(nats.url = %url, "NATS connected: NATS ingest on"),
                    None => {}
                }
            }
        });
    let client = match options.connect(url.as_str()).await {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(nats.url = %url, %error, "NATS ingest off: bad NATS address");
            return;
        }
    };
    let (events, jobs) = match subscribe(&client).await {
        Ok(subscriptions) => subscriptions,
        Err(error) => {
            tracing::error!(nats.url = %url, %error, "NATS ingest off: cannot subscribe");
            return;
        }
    };
    let mut messages = futures::stream::select(events, jobs);
    loop {
        let message = tokio::select! {
            () = stopping.cancelled() => break,
            message = messages.next() => message,
        };
        let Some(message) = message else { break };
        handle(&client, &tenants, message).await;
    }
    drop(messages);
    if let Err(error) = client.drain().await {
        tracing::debug!(%error, "NATS drain on shutdown");
    }
}

async fn subscribe(
    client: &Client,
) -> Result<(async_nats::Subscriber, async_nats::Subscriber), async_nats::SubscribeError> {
    let events = client
        .queue_subscribe(EVENTS_SUBJECT, QUEUE_GROUP.to_owned())
        .await?;
    let jobs = client
        .queue_subscribe(JOB_SUBJECT, QUEUE_GROUP.to_owned())
        .await?;
    Ok((events, jobs))
}

/// Ingests one message (one at a time: a job's node seen twice in a row is added once) and
/// answers it when it asks.
async fn handle(client: &Client, tenants: &Tenants, message: Message) {
    let subject = message.subject.to_string();
    let outcome = match route(&subject) {
        Some(Route::Events { tenant, run }) => match tenants.get(tenant).await {
            Ok(tenant) => ingest_events(&tenant, run, &message.payload)
                .await
                .map(|seqs| (run.to_owned(), seqs)),
            Err(error) => Err(error.to_string()),
        },
        Some(Route::Job { tenant, job }) => match tenants.get(tenant).await {
            Ok(tenant) => report_job(&tenant, job, &message.payload)
                .await
                .map(|seqs| (job.to_owned(), seqs)),
            Err(error) => Err(error.to_string()),
        },
        None => Err(format!("no ingest on subject `{subject}`")),
    };
    let answer = match &outcome {
        Ok((run, seqs)) => json!({ "run": run, "seqs": seqs }),
        Err(problem) => {
            tracing::info!(nats.subject = %subject, %problem, "NATS message refused");
            json!({ "error": { "message": problem } })
        }
    };
    if let Some(reply) = message.reply {
        if let Err(error) = client.publish(reply, answer.to_string().into()).await {
            tracing::debug!(%error, "could not answer a NATS message");
        }
    }
}

/// Where a subject's message goes.
#[derive(Debug, PartialEq)]
enum Route<'s> {
    Events { tenant: &'s str, run: &'s str },
    Job { tenant: &'s str, job: &'s str },
}

fn route(subject: &str) -> Option<Route<'_>> {
    let parts: Vec<&str> = subject.splitn(4, '.').collect();
    match parts.as_slice() {
        ["signalbox", tenant, "events", run] => Some(Route::Events { tenant, run }),
        ["tenant", tenant, "job", rest] => {
            let job = rest.strip_suffix(".progress")?;
            (!job.contains('.')).then_some(Route::Job { tenant, job })
        }
        _ => None,
    }
}

async fn ingest_events(
    tenant: &Tenant,
    run: &str,
    payload: &[u8],
) -> Result<Vec<Option<Seq>>, String> {
    let items = parse_ingest_body(payload)?;
    tenant
        .runs
        .ingest(run, items)
        .await
        .map_err(|e| e.to_string())
}

/// A job-progress message: the run and the node's step are created on first sight.
async fn report_job(
    tenant: &Tenant,
    job: &str,
    payload: &[u8],
) -> Result<Vec<Option<Seq>>, String> {
    let progress = JobProgress::parse(payload)?;
    let snapshot = match tenant.runs.snapshot(job).await {
        Ok(snapshot) => snapshot,
        Err(RunError::UnknownRun(_)) => {
            let graph = Graph {
                steps: vec![progress.new_step(&Graph::default())],
            };
            super::commands::create_adhoc_run(tenant, Some(job.to_owned()), None, graph)
                .await
                .map_err(|e| e.to_string())?;
            tenant.runs.snapshot(job).await.map_err(|e| e.to_string())?
        }
        Err(error) => return Err(error.to_string()),
    };
    let record = tenant
        .runs
        .store()
        .run(job)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no run `{job}`"))?;
    let graph = snapshot.state.graph(&record.graph);
    let (step, added) = match progress.find_step(&graph) {
        Some(step) => (step.id.clone(), None),
        None => {
            let step = progress.new_step(&graph);
            (step.id.clone(), Some(step))
        }
    };
    let events = progress.events(&step, added, &snapshot.state)?;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    tenant
        .runs
        .ingest(job, events.into_iter().map(IngestItem::Event).collect())
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_route_to_runs_and_jobs() {
        assert_eq!(
            route("signalbox.acme.events.ci-4711.2"),
            Some(Route::Events {
                tenant: "acme",
                run: "ci-4711.2"
            })
        );
        assert_eq!(
            route("tenant.default.job.etl-7.progress"),
            Some(Route::Job {
                tenant: "default",
                job: "etl-7"
            })
        );
        assert_eq!(route("tenant.default.job.etl-7.status"), None);
        assert_eq!(route("signalbox.acme.other.x"), None);
    }
}
