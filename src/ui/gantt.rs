//! A run's Gantt timeline: one bar per step on a time axis from the run's start, open-ended
//! and growing while a step runs, coloured by status (and marked by its icon, so colour is
//! never the only sign); a step's earlier (failed) attempts and the time it waited after its
//! dependencies had finished are drawn before its bar. It reads the same per-step signals as
//! the graph, so it works live and after the run alike.

use crate::domain::{Graph, RunState, Status, StepState};
use crate::ui::format;
use crate::ui::graph::icons::status_icon;
use crate::ui::graph::StepSignals;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;

/// Bigger runs are summed up in a sentence: a chart of thousands of rows helps nobody.
pub const MAX_ROWS: usize = 300;
/// Tick spacings the axis chooses from (ms): the smallest that gives at most `MAX_TICKS`.
const SPACINGS: [i64; 14] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000,
];
const MAX_TICKS: i64 = 8;

/// What a piece of a step's row shows.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Piece {
    /// Ready (its dependencies done) but not started yet: waiting for a slot.
    Waiting,
    /// An earlier attempt, which failed.
    Attempt,
    /// The last (or current) attempt, in the step's status.
    Bar,
}

/// One piece of a row, in ms from the run's start; `open` while it still grows.
#[derive(Clone, Debug, PartialEq)]
struct Span {
    piece: Piece,
    from: i64,
    to: i64,
    open: bool,
}

/// The pieces of one step's row. `ready`: when its last dependency finished (the run's start
/// for a step with none); `None` while one has not.
fn spans(
    step: &StepState,
    ready: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Span> {
    let ms = |t: DateTime<Utc>| (t - start).num_milliseconds().max(0);
    let mut out = Vec::new();
    let begun = step.started_at;
    if let Some(ready) = ready {
        let waited_until = begun.unwrap_or(now);
        let waiting = begun.is_some() || step.status == Status::Pending;
        if waiting && waited_until > ready {
            out.push(Span {
                piece: Piece::Waiting,
                from: ms(ready),
                to: ms(waited_until),
                open: begun.is_none(),
            });
        }
    }
    let Some(first) = begun else {
        return out;
    };
    let mut from = first;
    for &retry in &step.retried_at {
        out.push(Span {
            piece: Piece::Attempt,
            from: ms(from),
            to: ms(retry),
            open: false,
        });
        from = retry;
    }
    out.push(Span {
        piece: Piece::Bar,
        from: ms(from),
        to: ms(step.finished_at.unwrap_or(now)),
        open: step.finished_at.is_none(),
    });
    out
}

/// Where the axis's ticks go (ms from the start) for a timeline `span_ms` long.
fn ticks(span_ms: i64) -> Vec<i64> {
    let spacing = SPACINGS
        .into_iter()
        .find(|s| span_ms / s <= MAX_TICKS)
        .unwrap_or_else(|| {
            let widest = SPACINGS[SPACINGS.len() - 1];
            widest * (span_ms / MAX_TICKS / widest + 1)
        });
    (0..=span_ms / spacing).map(|k| k * spacing).collect()
}

/// "0", "30s", "1m", "1m 30s", "2h".
fn tick_label(ms: i64) -> String {
    let s = ms / 1000;
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, 0) => "0".to_owned(),
        (0, 0, sec) => format!("{sec}s"),
        (0, min, 0) => format!("{min}m"),
        (0, min, sec) => format!("{min}m {sec}s"),
        (h, 0, _) => format!("{h}h"),
        (h, min, _) => format!("{h}h {min}m"),
    }
}

/// The run's time frame: its start and how long it has run (ms). A running run's frame ends
/// now, or at its latest event if the once-a-second clock has not caught up.
fn frame(run: &RunState, now: DateTime<Utc>) -> (DateTime<Utc>, i64) {
    let start = run.started_at.unwrap_or(run.created_at);
    let end = run
        .finished_at
        .unwrap_or_else(|| run.updated_at.map_or(now, |last| last.max(now)));
    (start, (end - start).num_milliseconds().max(0))
}

/// Round lengths (ms) a running run's axis steps through, a day at most; then whole days.
const LENGTHS: [i64; 27] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 180_000,
    300_000, 600_000, 900_000, 1_200_000, 1_800_000, 2_700_000, 3_600_000, 5_400_000, 7_200_000,
    10_800_000, 14_400_000, 21_600_000, 28_800_000, 43_200_000, 86_400_000,
];

