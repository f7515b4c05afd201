//! The home page: the pipelines, and the most recent runs.

use crate::api::functions::{list_pipelines, recent_runs};
use crate::ui::format;
use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let pipelines = Resource::new(|| (), |_| list_pipelines());
    let runs = Resource::new(|| (), |_| recent_runs(15));
    view! {
        <section class="home">
            <div class="home-head">
                <h1>"Pipelines"</h1>
                <crate::ui::system_panel::SystemPanel/>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading pipelines…"</p> }>
                {move || Suspend::new(async move {
                    match pipelines.await {
                        Ok(list) => view! {
                            <ul class="pipeline-list">
                                {list.into_iter().map(|p| view! {
                                    <li class="pipeline-card">
                                        <a href=format!("/pipelines/{}", p.id)>
                                            <span class="card-name">{p.name}</span>
                                            <span class="card-meta">{format!("{} · {} steps", p.id, p.steps)}</span>
                                            <span class="card-description">{p.description}</span>
                                        </a>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error">{format!("Could not load pipelines: {e}")}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <h2>"Recent runs"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    match runs.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No runs yet: open a pipeline and start one."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="run-table">
                                <thead><tr><th>"Run"</th><th>"Pipeline"</th><th>"Status"</th><th>"Progress"</th><th>"Started"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|r| view! {
                                        <tr data-run=r.id.clone()>
                                            <td><a href=format!("/runs/{}", r.id)>{r.id.clone()}</a></td>
                                            <td>{r.name}</td>
                                            <td><span class="badge" data-status=r.status.as_str()>{r.status.as_str()}</span></td>
                                            <td>{format::percent(r.percent)}</td>
                                            <td>{r.started_at.map(format::clock).unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <p class="error">{format!("Could not load runs: {e}")}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
