//! What users and producers can ask of runs: start a pipeline, create an ad-hoc run, cancel.
//! Shared by the HTTP API and the server functions so both behave the same, including the
//! audit trail: starting and cancelling are recorded with who did it.

use super::auth::Principal;
use super::catalog::Entry;
use super::runs::{RunError, Runs};
use super::state::AppState;
use super::store::RunRecord;
use super::tenants::Tenant;
use super::waiting::{wait_for, Waited};
use crate::domain::{Graph, Plan, RunState, RunSummary, Status};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("no pipeline `{0}`")]
    UnknownPipeline(String),
    #[error("`params`: {0}")]
    BadParams(String),
    #[error("`id`: {0}")]
    BadRunId(String),
    #[error("`steps`: {}", .0.join("; "))]
    BadGraph(Vec<String>),
    #[error("run `{0}` is not running")]
    NotRunning(String),
    #[error("run `{0}` is still going: wait for it to end, or cancel it, before retrying")]
    StillGoing(String),
    #[error("run `{0}` was reported by a producer, which retries it; only pipeline runs are retried here")]
    NotRetriable(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// How long a cancel waits for the executor to end the run before answering.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A run id is used in URLs and subjects: 1–128 characters of `[A-Za-z0-9._-]`.
fn check_run_id(id: &str) -> Result<(), CommandError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CommandError::BadRunId(format!(
            "`{id}` must be 1-128 characters of A-Z, a-z, 0-9, `.`, `_`, `-`"
        )))
    }
}

/// 12 random hex digits.
fn random_hex() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    random[..12].to_owned()
}

/// A fresh run id: the pipeline (or "run") plus 12 random hex digits.
fn new_run_id(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex())
}

/// A dry run: the plan of a run of a catalog pipeline with `params`, executing nothing. The
/// parameters are checked exactly as for a real start.
pub fn plan_pipeline_run(
    tenant: &Tenant,
    pipeline: &str,
    params: &BTreeMap<String, String>,
) -> Result<Plan, CommandError> {
    let (entry, params) = resolve(tenant, pipeline, params)?;
    Ok(entry.pipeline.plan(&params))
}

/// A catalog pipeline and the parameters a run of it gets (defaults filled in, checked).
fn resolve<'t>(
    tenant: &'t Tenant,
    pipeline: &str,
    params: &BTreeMap<String, String>,
) -> Result<(&'t Entry, BTreeMap<String, String>), CommandError> {
    let entry = tenant
        .catalog
        .get(pipeline)
        .ok_or_else(|| CommandError::UnknownPipeline(pipeline.to_owned()))?;
    let params = entry
        .pipeline
        .resolve_params(params)
        .map_err(CommandError::BadParams)?;
    Ok((entry, params))
}

/// Starts a run of a catalog pipeline with the built-in executor.
pub async fn start_pipeline_run(
    state: &AppState,
    tenant: &Tenant,
    actor: &Principal,
    pipeline: &str,
    params: &BTreeMap<String, String>,
    id: Option<String>,
) -> Result<(RunSummary, bool), CommandError> {
    let (entry, params) = resolve(tenant, pipeline, params)?;
    let id = match id {
        Some(id) => {
            check_run_id(&id)?;
            id
        }
        None => new_run_id(&entry.pipeline.id),
    };
    let graph = entry.pipeline.run_graph();
    let now = Utc::now();
    let initial = RunState::new(
        &id,
        Some(&entry.pipeline.id),
        &entry.pipeline.name,
        &graph,
        now,
    );
    let record = RunRecord {
        id: id.clone(),
        pipeline: Some(entry.pipeline.id.clone()),
        name: entry.pipeline.name.clone(),
        graph,
        executor: true,
        created_at: now,
        epoch: random_hex(),
        summary: initial.summary(),
    };
    // Creating the run and starting it are one unit that a client hanging up cannot cut in
    // half (a stored run that nobody executes would stay pending forever).
    let (runs, executor, entry) = (
        Arc::clone(&tenant.runs),
        Arc::clone(&tenant.executor),
        entry.clone(),
    );
    let (auth, actor) = (Arc::clone(&state.auth), actor.clone());
    tokio::spawn(async move {
        let (summary, created) = runs.create(record).await?;
        if created {
            let detail = params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            auth.record(&actor, "run.start", &id, &detail).await;
            executor.spawn(id, entry.pipeline, params, entry.dir);
        }
        Ok((summary, created))
    })
    .await
    .map_err(|e| CommandError::Run(RunError::Task(e.to_string())))?
}

