//! A chaos TCP proxy between a client and the server: it cuts every open connection at once
//! (with a reset, as a dropped network would), stalls them (forwards nothing) or throttles
//! them, so tests can break a live stream at any point and check how it resumes.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Nothing is forwarded (connections stay open).
    Stall,
    /// At most this many bytes per 10 ms in each direction.
    Throttle(usize),
}

pub struct ChaosProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Bumped by `cut`: connections opened before it are reset.
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(target: SocketAddr) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Pass);
        let (generation, _) = watch::channel(0u64);
        let (mode_rx, generation_rx) = (mode.subscribe(), generation.subscribe());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = TcpStream::connect(target).await else {
                    continue;
                };
                tokio::spawn(relay(
                    client,
                    upstream,
                    mode_rx.clone(),
                    generation_rx.clone(),
                ));
            }
        });
        ChaosProxy {
            addr,
            mode,
            generation,
            task,
        }
    }

    /// Resets every connection open now.
    pub fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn relay(
    client: TcpStream,
    upstream: TcpStream,
    mode: watch::Receiver<Mode>,
    mut generation: watch::Receiver<u64>,
) {
    // Closing with linger 0 sends a reset: the peers see a cut, not a polite close.
    for stream in [&client, &upstream] {
        let _ = stream.set_zero_linger();
        let _ = stream.set_nodelay(true);
    }
    generation.mark_unchanged();
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::select! {
        _ = pump(client_read, upstream_write, mode.clone()) => {}
        _ = pump(upstream_read, client_write, mode) => {}
        _ = generation.changed() => {}
    }
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if mode.wait_for(|m| *m != Mode::Stall).await.is_err() {
            return;
        }
        let current = *mode.borrow();
        let limit = match current {
            Mode::Throttle(bytes) => bytes.clamp(1, buf.len()),
            _ => buf.len(),
        };
        let n = match from.read(&mut buf[..limit]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Mode::Throttle(_) = current {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
