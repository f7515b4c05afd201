//! Server functions: thin wrappers that take the shared state from context and call into
//! `server::`. Mutations use POST (the default encoding); the cross-site guard
//! (`server::origin`) refuses them from other sites. Each asks the caller (found by
//! `server::auth::guard`) for the permission it needs, and works in the caller's tenant.

use super::security::{Access, AuditEntry, AuditFilter};
use super::views::{PipelineCard, PipelineView, RunView, RunsPage};
use crate::domain::LogLine;
use leptos::prelude::*;
use std::collections::BTreeMap;
#[cfg(feature = "ssr")]
use {
    super::security::Viewer,
    crate::server::auth::{Action, Principal},
    crate::server::state::AppState,
    crate::server::tenants::Tenant,
    std::sync::Arc,
};

#[cfg(feature = "ssr")]
fn app_state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))
}

/// The caller of this request, if signed in (or authentication is off).
#[cfg(feature = "ssr")]
fn principal() -> Option<Principal> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Principal>()
        .cloned()
}

/// The caller, if allowed to do `action`, and its tenant. Refusals carry 401 or 403.
#[cfg(feature = "ssr")]
async fn caller(action: Action) -> Result<(Principal, Arc<Tenant>), ServerFnError> {
    let refuse = |status: http::StatusCode, message: String| {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        ServerFnError::new(message)
    };
    let principal = principal()
        .ok_or_else(|| refuse(http::StatusCode::UNAUTHORIZED, "sign in first".into()))?;
    if !principal.role.allows(action) {
        return Err(refuse(
            http::StatusCode::FORBIDDEN,
            principal.role.refusal(action),
        ));
    }
    let tenant = app_state()?
        .tenants
        .get(&principal.tenant)
        .await
        .map_err(failed)?;
    Ok((principal, tenant))
}

/// A server-side failure as the client sees it.
#[cfg(feature = "ssr")]
fn failed(error: impl std::fmt::Display) -> ServerFnError {
    ServerFnError::new(error.to_string())
}

/// Who the page is shown to (`None` on the sign-in page before signing in), and whether this
/// server asks people to sign in at all.
#[server(prefix = "/fn")]
pub async fn page_access() -> Result<Access, ServerFnError> {
    use crate::server::auth::Grant;
    Ok(Access {
        viewer: principal().map(|p| Viewer {
            local: p.grant == Grant::Local,
            user: p.user,
            role: p.role.as_str().to_owned(),
            tenant: p.tenant,
        }),
        sign_in_required: app_state()?.auth.is_required(),
    })
}

/// The audit trail of the caller's tenant, newest first (admins only).
#[server(prefix = "/fn")]
pub async fn audit_entries(filter: AuditFilter) -> Result<Vec<AuditEntry>, ServerFnError> {
    let (caller, _) = caller(Action::Administer).await?;
    let filter = AuditFilter {
        limit: filter.limit.clamp(1, 1000),
        ..filter
    };
    app_state()?
        .auth
        .store()
        .audit(&caller.tenant, &filter)
        .await
        .map_err(failed)
}

#[server(prefix = "/fn")]
pub async fn list_pipelines() -> Result<Vec<PipelineCard>, ServerFnError> {
    let (_, tenant) = caller(Action::View).await?;
    Ok(tenant
        .catalog
        .all()
        .map(|p| PipelineCard::from(p.as_ref()))
        .collect())
}

/// Runs on one page of a run list.
pub const RUNS_PAGE: u32 = 25;

/// One page of run history, filtered (see `RunsQuery`).
#[server(prefix = "/fn")]
pub async fn load_runs(
    pipeline: Option<String>,
    status: Option<String>,
    day: Option<String>,
    before: Option<String>,
) -> Result<RunsPage, ServerFnError> {
    let (_, tenant) = caller(Action::View).await?;
    let query = super::views::RunsQuery {
        pipeline,
        status,
        day,
        before,
    };
    let filter = crate::server::store::RunFilter::from_query(&query, RUNS_PAGE + 1)
        .map_err(ServerFnError::new)?;
    let mut runs = tenant.runs.list(&filter).await.map_err(failed)?;
    let more = runs.len() > RUNS_PAGE as usize;
    runs.truncate(RUNS_PAGE as usize);
    Ok(RunsPage {
        runs,
        more,
        now: chrono::Utc::now(),
    })
}

/// The deployments board: the stages of each deployment pipeline (`kind = "deployment"`) and
/// their newest runs, whole.
#[server(prefix = "/fn")]
pub async fn load_board() -> Result<super::BoardView, ServerFnError> {
    use super::{BoardPipeline, BOARD_ROWS};
    let (_, tenant) = caller(Action::View).await?;
    let pipelines: Vec<BoardPipeline> = tenant
        .catalog
        .all()
        .filter(|p| p.on_board())
        .map(|p| BoardPipeline::from(p.as_ref()))
        .collect();
    let mut recent = Vec::new();
    for pipeline in &pipelines {
        let filter = crate::server::store::RunFilter {
            pipeline: Some(pipeline.id.clone()),
            limit: BOARD_ROWS as u32,
            ..Default::default()
        };
        recent.extend(tenant.runs.list(&filter).await.map_err(failed)?);
    }
    recent.sort_by_key(|run| std::cmp::Reverse(run.created_at));
    recent.truncate(BOARD_ROWS);
    let snapshots =
        futures::future::try_join_all(recent.iter().map(|run| tenant.runs.snapshot(&run.id)))
            .await
            .map_err(failed)?;
    Ok(super::BoardView {
        pipelines,
        runs: snapshots.into_iter().map(|s| s.state).collect(),
        now: chrono::Utc::now(),
    })
}

