//! Server configuration: the CLI flags (and their `SIGNALBOX_*` variables) plus the Leptos site
//! options, read from `Leptos.toml` when the server is started without cargo-leptos.

use super::auth::SecurityConfig;
use leptos::config::{get_configuration, LeptosOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// A directory of pipeline TOML files, loaded beside the demos.
    pub pipelines: Option<PathBuf>,
    /// Origins (`https://signalbox.example.com`) whose pages may open the live stream and send
    /// mutating requests. Empty: only the server's own origin (see `server::origin`).
    pub allowed_origins: Vec<String>,
    pub live: LiveLimits,
    pub security: SecurityConfig,
    /// An ad-hoc run with no event for this long ends as failed (see `server::silence`).
    pub adhoc_idle_timeout: Duration,
    /// A NATS server to take progress from (`nats://127.0.0.1:4222`); none: no NATS ingest.
    pub nats: Option<String>,
    /// How often the system readings (`/metrics`, the `system` topic) are taken.
    pub metrics_interval: Duration,
}

impl ServeConfig {
    /// The defaults for a server on `addr` over `data_dir`.
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        ServeConfig {
            addr,
            data_dir,
            pipelines: None,
            allowed_origins: Vec::new(),
            live: LiveLimits::default(),
            security: SecurityConfig::default(),
            adhoc_idle_timeout: Duration::from_secs(3600),
            nats: None,
            metrics_interval: Duration::from_secs(2),
        }
    }
}

/// Deadlines and limits of live connections (WebSocket and SSE), documented in the README.
#[derive(Clone, Debug)]
pub struct LiveLimits {
    /// Protocol pings to each WebSocket client at this interval.
    pub ping_every: Duration,
    /// A WebSocket client from which nothing (not even a pong) arrives for this long is closed.
    pub read_deadline: Duration,
    /// A client that leaves its queue full for this long is closed as too slow.
    pub write_deadline: Duration,
    /// `{"type":"heartbeat"}` frames at this interval (PROTOCOL.md).
    pub heartbeat_every: Duration,
    /// SSE keep-alive comments at this interval.
    pub sse_keep_alive: Duration,
    /// Frames queued per connection.
    pub queue_frames: usize,
    /// Largest client message (WebSocket).
    pub max_message_bytes: usize,
    /// Subscriptions one WebSocket may hold at once.
    pub max_subscriptions: usize,
    /// On shutdown, how long connections get to close before the server exits anyway.
    pub drain: Duration,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            ping_every: Duration::from_secs(15),
            read_deadline: Duration::from_secs(45),
            write_deadline: Duration::from_secs(10),
            heartbeat_every: Duration::from_secs(10),
            sse_keep_alive: Duration::from_secs(15),
            queue_frames: 64,
            max_message_bytes: 32 * 1024,
            max_subscriptions: 64,
            drain: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the Leptos site options from {file}: {detail}")]
    Site { file: String, detail: String },
}

/// The runtime site options file at the repository root.
pub const SITE_FILE: &str = "Leptos.toml";

/// Site options: `Leptos.toml` when present in the working directory (a release binary started
/// from the repository root), else what cargo-leptos compiled in and put in the environment.
pub fn site_options(addr: SocketAddr) -> Result<LeptosOptions, ConfigError> {
    let file = Path::new(SITE_FILE).exists().then_some(SITE_FILE);
    let conf = get_configuration(file).map_err(|e| ConfigError::Site {
        file: file.unwrap_or("the environment").to_owned(),
        detail: e.to_string(),
    })?;
    let mut options = conf.leptos_options;
    options.site_addr = addr;
    if std::env::var_os("LEPTOS_SITE_ROOT").is_none() {
        options.site_root = profile_site_root(&options.site_root, cfg!(debug_assertions)).into();
    }
    super::site_files::check_hash_file(&mut options);
    Ok(options)
}

/// Release builds keep their site files beside the debug ones (`target/site-release`), so
/// that neither build overwrites the wasm the other one's pages load (`make build-release`
/// builds into it).
fn profile_site_root(site_root: &str, debug: bool) -> String {
    if debug {
        site_root.to_owned()
    } else {
        format!("{site_root}{RELEASE_SITE_SUFFIX}")
    }
}

/// Appended to the site root of release builds.
pub const RELEASE_SITE_SUFFIX: &str = "-release";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_builds_have_a_site_root_of_their_own() {
        assert_eq!(profile_site_root("target/site", true), "target/site");
        assert_eq!(
            profile_site_root("target/site", false),
            "target/site-release"
        );
    }
}
