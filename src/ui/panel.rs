//! The details panel of one step: status, times, duration, progress, message, rows, warnings,
//! and the log, which follows live while the step runs.

use crate::api::functions::step_logs;
use crate::domain::{LogLine, RunState, Status, StepState};
use crate::ui::format;
use crate::ui::live::follow_logs;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The top of a details panel: what it shows (a kicker line and a title), the link that
/// closes it, and the status badge.
#[component]
pub fn PanelHead(kicker: String, title: String, status: Signal<Status>) -> impl IntoView {
    view! {
        <header class="panel-head">
            <div>
                <p class="panel-kicker">{kicker}</p>
                <h2>{title}</h2>
            </div>
            <a class="panel-close" href="?" aria-label="Close the details panel">"×"</a>
        </header>
        <p class="panel-status badge" data-status=move || status.get().as_str()>
            {move || status.get().as_str()}
        </p>
    }
}

/// Lines of the log loaded with the page; the rest follow live.
const FIRST_LINES: u32 = 2_000;

#[component]
pub fn NodePanel(
    run: String,
    step: String,
    name: String,
    state: RwSignal<RunState>,
    clock: Signal<DateTime<Utc>>,
    /// How long this step took in the pipeline's recent successful runs (median).
    typical_ms: Option<i64>,
) -> impl IntoView {
    let id = step.clone();
    let current = Memo::new(move |_| state.with(|s| s.steps.get(&id).cloned().unwrap_or_default()));
    let logs = Resource::new(
        {
            let (run, step) = (run.clone(), step.clone());
            move || (run.clone(), step.clone())
        },
        |(run, step)| step_logs(run, step, 0, FIRST_LINES),
    );
    let fact = |label: &'static str, value: Box<dyn Fn() -> String + Send + Sync>| {
        view! { <dt>{label}</dt><dd>{value}</dd> }
    };
    let time = move |pick: fn(&StepState) -> Option<DateTime<Utc>>| {
        Box::new(move || current.with(|s| pick(s).map(format::clock).unwrap_or_else(|| "—".into())))
            as Box<dyn Fn() -> String + Send + Sync>
    };
    let (kicker, data_step) = (step.clone(), step.clone());
    view! {
        <aside class="node-panel" data-step=data_step aria-label=format!("Step {name}")>
            <PanelHead kicker title=name.clone() status=Signal::derive(move || current.with(|s| s.status))/>
            <dl class="panel-facts">
                {fact("Progress", Box::new(move || format::percent(current.with(|s| s.progress))))}
                {fact("Started", time(|s| s.started_at))}
                {fact("Finished", time(|s| s.finished_at))}
                {fact("Duration", Box::new(move || current.with(|s| s.duration_ms(clock.get()).map(format::duration).unwrap_or_else(|| "—".into()))))}
                {typical_ms.map(|typical| fact("Usually", Box::new(move || {
                    let usual = format::duration(typical);
                    current.with(|s| match s.duration_ms(clock.get()) {
                        Some(elapsed) if s.status == Status::Running => {
                            let left = crate::domain::eta::remaining_ms(typical, elapsed, s.progress);
                            format!("{usual} (about {} left)", format::duration(left))
                        }
                        _ => usual,
                    })
                })))}
                {fact("Attempt", Box::new(move || current.with(|s| match (s.attempt(), s.max_attempts) {
                    (0, _) => "—".into(),
                    (n, Some(max)) => format!("{n} of {max}"),
                    (n, None) => n.to_string(),
                })))}
                {fact("Rows", Box::new(move || current.with(|s| s.rows.map(format::count).unwrap_or_else(|| "—".into()))))}
                {fact("Message", Box::new(move || current.with(|s| s.message.clone().unwrap_or_else(|| "—".into()))))}
            </dl>
            {move || {
                let now = clock.get();
                let attempts = current.with(|s| attempt_spans(s, now));
                (attempts.len() > 1).then(|| view! {
                    <ol class="panel-attempts" aria-label="Attempts">
                        {attempts.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                    </ol>
                })
            }}
            {move || {
                let warnings = current.with(|s| s.warnings.clone());
                (!warnings.is_empty()).then(|| view! {
                    <ul class="panel-warnings">
                        {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                    </ul>
                })
            }}
            <div class="panel-log-head">
                <h3>"Log"</h3>
                <a class="button" href=format!("/api/v1/runs/{run}/steps/{}/logs?format=text", step.clone()) download>"Download"</a>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading log…"</p> }>
                {move || {
                    let step = step.clone();
                    Suspend::new(async move {
                        match logs.await {
                            Ok(first) => view! { <LogView step first/> }.into_any(),
                            Err(e) => view! { <p class="error">{format!("Could not load the log: {e}")}</p> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </aside>
    }
}

/// One line per attempt of a retried step: how long each took (or has taken so far).
fn attempt_spans(step: &StepState, now: DateTime<Utc>) -> Vec<String> {
    let Some(first) = step.started_at else {
        return Vec::new();
    };
    let starts: Vec<DateTime<Utc>> = std::iter::once(first)
        .chain(step.retried_at.iter().copied())
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let (end, how) = match (starts.get(i + 1), step.finished_at) {
                (Some(next), _) => (*next, "then retried"),
                (None, Some(end)) => (end, step.status.as_str()),
                (None, None) => (now, "so far"),
            };
            let took = format::duration((end - *start).num_milliseconds());
            format!("Attempt {}: {took} ({how})", i + 1)
        })
        .collect()
}

/// The log lines, with live lines appended as they arrive.
#[component]
fn LogView(step: String, first: Vec<LogLine>) -> impl IntoView {
    let lines = RwSignal::new(first);
    follow_logs(step, lines);
    view! {
        <ol class="log-lines">
            <For each=move || lines.get() key=|line| line.n let:line>
                <li class="log-line" data-stream=line.stream.clone() data-n=line.n>
                    <span class="log-n">{line.n}</span>
                    <span class="log-text">{line.line}</span>
                </li>
            </For>
        </ol>
        <Show when=move || lines.with(Vec::is_empty)>
            <p class="muted log-empty">"No output yet."</p>
        </Show>
    }
}
