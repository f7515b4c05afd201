//! A pipeline: its graph as drawn for every run, the form that starts one, and its dry run
//! (`?plan=1&params[…]=…`): the plan on the graph and in words, nothing executed.

use crate::api::functions::{load_pipeline, StartRun};
use crate::api::PipelineView;
use crate::domain::{Layout, RunState};
use crate::ui::graph::{GraphView, StepSignals};
use crate::ui::plan::{preview, query_params, PlanSummary, PLAN_KEY};
use crate::ui::runs_table::{RunsSource, RunsTable};
use chrono::DateTime;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The server's message as it is, without the framework's prefix.
fn message(error: ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message,
        other => other.to_string(),
    }
}

#[component]
pub fn PipelinePage() -> impl IntoView {
    super::split::prefetch_run_page();
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    // The dry run the URL asks for: its parameters.
    let asked = move || {
        query.with(|q| {
            q.get_str(PLAN_KEY)
                .map(|_| query_params(q.into_iter().map(|(k, v)| (k.as_ref(), v))))
        })
    };
    let runs = RunsSource::new(move || Some(id()));
    let view_data = Resource::new(
        move || (id(), asked()),
        |(id, plan)| load_pipeline(id, plan),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading pipeline…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(Some(data)) => view! { <PipelineDetail data runs/> }.into_any(),
                    Ok(None) => view! { <crate::ui::pages::NotFound/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Could not load the pipeline: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The dry run query of the clicked button's form: its current values plus `plan=1`.
#[cfg(feature = "hydrate")]
fn dry_run_query(ev: &leptos::ev::MouseEvent) -> Option<String> {
    use wasm_bindgen::JsCast;
    let button: web_sys::HtmlButtonElement = ev.current_target()?.dyn_into().ok()?;
    let data = web_sys::FormData::new_with_form(&button.form()?).ok()?;
    let query = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok()?;
    query.delete("pipeline");
    query.set(PLAN_KEY, "1");
    Some(query.to_string().into())
}

#[cfg(not(feature = "hydrate"))]
fn dry_run_query(_: &leptos::ev::MouseEvent) -> Option<String> {
    None
}

#[component]
fn PipelineDetail(data: PipelineView, runs: RunsSource) -> impl IntoView {
    // In the browser, drawn in the order the server found (see `RunView::order`).
    let layout = data
        .layout
        .clone()
        .unwrap_or_else(|| Arc::new(Layout::in_order(&data.graph, data.order.as_ref())));
    let plan = data.plan;
    let start = ServerAction::<StartRun>::new();
    let card = data.card;
    // Every step pending: the graph exactly as a new run will start (or as the plan sees it).
    let idle = RunState::new(
        "",
        Some(&card.id),
        &card.name,
        &data.graph,
        DateTime::UNIX_EPOCH,
    );
    let shown = match &plan {
        Some(Ok(plan)) => preview(plan, &idle),
        _ => idle,
    };
    let steps = StepSignals::new(data.graph.steps.iter().map(|s| s.id.as_str()), &shown);
    // The form shows the values the plan was made with.
    let planned_params = match &plan {
        Some(Ok(plan)) => plan.params.clone(),
        _ => BTreeMap::new(),
    };
    // With JavaScript the dry run navigates in the app (the form itself starts runs); without,
    // the button submits the form by GET to this page.
    let here = format!("/pipelines/{}", card.id);
    let navigate = leptos_router::hooks::use_navigate();
    let on_dry_run = {
        let here = here.clone();
        move |ev: leptos::ev::MouseEvent| {
            if let Some(query) = dry_run_query(&ev) {
                ev.prevent_default();
                navigate(&format!("{here}?{query}"), Default::default());
            }
        }
    };
    let pending = start.pending();
    let error = move || start.value().get().and_then(Result::err).map(message);
    let summary = plan.map(|outcome| match outcome {
        Ok(plan) => {
            let names = data
                .graph
                .steps
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect();
            view! { <PlanSummary plan names close=here.clone()/> }.into_any()
        }
        Err(e) => view! { <p class="error" role="alert">{format!("Dry run: {e}")}</p> }.into_any(),
    });
    view! {
        <Title text=format!("{} · Signalbox", card.name)/>
        <section class="pipeline-page">
            <div class="page-head">
                <div>
                    <h1>{card.name.clone()}</h1>
                    <p class="muted">{card.description.clone()}</p>
                </div>
                <ActionForm action=start attr:class="start-run">
                    <input type="hidden" name="pipeline" value=card.id.clone()/>
                    {card.params.iter().map(|(key, spec)| {
                        let name = format!("params[{key}]");
                        let value = planned_params
                            .get(key)
                            .or(spec.default.as_ref())
                            .cloned()
                            .unwrap_or_default();
                        let required = spec.required;
                        let field = if spec.choices.is_empty() {
                            view! { <input type="text" name=name value=value required=required/> }.into_any()
                        } else {
                            view! {
                                <select name=name required=required>
                                    {spec.choices.iter().map(|choice| view! {
                                        <option value=choice.clone() selected=*choice == value>{choice.clone()}</option>
                                    }).collect_view()}
                                </select>
                            }.into_any()
                        };
                        let label = if required { format!("{key} *") } else { key.clone() };
                        view! { <label class="param" title=spec.description.clone().unwrap_or_default()><span>{label}</span>{field}</label> }
                    }).collect_view()}
                    <button type="submit" class="button" formmethod="get" formaction=here.clone()
                        name=PLAN_KEY value="1" on:click=on_dry_run>"Dry run"</button>
                    <button type="submit" class="button primary" disabled=pending>"Start run"</button>
                </ActionForm>
            </div>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {summary}
            <GraphView graph=data.graph steps link_steps=false layout=Some(layout)/>
            <h2>"Runs"</h2>
            <RunsTable source=runs/>
        </section>
    }
}
