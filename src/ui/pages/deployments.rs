//! The deployments board: what is being rolled out where, live, for a wall screen.

use crate::api::functions::load_board;
use crate::ui::board::Board;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let board = Resource::new(|| (), |_| load_board());
    view! {
        <Title text="Deployments · Signalbox"/>
        <section class="deployments">
            <h1>"Deployments"</h1>
            <p class="muted">"The newest runs of each deployment pipeline, stage by stage, as they happen."</p>
            <Transition fallback=|| view! { <p class="muted">"Loading deployments…"</p> }>
                {move || Suspend::new(async move {
                    match board.await {
                        Ok(view) => view! { <Board view/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{format!("Could not load the board: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
