//! Server functions: thin wrappers that take the shared state from context and call into
//! `server::`. Mutations use POST (the default encoding); the cross-site guard
//! (`server::origin`) refuses them from other sites. Each asks the caller (found by
//! `server::auth::guard`) for the permission it needs.

use super::security::{AuditEntry, AuditFilter, Viewer};
use super::views::{PipelineCard, PipelineView, RunView};
use crate::domain::{LogLine, RunSummary};
use leptos::prelude::*;
use std::collections::BTreeMap;
#[cfg(feature = "ssr")]
use std::sync::Arc;

#[cfg(feature = "ssr")]
fn app_state() -> Result<crate::server::state::AppState, ServerFnError> {
    use_context::<crate::server::state::AppState>()
        .ok_or_else(|| ServerFnError::new("server state missing"))
}

/// The caller of this request, if signed in (or authentication is off).
#[cfg(feature = "ssr")]
fn principal() -> Option<crate::server::auth::Principal> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<crate::server::auth::Principal>()
        .cloned()
}

/// The caller, if allowed to do `action`.
#[cfg(feature = "ssr")]
fn caller(
    action: crate::server::auth::Action,
) -> Result<crate::server::auth::Principal, ServerFnError> {
    let refuse = |status: http::StatusCode, message: String| {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        ServerFnError::new(message)
    };
    let principal = principal()
        .ok_or_else(|| refuse(http::StatusCode::UNAUTHORIZED, "sign in first".into()))?;
    if principal.role.allows(action) {
        Ok(principal)
    } else {
        Err(refuse(
            http::StatusCode::FORBIDDEN,
            principal.role.refusal(action),
        ))
    }
}

/// Who the page is shown to: `None` on the sign-in page before signing in.
#[server(prefix = "/fn")]
pub async fn current_viewer() -> Result<Option<Viewer>, ServerFnError> {
    use crate::server::auth::Grant;
    Ok(principal().map(|p| Viewer {
        local: p.grant == Grant::Local,
        user: p.user,
        role: p.role.as_str().to_owned(),
        tenant: p.tenant,
    }))
}

/// Whether this server asks people to sign in (the sign-in page says so when it does not).
#[server(prefix = "/fn")]
pub async fn sign_in_required() -> Result<bool, ServerFnError> {
    Ok(app_state()?.auth.is_required())
}

/// The audit trail, newest first (admins only).
#[server(prefix = "/fn")]
pub async fn audit_entries(filter: AuditFilter) -> Result<Vec<AuditEntry>, ServerFnError> {
    let caller = caller(crate::server::auth::Action::Administer)?;
    let filter = AuditFilter {
        limit: filter.limit.clamp(1, 500),
        ..filter
    };
    app_state()?
        .auth
        .store()
        .audit(&caller.tenant, &filter)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

#[server(prefix = "/fn")]
pub async fn list_pipelines() -> Result<Vec<PipelineCard>, ServerFnError> {
    caller(crate::server::auth::Action::View)?;
    Ok(app_state()?
        .catalog
        .all()
        .map(|p| PipelineCard::from(p.as_ref()))
        .collect())
}

#[server(prefix = "/fn")]
pub async fn recent_runs(limit: u32) -> Result<Vec<RunSummary>, ServerFnError> {
    caller(crate::server::auth::Action::View)?;
    let filter = crate::server::store::RunFilter {
        limit: limit.clamp(1, 200),
        ..Default::default()
    };
    app_state()?
        .runs
        .list(&filter)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

#[server(prefix = "/fn")]
pub async fn load_pipeline(id: String) -> Result<Option<PipelineView>, ServerFnError> {
    caller(crate::server::auth::Action::View)?;
    Ok(app_state()?.catalog.get(&id).map(|entry| PipelineView {
        card: PipelineCard::from(entry.pipeline.as_ref()),
        graph: entry.pipeline.graph(),
        layout: Some(Arc::clone(&entry.layout)),
    }))
}

/// Starts a run and sends the browser to its page (a 302 for a plain form post).
#[server(prefix = "/fn")]
pub async fn start_run(
    pipeline: String,
    params: Option<BTreeMap<String, String>>,
) -> Result<(), ServerFnError> {
    let caller = caller(crate::server::auth::Action::Operate)?;
    let state = app_state()?;
    let params = params.unwrap_or_default();
    let (summary, _) =
        crate::server::commands::start_pipeline_run(&state, &caller, &pipeline, &params, None)
            .await
            .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect(&format!("/runs/{}", summary.id));
    Ok(())
}

#[server(prefix = "/fn")]
pub async fn load_run(id: String) -> Result<Option<RunView>, ServerFnError> {
    use crate::server::runs::RunError;
    caller(crate::server::auth::Action::View)?;
    let state = app_state()?;
    let snapshot = match state.runs.snapshot(&id).await {
        Ok(snapshot) => snapshot,
        Err(RunError::UnknownRun(_)) => return Ok(None),
        Err(e) => return Err(ServerFnError::new(e.to_string())),
    };
    let record = state
        .runs
        .store()
        .run(&id)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let Some(record) = record else {
        return Ok(None);
    };
    let layout = crate::server::layout::lay_out(record.graph.clone())
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(Some(RunView {
        graph: record.graph,
        state: snapshot.state,
        epoch: snapshot.epoch,
        now: chrono::Utc::now(),
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
    caller(crate::server::auth::Action::View)?;
    app_state()?
        .runs
        .logs_after(&run, &step, after, limit.clamp(1, 5_000))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

#[server(prefix = "/fn")]
pub async fn cancel_run(run: String) -> Result<(), ServerFnError> {
    let caller = caller(crate::server::auth::Action::Operate)?;
    let state = app_state()?;
    crate::server::commands::cancel_run(&state, &caller, &run)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(())
}
