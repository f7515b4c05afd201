//! One node: a rounded card with the kind icon, the name (truncated, full name as tooltip),
//! a second line with message, rows or duration, a status stripe and icon, a progress bar, and
//! from a step's second attempt on, an attempt badge on its top edge.

use super::icons::{kind_icon, status_icon};
use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Status, StepState};
use crate::ui::format;
use leptos::prelude::*;

/// Characters of the name and second line that fit the node at the graph's type size.
pub(super) const NAME_CHARS: usize = 15;
const DETAIL_CHARS: usize = 16;
const BAR_X: f64 = 10.0;
const BAR_W: f64 = NODE_W - 20.0;
const BADGE_W: f64 = 44.0;

/// Which attempt a retried step is on: "2/3", or "2" when the producer did not say how many.
fn attempt_label(step: &StepState) -> Option<String> {
    let attempt = step.attempt();
    (attempt > 1).then(|| match step.max_attempts {
        Some(max) => format!("{attempt}/{max}"),
        None => attempt.to_string(),
    })
}

/// The second line: message (with rows) while there is one, else the duration once known.
pub(super) fn detail(step: &StepState) -> String {
    let rows = step.rows.map(|r| format!("{} rows", format::count(r)));
    let text = match (&step.message, rows) {
        (Some(m), Some(r)) => format!("{r} · {m}"),
        (Some(m), None) => m.clone(),
        (None, Some(r)) => r,
        (None, None) => match (step.started_at, step.finished_at) {
            (Some(a), Some(b)) => format::duration((b - a).num_milliseconds()),
            (Some(_), None) => "running…".to_owned(),
            _ if step.status == Status::Pending => "waiting".to_owned(),
            _ => step.status.as_str().to_owned(),
        },
    };
    format::truncate(&text, DETAIL_CHARS)
}

#[component]
pub fn NodeView(
    id: String,
    name: String,
    kind: String,
    x: f64,
    y: f64,
    step: Signal<StepState>,
    link: bool,
    #[prop(into)] selected: Signal<bool>,
) -> impl IntoView {
    let status = Memo::new(move |_| step.with(|s| s.status));
    let progress = Memo::new(move |_| step.with(|s| s.progress));
    let attempt = Memo::new(move |_| step.with(attempt_label));
    let class = move || {
        let mut class = format!("node status-{}", status.get().as_str());
        if selected.get() {
            class.push_str(" selected");
        }
        class
    };
    let label = format::truncate(&name, NAME_CHARS);
    // The hover tooltip: name and id, then status and percentage, then the step's message.
    let tooltip = {
        let head = format!("{name} ({id})");
        move || {
            step.with(|s| {
                let message = s.message.as_deref().map(|m| format!("\n{m}"));
                format!(
                    "{head}\n{} · {}{}",
                    s.status.as_str(),
                    format::percent(s.progress),
                    message.unwrap_or_default()
                )
            })
        }
    };
    let aria = {
        let name = name.clone();
        move || {
            let retry = attempt.get().map(|a| format!(", attempt {a}"));
            format!(
                "{name}: {}, {}{}",
                status.get().as_str(),
                format::percent(progress.get()),
                retry.unwrap_or_default()
            )
        }
    };
    // One `view!` for the whole node: elements such as `<a>` and `<title>` exist in both HTML
    // and SVG, and the macro only picks the SVG ones when it sees the enclosing `<g>`.
    let href = link.then(|| format!("?step={id}"));
    let target = id.clone();
    let navigate = leptos_router::hooks::use_navigate();
    let location = leptos_router::hooks::use_location();
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if link {
            // The router does not intercept SVG links: navigate in-app so the page stays live.
            ev.prevent_default();
            let path = location.pathname.get_untracked();
            navigate(
                &format!("{path}?step={target}"),
                leptos_router::NavigateOptions {
                    scroll: false,
                    ..Default::default()
                },
            );
        }
    };
    view! {
        <g
            class=class
            data-step=id
            data-status=move || status.get().as_str()
            transform=format!("translate({x} {y})")
            aria-label=aria
        >
            <a href=href class="node-link" on:click=on_click>
                <title>{tooltip}</title>
                <rect class="node-card" width=NODE_W height=NODE_H rx="10"/>
                <rect class="node-stripe" width="5" height=NODE_H rx="2.5"/>
                <g class="node-icon" transform="translate(14 12) scale(0.8)">
                    <path d=kind_icon(&kind)/>
                </g>
                <text class="node-name" x="42" y="27">{label}</text>
                <text class="node-detail" x="42" y="45">{move || step.with(detail)}</text>
                <g class="status-icon" transform=format!("translate({} 10) scale(0.7)", NODE_W - 28.0)>
                    <path d=move || status_icon(status.get())/>
                </g>
                <text class="node-percent" x=NODE_W - 12.0 y="45" text-anchor="end">
                    {move || format::percent(progress.get())}
                </text>
                <rect class="node-track" x=BAR_X y=NODE_H - 8.0 width=BAR_W height="3" rx="1.5"/>
                <rect
                    class="node-progress"
                    x=BAR_X
                    y=NODE_H - 8.0
                    height="3"
                    rx="1.5"
                    width=move || format!("{:.1}", BAR_W * progress.get().clamp(0.0, 100.0) / 100.0)
                    role="progressbar"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || format!("{:.0}", progress.get())
                />
                {move || attempt.get().map(|label| view! {
                    <g class="node-attempt" transform=format!("translate({} -9)", NODE_W - BADGE_W - 10.0)>
                        <rect width=BADGE_W height="18" rx="9"/>
                        <text x=BADGE_W / 2.0 y="13" text-anchor="middle">{format!("↻ {label}")}</text>
                    </g>
                })}
            </a>
        </g>
    }
}
