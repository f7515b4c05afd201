//! The run header: name, id, the run's message (why it failed, say), overall status,
//! weighted percentage, live elapsed time, the connection indicator, and the actions that fit
//! the run's state.

use crate::api::functions::{CancelRun, RetryRun};
use crate::domain::{RunState, Status};
use crate::ui::conn::Conn;
use crate::ui::format;
use chrono::{DateTime, Utc};
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn RunHeader(
    state: RwSignal<RunState>,
    conn: RwSignal<Conn>,
    clock: Signal<DateTime<Utc>>,
    /// An ad-hoc run's allowed silence (ms), after which the server ends it as failed.
    silence_ms: Option<u64>,
    /// How long this pipeline's recent successful runs took (median), for the time left.
    typical_ms: Option<i64>,
) -> impl IntoView {
    let status = Memo::new(move |_| state.with(|s| s.status));
    let percent = Memo::new(move |_| state.with(RunState::percent));
    let elapsed = move || {
        state.with(|s| {
            s.elapsed_ms(clock.get())
                .map(format::duration)
                .unwrap_or_else(|| "not started".into())
        })
    };
    // Only while the run goes on, and only with history to base it on.
    let left = move || {
        let typical = typical_ms?;
        state.with(|s| {
            let elapsed = s.elapsed_ms(clock.get())?;
            (s.status == Status::Running).then(|| {
                let ms = crate::domain::eta::remaining_ms(typical, elapsed, s.percent());
                format!("about {} left", format::duration(ms))
            })
        })
    };
    // When a silent producer's run would be ended, while it is still going.
    let silent_until = move || {
        let silence = chrono::Duration::milliseconds(i64::try_from(silence_ms?).ok()?);
        state.with(|s| {
            (!s.status.is_terminal()).then(|| s.updated_at.unwrap_or(s.created_at) + silence)
        })
    };
    let (id, name, pipeline) =
        state.with_untracked(|s| (s.id.clone(), s.name.clone(), s.pipeline.clone()));
    let cancel_id = id.clone();
    let retry_id = id.clone();
    // Pipeline runs are retried here; a producer retries its own.
    let retriable = pipeline.is_some();
    let pipeline_link =
        pipeline.map(|p| view! { <a class="crumb" href=format!("/pipelines/{p}")>{p.clone()}</a> });
    view! {
        <header class="run-header">
            <div class="run-title">
                <div class="crumbs">{pipeline_link}<span class="run-id">{id}</span></div>
                <h1>{name}</h1>
                <p class="run-message">{move || state.with(|s| s.message.clone())}</p>
            </div>
            <div class="run-facts">
                <span class="run-status badge" data-status=move || status.get().as_str()>{move || status.get().as_str()}</span>
                <span class="run-percent" title="Overall progress, weighted by step weight">{move || format::percent(percent.get())}</span>
                <span class="run-elapsed" title=move || if conn.get().is_current() { "Elapsed time" } else { "Elapsed time (the connection is down: the run may have moved on)" }>{elapsed}</span>
                {move || left().map(|text| view! {
                    <span class="run-left" title="From the median duration of this pipeline's recent successful runs and the progress so far">{text}</span>
                })}
                <span class="conn js-only" data-state=move || conn.get().as_str() data-transport=move || conn.get().transport() role="status" title="The live connection: what you see is current while it says Live">
                    <span class="conn-dot" aria-hidden="true"></span>
                    {move || conn.get().label()}
                </span>
                {move || silent_until().map(|at| view! {
                    <span class="run-silence" title="A run reported from outside ends as failed when its producer goes silent this long">
                        {format!("fails if silent past {}", format::clock(at))}
                    </span>
                })}
                <Show when=move || !status.get().is_terminal()>
                    <CancelButton run=cancel_id.clone()/>
                </Show>
                <Show when=move || retriable && matches!(status.get(), Status::Failed | Status::Cancelled)>
                    <RetryButton run=retry_id.clone()/>
                </Show>
            </div>
            <div class="run-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || format!("{:.0}", percent.get())>
                <div class="run-bar-fill" data-status=move || status.get().as_str() style=move || format!("width: {:.2}%", percent.get())></div>
            </div>
        </header>
    }
}

/// Starts the run's pipeline again with the same parameters and opens the new run; a plain
/// form post without JavaScript.
#[component]
fn RetryButton(run: String) -> impl IntoView {
    let retry = ServerAction::<RetryRun>::new();
    view! {
        <ActionForm action=retry attr:class="retry-run">
            <input type="hidden" name="run" value=run/>
            <button type="submit" class="button" disabled=move || retry.pending().get()>"Retry"</button>
        </ActionForm>
    }
}

/// Cancels the run; a plain form post without JavaScript.
#[component]
fn CancelButton(run: String) -> impl IntoView {
    let cancel = ServerAction::<CancelRun>::new();
    view! {
        <ActionForm action=cancel attr:class="cancel-run">
            <input type="hidden" name="run" value=run/>
            <button type="submit" class="button danger" disabled=move || cancel.pending().get()>"Cancel"</button>
        </ActionForm>
    }
}
