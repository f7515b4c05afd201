//! The `signalbox` binary: `serve` runs the server, `validate` checks pipeline files, `bench`
//! measures a server under load.

#[cfg(feature = "ssr")]
mod cli {
    use clap::{Parser, Subcommand};
    use signalbox::server::catalog::read_pipelines;
    use signalbox::server::config::ServeConfig;
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::ExitCode;

    #[derive(Parser)]
    #[command(name = "signalbox", version, about = "Pipelines as live graphs")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Run the server with the embedded defaults (SQLite, in-process bus, demo pipelines).
        Serve {
            #[arg(long, env = "SIGNALBOX_ADDR", default_value = "127.0.0.1:3000")]
            addr: SocketAddr,
            #[arg(long, env = "SIGNALBOX_DATA_DIR", default_value = "./data")]
            data_dir: PathBuf,
            /// A directory of pipeline TOML files to load beside the demos.
            #[arg(long, env = "SIGNALBOX_PIPELINES")]
            pipelines: Option<PathBuf>,
            /// An origin (https://signalbox.example.com) whose pages may use this server;
            /// repeatable. Default: only the origin the browser addresses the server by.
            #[arg(
                long = "allowed-origin",
                env = "SIGNALBOX_ALLOWED_ORIGINS",
                value_delimiter = ','
            )]
            allowed_origins: Vec<String>,
        },
        /// Measure a server under load (latency, throughput, memory); see the README.
        Bench(signalbox::bench::command::BenchArgs),
        /// Check pipeline files; exit status 1 with the errors if any.
        Validate {
            #[arg(required = true)]
            files: Vec<PathBuf>,
        },
    }

    pub async fn main() -> anyhow::Result<ExitCode> {
        match Cli::parse().command {
            Command::Serve {
                addr,
                data_dir,
                pipelines,
                allowed_origins,
            } => {
                tracing_subscriber::fmt()
                    .with_env_filter(
                        tracing_subscriber::EnvFilter::try_from_default_env()
                            .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
                    )
                    .init();
                let listener = tokio::net::TcpListener::bind(addr).await?;
                let config = ServeConfig {
                    pipelines,
                    allowed_origins,
                    ..ServeConfig::new(addr, data_dir)
                };
                signalbox::server::serve::run(listener, config, shutdown_signal()).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Bench(args) => {
                let faultless = signalbox::bench::command::run(args).await?;
                Ok(if faultless {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("bench: events were lost, duplicated or reordered");
                    ExitCode::FAILURE
                })
            }
            Command::Validate { files } => {
                let (pipelines, problems) = read_pipelines(&files);
                for (file, pipeline) in &pipelines {
                    println!("{}: ok ({} steps)", file.display(), pipeline.steps.len());
                }
                for problem in &problems {
                    eprintln!("{problem}");
                }
                Ok(if problems.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    }

    async fn shutdown_signal() {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    }
}

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    cli::main().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser side starts in `lib.rs` (`hydrate`); this binary is only built with `ssr`.
}
