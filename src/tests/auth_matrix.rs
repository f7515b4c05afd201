//! Every path × every kind of credential: no credentials, expired, not yet valid, wrong
//! audience or issuer, `alg: none`, tampered signature, another key, a malformed tenant, and
//! each role (another tenant's view of the same paths: `tenants.rs`). Bad credentials get 401 everywhere (pages send people to the sign-in page); a role gets 403
//! exactly where it lacks the permission.

use crate::support::{Socket, TestServer};
use base64::Engine;
use serde_json::{json, Value};
use signalbox::api::functions::{AuditEntries, CancelRun, LoadRuns};
use signalbox::server::auth::claims::{Audience, Claims, Scope};
use signalbox::server::auth::keys::TokenKeys;
use signalbox::server::auth::Role;
use std::time::Duration;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A server that requires authentication (loopback, but with a secret).
pub async fn secured(data: &std::path::Path) -> TestServer {
    TestServer::start_with(data, None, |config| {
        config.security.secret = Some(SECRET.to_owned());
    })
    .await
}

/// A signed token for `role`, adjusted by `tweak` before signing.
pub fn token(role: Role, tweak: impl FnOnce(&mut Claims)) -> String {
    let mut claims = Claims::fresh(
        Audience::Api,
        &format!("{role}-user"),
        "default",
        role,
        Duration::from_secs(600),
        Scope::default(),
    );
    tweak(&mut claims);
    TokenKeys::new(SECRET.as_bytes()).issue(&claims)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Every kind of bad credential, by name.
fn bad_credentials() -> Vec<(&'static str, String)> {
    let valid = token(Role::Admin, |_| {});
    let parts: Vec<&str> = valid.split('.').collect();
    let mut escalated: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    escalated["sub"] = json!("mallory");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(escalated.to_string().as_bytes()),
        parts[2]
    );
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    vec![
        ("expired", token(Role::Admin, |c| c.exp = c.iat - 120)),
        (
            "not yet valid",
            token(Role::Admin, |c| c.nbf = c.iat + 3600),
        ),
        (
            "wrong audience",
            token(Role::Admin, |c| c.aud = "signalbox-sign-in".into()),
        ),
        (
            "wrong issuer",
            token(Role::Admin, |c| c.iss = "elsewhere".into()),
        ),
        ("alg none", unsigned),
        ("tampered", tampered),
        // Another (valid) tenant is not a bad credential: see `tenants.rs`. A name that
        // cannot be a tenant is.
        (
            "bad tenant name",
            token(Role::Admin, |c| c.tenant = "../default".into()),
        ),
        (
            "other key",
            TokenKeys::new(b"another-secret-another-secret-another").issue(&Claims::fresh(
                Audience::Api,
                "x",
                "default",
                Role::Admin,
                Duration::from_secs(600),
                Scope::default(),
            )),
        ),
    ]
}

/// A request of the matrix: method, path, JSON body, and the permission it needs.
struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
    needs: &'static str,
}