/// The axis's length. A running run's is the next round length with room to spare above its
/// elapsed time: it changes now and then, not every second, so while the bars grow into it
/// nothing else on the chart moves. An ended run's is its own length (at least a second, so
/// a run that took no time is not drawn huge).
fn axis_ms(elapsed_ms: i64, ended: bool) -> i64 {
    if ended {
        return elapsed_ms.max(1_000);
    }
    let wanted = elapsed_ms + elapsed_ms / 8;
    LENGTHS
        .into_iter()
        .find(|&l| l >= wanted)
        .unwrap_or_else(|| {
            let day = LENGTHS[LENGTHS.len() - 1];
            day * (wanted / day + 1)
        })
}

#[component]
pub fn Gantt(
    graph: Graph,
    steps: StepSignals,
    state: RwSignal<RunState>,
    clock: Signal<DateTime<Utc>>,
) -> impl IntoView {
    if graph.steps.len() > MAX_ROWS {
        return view! {
            <section class="gantt" aria-label="Timeline">
                <h2>"Timeline"</h2>
                <p class="muted">{format!("The timeline draws runs of up to {MAX_ROWS} steps; this one has {}.", graph.steps.len())}</p>
            </section>
        }
        .into_any();
    }
    // Only a running run's frame moves with the clock. Positions are shares of the axis,
    // worked out by the stylesheet from `--span` (set once on the chart) and each piece's own
    // `--from`/`--len` in ms: as the axis grows, finished rows are not rebuilt.
    let frame = Memo::new(move |_| {
        state.with(|run| {
            let now = run.finished_at.unwrap_or_else(|| clock.get());
            frame(run, now)
        })
    });
    let start = Memo::new(move |_| frame.get().0);
    let span = Memo::new(move |_| {
        let ended = state.with(|run| run.finished_at.is_some());
        axis_ms(frame.get().1, ended)
    });
    let order = graph
        .topo_order()
        .unwrap_or_else(|_| (0..graph.steps.len()).collect());
    let rows = order
        .into_iter()
        .map(|i| {
            let step = graph.steps[i].clone();
            let signal = steps.get(&step.id);
            let needs: Vec<Signal<StepState>> = step.needs.iter().map(|n| steps.get(n)).collect();
            let ready = move || {
                if needs.is_empty() {
                    return state.with(|r| r.started_at);
                }
                needs
                    .iter()
                    .map(|n| n.with(|s| s.finished_at))
                    .collect::<Option<Vec<_>>>()
                    .and_then(|ends| ends.into_iter().max())
            };
            let status = Memo::new(move |_| signal.with(|s| s.status));
            let pieces = move || {
                let start = start.get();
                // Only what is still going on reads the clock.
                let ongoing = signal.with(|s| s.finished_at.is_none() && !s.status.is_terminal());
                let now = if ongoing {
                    start + chrono::Duration::milliseconds(frame.get().1)
                } else {
                    start
                };
                let spans = signal.with(|s| spans(s, ready(), start, now));
                let end = spans.last().map(|s| s.to);
                let label = signal.with(|s| s.duration_ms(now)).map(format::duration);
                let bars = spans
                    .into_iter()
                    .map(|s| {
                        let class = match s.piece {
                            Piece::Waiting => "gantt-wait",
                            Piece::Attempt => "gantt-attempt",
                            Piece::Bar => "gantt-bar",
                        };
                        let at = format!("--from: {}; --len: {}", s.from, (s.to - s.from).max(0));
                        view! { <span class=class class:open=s.open style=at></span> }
                    })
                    .collect_view();
                let label = end.zip(label).map(|(end, text)| {
                    view! { <span class="gantt-label" style=format!("--from: {end}")>{text}</span> }
                });
                view! { {bars} {label} }
            };
            let aria = {
                let name = step.name.clone();
                move || {
                    signal.with(|s| {
                        let attempts = match s.attempt() {
                            0 | 1 => String::new(),
                            n => format!(", {n} attempts"),
                        };
                        format!("{name}: {}{attempts}", s.status.as_str())
                    })
                }
            };
            let short = format::truncate(&step.name, 24);
            view! {
                <li class="gantt-row" data-step=step.id.clone() data-status=move || status.get().as_str() aria-label=aria>
                    <A href=format!("?step={}", step.id) scroll=false attr:class="gantt-name" attr:title=step.name.clone()>
                        <svg class="gantt-icon" viewBox="0 0 24 24" aria-hidden="true"><path d=move || status_icon(status.get())/></svg>
                        <span>{short}</span>
                    </A>
                    <div class="gantt-track">{pieces}</div>
                </li>
            }
        })
        .collect_view();
    let axis = move || {
        ticks(span.get())
            .into_iter()
            .map(|t| view! { <span class="gantt-tick" style=format!("--from: {t}")>{tick_label(t)}</span> })
            .collect_view()
    };
    view! {
        <section class="gantt" aria-label="Timeline">
            <h2>"Timeline"</h2>
            <div class="gantt-chart" style=move || format!("--span: {}", span.get())>
                <div class="gantt-axis" aria-hidden="true">{axis}</div>
                <ol class="gantt-rows">{rows}</ol>
            </div>
            <p class="gantt-legend muted">
                <span class="gantt-key gantt-wait"></span>"ready, waiting to start"
                <span class="gantt-key gantt-attempt"></span>"failed attempt"
            </p>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, s).unwrap()
    }

    #[test]
    fn a_retried_step_that_waited_shows_each_piece() {
        let step = StepState {
            status: Status::Running,
            started_at: Some(at(5)),
            retried_at: vec![at(9)],
            ..StepState::default()
        };
        let got = spans(&step, Some(at(2)), at(0), at(12));
        let pieces: Vec<(Piece, i64, i64, bool)> = got
            .iter()
            .map(|s| (s.piece, s.from, s.to, s.open))
            .collect();
        assert_eq!(
            pieces,
            [
                (Piece::Waiting, 2_000, 5_000, false),
                (Piece::Attempt, 5_000, 9_000, false),
                (Piece::Bar, 9_000, 12_000, true),
            ]
        );
    }

    #[test]
    fn pending_steps_wait_only_once_ready_and_finished_bars_close() {
        let pending = StepState::default();
        assert!(spans(&pending, None, at(0), at(10)).is_empty());
        let waiting = spans(&pending, Some(at(4)), at(0), at(10));
        assert_eq!(waiting.len(), 1);
        assert!(waiting[0].open && waiting[0].piece == Piece::Waiting);
        let done = StepState {
            status: Status::Success,
            started_at: Some(at(1)),
            finished_at: Some(at(3)),
            ..StepState::default()
        };
        let bar = spans(&done, Some(at(1)), at(0), at(10));
        assert_eq!(bar.len(), 1, "no wait when it started as soon as it could");
        assert_eq!((bar[0].to, bar[0].open), (3_000, false));
        let skipped = StepState {
            status: Status::Skipped,
            ..StepState::default()
        };
        assert!(spans(&skipped, Some(at(1)), at(0), at(10)).is_empty());
    }

    #[test]
    fn a_running_frame_reaches_the_latest_event_even_before_the_clock_does() {
        let mut run = RunState::new("r", None, "r", &Graph::default(), at(0));
        run.started_at = Some(at(1));
        run.updated_at = Some(at(9));
        assert_eq!(frame(&run, at(8)), (at(1), 8_000));
        assert_eq!(frame(&run, at(10)), (at(1), 9_000));
        run.finished_at = Some(at(9));
        assert_eq!(
            frame(&run, at(30)),
            (at(1), 8_000),
            "a finished run's frame stays"
        );
    }

    #[test]
    fn a_running_axis_keeps_its_length_for_a_while_and_an_ended_one_fits() {
        assert_eq!(axis_ms(0, false), 1_000);
        assert_eq!(axis_ms(3_100, false), 5_000);
        assert_eq!(axis_ms(4_400, false), 5_000);
        assert_eq!(axis_ms(4_500, false), 10_000, "room to spare");
        assert_eq!(axis_ms(50 * 60_000, false), 3_600_000);
        assert_eq!(axis_ms(30 * 3_600_000, false), 2 * 86_400_000);
        assert_eq!(axis_ms(4_400, true), 4_400);
        assert_eq!(axis_ms(20, true), 1_000);
    }

    #[test]
    fn the_axis_has_a_few_round_ticks() {
        assert_eq!(ticks(4_500), [0, 1_000, 2_000, 3_000, 4_000]);
        assert_eq!(
            ticks(95_000),
            [0, 15_000, 30_000, 45_000, 60_000, 75_000, 90_000]
        );
        assert!(ticks(50 * 3_600_000).len() <= MAX_TICKS as usize + 1);
        assert_eq!(tick_label(90_000), "1m 30s");
        assert_eq!(tick_label(7_200_000), "2h");
    }
}
