//! The SVG workflow graph. The layout is a pure function of the graph, computed once (by the
//! server when it can); each node, edge and marker reads only its own step's signal
//! ([`StepSignals`]), and only the selected node and the one before it react to a selection.

mod edge;
mod icons;
mod marker;
mod node;
mod steps;
mod viewport;

pub use steps::StepSignals;

use crate::domain::geometry::Rect;
use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Graph, Layout};
use edge::EdgeView;
use leptos::prelude::*;
use marker::MarkerView;
use node::NodeView;
use std::sync::Arc;
use viewport::{Viewport, VIRTUAL_FROM};

#[component]
pub fn GraphView(
    graph: Graph,
    steps: StepSignals,
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
    let large = layout.nodes.len() >= VIRTUAL_FROM;
    let viewport = Viewport::new();
    let edges = layout
        .edges
        .iter()
        .map(|edge| {
            let from = steps.get(&edge.from);
            let (source, target, d) = (edge.from.clone(), edge.to.clone(), edge.path.to_svg());
            let bounds = edge.path.bounds();
            view! {
                <Show when=move || viewport.shows(bounds)>
                    <EdgeView from_state=from from=source.clone() to=target.clone() d=d.clone()/>
                </Show>
            }
        })
        .collect_view();
    let selection = Selector::new(move || selected.and_then(|s| s.get()));
    let nodes = layout
        .nodes
        .iter()
        .map(|node| {
            let step = steps.get(&node.id);
            let (name, kind) = names.get(&node.id).cloned().unwrap_or_default();
            let (selection, key) = (selection.clone(), Some(node.id.clone()));
            let is_selected = Signal::derive(move || selection.selected(&key));
            let (id, x, y) = (node.id.clone(), node.x, node.y);
            let bounds = Rect::new(x, y, NODE_W, NODE_H);
            view! {
                <Show when=move || viewport.shows(bounds)>
                    <NodeView id=id.clone() name=name.clone() kind=kind.clone() x y step link=link_steps selected=is_selected/>
                </Show>
            }
        })
        .collect_view();
    let markers = layout
        .edges
        .iter()
        .map(|edge| {
            let from = steps.get(&edge.from);
            let (edge, bounds) = (edge.clone(), edge.path.bounds());
            view! {
                <Show when=move || viewport.shows(bounds)>
                    <MarkerView edge=edge.clone() step=from/>
                </Show>
            }
        })
        .collect_view();
    let wrap = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    if large {
        let measure = move || {
            if let Some(wrap) = wrap.get_untracked() {
                viewport.measure(&wrap, width);
            }
        };
        // After hydration (the server drew everything), then whenever the view may move.
        Effect::new(move |_| {
            if wrap.get().is_some() {
                measure();
            }
        });
        let scroll = window_event_listener(leptos::ev::scroll, move |_| measure());
        let resize = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || {
            scroll.remove();
            resize.remove();
        });
    }
    let on_scroll = move |_: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        if large {
            if let Some(wrap) = wrap.get_untracked() {
                viewport.measure(&wrap, width);
            }
        }
    };
    // On narrow screens the graph keeps at least this share of its natural size and scrolls.
    let style = format!(
        "--graph-w: {width}px; --graph-min-w: {}px",
        (width * 0.8).round()
    );
    view! {
        <div class="graph-wrap" class:graph-large=large style=style node_ref=wrap on:scroll=on_scroll>
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
