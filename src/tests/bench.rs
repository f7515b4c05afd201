//! The load generator against a real server at a low rate: every acknowledged event reaches
//! every subscriber of its run exactly once, in order. (Counts, not timings: those belong to
//! `signalbox bench suite`, not to a test on a shared machine.)

use crate::support::TestServer;
use signalbox::bench::fanout::{self, FanoutConfig};
use signalbox::bench::idle::{self, IdleConfig};
use signalbox::bench::target::Target;
use std::time::Duration;

fn target(server: &TestServer) -> Target {
    Target {
        addr: server.addr,
        pid: None,
    }
}

async fn fan_out(server: &TestServer, batch: usize) {
    let config = FanoutConfig {
        runs: 4,
        subscribers: 20,
        rate: 200,
        batch,
        duration: Duration::from_secs(2),
        max_in_flight: 64,
        drain: Duration::from_secs(20),
    };
    let report = fanout::run(&target(server), &config).await.unwrap();
    let posts = 200 * 2 / batch as u64;
    assert_eq!(report.posts_sent, posts, "{report:?}");
    assert_eq!(
        (report.posts_unsent, report.posts_failed),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(report.events_stored, posts * batch as u64, "{report:?}");
    // Five subscribers per run: each stored event is delivered five times.
    assert_eq!(report.deliveries, report.events_stored * 5, "{report:?}");
    assert_eq!(report.latency.count, report.deliveries, "{report:?}");
    assert_eq!(
        (report.lost, report.duplicated, report.reordered),
        (0, 0, 0),
        "{report:?}"
    );
    assert_eq!((report.resyncs, report.disconnected), (0, 0), "{report:?}");
    assert!(report.frames > 0 && report.frames <= report.deliveries);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_sees_every_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), None).await;
    fan_out(&server, 1).await;
    fan_out(&server, 10).await;

    let config = IdleConfig {
        connections: 60,
        runs: 3,
        concurrency: 16,
        settle: Duration::from_millis(100),
    };
    let report = idle::run(&target(&server), &config).await.unwrap();
    assert_eq!((report.connected, report.failed), (60, 0), "{report:?}");
    assert_eq!(
        report.live, 60,
        "every idle connection is subscribed: {report:?}"
    );
    server.stop().await;
}
