//! Signing in and out in a browser's place: a one-time link works once, the session cookie is
//! HttpOnly and SameSite, signing out and revoking close live connections (4401) and end
//! access, every action lands in the audit trail, limits answer 429 with `Retry-After`, and a
//! step of the executor gets a token that can report on its own run only.

use crate::auth_matrix::{secured, token, SECRET};
use crate::support::{pipelines, Socket, TestServer};
use serde_json::{json, Value};
use signalbox::server::auth::issue::{create_offline, TokenRequest};
use signalbox::server::auth::Role;
use std::time::Duration;

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts the sign-in form as the sign-in page does (same origin): status, `Location`, and the
/// session cookie's whole `Set-Cookie` line if one was set.
async fn sign_in(server: &TestServer, credential: &str) -> (u16, String, Option<String>) {
    let origin = format!("http://{}", server.addr);
    let response = browser()
        .post(server.url("/auth/login"))
        .header("origin", origin)
        .form(&[("credential", credential), ("next", "/runs/x?step=a")])
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("signalbox_session=") && !c.starts_with("signalbox_session=;"));
    (response.status().as_u16(), location, cookie)
}

/// `name=value` of a `Set-Cookie` line, as a browser sends it back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn get_with_cookie(server: &TestServer, path: &str, cookie: &str) -> u16 {
    browser()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn request(user: &str, role: &str) -> TokenRequest {
    TokenRequest {
        user: user.into(),
        role: role.into(),
        ttl: "1h".into(),
        runs: Vec::new(),
        pipelines: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_signs_in_once_and_signing_out_ends_the_session_and_its_sockets() {
    let data = tempfile::tempdir().unwrap();
    let server = secured(data.path()).await;
    // `signalbox token create` beside the running server.
    let issued = create_offline(
        data.path(),
        Some(SECRET.into()),
        "default",
        request("ann", "operator"),
    )
    .await
    .unwrap();
    let link = issued.sign_in_link.clone().expect("people get a link");
    let (status, html) = server.html(&link).await;
    assert_eq!(status, 200);
    assert!(html.contains("one-time link"), "{html}");
    assert!(html.contains(r#"<meta name="referrer" content="no-referrer""#));

    let link_token = link.split_once("link=").unwrap().1;
    let (status, location, cookie) = sign_in(&server, link_token).await;
    assert_eq!((status, location.as_str()), (303, "/runs/x?step=a"));
    let cookie = cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3500..=3600).contains(&max_age),
        "a link's session ends with its one-hour token, not in 7 days: {max_age}"
    );
    assert!(!cookie.contains("Secure"), "plain http on loopback");
    let (status, location, again) = sign_in(&server, link_token).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/login?error=used"), "{location}");
    assert!(again.is_none());

    let session = cookie_pair(&cookie);
    assert_eq!(get_with_cookie(&server, "/", &session).await, 200);
    assert_eq!(
        get_with_cookie(&server, "/api/v1/runs", &session).await,
        200
    );
    let (_, page) = {
        let response = browser()
            .get(server.url("/"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert!(
        page.contains("ann") && page.contains("Sign out"),
        "the page says who is signed in"
    );

    let mut socket = Socket::connect_with(server.addr, ("cookie", &session))
        .await
        .expect("a session opens the live stream");
    socket
        .send(json!({"op": "subscribe", "topic": "runs"}))
        .await;
    let signed_out = browser()
        .post(server.url("/auth/logout"))
        .header("cookie", &session)
        .header("origin", format!("http://{}", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 303);
    assert!(signed_out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4401));
    assert_eq!(
        get_with_cookie(&server, "/api/v1/runs", &session).await,
        401
    );
    let page = get_with_cookie(&server, "/", &session).await;
    assert_eq!(
        page, 303,
        "a page sends an ended session to the sign-in page"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_ends_its_sessions_and_everything_is_audited() {
    let data = tempfile::tempdir().unwrap();
    let server = secured(data.path()).await;
    let admin = create_offline(
        data.path(),
        Some(SECRET.into()),
        "default",
        request("root", "admin"),
    )
    .await
    .unwrap()
    .token;
    let (_, issued) = server
        .post_as(
            "/api/v1/tokens",
            &admin,
            &json!({"user": "bob", "role": "operator", "ttl": "2h"}),
        )
        .await;
    let bob = issued["token"].as_str().unwrap().to_owned();
    let jti = issued["jti"].as_str().unwrap().to_owned();
    let (status, _, cookie) = sign_in(&server, &bob).await;
    assert_eq!(status, 303, "a pasted API token signs in too");
    let session = cookie_pair(&cookie.unwrap());
    let mut socket = Socket::connect_with(server.addr, ("authorization", &format!("Bearer {bob}")))
        .await
        .unwrap();
    socket
        .send(json!({"op": "subscribe", "topic": "runs"}))
        .await;
    let (status, started) = server
        .post_as("/api/v1/runs", &bob, &json!({"pipeline": "deploy-web"}))
        .await;
    assert_eq!(status, 201);
    let run = started["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .post_as(&format!("/api/v1/runs/{run}/cancel"), &bob, &json!({}))
        .await;
    assert_eq!(status, 200);

    let (status, _) = server
        .delete_as(&format!("/api/v1/tokens/{jti}"), &admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4401));
    let (status, body) = server.get_as("/api/v1/runs", &bob).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "the token has been revoked");
    assert_eq!(
        get_with_cookie(&server, "/api/v1/runs", &session).await,
        401
    );
    let (_, location, _) = sign_in(&server, &bob).await;
    assert!(location.starts_with("/login?error=revoked"), "{location}");
    assert_eq!(server.delete_as("/api/v1/tokens/nope", &admin).await.0, 404);

    let (_, listed) = server.get_as("/api/v1/tokens", &admin).await;
    let bobs = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["jti"] == jti.as_str())
        .unwrap();
    assert_eq!(bobs["user"], "bob");
    assert!(bobs["revoked_at"].is_string());
    assert!(
        !listed.to_string().contains(&bob),
        "tokens themselves are never stored"
    );

    let (_, audit) = server.get_as("/api/v1/audit?limit=50", &admin).await;
    let entries: Vec<(String, String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |actor: &str, action: &str, target: &str| {
        entries
            .iter()
            .any(|(a, b, c)| a == actor && b == action && (target.is_empty() || c == target))
    };
    assert!(has("cli", "token.create", ""), "{entries:?}");
    assert!(has("root", "token.create", &jti), "{entries:?}");
    assert!(has("bob", "sign_in", ""), "{entries:?}");
    assert!(has("bob", "run.start", &run), "{entries:?}");
    assert!(has("bob", "run.cancel", &run), "{entries:?}");
    assert!(has("root", "token.revoke", &jti), "{entries:?}");
    assert!(
        has("bob", "sign_in.failed", ""),
        "a refused sign-in with a verified token is audited in its tenant: {entries:?}"
    );
    let (_, only_runs) = server
        .get_as("/api/v1/audit?action=run&actor=bob", &admin)
        .await;
    let actions: Vec<&str> = only_runs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["run.cancel", "run.start"],
        "filtered, newest first"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_429_with_retry_after_and_spare_everyone_else() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data.path(), None, |config| {
        config.security.secret = Some(SECRET.to_owned());
        config.security.sign_in_per_minute = 3;
        config.security.ingest_per_second = 50;
        config.security.connections_per_user = 2;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(sign_in(&server, "garbage").await.0, 303);
    }
    let limited = browser()
        .post(server.url("/auth/login"))
        .form(&[("credential", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    let admin = token(Role::Admin, |_| {});
    let (status, _) = server
        .post_as(
            "/api/v1/runs",
            &admin,
            &json!({"id": "busy", "steps": [{"id": "a"}]}),
        )
        .await;
    assert_eq!(status, 201);
    let reporter = token(Role::Reporter, |_| {});
    let burst: Vec<Value> = (0..50)
        .map(|i| json!({"type": "step.progress", "step": "a", "progress": i}))
        .collect();
    let post = |token: String, body: Value| {
        server
            .http
            .post(server.url("/api/v1/runs/busy/events"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    assert_eq!(
        post(reporter.clone(), json!(burst)).await.unwrap().status(),
        200
    );
    // A second's worth again: refused unless a whole second went by (a single event would
    // pass on a slow machine, where 20 ms, enough to earn one back, can go by in between).
    let over = post(reporter.clone(), json!(burst)).await.unwrap();
    assert_eq!(over.status(), 429);
    assert!(over.headers().contains_key("retry-after"));
    let other = token(Role::Reporter, |_| {});
    let spared = post(
        other,
        json!({"type": "step.progress", "step": "a", "progress": 61}),
    )
    .await
    .unwrap();
    assert_eq!(spared.status(), 200, "another token has its own allowance");
    let big: Vec<Value> = (0..51)
        .map(|i| json!({"type": "step.progress", "step": "a", "progress": i}))
        .collect();
    let too_big = post(token(Role::Reporter, |_| {}), json!(big))
        .await
        .unwrap();
    assert_eq!(too_big.status(), 429);
    let body: Value = too_big.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("51"),
        "{body}"
    );

    let viewer = format!("Bearer {}", token(Role::Viewer, |c| c.sub = "vic".into()));
    let _one = Socket::connect_with(server.addr, ("authorization", &viewer))
        .await
        .unwrap();
    let _two = Socket::connect_with(server.addr, ("authorization", &viewer))
        .await
        .unwrap();
    assert_eq!(
        Socket::connect_with(server.addr, ("authorization", &viewer))
            .await
            .err(),
        Some(429)
    );
    let someone = format!("Bearer {}", token(Role::Viewer, |c| c.sub = "val".into()));
    assert!(
        Socket::connect_with(server.addr, ("authorization", &someone))
            .await
            .is_ok()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_reports_with_a_token_scoped_to_its_run() {
    let data = tempfile::tempdir().unwrap();
    let dir = pipelines(&[(
        "tokened.toml",
        r#"
id = "tokened"
name = "Token check"
[[steps]]
id = "hold"
run = "printf '%s' \"$SIGNALBOX_TOKEN\" > \"$SIGNALBOX_RUN.token\"; sleep 30"
"#,
    )]);
    let server = TestServer::start_with(data.path(), Some(dir.path().to_path_buf()), |config| {
        config.security.secret = Some(SECRET.to_owned());
    })
    .await;
    let operator = token(Role::Operator, |_| {});
    let admin = token(Role::Admin, |_| {});
    let (status, _) = server
        .post_as(
            "/api/v1/runs",
            &admin,
            &json!({"id": "other", "steps": [{"id": "a"}]}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, started) = server
        .post_as("/api/v1/runs", &operator, &json!({"pipeline": "tokened"}))
        .await;
    let run = started["id"].as_str().unwrap().to_owned();
    let file = dir.path().join(format!("{run}.token"));
    let mut step_token = String::new();
    for _ in 0..200 {
        step_token = std::fs::read_to_string(&file).unwrap_or_default();
        if !step_token.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        step_token.starts_with("eyJ"),
        "the step got a token: `{step_token}`"
    );
    let report = |target: &str| {
        server
            .http
            .post(server.url(&format!("/api/v1/runs/{target}/events")))
            .bearer_auth(&step_token)
            .json(&json!({"type": "step.progress", "step": if target == "other" { "a" } else { "hold" }, "progress": 50}))
            .send()
    };
    assert_eq!(report(&run).await.unwrap().status(), 200);
    assert_eq!(report("other").await.unwrap().status(), 403);
    let (status, _) = server
        .get_as(&format!("/api/v1/runs/{run}"), &step_token)
        .await;
    assert_eq!(status, 403, "a step's token only reports");
    let (status, _) = server
        .post_as(&format!("/api/v1/runs/{run}/cancel"), &operator, &json!({}))
        .await;
    assert_eq!(status, 200);
    // Until the run has ended (`wait_finished` asks without credentials).
    for _ in 0..200 {
        let (_, state) = server
            .get_as(&format!("/api/v1/runs/{run}"), &operator)
            .await;
        if state["status"] == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = report(&run).await.unwrap();
    assert_eq!(
        after.status(),
        401,
        "a step's token is revoked when the step ends"
    );
    server.stop().await;
}