fn calls(run: &str) -> Vec<Call> {
    let call = |method, path: String, body, needs| Call {
        method,
        path,
        body,
        needs,
    };
    vec![
        call("GET", "/api/v1/pipelines".into(), None, "view"),
        call("GET", "/api/v1/pipelines/deploy-web".into(), None, "view"),
        call(
            "POST",
            "/api/v1/pipelines/deploy-web/plan".into(),
            Some(json!({})),
            "view",
        ),
        call("GET", "/api/v1/runs".into(), None, "view"),
        call("GET", format!("/api/v1/runs/{run}"), None, "view"),
        call("GET", format!("/api/v1/runs/{run}/events"), None, "view"),
        call(
            "GET",
            format!("/api/v1/runs/{run}/steps/build/logs"),
            None,
            "view",
        ),
        call(
            "POST",
            "/api/v1/runs".into(),
            Some(json!({"pipeline": "deploy-web"})),
            "operate",
        ),
        call(
            "POST",
            format!("/api/v1/runs/{run}/cancel"),
            None,
            "operate",
        ),
        call("POST", format!("/api/v1/runs/{run}/retry"), None, "operate"),
        call(
            "POST",
            "/api/v1/runs".into(),
            Some(json!({"id": format!("{run}-adhoc"), "steps": [{"id": "a"}]})),
            "ingest",
        ),
        call(
            "POST",
            format!("/api/v1/runs/{run}/events"),
            Some(json!({"type": "step.progress", "step": "build", "progress": 5})),
            "ingest",
        ),
        call("GET", "/api/v1/tokens".into(), None, "administer"),
        call(
            "POST",
            "/api/v1/tokens".into(),
            Some(json!({"user": "new-user", "role": "viewer", "ttl": "1h"})),
            "administer",
        ),
        call(
            "DELETE",
            "/api/v1/tokens/no-such-token".into(),
            None,
            "administer",
        ),
        call("GET", "/api/v1/audit".into(), None, "administer"),
        // Server functions take forms.
        call("POST", fn_path::<LoadRuns>(), Some(json!("")), "view"),
        call(
            "POST",
            fn_path::<CancelRun>(),
            Some(json!(format!("run={run}"))),
            "operate",
        ),
        call(
            "POST",
            fn_path::<AuditEntries>(),
            Some(json!("filter[limit]=5")),
            "administer",
        ),
    ]
}

/// A server function's URL.
fn fn_path<F: leptos::server_fn::ServerFn>() -> String {
    F::PATH.to_owned()
}

fn allows(role: Role, needs: &str) -> bool {
    match needs {
        "view" => matches!(role, Role::Viewer | Role::Operator | Role::Admin),
        "operate" => matches!(role, Role::Operator | Role::Admin),
        "administer" => role == Role::Admin,
        "ingest" => matches!(role, Role::Reporter | Role::Admin),
        other => panic!("{other}"),
    }
}

