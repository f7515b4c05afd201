//! The server under test: one the bench starts itself (its own binary, a fresh data directory,
//! a free loopback port), or one already running at a given address.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TargetError {
    #[error("could not start the server `{exe}`: {source}")]
    Spawn { exe: String, source: std::io::Error },
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    #[error("the server at {0} did not answer /healthz within 30 s")]
    NotHealthy(SocketAddr),
}

/// Where the server listens and, when known, its process (for CPU and memory readings).
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
}

impl Target {
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }
}

/// A server process the bench started; killed (and its data removed) when dropped.
pub struct Spawned {
    child: Child,
    pub target: Target,
    _data: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, TargetError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(TargetError::Port)?;
    Ok(listener.local_addr().map_err(TargetError::Port)?.port())
}

/// Starts `exe serve` on a free loopback port over a new temporary data directory (under
/// `scratch`, or the system's temporary directory), and waits until it answers.
pub async fn spawn(exe: &Path, scratch: Option<&PathBuf>) -> Result<Spawned, TargetError> {
    let data = match scratch {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .map_err(|source| TargetError::Spawn {
        exe: exe.display().to_string(),
        source,
    })?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let child = Command::new(exe)
        .arg("serve")
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|source| TargetError::Spawn {
            exe: exe.display().to_string(),
            source,
        })?;
    let target = Target {
        addr,
        pid: Some(child.id()),
    };
    let spawned = Spawned {
        child,
        target,
        _data: data,
    };
    wait_healthy(&spawned.target).await?;
    Ok(spawned)
}

/// Waits (at most 30 s) until the server answers `/healthz`.
pub async fn wait_healthy(target: &Target) -> Result<(), TargetError> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let answered = http
            .get(target.http("/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if answered.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(TargetError::NotHealthy(target.addr))
}
