//! System readings: `/metrics` in Prometheus text format (public, like `/healthz`, and free of
//! tenant data) and the live stream's `system` topic.

use crate::support::{progress_event, TestServer};
use serde_json::json;
use signalbox::api::ServerFrame;
use std::time::Duration;

/// The value of an unlabelled series in a Prometheus text page.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_the_system_topic_report_what_the_server_does() {
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer::start_on(listener, data.path(), None, |config| {
        config.metrics_interval = Duration::from_millis(100);
    })
    .await;
    let mut socket = server.socket().await;
    socket
        .send(json!({ "op": "subscribe", "topic": "system" }))
        .await;
    assert!(matches!(
        socket.next().await,
        ServerFrame::Subscribed { topic: Some(t), .. } if t == "system"
    ));
    let ServerFrame::System(first) = socket.next().await else {
        panic!("a reading follows the subscription");
    };
    assert!(
        first.memory_total_bytes > 0 && first.memory_used_bytes > 0,
        "{first:?}"
    );
    assert!(first.memory_used_bytes <= first.memory_total_bytes);
    assert!(
        first.disk_total_bytes > 0 && first.disk_free_bytes <= first.disk_total_bytes,
        "{first:?}"
    );
    assert!((0.0..=100.0).contains(&first.cpu_percent), "{first:?}");

    let run = server.adhoc_run("busy").await;
    let events: Vec<_> = (1..=50).map(progress_event).collect();
    let (code, _) = server
        .post(&format!("/api/v1/runs/{run}/events"), &json!(events))
        .await;
    assert_eq!(code, 200);
    // The readings go on at the interval; one of the next shows this socket and the events.
    let mut seen = None;
    for _ in 0..50 {
        let ServerFrame::System(sample) = socket.next().await else {
            continue;
        };
        assert!(sample.at > first.at, "readings move on");
        if sample.events_per_second > 0.0 {
            seen = Some(sample);
            break;
        }
    }
    let sample = seen.expect("a reading counts the stored events");
    assert!(sample.clients >= 1, "this socket is a client: {sample:?}");

    let page = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let page = page.text().await.unwrap();
    // Process-wide counters (other tests' servers share them): at least what this one did.
    assert!(
        value(&page, "signalbox_events_stored_total").unwrap() >= 50.0,
        "{page}"
    );
    assert!(value(&page, "signalbox_memory_total_bytes").unwrap() > 0.0);
    assert!(value(&page, "signalbox_process_resident_memory_bytes").unwrap() > 0.0);
    assert!(value(&page, "signalbox_live_connections").is_some());
    assert!(
        page.lines()
            .any(|l| l.starts_with("signalbox_http_requests_total{")
                && l.contains("method=\"POST\"")
                && l.contains("status=\"2xx\"")),
        "{page}"
    );
    assert!(
        page.contains("# HELP signalbox_cpu_usage_percent"),
        "{page}"
    );
    assert!(!page.contains("busy"), "no run or tenant data");
    server.stop().await;
}
