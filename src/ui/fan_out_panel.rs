//! The panel of a wide fan-out drawn as one node: the whole (status, progress, how many are
//! done) and every member step with its status, percentage and message, each opening its own
//! panel. Rows read their step's own signal, so an event re-renders one row.

use crate::domain::fan_out::{summarize, FanOut};
use crate::domain::StepState;
use crate::ui::format;
use crate::ui::graph::StepSignals;
use crate::ui::panel::PanelHead;
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[component]
pub fn FanOutPanel(
    fan_out: FanOut,
    steps: StepSignals,
    /// Step id → display name.
    names: Arc<HashMap<String, String>>,
) -> impl IntoView {
    let members: Vec<Signal<StepState>> = fan_out.members.iter().map(|id| steps.get(id)).collect();
    let whole = Memo::new(move |_| {
        let states: Vec<StepState> = members.iter().map(|s| s.get()).collect();
        summarize(&states)
    });
    let rows = fan_out
        .members
        .iter()
        .map(|id| {
            let step = steps.get(id);
            let name = names.get(id).cloned().unwrap_or_else(|| id.clone());
            view! {
                <li data-step=id.clone() data-status=move || step.with(|s| s.status.as_str())>
                    <a href=format!("?step={id}")>{name}</a>
                    <span class="member-percent">{move || step.with(|s| format::percent(s.progress))}</span>
                    <span class="member-message">{move || step.with(|s| s.message.clone().unwrap_or_default())}</span>
                </li>
            }
        })
        .collect_view();
    let count = fan_out.members.len();
    view! {
        <aside class="node-panel fan-out-panel" data-step=fan_out.id.clone() aria-label=format!("{} steps of {}", count, fan_out.name)>
            <PanelHead
                kicker=format!("{count} steps, drawn as one")
                title=fan_out.name.clone()
                status=Signal::derive(move || whole.with(|s| s.status))
            />
            <dl class="panel-facts">
                <dt>"Progress"</dt>
                <dd>{move || whole.with(|s| format::percent(s.progress))}</dd>
                <dt>"Steps"</dt>
                <dd class="fan-out-counts">{move || whole.with(|s| s.message.clone().unwrap_or_default())}</dd>
            </dl>
            <h3>"Steps"</h3>
            <ul class="fan-out-members">{rows}</ul>
        </aside>
    }
}
