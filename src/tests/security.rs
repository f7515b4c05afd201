//! Cross-site requests are refused (mutations and live-stream handshakes from another origin,
//! simple content types on the API, DNS-rebinding host names), and text any producer controls
//! is escaped everywhere in the server-rendered page.

use crate::support::TestServer;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const EVIL: &str = "https://evil.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sites_can_neither_change_nor_watch_anything() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let start = r#"{"pipeline":"deploy-web"}"#;

    // A page's `fetch(…, {mode: 'no-cors', body})` sends text/plain: no preflight, so refused.
    let plain = server
        .http
        .post(server.url("/api/v1/runs"))
        .header("content-type", "text/plain")
        .header("origin", EVIL)
        .body(start)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 403);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let form = server
        .http
        .post(server.url("/api/v1/runs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(start)
        .send()
        .await
        .unwrap();
    assert_eq!(
        form.status(),
        415,
        "a simple content type, even without Origin"
    );
    for (origin, fetch_site) in [
        (Some(EVIL), None),
        (None, Some("cross-site")),
        (Some("null"), None),
    ] {
        let mut request = server
            .http
            .post(server.url("/api/v1/runs"))
            .header("content-type", "application/json")
            .body(start);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            403,
            "{origin:?} {fetch_site:?}"
        );
    }
    // A server function (what the UI's forms post) from another site.
    let action = server
        .http
        .post(server.url("/fn/start_run"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", EVIL)
        .body("pipeline=deploy-web")
        .send()
        .await
        .unwrap();
    assert_eq!(action.status(), 403);
    let (_, runs) = server.get("/api/v1/runs").await;
    assert_eq!(runs, json!([]), "nothing was started");

    // The same requests from the server's own pages, and from programs, work.
    let own = server
        .http
        .post(server.url("/api/v1/runs"))
        .header("content-type", "application/json")
        .header("origin", format!("http://{}", server.addr))
        .header("sec-fetch-site", "same-origin")
        .body(start)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    let run = server.adhoc_run("watched").await;

    // Live streams from another origin.
    let mut request = format!("ws://{}/api/v1/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", EVIL.parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403),
        "{refused:?}"
    );
    let mut request = format!("ws://{}/api/v1/ws", server.addr)
        .into_client_request()
        .unwrap();
    let own = format!("http://{}", server.addr);
    request.headers_mut().insert("origin", own.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    let sse = server
        .http
        .get(server.url(&format!("/api/v1/runs/{run}/events")))
        .header("accept", "text/event-stream")
        .header("origin", EVIL)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 403);

    // A DNS-rebinding page reaches the loopback server under its own host name.
    let rebinding = server
        .http
        .get(server.url("/api/v1/runs"))
        .header("host", format!("evil.example:{}", server.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_messages_and_log_lines_render_as_text() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let body = json!({
        "id": "hostile",
        "name": "</title><img src=x onerror=alert(1)>",
        "steps": [{ "id": "a", "name": "<script>alert(2)</script>", "kind": "\"><svg onload=alert(3)>" }]
    });
    let (status, answer) = server.post("/api/v1/runs", &body).await;
    assert_eq!(status, 201, "{answer}");
    let events = json!([
        { "type": "step.progress", "step": "a", "progress": 10, "message": "<img src=y onerror=alert(4)>" },
        { "type": "step.warning", "step": "a", "message": "<iframe src=javascript:alert(5)>" },
        { "type": "step.log", "step": "a", "lines": ["<b onmouseover=alert(6)>bold</b>"] }
    ]);
    let (status, answer) = server.post("/api/v1/runs/hostile/events", &events).await;
    assert_eq!(status, 200, "{answer}");
    let (status, page) = server.html("/runs/hostile?step=a").await;
    assert_eq!(status, 200);
    for raw in [
        "<img src=x",
        "<script>alert(2)",
        "<svg onload",
        "<img src=y",
        "<iframe src=javascript",
        "<b onmouseover",
    ] {
        assert!(!page.contains(raw), "`{raw}` is in the page unescaped");
    }
    assert!(
        page.contains(
            "<title>&lt;/title&gt;&lt;img src=x onerror=alert(1)&gt; · hostile · Signalbox</title>"
        ),
        "the title is escaped"
    );
    assert!(
        page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "step names are text"
    );
    assert!(
        page.contains("&lt;img src=y onerror=alert(4)&gt;"),
        "messages are text"
    );
    assert!(
        page.contains("&lt;b onmouseover=alert(6)&gt;bold&lt;/b&gt;"),
        "log lines are text"
    );
    server.stop().await;
}

/// Big graphs arrive as static markup, and wide fan-outs as one node named after their
/// members: both built from producer-chosen names, both text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_in_big_graphs_and_fan_outs_render_as_text() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), None).await;
    let shards: Vec<String> = (0..30).map(|i| format!("shard-{i}")).collect();
    let mut steps = vec![json!({ "id": "split", "name": "<script>alert(7)</script>" })];
    steps.extend(shards.iter().enumerate().map(|(i, id)| {
        json!({ "id": id, "name": format!("<img src=z onerror=alert(8)>-{i}"), "needs": ["split"] })
    }));
    steps.push(json!({ "id": "merge", "name": "\"><svg onload=alert(9)>", "needs": shards }));
    // The whole graph is in a <noscript>, text to a browser with JavaScript up to its end tag.
    steps.push(json!({ "id": "late", "name": "</noscript><img src=q onerror=alert(10)>" }));
    steps.extend((0..300).map(|i| json!({ "id": format!("other-{i}") })));
    let body = json!({ "id": "hostile-big", "name": "big", "steps": steps });
    let (status, answer) = server.post("/api/v1/runs", &body).await;
    assert_eq!(status, 201, "{answer}");
    let (status, page) = server.html("/runs/hostile-big").await;
    assert_eq!(status, 200);
    assert!(page.contains("data-static"), "a big graph is static markup");
    assert!(
        page.contains("data-step=\"fan-out:shard-0\""),
        "the fan-out is one node"
    );
    for raw in [
        "<script>alert(7)",
        "<img src=z",
        "<svg onload",
        "</noscript><img",
    ] {
        assert!(!page.contains(raw), "`{raw}` is in the page unescaped");
    }
    assert!(page.contains("&lt;script&gt;alert"), "step names are text");
    assert!(page.contains("&lt;img src=z"), "the fan-out's name is text");
    server.stop().await;
}
