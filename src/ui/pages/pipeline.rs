//! A pipeline: its graph as drawn for every run, and the form that starts one.

use crate::api::functions::{load_pipeline, StartRun};
use crate::api::PipelineView;
use crate::domain::RunState;
use crate::ui::graph::{GraphView, StepSignals};
use chrono::DateTime;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn PipelinePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let view_data = Resource::new(id, load_pipeline);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading pipeline…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(Some(data)) => view! { <PipelineDetail data/> }.into_any(),
                    Ok(None) => view! { <crate::ui::pages::NotFound/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Could not load the pipeline: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PipelineDetail(data: PipelineView) -> impl IntoView {
    let start = ServerAction::<StartRun>::new();
    let card = data.card;
    // Every step pending: the graph exactly as a new run will start.
    let idle = RunState::new(
        "",
        Some(&card.id),
        &card.name,
        &data.graph,
        DateTime::UNIX_EPOCH,
    );
    let steps = StepSignals::new(data.graph.steps.iter().map(|s| s.id.as_str()), &idle);
    let pending = start.pending();
    // The server's message as it is (a bad parameter names itself), without the framework's
    // prefix.
    let error = move || {
        start.value().get().and_then(Result::err).map(|e| match e {
            ServerFnError::ServerError(message) => message,
            other => other.to_string(),
        })
    };
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
                        let value = spec.default.clone().unwrap_or_default();
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
                    <button type="submit" class="button primary" disabled=pending>"Start run"</button>
                </ActionForm>
            </div>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <GraphView graph=data.graph steps link_steps=false layout=data.layout/>
        </section>
    }
}
