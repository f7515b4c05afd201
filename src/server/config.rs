//! Server configuration: the CLI flags (and their `SIGNALBOX_*` variables) plus the Leptos site
//! options, read from `Leptos.toml` when the server is started without cargo-leptos.

use leptos::config::{get_configuration, LeptosOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// A directory of pipeline TOML files, loaded beside the demos.
    pub pipelines: Option<PathBuf>,
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
    Ok(options)
}
