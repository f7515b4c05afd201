//! Server-rendered pages: the graph is in the first HTML, before any WASM runs.

use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_the_graph_on_the_server() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let (code, home) = server.html("/").await;
    assert_eq!(code, 200);
    for id in ["deploy-web", "etl-orders", "build-matrix"] {
        assert!(
            home.contains(&format!("href=\"/pipelines/{id}\"")),
            "home links {id}"
        );
    }
    let (code, page) = server.html("/pipelines/build-matrix").await;
    assert_eq!(code, 200);
    assert!(page.contains("class=\"graph\""));
    assert_eq!(
        page.matches("class=\"node status-pending\"").count(),
        11,
        "every step drawn pending"
    );
    assert!(page.contains("data-from=\"checkout\" data-to=\"lint\""));
    assert!(page.contains("name=\"pipeline\""));

    let run = server.start_run("deploy-web").await;
    let (code, page) = server.html(&format!("/runs/{run}?step=cloning-repo")).await;
    assert_eq!(code, 200);
    assert!(page.contains("class=\"run-header\""));
    assert!(page.contains("data-step=\"starting-container\""));
    assert!(
        page.contains("class=\"node-panel\""),
        "the panel of ?step= is server-rendered"
    );

    let (code, _) = server.html("/runs/does-not-exist").await;
    assert_eq!(code, 404);
    let (code, _) = server.html("/no/such/page").await;
    assert_eq!(code, 404);
    server.stop().await;
}

#[test]
fn leptos_toml_agrees_with_cargo_toml_on_shared_site_options() {
    let cargo = leptos::config::get_config_from_str(include_str!("../../Cargo.toml")).unwrap();
    let site = leptos::config::get_config_from_str(include_str!("../../Leptos.toml")).unwrap();
    assert_eq!(cargo.output_name, site.output_name);
    assert_eq!(cargo.site_root, site.site_root);
    assert_eq!(cargo.site_pkg_dir, site.site_pkg_dir);
    assert_eq!(cargo.site_addr, site.site_addr);
    assert_eq!(cargo.hash_files, site.hash_files);
    // Leptos bakes this variable into the server; cargo's [env] must agree with cargo-leptos.
    let pinned = format!("LEPTOS_OUTPUT_NAME = \"{}\"", cargo.output_name);
    assert!(
        include_str!("../../.cargo/config.toml")
            .lines()
            .any(|l| l.trim() == pinned),
        "{pinned}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_answers_are_compressed_but_event_streams_are_not() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let encoding = |response: &reqwest::Response| {
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let page = server
        .http
        .get(server.url("/pipelines/build-matrix"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(encoding(&page).as_deref(), Some("br"));
    let gzip = server
        .http
        .get(server.url("/api/v1/pipelines"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(encoding(&gzip).as_deref(), Some("gzip"));
    let plain = server
        .http
        .get(server.url("/api/v1/pipelines"))
        .send()
        .await
        .unwrap();
    assert_eq!(encoding(&plain), None, "only when the client accepts it");

    let run = server.start_run("deploy-web").await;
    let stream = server
        .http
        .get(server.url(&format!("/api/v1/runs/{run}/events")))
        .header("accept", "text/event-stream")
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        encoding(&stream),
        None,
        "an event stream is never buffered by a compressor"
    );
    drop(stream);
    server.stop().await;
}
