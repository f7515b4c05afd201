//! Tokens never reach the logs: the real binary at its most verbose, driven with a token in
//! every place one travels (bearer header, sign-in link in a query string, the sign-in form,
//! the session cookie, a tampered copy), leaves none of them in its output.

use crate::auth_matrix::SECRET;
use crate::support::wait_until_ready;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// The text after `label` up to the end of its line, in `output`.
fn line_after<'a>(output: &'a str, label: &str) -> &'a str {
    let start = output
        .find(label)
        .unwrap_or_else(|| panic!("no `{label}` in {output}"));
    output[start + label.len()..].lines().nth(1).unwrap().trim()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_session_reaches_the_log() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let binary = env!("CARGO_BIN_EXE_signalbox");
    let mut server = Command::new(binary)
        .args([
            "serve",
            "--addr",
            &addr.to_string(),
            "--secret",
            SECRET,
            "--data-dir",
        ])
        .arg(data.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "trace,sqlx=debug,hyper=debug,h2=debug")
        .stdout(std::fs::File::create(logs.path().join("out")).unwrap())
        .stderr(std::fs::File::create(logs.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    wait_until_ready(addr).await;

    let created = Command::new(binary)
        .args([
            "token", "create", "--user", "ann", "--role", "admin", "--secret", SECRET,
        ])
        .arg("--data-dir")
        .arg(data.path())
        .args(["--url", &format!("http://{addr}")])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(created.status.success());
    let printed = String::from_utf8(created.stdout).unwrap();
    let token = line_after(&printed, "Token for ann").to_owned();
    let link = line_after(&printed, "one-time link:").to_owned();
    assert!(
        link.starts_with(&format!("http://{addr}/login?link=")),
        "{link}"
    );
    let link_token = link.split_once("link=").unwrap().1.to_owned();

    let url = |path: &str| format!("http://{addr}{path}");
    assert_eq!(http.get(&link).send().await.unwrap().status(), 200);
    let signed_in = http
        .post(url("/auth/login"))
        .header("origin", format!("http://{addr}"))
        .form(&[("credential", link_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let session_value = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let page = http
        .get(url("/"))
        .header("cookie", format!("signalbox_session={session_value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    for path in ["/api/v1/runs", "/api/v1/pipelines", "/api/v1/runs/nope"] {
        http.get(url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    }
    let tampered = format!("{token}x");
    let refused = http
        .get(url("/api/v1/runs"))
        .bearer_auth(&tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // A token in a query string, where careless servers log it.
    http.get(url(&format!("/api/v1/runs?token={token}")))
        .send()
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/api/v1/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    })
    .await
    .unwrap();
    drop(ws);

    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while server.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = std::fs::read_to_string(logs.path().join("out")).unwrap()
        + &std::fs::read_to_string(logs.path().join("err")).unwrap();
    assert!(
        output.contains("signed in") && output.contains("ann"),
        "the log is there: {output:.2000}"
    );
    let signature = token.rsplit('.').next().unwrap();
    for (what, secret) in [
        ("token", token.as_str()),
        ("token signature", signature),
        ("sign-in link", link_token.as_str()),
        ("session cookie", session_value.as_str()),
        ("signing secret", SECRET),
    ] {
        assert!(!output.contains(secret), "the {what} appears in the log");
    }
}
