//! A run: the live graph, the header with overall progress, and the panel of the selected step.

use crate::api::functions::load_run;
use crate::api::RunView;
use crate::domain::fan_out::FanOut;
use crate::domain::{Layout, RunState};
use crate::ui::conn::Conn;
use crate::ui::fan_out_panel::FanOutPanel;
use crate::ui::gantt::Gantt;
use crate::ui::graph::{GraphView, StepSignals};
use crate::ui::live::{provide_live, use_clock};
use crate::ui::panel::{NodePanel, PanelData};
use crate::ui::run_header::RunHeader;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::collections::HashMap;
use std::sync::Arc;

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, load_run);
    let query = use_query_map();
    let step = Memo::new(move |_| query.read().get("step"));
    let panel = PanelData::new(id, step);
    // A producer that adds steps changes the graph: the page loads it again (keeping the old
    // drawing on screen meanwhile).
    let regrow = Callback::new(move |_| data.refetch());
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading run…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(view)) => view! { <RunDetail view regrow panel/> }.into_any(),
                    Ok(None) => view! { <crate::ui::pages::NotFound/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Could not load the run: {e}")}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunDetail(view: RunView, regrow: Callback<()>, panel: PanelData) -> impl IntoView {
    let RunView {
        graph,
        state: initial,
        epoch,
        now,
        silence_ms,
        typical,
        layout,
        order,
    } = view;
    let initial: RunState = initial.into();
    let run_id = initial.id.clone();
    crate::ui::toasts::watch(&run_id);
    let finished_at_load = initial.status.is_terminal();
    let steps = StepSignals::new(graph.steps.iter().map(|s| s.id.as_str()), &initial);
    let drawn = graph.steps.len();
    let state = RwSignal::new(initial);
    Effect::new(move |asked: Option<bool>| {
        let grown = state.with(|s| s.steps.len() > drawn);
        if grown && asked != Some(true) {
            regrow.run(());
        }
        grown || asked == Some(true)
    });
    let conn = RwSignal::new(if finished_at_load {
        Conn::Final
    } else {
        Conn::Connecting
    });
    provide_live(run_id.clone(), epoch, state, steps, conn);
    let clock = use_clock(now);
    let query = use_query_map();
    let names: Arc<HashMap<String, String>> = Arc::new(
        graph
            .steps
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect(),
    );
    // Drawn here, in the order the server found, when the server did not hand the layout over
    // (the browser): the panel needs its fan-outs, the graph the rest.
    let layout = layout.unwrap_or_else(|| Arc::new(Layout::in_order(&graph, order.as_ref())));
    let fan_outs: Arc<HashMap<String, FanOut>> = Arc::new(
        layout
            .fan_outs
            .iter()
            .map(|f| (f.id.clone(), f.clone()))
            .collect(),
    );
    // Depends on the query only: a run's events must not re-evaluate the selection.
    let selected = Memo::new({
        let (names, fan_outs) = (Arc::clone(&names), Arc::clone(&fan_outs));
        move |_| {
            query
                .read()
                .get("step")
                .filter(|s| names.contains_key(s) || fan_outs.contains_key(s))
        }
    });
    let title = state.with_untracked(|s| format!("{} · {} · Signalbox", s.name, s.id));
    let stale = move || !conn.get().is_current();
    view! {
        <Title text=title/>
        <section class="run-page" class:has-panel=move || selected.get().is_some() class:stale=stale>
            <RunHeader state conn clock silence_ms typical_ms=typical.as_ref().map(|t| t.run_ms)/>
            <noscript inner_html=static_view_note(!finished_at_load)></noscript>
            <div class="run-body">
                <div class="graph-area">
                    <GraphView graph=graph.clone() steps link_steps=true selected layout=Some(layout.clone())/>
                </div>
                {move || selected.get().map(|step| match fan_outs.get(&step) {
                    Some(fan_out) => view! {
                        <FanOutPanel fan_out=fan_out.clone() steps names=Arc::clone(&names)/>
                    }
                    .into_any(),
                    None => {
                        let name = names.get(&step).cloned().unwrap_or_else(|| step.clone());
                        let typical_ms = typical.as_ref().and_then(|t| t.steps.get(&step).copied());
                        view! { <NodePanel run=run_id.clone() step name state clock typical_ms data=panel/> }.into_any()
                    }
                })}
                <Gantt graph steps state clock/>
            </div>
        </section>
    }
}

/// Without JavaScript the page cannot follow the run: say so, offer a reload, and refresh a
/// running run's page by itself. (Inside `<noscript>`, as markup the browser only parses
/// when scripts are off, so hydration never sees it.)
fn static_view_note(running: bool) -> String {
    let refresh = if running {
        "<meta http-equiv=\"refresh\" content=\"10\"> It reloads itself every 10 seconds while \
         the run is in progress."
    } else {
        ""
    };
    format!(
        "<p class=\"static-note\" role=\"status\">Static view: JavaScript is off, so this page \
         shows the run as it was when the page loaded. <a href=\"\">Reload</a> for the \
         latest.{refresh}</p>"
    )
}
