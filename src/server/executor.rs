//! The built-in executor: runs a pipeline's shell steps in dependency order with at most
//! `max_parallel` at once, reports everything through [`Runs`] (like any producer), skips the
//! dependants of failed steps, and finishes the run with the status its steps earned.

mod leftovers;
mod output;
mod process;
mod reporter;

use super::auth::Auth;
use super::commands::INTERRUPTED;
use super::runs::Runs;
use super::waiting::{wait_for, Waited};
use crate::domain::duration::describe;
use crate::domain::{EventKind, NewEvent, Pipeline, RunState, Status, Step};
use process::{run_attempt, Attempt, Launch};
use reporter::Reporter;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use leftovers::{kill_leftovers, OWNER_VAR};
pub use output::{parse as parse_output_line, OutputLine};

pub struct Executor {
    runs: Arc<Runs>,
    /// Where each run gets a scratch working directory.
    work_root: PathBuf,
    /// Base URL handed to steps as `SIGNALBOX_URL` so nested programs can report.
    public_url: String,
    /// Marks every step process (see [`leftovers`]): the data directory this server owns.
    owner: String,
    /// Cancellation handles of the runs executing now.
    active: Mutex<HashMap<String, CancellationToken>>,
    /// The run tasks, awaited on shutdown.
    tasks: TaskTracker,
    /// Set on shutdown: runs stop because the server does, not because someone cancelled.
    stopping: Arc<AtomicBool>,
    /// Mints each step's `SIGNALBOX_TOKEN`.
    auth: Arc<Auth>,
    /// The tenant whose runs this executor runs (its steps' tokens are for it).
    tenant: String,
}

/// Everything a step task needs, shared by the steps of one run.
struct RunContext {
    runs: Arc<Runs>,
    run: String,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
    /// The run's parameters, for the steps' `when` conditions.
    params: BTreeMap<String, String>,
    cancel: CancellationToken,
    stopping: Arc<AtomicBool>,
    auth: Arc<Auth>,
    tenant: String,
}

impl RunContext {
    /// How a step or run that was stopped ends: cancelled by a user, or interrupted (failed)
    /// because the server is shutting down.
    fn stopped(&self) -> (Status, String) {
        if self.stopping.load(Ordering::SeqCst) {
            (Status::Failed, INTERRUPTED.to_owned())
        } else {
            (Status::Cancelled, "cancelled".to_owned())
        }
    }

    /// A step that never started when the run stopped is cancelled either way.
    fn never_started(&self) -> String {
        self.stopped().1
    }
}

impl Executor {
    pub fn new(
        runs: Arc<Runs>,
        work_root: PathBuf,
        public_url: String,
        owner: String,
        auth: Arc<Auth>,
        tenant: String,
    ) -> Self {
        Executor {
            runs,
            work_root,
            public_url,
            owner,
            active: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            stopping: Arc::default(),
            auth,
            tenant,
        }
    }

