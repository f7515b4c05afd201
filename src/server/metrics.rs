//! `GET /metrics` in Prometheus text format (`metrics` + `metrics-exporter-prometheus`): HTTP
//! requests by method and status class with their durations, events stored, live connections,
//! and the system readings of [`super::system`].

use crate::api::SystemSample;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

/// The process's recorder: one, however many servers the process runs (the tests run several).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!("signalbox_http_requests_total", "HTTP requests answered");
    metrics::describe_histogram!(
        "signalbox_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to the response head"
    );
    metrics::describe_counter!(
        "signalbox_events_stored_total",
        "Events stored, all tenants"
    );
    metrics::describe_gauge!(
        "signalbox_live_connections",
        "Open WebSocket and SSE connections"
    );
    metrics::describe_gauge!(
        "signalbox_cpu_usage_percent",
        "CPU usage of the machine, 0-100"
    );
    metrics::describe_gauge!(
        "signalbox_memory_used_bytes",
        metrics::Unit::Bytes,
        "Memory in use on the machine"
    );
    metrics::describe_gauge!(
        "signalbox_memory_total_bytes",
        metrics::Unit::Bytes,
        "Memory of the machine"
    );
    metrics::describe_gauge!(
        "signalbox_disk_free_bytes",
        metrics::Unit::Bytes,
        "Free space of the data directory's disk"
    );
    metrics::describe_gauge!(
        "signalbox_disk_total_bytes",
        metrics::Unit::Bytes,
        "Size of the data directory's disk"
    );
    metrics::describe_gauge!(
        "signalbox_process_resident_memory_bytes",
        metrics::Unit::Bytes,
        "Resident memory of this server"
    );
}

/// `GET /metrics`
pub async fn render() -> Response {
    let handle = handle();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Counts every request and how long its answer took to start.
pub async fn count_requests(request: Request, next: Next) -> Response {
    handle();
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = format!("{}xx", response.status().as_u16() / 100);
    metrics::counter!("signalbox_http_requests_total", "method" => method.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!("signalbox_http_request_duration_seconds", "method" => method, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Exports a system reading (and the events counter) as gauges.
pub fn record_system(sample: &SystemSample, process_memory: u64) {
    handle();
    metrics::counter!("signalbox_events_stored_total")
        .absolute(super::system::EVENTS_STORED.load(Ordering::Relaxed));
    metrics::gauge!("signalbox_live_connections").set(sample.clients as f64);
    metrics::gauge!("signalbox_cpu_usage_percent").set(f64::from(sample.cpu_percent));
    metrics::gauge!("signalbox_memory_used_bytes").set(sample.memory_used_bytes as f64);
    metrics::gauge!("signalbox_memory_total_bytes").set(sample.memory_total_bytes as f64);
    metrics::gauge!("signalbox_disk_free_bytes").set(sample.disk_free_bytes as f64);
    metrics::gauge!("signalbox_disk_total_bytes").set(sample.disk_total_bytes as f64);
    metrics::gauge!("signalbox_process_resident_memory_bytes").set(process_memory as f64);
}