async fn send(server: &TestServer, call: &Call, bearer: Option<&str>) -> (u16, String) {
    let url = server.url(&call.path);
    let mut request = match call.method {
        "GET" => server.http.get(url),
        "DELETE" => server.http.delete(url),
        _ => server.http.post(url),
    };
    match &call.body {
        Some(Value::String(form)) => {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.clone());
        }
        Some(json) => {
            request = request
                .header("content-type", "application/json")
                .body(json.to_string());
        }
        None => request = request.header("content-type", "application/json"),
    }
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_refuses_bad_credentials_and_checks_the_role() {
    let data = tempfile::tempdir().unwrap();
    let server = secured(data.path()).await;
    let admin = token(Role::Admin, |_| {});
    let (status, body) = send(
        &server,
        &Call {
            method: "POST",
            path: "/api/v1/runs".into(),
            body: Some(json!({"id": "m1", "steps": [{"id": "build"}]})),
            needs: "ingest",
        },
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // A revoked token is one more bad credential.
    let (_, issued) = server
        .post_as(
            "/api/v1/tokens",
            &admin,
            &json!({"user": "gone", "role": "admin", "ttl": "1h"}),
        )
        .await;
    let jti = issued["jti"].as_str().unwrap();
    let (status, _) = server
        .delete_as(&format!("/api/v1/tokens/{jti}"), &admin)
        .await;
    assert_eq!(status, 200);
    let mut bad = bad_credentials();
    bad.push(("revoked", issued["token"].as_str().unwrap().to_owned()));

    for call in calls("m1") {
        let (status, body) = send(&server, &call, None).await;
        assert_eq!(
            status, 401,
            "no credentials: {} {} -> {body}",
            call.method, call.path
        );
        assert!(!body.contains("m1\""), "nothing of the run leaks: {body}");
        for (kind, credential) in &bad {
            let (status, body) = send(&server, &call, Some(credential)).await;
            assert_eq!(
                status, 401,
                "{kind}: {} {} -> {body}",
                call.method, call.path
            );
        }
        for role in Role::ALL {
            let (status, body) = send(&server, &call, Some(&token(role, |_| {}))).await;
            if allows(role, call.needs) && call.path.starts_with("/fn/") && call.needs != "operate"
            {
                assert_eq!(status, 200, "{role}: {} -> {body}", call.path);
            } else if allows(role, call.needs) {
                assert!(
                    status != 401 && status != 403,
                    "{role} may {}: {} {} -> {status} {body}",
                    call.needs,
                    call.method,
                    call.path
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role}: {} {} -> {body}",
                    call.method, call.path
                );
            }
        }
    }

    // The live stream: WebSocket and SSE handshakes.
    assert_eq!(
        Socket::connect_with(server.addr, ("x-none", "1"))
            .await
            .err(),
        Some(401)
    );
    for (kind, credential) in &bad {
        let refused = Socket::connect_with(
            server.addr,
            ("authorization", &format!("Bearer {credential}")),
        )
        .await;
        assert_eq!(refused.err(), Some(401), "{kind}");
    }
    for role in Role::ALL {
        let header = format!("Bearer {}", token(role, |_| {}));
        let result = Socket::connect_with(server.addr, ("authorization", &header)).await;
        match role {
            Role::Reporter => assert_eq!(result.err(), Some(403)),
            _ => assert!(result.is_ok(), "{role}"),
        }
        let sse = server
            .http
            .get(server.url("/api/v1/runs/m1/events"))
            .header("accept", "text/event-stream")
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        let expected = if role == Role::Reporter { 403 } else { 200 };
        assert_eq!(sse.status(), expected, "{role} SSE");
    }

    // Pages send people without a session to the sign-in page, keeping where they were going;
    // the sign-in page itself and static files need nothing.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for page in [
        "/",
        "/runs/m1?step=build",
        "/pipelines/deploy-web",
        "/audit",
    ] {
        let response = no_redirects.get(server.url(page)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{page}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/login?next=/"),
            "{page} -> {location}"
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains("m1"), "{page} leaks nothing");
    }
    let reporter_page = server
        .http
        .get(server.url("/"))
        .bearer_auth(token(Role::Reporter, |_| {}))
        .send()
        .await
        .unwrap();
    assert_eq!(reporter_page.status(), 403, "reporters see no pages");
    let (status, html) = server.html("/login").await;
    assert_eq!(status, 200);
    assert!(html.contains("action=\"/auth/login\""), "{html}");
    assert_eq!(server.get("/healthz").await.0, 200);
    let metrics = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200, "scrapers need no token");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_reporter_reports_only_on_its_runs() {
    let data = tempfile::tempdir().unwrap();
    let server = secured(data.path()).await;
    let admin = token(Role::Admin, |_| {});
    for id in ["mine", "theirs"] {
        let created = server
            .http
            .post(server.url("/api/v1/runs"))
            .bearer_auth(&admin)
            .json(&json!({"id": id, "steps": [{"id": "a"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let scoped = token(Role::Reporter, |c| c.scope.runs = vec!["mine".into()]);
    let post = |run: &'static str| {
        server
            .http
            .post(server.url(&format!("/api/v1/runs/{run}/events")))
            .bearer_auth(&scoped)
            .json(&json!({"type": "step.progress", "step": "a", "progress": 10}))
            .send()
    };
    assert_eq!(post("mine").await.unwrap().status(), 200);
    let refused = post("theirs").await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`theirs`"),
        "{body}"
    );
    // It may not create unnamed or other runs either, nor read anything.
    let create = server
        .http
        .post(server.url("/api/v1/runs"))
        .bearer_auth(&scoped)
        .json(&json!({"steps": [{"id": "a"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 403);
    let read = server
        .http
        .get(server.url("/api/v1/runs/mine"))
        .bearer_auth(&scoped)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 403);
    server.stop().await;
}
