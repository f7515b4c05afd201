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

/// A response header's value, if it has one.
fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    (response.headers().get(name)).map(|v| v.to_str().unwrap().to_owned())
}

/// GET `path` with these request headers.
async fn get_with(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let request = headers.iter().fold(
        server.http.get(server.url(path)),
        |request, (name, value)| request.header(*name, *value),
    );
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_answers_are_compressed_but_event_streams_are_not() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let encoding = |response: &reqwest::Response| header(response, "content-encoding");
    let page = get_with(
        &server,
        "/pipelines/build-matrix",
        &[("accept-encoding", "br, gzip")],
    )
    .await;
    assert_eq!(page.status(), 200);
    assert_eq!(encoding(&page).as_deref(), Some("br"));
    // What Chromium asks for: zstd, the quickest to compress, wins over brotli.
    let page = get_with(
        &server,
        "/pipelines/build-matrix",
        &[("accept-encoding", "gzip, deflate, br, zstd")],
    )
    .await;
    assert_eq!(encoding(&page).as_deref(), Some("zstd"));
    let body = page.bytes().await.unwrap();
    let html = zstd::decode_all(&body[..]).expect("a zstd body");
    assert!(String::from_utf8_lossy(&html).contains("build-matrix"));
    let gzip = get_with(&server, "/api/v1/pipelines", &[("accept-encoding", "gzip")]).await;
    assert_eq!(encoding(&gzip).as_deref(), Some("gzip"));
    let plain = get_with(&server, "/api/v1/pipelines", &[]).await;
    assert_eq!(encoding(&plain), None, "only when the client accepts it");

    let run = server.start_run("deploy-web").await;
    let stream = get_with(
        &server,
        &format!("/api/v1/runs/{run}/events"),
        &[
            ("accept", "text/event-stream"),
            ("accept-encoding", "gzip, br"),
        ],
    )
    .await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        encoding(&stream),
        None,
        "an event stream is never buffered by a compressor"
    );
    drop(stream);
    server.stop().await;
}

/// Removes the probe files even when an assertion fails.
struct Probe(Vec<std::path::PathBuf>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0
            .iter()
            .for_each(|path| drop(std::fs::remove_file(path)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_files_compressed_at_build_time_are_sent_as_stored() {
    let options = signalbox::server::config::site_options("127.0.0.1:0".parse().unwrap()).unwrap();
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    std::fs::create_dir_all(&pkg).unwrap();
    let name = format!("precompressed-probe-{}.js", std::process::id());
    let (plain, brotli) = (pkg.join(&name), pkg.join(format!("{name}.br")));
    let _probe = Probe(vec![plain.clone(), brotli.clone()]);
    std::fs::write(&plain, "console.log('plain');".repeat(50)).unwrap();
    // Not real brotli: only the file stored beside could answer with these bytes.
    std::fs::write(&brotli, b"stored brotli form").unwrap();

    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let path = format!("/{}/{name}", options.site_pkg_dir);
    let stored = get_with(&server, &path, &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.headers()["content-encoding"], "br");
    assert_eq!(stored.headers()["cache-control"], "no-cache");
    assert_eq!(&stored.bytes().await.unwrap()[..], b"stored brotli form");
    // No gzip form stored: compressed as it is sent.
    let compressed = get_with(&server, &path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_and_echoes_the_callers() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let id_of = |response: &reqwest::Response| header(response, "x-request-id");
    // Refused answers too: they are traced under their id like the others.
    let mut ids = Vec::new();
    for path in [
        "/",
        "/api/v1/pipelines",
        "/api/v1/runs/no-such-run",
        "/pkg/no-such-file",
    ] {
        let response = get_with(&server, path, &[]).await;
        let id = id_of(&response).unwrap_or_else(|| panic!("{path} has no x-request-id"));
        assert_eq!(id.len(), 36, "{path}: a UUID, got {id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each request its own id");
    let echoed = get_with(
        &server,
        "/api/v1/pipelines",
        &[("x-request-id", "caller-chosen-42")],
    )
    .await;
    assert_eq!(id_of(&echoed).as_deref(), Some("caller-chosen-42"));
    server.stop().await;
}

/// How many resources' data a page carries for hydration.
fn serialised_resources(page: &str) -> usize {
    page.matches("__RESOLVED_RESOURCES[").count()
}

/// The browser hydrates with the data of the resources it creates, matched by the order in
/// which they are created. A resource the server created twice (a component built inside a
/// view closure, which the server resolves in a dry run first) took a second id; the browser,
/// which creates it once, hydrated with the first copy's data, fetched before what the HTML
/// shows, and a step that logged or a run that started in between killed hydration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_resource_of_a_page_is_loaded_and_serialised_once() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let run = server.start_run("deploy-web").await;
    let pages = [
        // The user menu's access, the pipelines, the runs table.
        ("/".to_owned(), 3),
        ("/?status=running".to_owned(), 3),
        // The user menu's access, the pipeline, its runs table.
        ("/pipelines/deploy-web".to_owned(), 3),
        // The user menu's access, the run, the panel's first log lines and earlier durations.
        (format!("/runs/{run}"), 4),
        (format!("/runs/{run}?step=cloning-repo"), 4),
    ];
    for (path, resources) in pages {
        let (code, page) = server.html(&path).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(serialised_resources(&page), resources, "{path}");
    }
    server.stop().await;
}
