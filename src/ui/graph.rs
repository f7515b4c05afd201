//! The SVG workflow graph. The layout is a pure function of the graph, computed once here on
//! each side; the run state arrives as a signal and each node, edge and marker reads only its
//! own step's slice of it through a memo.

mod edge;
mod icons;
mod marker;
mod node;

use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Graph, Layout, RunState, StepState};
use edge::EdgeView;
use leptos::prelude::*;
use marker::MarkerView;
use node::NodeView;
use std::sync::Arc;

/// A memo of one step's state, so a change to another step does not touch this node.
fn step_memo(state: Signal<RunState>, id: String) -> Memo<StepState> {
    Memo::new(move |_| state.with(|s| s.steps.get(&id).cloned().unwrap_or_default()))
}

#[component]
pub fn GraphView(
    graph: Graph,
    #[prop(into)] state: Signal<RunState>,
    /// Nodes link to `?step=<id>` (the details panel); off where no run exists.
    link_steps: bool,
    /// The step whose panel is open.
    #[prop(optional, into)]
    selected: Option<Signal<Option<String>>>,
    /// The layout when the server computed it already; otherwise it is computed here.
    layout: Option<Arc<Layout>>,
) -> impl IntoView {
    let layout = layout.unwrap_or_else(|| Arc::new(Layout::compute(&graph)));
    let names: std::collections::HashMap<String, (String, String)> = graph
        .steps
        .iter()
        .map(|s| (s.id.clone(), (s.name.clone(), s.kind.clone())))
        .collect();
    let (width, height) = (layout.width, layout.height);
    let edges = layout
        .edges
        .iter()
        .map(|edge| {
            let from = step_memo(state, edge.from.clone());
            view! { <EdgeView from_state=from from=edge.from.clone() to=edge.to.clone() d=edge.path.to_svg()/> }
        })
        .collect_view();
    let nodes = layout
        .nodes
        .iter()
        .map(|node| {
            let step = step_memo(state, node.id.clone());
            let (name, kind) = names.get(&node.id).cloned().unwrap_or_default();
            let id = node.id.clone();
            let is_selected = Signal::derive(move || selected.is_some_and(|s| s.get().as_deref() == Some(id.as_str())));
            view! { <NodeView id=node.id.clone() name kind x=node.x y=node.y step link=link_steps selected=is_selected/> }
        })
        .collect_view();
    let markers = layout
        .edges
        .iter()
        .map(|edge| {
            let from = step_memo(state, edge.from.clone());
            view! { <MarkerView edge=edge.clone() step=from/> }
        })
        .collect_view();
    // On narrow screens the graph keeps at least this share of its natural size and scrolls.
    let style = format!(
        "--graph-w: {width}px; --graph-min-w: {}px",
        (width * 0.8).round()
    );
    view! {
        <div class="graph-wrap" style=style>
            <svg
                class="graph"
                viewBox=format!("0 0 {width} {height}")
                role="img"
                aria-label=format!("Pipeline graph with {} steps", layout.nodes.len())
                data-node-w=NODE_W
                data-node-h=NODE_H
            >
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0 1 L9 5 L0 9 z" class="arrowhead"/>
                    </marker>
                </defs>
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
                <g class="markers">{markers}</g>
            </svg>
        </div>
    }
}
