//! The details panel of one step: status, times, duration, progress, message, rows, warnings,
//! and the log, which follows live while the step runs.

use crate::api::functions::{step_history, step_logs};
use crate::api::PastStep;
use crate::domain::{LogLine, RunState, Status, StepState};
use crate::ui::format;
use crate::ui::hydration;
use crate::ui::live::follow_logs;
use crate::ui::sparkline::StepHistory;
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

/// Something loaded for one step's panel, with the step it is for.
pub type ForStep<T> = Result<Option<(String, T)>, ServerFnError>;

/// What the selected step's panel loads from the server: its first log lines and its
/// durations in earlier runs.
///
/// The run page creates these itself, outside its view closures. While it renders, the server
/// may build a closure's components more than once (tachys resolves them in a dry run first),
/// and each copy of a resource takes the next serialisation id; the browser builds them once
/// and hydrates with the first copy's data, fetched before the data the HTML was drawn from.
/// A step that logged in between made the two lists differ, which kills hydration.
#[derive(Clone, Copy)]
pub struct PanelData {
    logs: Resource<ForStep<Vec<LogLine>>>,
    history: Resource<ForStep<Vec<PastStep>>>,
}

impl PanelData {
    /// Loads for `step` (the selected one, if any) of `run`; again when either changes.
    pub fn new(
        run: impl Fn() -> String + Send + Sync + Clone + 'static,
        step: Memo<Option<String>>,
    ) -> Self {
        let source = move || (run(), step.get());
        let logs = Resource::new(source.clone(), |(run, step)| async move {
            let Some(step) = step else { return Ok(None) };
            let lines = step_logs(run, step.clone(), 0, FIRST_LINES).await?;
            Ok(Some((step, lines)))
        });
        let history = Resource::new(source, |(run, step)| async move {
            let Some(step) = step else { return Ok(None) };
            let past = step_history(run, step.clone()).await?;
            Ok(Some((step, past)))
        });
        Self { logs, history }
    }
}

