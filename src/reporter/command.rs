//! `signalbox report`: reports a step's progress from a shell (a step of the built-in
//! executor, a CI job, a cron script). The server address, run, step and token come from flags
//! or the `SIGNALBOX_*` environment a step receives. A job must never fail because its
//! progress could not be shown: when the server cannot be reached (within `--timeout`) it
//! warns once on stderr and exits 0, unless `--strict`.

use super::{Reporter, ReporterConfig, Stats};
use crate::domain::duration::parse_millis;
use crate::domain::Status;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The run reported on.
    #[arg(long, env = "SIGNALBOX_RUN")]
    run: String,
    /// The step reported on.
    #[arg(long, env = "SIGNALBOX_STEP")]
    step: String,
    /// Progress in percent, 0 to 100.
    #[arg(long)]
    progress: Option<f64>,
    /// The step's message (with --status: the message it ends with).
    #[arg(long)]
    message: Option<String>,
    /// The step's processed-row counter.
    #[arg(long)]
    rows: Option<u64>,
    /// Ends the step: success, warning, failed, skipped, cancelled (or completed, done, error).
    #[arg(long)]
    status: Option<String>,
    /// Records a warning on the step.
    #[arg(long)]
    warning: Option<String>,
    /// A line for the step's log (repeatable).
    #[arg(long = "log")]
    logs: Vec<String>,
    #[arg(long, env = "SIGNALBOX_URL", default_value = "http://127.0.0.1:3000")]
    url: String,
    #[arg(long, env = "SIGNALBOX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Exit with status 1 when the report is not delivered.
    #[arg(long)]
    strict: bool,
    /// How long to keep trying to deliver.
    #[arg(long, default_value = "5s")]
    timeout: String,
}

/// How a report went, for the exit status.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Not delivered; the warning has been printed.
    Undelivered,
    /// The flags make no report (the message says why).
    Usage(String),
}

/// What the flags ask to report, checked before anything is sent.
fn check(args: &ReportArgs) -> Result<(Option<Status>, Duration), String> {
    let status = args
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s)
                .filter(|s| s.is_terminal())
                .ok_or_else(|| format!("--status `{s}` is not a final status (success, warning, failed, skipped, cancelled)"))
        })
        .transpose()?;
    if let Some(p) = args.progress {
        if !(0.0..=100.0).contains(&p) {
            return Err(format!("--progress {p} is not between 0 and 100"));
        }
    }
    let nothing = args.progress.is_none()
        && args.message.is_none()
        && args.rows.is_none()
        && status.is_none()
        && args.warning.is_none()
        && args.logs.is_empty();
    if nothing {
        return Err(
            "nothing to report: give --progress, --message, --rows, --status, --warning or --log"
                .into(),
        );
    }
    let timeout = parse_millis(&args.timeout)
        .map(Duration::from_millis)
        .map_err(|e| format!("--timeout: {e}"))?;
    Ok((status, timeout))
}

impl ReportArgs {
    /// Whether an undelivered report is an error (`--strict`).
    pub fn strict(&self) -> bool {
        self.strict
    }
}

pub fn run(args: ReportArgs) -> Outcome {
    let (status, timeout) = match check(&args) {
        Ok(checked) => checked,
        Err(problem) => return Outcome::Usage(problem),
    };
    let reporter = Reporter::start(ReporterConfig {
        token: args.token.clone().filter(|t| !t.is_empty()),
        ..ReporterConfig::new(&args.url, &args.run)
    });
    let step = args.step.as_str();
    let mut reports: u64 = 0;
    for line in &args.logs {
        reporter.log(step, line);
        reports += 1;
    }
    if let Some(warning) = &args.warning {
        reporter.warning(step, warning);
        reports += 1;
    }
    let message = args.message.as_deref();
    if args.progress.is_some() || args.rows.is_some() || (message.is_some() && status.is_none()) {
        reporter.update(
            step,
            args.progress,
            message.filter(|_| status.is_none()),
            args.rows,
        );
        reports += 1;
    }
    if let Some(status) = status {
        reporter.finished(step, status, message);
        reports += 1;
    }
    let stats = reporter.close(timeout);
    if stats.sent == reports {
        return Outcome::Delivered;
    }
    eprintln!("{}", warning(&args.url, &stats, reports));
    Outcome::Undelivered
}

/// The one line printed when a report is not delivered.
fn warning(url: &str, stats: &Stats, reports: u64) -> String {
    let undelivered = reports.saturating_sub(stats.sent);
    match &stats.last_error {
        Some(error) => format!(
            "signalbox report: {undelivered} of {reports} reports not delivered to {url}: {error}"
        ),
        None => {
            format!("signalbox report: {undelivered} of {reports} reports not delivered to {url}")
        }
    }
}
