//! `GET /metrics` in Prometheus text format (`metrics` + `metrics-exporter-prometheus`): HTTP
//! requests by method and status class with their durations, events stored, live connections,
//! and the system readings of [`super::system`].

use crate::api::SystemSample;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
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
    let method = method_label(request.method());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = status_label(response.status());
    metrics::counter!("signalbox_http_requests_total", "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("signalbox_http_request_duration_seconds", "method" => method, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: the standard ones by name, anything else as `OTHER`. Static
/// strings cost no allocation per request, and a client inventing methods cannot make the
/// exporter keep a series for each one.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The status class as a label (`2xx`, …).
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_few_whatever_the_client_sends() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let invented = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&invented), "OTHER");
        assert_eq!(status_label(StatusCode::CREATED), "2xx");
        assert_eq!(status_label(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_label(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }
}
