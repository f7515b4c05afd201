//! Tenants are isolated on every path: the same run id lives separately in two tenants, and
//! another tenant's run, even named exactly, is a 404 carrying none of its data over the API,
//! server functions, pages, the WebSocket (runs, the `runs` topic) and SSE; pipelines, tokens
//! and the audit trail are per tenant too.

use crate::auth_matrix::{token, SECRET};
use crate::support::{pipelines, Socket, TestServer};
use serde_json::{json, Value};
use signalbox::api::functions::{CancelRun, LoadRun, LoadRuns, StepLogs};
use signalbox::api::ServerFrame;
use signalbox::server::auth::Role;

const SECRET_TEXT: &str = "ACME-CONFIDENTIAL";

/// A server function's URL.
fn fn_path<F: leptos::server_fn::ServerFn>() -> String {
    F::PATH.to_owned()
}

struct Caller<'a> {
    server: &'a TestServer,
    token: String,
}

impl Caller<'_> {
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let url = self.server.url(path);
        let mut request = match method {
            "GET" => self.server.http.get(url),
            _ => self.server.http.post(url),
        }
        .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_data_is_unreachable_on_every_path() {
    let data = tempfile::tempdir().unwrap();
    let dir = pipelines(&[]);
    std::fs::create_dir_all(dir.path().join("tenants/acme")).unwrap();
    std::fs::write(
        dir.path().join("tenants/acme/ledger.toml"),
        "id = \"ledger\"\nname = \"Ledger close\"\n[[steps]]\nid = \"close\"\n",
    )
    .unwrap();
    let server = TestServer::start_with(data.path(), Some(dir.path().to_path_buf()), |c| {
        c.security.secret = Some(SECRET.to_owned());
    })
    .await;
    let home = Caller {
        server: &server,
        token: token(Role::Admin, |_| {}),
    };
    let acme = Caller {
        server: &server,
        token: token(Role::Admin, |c| c.tenant = "acme".into()),
    };

    // The same id in both tenants: two runs, no collision.
    let (status, _) = home
        .send(
            "POST",
            "/api/v1/runs",
            Some(json!({"id": "ci-1", "steps": [{"id": "build"}]})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = acme
        .send(
            "POST",
            "/api/v1/runs",
            Some(json!({"id": "ci-1", "steps": [{"id": "vault"}]})),
        )
        .await;
    assert_eq!(status, 201, "the id is free in another tenant");
    let (_, mine) = home.send("GET", "/api/v1/runs/ci-1", None).await;
    assert!(
        mine.contains("\"build\"") && !mine.contains("vault"),
        "{mine}"
    );

    // A home subscriber of the runs topic, to prove acme's activity never reaches it.
    let bearer = format!("Bearer {}", home.token);
    let mut topic = Socket::connect_with(server.addr, ("authorization", &bearer))
        .await
        .unwrap();
    topic
        .send(json!({"op": "subscribe", "topic": "runs"}))
        .await;
    loop {
        match topic.next().await {
            ServerFrame::Subscribed { .. } => break,
            ServerFrame::Runs { runs } => assert!(runs.iter().all(|r| r.id == "ci-1")),
            other => panic!("unexpected {other:?}"),
        }
    }

    let (status, _) = acme
        .send(
            "POST",
            "/api/v1/runs",
            Some(json!({"id": "acme-only", "name": SECRET_TEXT, "steps": [{"id": "vault"}]})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = acme
        .send(
            "POST",
            "/api/v1/runs/acme-only/events",
            Some(json!([
                {"type": "step.progress", "step": "vault", "progress": 10, "message": SECRET_TEXT},
                {"type": "step.log", "step": "vault", "lines": [SECRET_TEXT]}
            ])),
        )
        .await;
    assert_eq!(status, 200);

    for (method, path, body) in [
        ("GET", "/api/v1/runs/acme-only", None),
        ("GET", "/api/v1/runs/acme-only/events", None),
        ("GET", "/api/v1/runs/acme-only/steps/vault/logs", None),
        ("POST", "/api/v1/runs/acme-only/cancel", None),
        (
            "POST",
            "/api/v1/runs/acme-only/events",
            Some(json!({"type": "step.progress", "step": "vault", "progress": 99})),
        ),
        ("GET", "/runs/acme-only", None),
        ("GET", "/runs/acme-only?step=vault", None),
    ] {
        let (status, body) = home.send(method, path, body).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(!body.contains(SECRET_TEXT), "{method} {path} leaks: {body}");
    }
    for path in ["/api/v1/runs", "/"] {
        let (status, body) = home.send("GET", path, None).await;
        assert_eq!(status, 200);
        assert!(
            !body.contains("acme-only") && !body.contains(SECRET_TEXT),
            "{path}: {body}"
        );
    }
    // Server functions, as the pages call them (forms).
    for (path, form) in [
        (fn_path::<LoadRun>(), "id=acme-only"),
        (
            fn_path::<StepLogs>(),
            "run=acme-only&step=vault&after=0&limit=100",
        ),
        (fn_path::<CancelRun>(), "run=acme-only"),
        (fn_path::<LoadRuns>(), ""),
    ] {
        let response = server
            .http
            .post(server.url(&path))
            .bearer_auth(&home.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains(SECRET_TEXT) && !body.contains("acme-only\""),
            "{path} leaks: {body}"
        );
    }
    let sse = server
        .http
        .get(server.url("/api/v1/runs/acme-only/events"))
        .header("accept", "text/event-stream")
        .bearer_auth(&home.token)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 404);
    let mut socket = Socket::connect_with(server.addr, ("authorization", &bearer))
        .await
        .unwrap();
    socket
        .send(json!({"op": "subscribe", "run": "acme-only"}))
        .await;
    match socket.next().await {
        ServerFrame::Error { code, message } => {
            assert_eq!(code, "unknown_run");
            assert!(!message.contains(SECRET_TEXT));
        }
        other => panic!("expected unknown_run, got {other:?}"),
    }
    socket
        .send(json!({"op": "subscribe", "run": "acme-only", "step": "vault", "logs_after": 0}))
        .await;
    assert!(matches!(socket.next().await, ServerFrame::Error { .. }));
    // The topic subscriber's first run frame is its own tenant's next run, never acme's.
    let (status, _) = home
        .send(
            "POST",
            "/api/v1/runs",
            Some(json!({"id": "home-2", "steps": [{"id": "a"}]})),
        )
        .await;
    assert_eq!(status, 201);
    loop {
        match topic.next().await {
            ServerFrame::Run { run } => {
                assert_eq!(
                    run.id, "home-2",
                    "acme's runs never reach another tenant's topic"
                );
                break;
            }
            ServerFrame::Runs { runs } => {
                assert!(runs.iter().all(|r| r.id != "acme-only"), "{runs:?}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // Pipelines are per tenant: acme has its own directory's and no demos.
    let (_, acme_pipelines) = acme.send("GET", "/api/v1/pipelines", None).await;
    let ids: Vec<String> = serde_json::from_str::<Vec<Value>>(&acme_pipelines)
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["ledger"]);
    let (_, home_pipelines) = home.send("GET", "/api/v1/pipelines", None).await;
    assert!(home_pipelines.contains("deploy-web") && !home_pipelines.contains("ledger"));
    let (status, _) = home
        .send("POST", "/api/v1/runs", Some(json!({"pipeline": "ledger"})))
        .await;
    assert_eq!(status, 404);

    // Tokens and the audit trail: each admin sees its own tenant's.
    let (status, issued) = acme
        .send(
            "POST",
            "/api/v1/tokens",
            Some(json!({"user": "acme-bot", "role": "reporter"})),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let issued: Value = serde_json::from_str(&issued).unwrap();
    assert_eq!(issued["tenant"], "acme");
    let (_, home_tokens) = home.send("GET", "/api/v1/tokens", None).await;
    assert!(!home_tokens.contains("acme-bot"), "{home_tokens}");
    let (_, home_audit) = home.send("GET", "/api/v1/audit", None).await;
    assert!(!home_audit.contains("acme-bot"), "{home_audit}");
    let (_, acme_audit) = acme.send("GET", "/api/v1/audit", None).await;
    assert!(acme_audit.contains("acme-bot"), "{acme_audit}");
    let jti = issued["jti"].as_str().unwrap();
    let (status, _) = server
        .delete_as(&format!("/api/v1/tokens/{jti}"), &home.token)
        .await;
    assert_eq!(status, 404, "another tenant's token cannot be revoked");

    assert!(data.path().join("tenants/acme/signalbox.db").exists());
    server.stop().await;
}
