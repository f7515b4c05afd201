//! A step's durations across the pipeline's earlier runs, as a small bar chart in its panel:
//! one bar per run (oldest left, coloured and titled by how it ended, each opening that run at
//! this step), then this run's bar, growing while the step runs; and the median in words.

use crate::api::PastStep;
use crate::domain::eta::median;
use crate::domain::StepState;
use crate::ui::format;
use crate::ui::panel::ForStep;
use chrono::{DateTime, Utc};
use leptos::either::EitherOf4;
use leptos::prelude::*;

const BAR_W: f64 = 6.0;
const GAP: f64 = 3.0;
const HEIGHT: f64 = 32.0;

/// The bar's height for `ms` when the longest is `longest` (at least a sliver, so a very
/// short run still shows; never above the chart).
fn bar_height(ms: i64, longest: i64) -> f64 {
    (HEIGHT * ms as f64 / longest.max(1) as f64).clamp(2.0, HEIGHT)
}

/// For a pipeline's run (ad-hoc runs have no earlier runs to compare with): the block keeps
/// its height while the history loads, so the log below it does not jump.
#[component]
pub fn StepHistory(
    step: String,
    /// Loaded by the run page (see [`crate::ui::panel::PanelData`]).
    past: Resource<ForStep<Vec<PastStep>>>,
    current: Memo<StepState>,
    clock: Signal<DateTime<Utc>>,
) -> impl IntoView {
    view! {
        <div class="panel-history">
            <h3>"Earlier runs"</h3>
            <Suspense fallback=loading>
                {move || {
                    let step = step.clone();
                    Suspend::new(async move {
                        match past.await {
                            Ok(Some((of, past))) if of == step && !past.is_empty() => {
                                EitherOf4::A(view! { <Bars past step current clock/> })
                            }
                            Ok(Some((of, _))) if of == step => EitherOf4::B(view! {
                                <p class="muted history-none">"No earlier ended run of this pipeline ran this step."</p>
                            }),
                            // Still the previous step's (the new one's are on their way).
                            Ok(_) => EitherOf4::C(loading()),
                            Err(e) => EitherOf4::D(view! {
                                <p class="error history-none">{format!("Could not load earlier runs: {e}")}</p>
                            }),
                        }
                    })
                }}
            </Suspense>
        </div>
    }
}

fn loading() -> impl IntoView {
    view! { <p class="muted history-none">"Loading…"</p> }
}

#[component]
fn Bars(
    past: Vec<PastStep>,
    step: String,
    current: Memo<StepState>,
    clock: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let typical = median(past.iter().map(|p| p.ms).collect()).unwrap_or_default();
    let count = past.len();
    let width = (count + 1) as f64 * (BAR_W + GAP);
    let now_ms = move || current.with(|s| s.duration_ms(clock.get()));
    let longest = {
        let most = past.iter().map(|p| p.ms).max().unwrap_or(1);
        move || now_ms().unwrap_or(0).max(most)
    };
    let bars = past
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let x = i as f64 * (BAR_W + GAP);
            let title = format!(
                "{}: {} ({})",
                p.run,
                format::duration(p.ms),
                p.status.as_str()
            );
            view! {
                <a href=format!("/runs/{}?step={step}", p.run)>
                    <rect
                        class="spark-bar"
                        data-status=p.status.as_str()
                        x=x
                        width=BAR_W
                        y=move || HEIGHT - bar_height(p.ms, longest())
                        height=move || bar_height(p.ms, longest())
                        rx="1"
                    >
                        <title>{title}</title>
                    </rect>
                </a>
            }
        })
        .collect_view();
    let x_now = count as f64 * (BAR_W + GAP);
    let this_run = move || {
        now_ms().map(|ms| {
            view! {
                <rect
                    class="spark-bar spark-now"
                    data-status=move || current.with(|s| s.status.as_str())
                    x=x_now
                    width=BAR_W
                    y=HEIGHT - bar_height(ms, longest())
                    height=bar_height(ms, longest())
                    rx="1"
                >
                    <title>{format!("This run: {}", format::duration(ms))}</title>
                </rect>
            }
        })
    };
    let summary = format!(
        "Median {} over the last {count} ended run{}",
        format::duration(typical),
        if count == 1 { "" } else { "s" }
    );
    view! {
        <svg
                class="sparkline"
                width=width
                height=HEIGHT
                viewBox=format!("0 0 {width} {HEIGHT}")
                role="img"
                aria-label=format!("{summary}; the last bar is this run")
            >
                {bars}
                {this_run}
            </svg>
        <p class="muted">{summary}</p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_longest_and_never_vanish() {
        assert_eq!(bar_height(4_000, 4_000), HEIGHT);
        assert_eq!(bar_height(2_000, 4_000), HEIGHT / 2.0);
        assert_eq!(bar_height(1, 4_000_000), 2.0);
        assert_eq!(bar_height(5, 0), HEIGHT, "no division by zero");
    }
}