    /// Stops every run (killing their process groups) and records them as interrupted,
    /// waiting at most `within` for that to be written.
    pub async fn shutdown(&self, within: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let running: Vec<CancellationToken> = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        if running.is_empty() {
            return;
        }
        tracing::info!(runs = running.len(), "stopping the runs in progress");
        for token in running {
            token.cancel();
        }
        self.tasks.close();
        if tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("runs did not stop in time; the next start records them as interrupted");
        }
    }

    /// Starts executing a stored run in the background. `dir` is the pipeline file's folder,
    /// where relative commands such as `./build.sh` resolve; without it the run gets a scratch
    /// directory under the data directory.
    pub fn spawn(
        self: &Arc<Self>,
        run: String,
        pipeline: Arc<Pipeline>,
        params: BTreeMap<String, String>,
        dir: Option<PathBuf>,
    ) {
        let cancel = CancellationToken::new();
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run.clone(), cancel.clone());
        let this = Arc::clone(self);
        self.tasks.spawn(async move {
            this.execute(&run, &pipeline, params, dir, cancel).await;
            this.active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&run);
        });
    }

    /// Asks a running run to stop. Returns false when this executor is not running it.
    pub fn cancel(&self, run: &str) -> bool {
        match self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(run)
        {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    async fn execute(
        &self,
        run: &str,
        pipeline: &Pipeline,
        params: BTreeMap<String, String>,
        dir: Option<PathBuf>,
        cancel: CancellationToken,
    ) {
        let started = std::time::Instant::now();
        let report = |kind: EventKind| async move {
            if let Err(error) = self.runs.append(run, vec![NewEvent::new(kind)]).await {
                tracing::error!(run.id = %run, %error, "could not record run event");
            }
        };
        report(EventKind::RunStarted {
            params: params.clone(),
        })
        .await;
        let cwd = match dir {
            Some(dir) => dir,
            None => {
                let scratch = self.work_root.join(run);
                if let Err(error) = tokio::fs::create_dir_all(&scratch).await {
                    tracing::error!(run.id = %run, %error, "cannot create work directory");
                }
                scratch
            }
        };
        let mut env = BTreeMap::from([
            ("SIGNALBOX_URL".to_owned(), self.public_url.clone()),
            ("SIGNALBOX_RUN".to_owned(), run.to_owned()),
            (OWNER_VAR.to_owned(), self.owner.clone()),
        ]);
        for (key, value) in &params {
            env.insert(
                format!("SIGNALBOX_PARAM_{}", key.to_uppercase().replace('-', "_")),
                value.clone(),
            );
        }
        let context = Arc::new(RunContext {
            runs: Arc::clone(&self.runs),
            run: run.to_owned(),
            cwd,
            env,
            params,
            cancel: cancel.clone(),
            stopping: Arc::clone(&self.stopping),
            auth: Arc::clone(&self.auth),
            tenant: self.tenant.clone(),
        });

        let outcome = schedule(&context, pipeline).await;
        let failed: Vec<&str> = pipeline
            .steps
            .iter()
            .filter(|s| outcome.get(&s.id) == Some(&Status::Failed))
            .map(|s| s.id.as_str())
            .collect();
        let run_failed = !cancel.is_cancelled() && !failed.is_empty();
        let rolled_back = roll_back(&context, pipeline, run_failed).await;
        let (status, message) = if cancel.is_cancelled() {
            let (status, message) = context.stopped();
            (status, Some(message))
        } else if run_failed {
            let rollback = match rolled_back {
                Some(true) => "; rolled back",
                Some(false) => "; rollback failed",
                None => "",
            };
            (
                Status::Failed,
                Some(format!("failed: {}{rollback}", failed.join(", "))),
            )
        } else if outcome.values().any(|s| *s == Status::Warning) {
            (Status::Warning, Some("finished with warnings".to_owned()))
        } else {
            (Status::Success, None)
        };
        report(EventKind::RunFinished { status, message }).await;
        tracing::info!(run.id = %run, status = %status, duration_ms = started.elapsed().as_millis() as u64, "run finished");
    }
}

/// The `on_failure` steps: run (as a graph of their own) when the run failed, else ended as
/// skipped (cancelled, after a cancel). When they ran: whether they all succeeded.
async fn roll_back(
    context: &Arc<RunContext>,
    pipeline: &Pipeline,
    run_failed: bool,
) -> Option<bool> {
    if pipeline.on_failure.is_empty() {
        return None;
    }
    if !run_failed {
        let (status, message) = if context.cancel.is_cancelled() {
            (Status::Cancelled, context.never_started())
        } else {
            (
                Status::Skipped,
                "not needed: the run did not fail".to_owned(),
            )
        };
        for step in &pipeline.on_failure {
            finish(context, &step.id, status, Some(message.clone())).await;
        }
        return None;
    }
    let outcome = schedule(context, &pipeline.rollback()).await;
    Some(
        outcome
            .values()
            .all(|s| matches!(s, Status::Success | Status::Warning)),
    )
}

/// Launches ready steps (all needs succeeded) up to `max_parallel`, skips steps whose `when`
/// is not met or whose needs failed or were skipped, and after a cancel marks every step that never started as cancelled.
async fn schedule(context: &Arc<RunContext>, pipeline: &Pipeline) -> HashMap<String, Status> {
    let order: Vec<&Step> = match pipeline.graph().topo_order() {
        Ok(order) => order.into_iter().map(|i| &pipeline.steps[i]).collect(),
        Err(_) => pipeline.steps.iter().collect(),
    };
    let mut done: HashMap<String, Status> = HashMap::new();
    let mut started: Vec<String> = Vec::new();
    let mut tasks: JoinSet<(String, Status)> = JoinSet::new();
    loop {
        for step in &order {
            if started.contains(&step.id) || done.contains_key(&step.id) {
                continue;
            }
            let blocker = step.needs.iter().find_map(|n| {
                done.get(n)
                    .filter(|s| !matches!(s, Status::Success | Status::Warning))
                    .map(|s| (n, *s))
            });
            let skip = match (step.condition_unmet(&context.params), blocker) {
                (Some(unmet), _) => Some(unmet),
                (None, Some((blocker, Status::Skipped))) => {
                    Some(format!("skipped: `{blocker}` was skipped"))
                }
                (None, Some((blocker, _))) => Some(format!("skipped: `{blocker}` did not succeed")),
                (None, None) => None,
            };
            if let Some(reason) = skip {
                let (status, message) = if context.cancel.is_cancelled() {
                    (Status::Cancelled, context.never_started())
                } else {
                    (Status::Skipped, reason)
                };
                finish(context, &step.id, status, Some(message)).await;
                done.insert(step.id.clone(), status);
                continue;
            }
            let ready = step.needs.iter().all(|n| done.contains_key(n));
            if ready && tasks.len() < pipeline.max_parallel && !context.cancel.is_cancelled() {
                started.push(step.id.clone());
                let (context, step) = (Arc::clone(context), (*step).clone());
                tasks.spawn(async move {
                    let status = run_step(&context, &step).await;
                    (step.id, status)
                });
            }
        }
        match tasks.join_next().await {
            Some(Ok((step, status))) => {
                done.insert(step, status);
            }
            Some(Err(error)) => {
                tracing::error!(run.id = %context.run, %error, "step task panicked")
            }
            None => break,
        }
    }
    for step in &order {
        if !done.contains_key(&step.id) {
            let (status, message) = if context.cancel.is_cancelled() {
                (Status::Cancelled, context.never_started())
            } else {
                (Status::Skipped, Status::Skipped.to_string())
            };
            finish(context, &step.id, status, Some(message)).await;
            done.insert(step.id.clone(), status);
        }
    }
    done
}

async fn finish(context: &RunContext, step: &str, status: Status, message: Option<String>) {
    let event = NewEvent::new(EventKind::StepFinished {
        step: step.to_owned(),
        status,
        message,
    });
    if let Err(error) = context.runs.append(&context.run, vec![event]).await {
        tracing::error!(run.id = %context.run, step.id = %step, %error, "could not record step end");
    }
}

/// Runs one step to its end, with retries, and reports its final status.
async fn run_step(context: &RunContext, step: &Step) -> Status {
    let Some(script) = &step.run else {
        return wait_for_producer(context, step).await;
    };
    // A reporter token scoped to this run, for nested programs to report with as a bearer
    // token (empty when authentication is off); it lives as long as the step may and is
    // revoked as soon as the step ends.
    let attempts = step.retries + 1;
    let longest = step
        .timeout_ms
        .map(|ms| Duration::from_millis(ms) * attempts);
    let token = context
        .auth
        .step_token(&context.tenant, &context.run, &step.id, longest);
    let status = run_script(context, step, script, &token.token).await;
    context.auth.end_step_token(&token);
    status
}

/// The attempts of a step with a command.
async fn run_script(context: &RunContext, step: &Step, script: &str, token: &str) -> Status {
    let mut reporter = Reporter::new(Arc::clone(&context.runs), &context.run, &step.id);
    let mut env = context.env.clone();
    env.insert("SIGNALBOX_STEP".to_owned(), step.id.clone());
    env.insert("SIGNALBOX_TOKEN".to_owned(), token.to_owned());
    let timeout = step.timeout_ms.map(Duration::from_millis);
    let attempts = step.retries + 1;
    let mut attempt = 1;
    // Why the previous attempt failed: the new attempt's first message.
    let mut previous: Option<String> = None;
    let failure = loop {
        reporter
            .event(EventKind::StepStarted {
                step: step.id.clone(),
                attempt: (attempts > 1).then_some(attempt),
                max_attempts: (attempts > 1).then_some(attempts),
            })
            .await;
        if let Some(problem) = previous.take() {
            let message = format!("Retrying ({attempt}/{attempts}) after {problem}");
            reporter.line("system", OutputLine::Message(message)).await;
        }
        let launch = Launch {
            script,
            cwd: &context.cwd,
            env: &env,
            timeout,
            cancel: &context.cancel,
        };
        let problem = match run_attempt(launch, &mut reporter).await {
            Attempt::Exited(0) => {
                reporter
                    .event(EventKind::StepFinished {
                        step: step.id.clone(),
                        status: Status::Success,
                        message: None,
                    })
                    .await;
                // The reducer turns a success after warnings into `warning`; so does the run.
                return if reporter.warned() {
                    Status::Warning
                } else {
                    Status::Success
                };
            }
            Attempt::Cancelled => {
                let (status, message) = context.stopped();
                reporter.note(format!("{message}: the process group was killed"));
                let stopped = EventKind::StepFinished {
                    step: step.id.clone(),
                    status,
                    message: Some(message),
                };
                reporter.event(stopped).await;
                return status;
            }
            Attempt::Exited(code) => format!("exit code {code}"),
            Attempt::Signalled(signal) => {
                format!("killed by signal {}", signal.unwrap_or_default())
            }
            Attempt::TimedOut => {
                format!("timed out after {}", describe(timeout.unwrap_or_default()))
            }
            Attempt::SpawnFailed(error) => format!("could not start `sh`: {error}"),
        };
        if attempt >= attempts {
            break problem;
        }
        attempt += 1;
        reporter.note(format!(
            "attempt {} failed ({problem}); retrying ({attempt}/{attempts})",
            attempt - 1
        ));
        previous = Some(problem);
    };
    reporter.note(format!("step failed: {failure}"));
    let status = if step.continue_on_error {
        Status::Warning
    } else {
        Status::Failed
    };
    let message = if step.continue_on_error {
        format!("{failure} (continue_on_error)")
    } else {
        failure
    };
    reporter
        .event(EventKind::StepFinished {
            step: step.id.clone(),
            status,
            message: Some(message),
        })
        .await;
    status
}

/// An external step (no `run`): waits, woken by the run's own events rather than polling,
/// until a producer finishes it, its timeout passes, or the run is cancelled.
async fn wait_for_producer(context: &RunContext, step: &Step) -> Status {
    let until = step
        .timeout_ms
        .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
    let finished = |state: &RunState| {
        state
            .steps
            .get(&step.id)
            .is_some_and(|s| s.status.is_terminal())
    };
    match wait_for(
        &context.runs,
        &context.run,
        finished,
        until,
        &context.cancel,
    )
    .await
    {
        Ok(Waited::Reached(state)) => state.steps[&step.id].status,
        Ok(Waited::TimedOut) => {
            let message = format!(
                "timed out after {} waiting for a producer",
                describe(Duration::from_millis(step.timeout_ms.unwrap_or_default()))
            );
            finish(context, &step.id, Status::Failed, Some(message)).await;
            Status::Failed
        }
        Ok(Waited::Stopped) => {
            let (status, message) = context.stopped();
            finish(context, &step.id, status, Some(message)).await;
            status
        }
        Err(error) => {
            tracing::error!(run.id = %context.run, step.id = %step.id, %error, "cannot follow the run");
            let message = format!("could not follow the run: {error}");
            finish(context, &step.id, Status::Failed, Some(message)).await;
            Status::Failed
        }
    }
}
