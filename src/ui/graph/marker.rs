//! The progress marker: while a step runs at p %, a dot sits at p % of the arc length of each
//! outgoing edge. The element stays in place while p changes and only its transform moves, so
//! the CSS transition makes it glide.

use crate::domain::geometry::num;
use crate::domain::layout::EdgePath;
use crate::domain::{Status, StepState};
use crate::ui::format;
use leptos::prelude::*;

#[component]
pub fn MarkerView(edge: EdgePath, step: Signal<StepState>) -> impl IntoView {
    let running = Memo::new(move |_| step.with(|s| s.status == Status::Running));
    let path = edge.path;
    let spot = Memo::new(move |_| {
        let p = step.with(|s| s.progress);
        let at = path.point_at(p / 100.0);
        (p, num(at.x), num(at.y))
    });
    let (from, to) = (edge.from, edge.to);
    view! {
        <Show when=move || running.get()>
            <g
                class="marker"
                data-from=from.clone()
                data-to=to.clone()
                data-progress=move || spot.with(|s| s.0.to_string())
                data-x=move || spot.with(|s| s.1.clone())
                data-y=move || spot.with(|s| s.2.clone())
                style=move || spot.with(|(_, x, y)| format!("transform: translate({x}px, {y}px) scale(var(--marker-scale, 1))"))
                role="progressbar"
                aria-label=format!("{from} to {to}")
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || spot.with(|s| format!("{:.0}", s.0))
            >
                <circle class="marker-halo" r="10"/>
                <circle class="marker-dot" r="4.5"/>
                <text class="marker-label" y="-13" text-anchor="middle">{move || spot.with(|s| format::percent(s.0))}</text>
            </g>
        </Show>
    }
}