#[component]
pub fn NodePanel(
    run: String,
    step: String,
    name: String,
    state: RwSignal<RunState>,
    clock: Signal<DateTime<Utc>>,
    /// How long this step took in the pipeline's recent successful runs (median).
    typical_ms: Option<i64>,
    data: PanelData,
) -> impl IntoView {
    let id = step.clone();
    let current = Memo::new(move |_| state.with(|s| s.steps.get(&id).cloned().unwrap_or_default()));
    let logs = data.logs;
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
            {state.with_untracked(|s| s.pipeline.is_some()).then(|| view! {
                <StepHistory step=step.clone() past=data.history current clock/>
            })}
            <Suspense fallback=loading_log>
                {move || {
                    let (run, step) = (run.clone(), step.clone());
                    Suspend::new(async move {
                        match logs.await {
                            Ok(Some((of, first))) if of == step => view! { <LogView run step first/> }.into_any(),
                            // Still the previous step's (the new one's are on their way).
                            Ok(_) => loading_log().into_any(),
                            Err(e) => view! { <p class="error">{format!("Could not load the log: {e}")}</p> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </aside>
    }
}

fn loading_log() -> impl IntoView {
    view! { <h3>"Log"</h3><p class="muted">"Loading log…"</p> }
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

/// Height of one log line in pixels: the stylesheet gives `.log-line` this height, so the
/// list can draw only the lines in view and stand in for the rest with empty space.
const LINE_PX: f64 = 19.0;
/// Lines drawn beyond those in view, above and below.
const OVERSCAN: usize = 40;
/// Lines drawn before the box is measured: the server's page (without JavaScript, the
/// download has the rest).
const FIRST_WINDOW: usize = 400;

/// The part of the log that is drawn: the first line's index and how many.
fn window_at(scroll_top: f64, box_height: f64) -> (usize, usize) {
    let first = (scroll_top / LINE_PX).floor().max(0.0) as usize;
    let shown = (box_height / LINE_PX).ceil() as usize;
    (first.saturating_sub(OVERSCAN), shown + 2 * OVERSCAN)
}

/// The log, with live lines appended as they arrive. Only the lines in view are in the page,
/// so a log of 100,000 lines scrolls as lightly as one of 100; while the box is scrolled to
/// its end it follows new lines (like `tail -f`).
#[component]
fn LogView(run: String, step: String, first: Vec<LogLine>) -> impl IntoView {
    let lines = RwSignal::new(first);
    let download = format!("/api/v1/runs/{run}/steps/{step}/logs?format=text");
    follow_logs(step, lines);
    let window = RwSignal::new((0, FIRST_WINDOW));
    let scroller = NodeRef::<leptos::html::Ol>::new();
    let at_end = StoredValue::new(true);
    let measure = move || {
        // Until the page is hydrated the list must stay the server's window.
        if !hydration::is_finished() {
            return;
        }
        if let Some(list) = scroller.get_untracked() {
            let (top, height) = (
                f64::from(list.scroll_top()),
                f64::from(list.client_height()),
            );
            at_end.set_value(top + height >= f64::from(list.scroll_height()) - LINE_PX);
            let wanted = window_at(top, height);
            if window.get_untracked() != wanted {
                window.set(wanted);
            }
        }
    };
    let hydrated = RwSignal::new(hydration::is_finished());
    if !hydrated.get_untracked() {
        leptos::task::spawn_local(async move {
            hydration::finished().await;
            let _ = hydrated.try_set(true);
        });
    }
    // New lines while at the end: stay at the end (from when the page is hydrated).
    Effect::new(move |_| {
        lines.with(Vec::len);
        if hydrated.get() && at_end.get_value() {
            request_animation_frame(move || {
                if let Some(list) = scroller.get_untracked() {
                    list.set_scroll_top(list.scroll_height());
                }
                measure();
            });
        }
    });
    let range = move || {
        let (from, count) = window.get();
        let total = lines.with(Vec::len);
        let from = from.min(total);
        (from, (from + count).min(total), total)
    };
    let shown = move || {
        let (from, to, _) = range();
        lines.with(|all| all[from..to].to_vec())
    };
    let space = |n: usize| format!("{}px", n as f64 * LINE_PX);
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let text = lines.with(|all| {
            all.iter()
                .map(|l| l.line.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        });
        leptos::task::spawn_local(async move {
            let done = copy_text(text).await;
            if copied.try_set(Some(done)).is_none() {
                set_timeout(
                    move || {
                        let _ = copied.try_set(None);
                    },
                    std::time::Duration::from_secs(2),
                );
            }
        });
    };
    view! {
        <div class="panel-log-head">
            <h3>"Log"</h3>
            <span class="log-actions">
                <button type="button" class="button js-only log-copy" on:click=copy title="Copy the whole log">
                    {move || match copied.get() {
                        Some(true) => "Copied",
                        Some(false) => "Copy failed",
                        None => "Copy",
                    }}
                </button>
                <a class="button" href=download download>"Download"</a>
            </span>
        </div>
        <ol class="log-lines" class:hidden=move || lines.with(Vec::is_empty) node_ref=scroller on:scroll=move |_| measure()>
            <li class="log-space" aria-hidden="true" style:height=move || space(range().0)></li>
            <For each=shown key=|line| line.n let:line>
                <li class="log-line" data-stream=line.stream.clone() data-n=line.n>
                    <span class="log-n">{line.n}</span>
                    <span class="log-text">{line.line}</span>
                </li>
            </For>
            <li class="log-space" aria-hidden="true" style:height=move || { let (_, to, total) = range(); space(total - to) }></li>
        </ol>
        <Show when=move || lines.with(Vec::is_empty)>
            <p class="muted log-empty">"No output yet."</p>
        </Show>
    }
}

/// Puts `text` on the clipboard; false where the browser offers none (pages served over
/// plain HTTP from another machine, say) or refuses (no permission).
async fn copy_text(text: String) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
            return false;
        };
        let has_clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into())
            .is_ok_and(|c| !c.is_undefined() && !c.is_null());
        has_clipboard
            && wasm_bindgen_futures::JsFuture::from(navigator.clipboard().write_text(&text))
                .await
                .is_ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawn_window_covers_the_view_and_some_more() {
        assert_eq!(window_at(0.0, 420.0), (0, 23 + 2 * OVERSCAN));
        let (from, count) = window_at(190_000.0, 420.0);
        assert_eq!(from, 10_000 - OVERSCAN);
        assert!(
            from + count > 10_000 + 23,
            "reaches past the last line in view"
        );
    }
}
