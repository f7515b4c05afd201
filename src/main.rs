//! The `signalbox` binary: `serve` runs the server, `validate` checks pipeline files, `bench`
//! measures a server under load, `token create` issues API tokens and sign-in links, `report`
//! reports a step's progress.

#[cfg(feature = "ssr")]
mod cli {
    use clap::{Parser, Subcommand};
    use signalbox::server::auth::SecurityConfig;
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
            /// The secret API tokens are signed with (32 characters or more). Without it, a
            /// server on loopback runs without sign-in; elsewhere one is generated into the
            /// data directory.
            #[arg(long, env = "SIGNALBOX_SECRET", hide_env_values = true)]
            secret: Option<String>,
            /// Sign-in attempts allowed per client address and minute.
            #[arg(long, env = "SIGNALBOX_SIGN_IN_RATE", default_value_t = 10)]
            sign_in_rate: u32,
            /// Events per second each token may ingest.
            #[arg(long, env = "SIGNALBOX_INGEST_RATE", default_value_t = 20_000)]
            ingest_rate: u32,
            /// Live connections (WebSocket and SSE) one user may hold at once.
            #[arg(long, env = "SIGNALBOX_CONNECTIONS_PER_USER", default_value_t = 200)]
            connections_per_user: usize,
            /// An ad-hoc run with no event for this long ends as failed (`30m`, `1h`, `2d`).
            #[arg(long, env = "SIGNALBOX_ADHOC_IDLE_TIMEOUT", default_value = "1h", value_parser = duration_arg)]
            adhoc_idle_timeout: std::time::Duration,
            /// Take progress from this NATS server too (`nats://127.0.0.1:4222`); see the README.
            #[arg(long, env = "SIGNALBOX_NATS")]
            nats: Option<String>,
            /// How often system readings are taken for `/metrics` and the system panel.
            #[arg(long, env = "SIGNALBOX_METRICS_INTERVAL", default_value = "2s", value_parser = duration_arg)]
            metrics_interval: std::time::Duration,
        },
        /// Report a step's progress to a server (flags or the `SIGNALBOX_*` environment a step
        /// receives); warns once and exits 0 when the server cannot be reached.
        Report(signalbox::reporter::command::ReportArgs),
        /// Issue API tokens (and one-time sign-in links).
        #[command(subcommand)]
        Token(TokenCommand),
        /// Measure a server under load (latency, throughput, memory); see the README.
        Bench(signalbox::bench::command::BenchArgs),
        /// Check pipeline files; exit status 1 with the errors if any.
        Validate {
            #[arg(required = true)]
            files: Vec<PathBuf>,
        },
    }

    #[derive(Subcommand)]
    enum TokenCommand {
        /// Issue a token for a user (or program) with a role; prints the token and, for people,
        /// a one-time sign-in link valid 15 minutes.
        Create {
            /// Who the token is for (shown in the audit trail).
            #[arg(long)]
            user: String,
            /// viewer, operator, admin or reporter.
            #[arg(long)]
            role: String,
            /// How long the token is valid (`90d`, `12h`, ...).
            #[arg(long, default_value = "90d")]
            ttl: String,
            /// The tenant whose data the token reaches.
            #[arg(long, default_value = "default")]
            tenant: String,
            /// Reporters only: a run it may report on (repeatable).
            #[arg(long = "run")]
            runs: Vec<String>,
            /// Reporters only: a pipeline whose runs it may report on (repeatable).
            #[arg(long = "pipeline")]
            pipelines: Vec<String>,
            /// The server's data directory (its token records and, without --secret, its key).
            #[arg(long, env = "SIGNALBOX_DATA_DIR", default_value = "./data")]
            data_dir: PathBuf,
            #[arg(long, env = "SIGNALBOX_SECRET", hide_env_values = true)]
            secret: Option<String>,
            /// The server's address as people open it, for the sign-in link.
            #[arg(long, env = "SIGNALBOX_URL", default_value = "http://127.0.0.1:3000")]
            url: String,
        },
    }

    pub async fn main() -> anyhow::Result<ExitCode> {
        match Cli::parse().command {
            Command::Serve {
                addr,
                data_dir,
                pipelines,
                allowed_origins,
                secret,
                sign_in_rate,
                ingest_rate,
                connections_per_user,
                adhoc_idle_timeout,
                nats,
                metrics_interval,
            } => {
                tracing_subscriber::fmt()
                    .with_env_filter(
                        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(
                            |_| "info,sqlx=warn,tower_http=warn,async_nats=warn".into(),
                        ),
                    )
                    .init();
                let listener = signalbox::server::serve::listen(addr)?;
                // Cookies are `Secure` when the site is served over https (behind a proxy).
                let secure_cookies = allowed_origins
                    .iter()
                    .any(|o| o.trim().to_ascii_lowercase().starts_with("https://"));
                let config = ServeConfig {
                    pipelines,
                    allowed_origins,
                    security: SecurityConfig {
                        secret,
                        sign_in_per_minute: sign_in_rate,
                        ingest_per_second: ingest_rate,
                        connections_per_user,
                        secure_cookies,
                        ..SecurityConfig::default()
                    },
                    adhoc_idle_timeout,
                    nats,
                    metrics_interval,
                    ..ServeConfig::new(addr, data_dir)
                };
                signalbox::server::serve::run(listener, config, shutdown_signal()).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Token(TokenCommand::Create {
                user,
                role,
                ttl,
                tenant,
                runs,
                pipelines,
                data_dir,
                secret,
                url,
            }) => {
                let request = signalbox::server::auth::issue::TokenRequest {
                    user,
                    role,
                    ttl,
                    runs,
                    pipelines,
                };
                let issued = signalbox::server::auth::issue::create_offline(
                    &data_dir, secret, &tenant, request,
                )
                .await?;
                println!(
                    "Token for {} ({}, tenant {}), id {}, expires {}:\n{}",
                    issued.user,
                    issued.role,
                    issued.tenant,
                    issued.jti,
                    issued.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    issued.token
                );
                if let Some(link) = issued.sign_in_link {
                    println!(
                        "\nSign in within 15 minutes with this one-time link:\n{}{link}",
                        url.trim_end_matches('/')
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Report(args) => {
                use signalbox::reporter::command::{run, Outcome};
                // Blocking: the reporter has its own thread and runtime.
                let outcome = tokio::task::spawn_blocking(move || {
                    let strict = args.strict();
                    (run(args), strict)
                })
                .await?;
                Ok(match outcome {
                    (Outcome::Delivered, _) | (Outcome::Undelivered, false) => ExitCode::SUCCESS,
                    (Outcome::Undelivered, true) => ExitCode::FAILURE,
                    (Outcome::Usage(problem), _) => {
                        eprintln!("signalbox report: {problem}");
                        ExitCode::from(2)
                    }
                })
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

    /// A duration flag (`90s`, `1h30m`, `2d`).
    fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
        signalbox::domain::duration::parse_millis(text)
            .map(std::time::Duration::from_millis)
            .map_err(|e| e.to_string())
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

/// The server and the load generator allocate small buffers for every request and frame;
/// jemalloc serves them with less CPU than glibc's malloc (see Cargo.toml).
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    cli::main().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser side starts in `lib.rs` (`hydrate`); this binary is only built with `ssr`.
}