/// A pipeline page; with `plan`, also the dry run of a run with those parameters.
#[server(prefix = "/fn")]
pub async fn load_pipeline(
    id: String,
    plan: Option<BTreeMap<String, String>>,
) -> Result<Option<PipelineView>, ServerFnError> {
    let (_, tenant) = caller(Action::View).await?;
    let plan = plan.map(|params| {
        crate::server::commands::plan_pipeline_run(&tenant, &id, &params).map_err(|e| e.to_string())
    });
    Ok(tenant.catalog.get(&id).map(|entry| PipelineView {
        card: PipelineCard::from(entry.pipeline.as_ref()),
        graph: entry.pipeline.run_graph(),
        plan,
        order: Some(entry.layout.order.clone()),
        layout: Some(Arc::clone(&entry.layout)),
    }))
}

/// Starts a run and sends the browser to its page (a 302 for a plain form post).
#[server(prefix = "/fn")]
pub async fn start_run(
    pipeline: String,
    params: Option<BTreeMap<String, String>>,
) -> Result<(), ServerFnError> {
    let (caller, tenant) = caller(Action::Operate).await?;
    let params = params.unwrap_or_default();
    let (summary, _) = crate::server::commands::start_pipeline_run(
        &app_state()?,
        &tenant,
        &caller,
        &pipeline,
        &params,
        None,
    )
    .await
    .map_err(failed)?;
    leptos_axum::redirect(&format!("/runs/{}", summary.id));
    Ok(())
}

#[server(prefix = "/fn")]
pub async fn load_run(id: String) -> Result<Option<RunView>, ServerFnError> {
    use crate::server::runs::RunError;
    let (_, tenant) = caller(Action::View).await?;
    let snapshot = match tenant.runs.snapshot(&id).await {
        Ok(snapshot) => snapshot,
        Err(RunError::UnknownRun(_)) => return Ok(None),
        Err(e) => return Err(failed(e)),
    };
    let Some(record) = tenant.runs.store().run(&id).await.map_err(failed)? else {
        return Ok(None);
    };
    // The graph it was created with plus the steps its producer added since.
    let graph = snapshot.state.graph(&record.graph);
    let layout = crate::server::layout::lay_out(graph.clone())
        .await
        .map_err(failed)?;
    let silence_ms = record
        .pipeline
        .is_none()
        .then(|| app_state().map(|s| s.adhoc_idle_timeout.as_millis() as u64))
        .transpose()?;
    // Only a run that goes on shows the time left: a finished one reads no history.
    let typical = match &record.pipeline {
        Some(pipeline) if !snapshot.state.status.is_terminal() => tenant
            .runs
            .store()
            .typical_durations(pipeline, 10)
            .await
            .map_err(failed)?,
        _ => None,
    };
    Ok(Some(RunView {
        typical,
        graph,
        state: snapshot.state.into(),
        epoch: snapshot.epoch,
        now: chrono::Utc::now(),
        silence_ms,
        order: Some(layout.order.clone()),
        layout: Some(layout),
    }))
}

#[server(prefix = "/fn")]
pub async fn step_logs(
    run: String,
    step: String,
    after: u64,
    limit: u32,
) -> Result<Vec<LogLine>, ServerFnError> {
    let (_, tenant) = caller(Action::View).await?;
    tenant
        .runs
        .logs_after(&run, &step, after, limit.clamp(1, 5_000))
        .await
        .map_err(failed)
}

/// Runs of a step's past the node panel's sparkline shows.
pub const STEP_HISTORY: u32 = 20;

/// How long `step` took in the pipeline's earlier ended runs (before `run`), oldest first;
/// empty for an ad-hoc run.
#[server(prefix = "/fn")]
pub async fn step_history(
    run: String,
    step: String,
) -> Result<Vec<super::PastStep>, ServerFnError> {
    let (_, tenant) = caller(Action::View).await?;
    let store = tenant.runs.store();
    let Some(record) = store.run(&run).await.map_err(failed)? else {
        return Ok(Vec::new());
    };
    let Some(pipeline) = record.pipeline else {
        return Ok(Vec::new());
    };
    store
        .step_history(&pipeline, &step, record.created_at, STEP_HISTORY)
        .await
        .map_err(failed)
}

/// Retries an ended pipeline run and sends the browser to the new run's page.
#[server(prefix = "/fn")]
pub async fn retry_run(run: String) -> Result<(), ServerFnError> {
    let (caller, tenant) = caller(Action::Operate).await?;
    let summary = crate::server::commands::retry_run(&app_state()?, &tenant, &caller, &run)
        .await
        .map_err(failed)?;
    leptos_axum::redirect(&format!("/runs/{}", summary.id));
    Ok(())
}

#[server(prefix = "/fn")]
pub async fn cancel_run(run: String) -> Result<(), ServerFnError> {
    let (caller, tenant) = caller(Action::Operate).await?;
    crate::server::commands::cancel_run(&app_state()?, &tenant, &caller, &run)
        .await
        .map_err(failed)?;
    Ok(())
}
