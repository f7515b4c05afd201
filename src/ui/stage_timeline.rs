//! A run's stages in a row, as the deployments board shows them. A stage is a wave of steps
//! that run side by side (one step per stage in a linear pipeline), shown as one icon in the
//! order the waves run: pending, running with a pulse, success, failed, skipped, … (icons, so
//! it reads without colour). Before each stage, a connector fills as the stage before it
//! progresses. Rollback stages appear only once they run.

use crate::api::Stage;
use crate::domain::fan_out::summarize;
use crate::domain::{RunState, Status};
use crate::ui::format;
use crate::ui::graph::icons::status_icon;
use leptos::prelude::*;

/// Characters of a stage name under its icon.
const NAME_CHARS: usize = 18;

#[component]
pub fn StageTimeline(stages: Vec<Stage>, state: RwSignal<RunState>) -> impl IntoView {
    // A stage of one step shows that step; a wave of several, their summary (running while
    // some run, else the worst ending; the mean progress).
    let mark = move |ids: Vec<String>| {
        Memo::new(move |_| {
            state.with(|s| {
                let members: Vec<_> = ids.iter().filter_map(|id| s.steps.get(id)).collect();
                match members.as_slice() {
                    [] => (Status::Pending, 0.0),
                    [one] => (one.status, one.progress),
                    _ => {
                        let whole = summarize(members.iter().copied());
                        (whole.status, whole.progress)
                    }
                }
            })
        })
    };
    let marks: Vec<_> = stages.iter().map(|s| mark(s.steps.clone())).collect();
    // The row's columns are counted here rather than left to flexbox: a browser that paints a
    // half-parsed page would otherwise spread the stages parsed so far over the whole width,
    // then move them all once the rest arrives.
    let shown = Memo::new({
        let kinds: Vec<_> = (stages.iter().map(|s| s.rollback))
            .zip(marks.iter().copied())
            .collect();
        move |_| {
            (kinds.iter())
                .filter(|(rollback, mark)| !hidden(*rollback, *mark))
                .count()
        }
    });
    let mut before = None;
    let items = stages
        .into_iter()
        .zip(marks)
        .map(|(stage, this)| {
            let link = before.replace(this).map(|previous: Memo<(Status, f64)>| {
                view! {
                    <span class="stage-link" data-status=move || previous.get().0.as_str() aria-hidden="true">
                        <span style:width=move || format!("{:.1}%", previous.get().1.clamp(0.0, 100.0))></span>
                    </span>
                }
            });
            let status = move || this.get().0;
            let label = {
                let name = stage.name.clone();
                move || {
                    let (status, progress) = this.get();
                    format!("{name}: {}, {}", status.as_str(), format::percent(progress))
                }
            };
            let rollback = stage.rollback;
            view! {
                <li
                    class="stage"
                    class:hidden=move || hidden(rollback, this)
                    data-stage=stage.steps.first().cloned().unwrap_or_default()
                    data-steps=stage.steps.join(" ")
                    data-status=move || status().as_str()
                    aria-label=label.clone()
                    title=label
                >
                    {link}
                    <span class="stage-dot">
                        <svg viewBox="0 0 24 24" aria-hidden="true"><path d=move || status_icon(status())/></svg>
                    </span>
                    <span class="stage-name">{format::truncate(&stage.name, NAME_CHARS)}</span>
                    <span class="stage-percent">
                        {move || (status() == Status::Running).then(|| format::percent(this.get().1))}
                    </span>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="stages" style=move || format!("--stages: {}", shown.get())>{items}</ol> }
}

/// A rollback stage stays out of the row until it runs.
fn hidden(rollback: bool, mark: Memo<(Status, f64)>) -> bool {
    rollback && mark.get().0 == Status::Pending
}
