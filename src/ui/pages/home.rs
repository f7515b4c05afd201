//! The home page: the pipelines, the server's vital signs, and the run history.

use crate::api::functions::list_pipelines;
use crate::ui::runs_table::{RunsSource, RunsTable};
use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    super::split::prefetch_run_page();
    let pipelines = Resource::new(|| (), |_| list_pipelines());
    let runs = RunsSource::new(|| None);
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
                                            <span class="card-meta">{format!("{} · {} step{}", p.id, p.steps, if p.steps == 1 { "" } else { "s" })}</span>
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
            <h2>"Runs"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let pipelines = pipelines
                        .await
                        .map(|list| list.into_iter().map(|p| (p.id, p.name)).collect())
                        .unwrap_or_default();
                    view! { <RunsTable source=runs pipelines/> }
                })}
            </Suspense>
        </section>
    }
}