/// Creates a run whose steps an external producer reports.
pub async fn create_adhoc_run(
    tenant: &Tenant,
    id: Option<String>,
    name: Option<String>,
    graph: Graph,
) -> Result<(RunSummary, bool), CommandError> {
    let problems: Vec<String> = graph.validate().iter().map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(CommandError::BadGraph(problems));
    }
    let id = match id {
        Some(id) => {
            check_run_id(&id)?;
            id
        }
        None => new_run_id("run"),
    };
    let name = name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| id.clone());
    let now = Utc::now();
    let initial = RunState::new(&id, None, &name, &graph, now);
    let record = RunRecord {
        id: id.clone(),
        pipeline: None,
        name,
        graph,
        executor: false,
        created_at: now,
        epoch: random_hex(),
        summary: initial.summary(),
    };
    Ok(tenant.runs.create(record).await?)
}

/// Cancels a run: the executor stops its processes; an ad-hoc run is closed directly.
pub async fn cancel_run(
    state: &AppState,
    tenant: &Tenant,
    actor: &Principal,
    run: &str,
) -> Result<RunSummary, CommandError> {
    let current = tenant.runs.snapshot(run).await?.state;
    if current.status.is_terminal() {
        return Err(CommandError::NotRunning(run.to_owned()));
    }
    state.auth.record(actor, "run.cancel", run, "").await;
    if tenant.executor.cancel(run) {
        // The executor kills the processes and records the steps' and the run's ends; the
        // answer is the run as the cancel left it (or as it is after `CANCEL_WAIT`).
        let ended = |state: &RunState| state.status.is_terminal();
        let until = Some(tokio::time::Instant::now() + CANCEL_WAIT);
        let never = CancellationToken::new();
        let after = match wait_for(&tenant.runs, run, ended, until, &never).await? {
            Waited::Reached(state) => *state,
            Waited::TimedOut | Waited::Stopped => tenant.runs.snapshot(run).await?.state,
        };
        return Ok(after.summary());
    }
    tenant
        .runs
        .close(run, Status::Cancelled, "cancelled")
        .await?;
    Ok(tenant.runs.snapshot(run).await?.state.summary())
}

/// Starts a new run of an ended pipeline run's pipeline, with the same parameters. The new
/// run's answer; the audit trail links it to the one it retries.
pub async fn retry_run(
    state: &AppState,
    tenant: &Tenant,
    actor: &Principal,
    run: &str,
) -> Result<RunSummary, CommandError> {
    let ended = tenant.runs.snapshot(run).await?.state;
    let Some(pipeline) = ended.pipeline.clone() else {
        return Err(CommandError::NotRetriable(run.to_owned()));
    };
    if !ended.status.is_terminal() {
        return Err(CommandError::StillGoing(run.to_owned()));
    }
    let (summary, _) =
        start_pipeline_run(state, tenant, actor, &pipeline, &ended.params, None).await?;
    state
        .auth
        .record(actor, "run.retry", &summary.id, &format!("retry of {run}"))
        .await;
    Ok(summary)
}

/// What a run the server stopped in the middle of says about it.
pub const INTERRUPTED: &str = "interrupted: the server stopped while this run was executing";

/// After a restart, runs the executor was running have no process any more: record that
/// truthfully instead of leaving them "running" forever.
pub async fn fail_interrupted_runs(runs: &Arc<Runs>) -> Result<usize, RunError> {
    let orphans = runs.store().orphaned_runs().await?;
    for run in &orphans {
        runs.close(run, Status::Failed, INTERRUPTED).await?;
        tracing::warn!(run.id = %run, "marked interrupted run as failed");
    }
    Ok(orphans.len())
}
