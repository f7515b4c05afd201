//! A big graph as the server draws it: the first paint, and all there is for browsers without
//! JavaScript. Each node is a card with its name, detail line and percentage (seven elements,
//! where the live node has fourteen: parsing, styling and laying out tens of thousands of
//! elements was most of a 2,000-step page's load); edges are drawn as in the live graph, and
//! markers only for running steps. The browser replaces it with the live drawing of what is on
//! screen ([`super::viewport`]).

use super::edge::EdgeView;
use super::marker::MarkerView;
use super::node::{detail, NAME_CHARS};
use super::steps::NodeStates;
use crate::domain::fan_out::FanOut;
use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Layout, Status};
use crate::ui::format;
use leptos::prelude::*;
use std::collections::HashMap;

pub fn still_drawing(
    layout: &Layout,
    names: &HashMap<String, (String, String)>,
    states: &NodeStates,
    link_steps: bool,
) -> impl IntoView {
    let edges = layout
        .edges
        .iter()
        .map(|edge| {
            let from = states.of(&edge.from);
            view! { <EdgeView from_state=from from=edge.from.clone() to=edge.to.clone() d=edge.path.to_svg()/> }
        })
        .collect_view();
    let nodes = layout
        .nodes
        .iter()
        .map(|node| {
            let step = states.of(&node.id).get_untracked();
            let name = names.get(&node.id).map_or(node.id.as_str(), |(name, _)| name);
            let status = step.status.as_str();
            let href = (link_steps && !FanOut::is_fan_out(&node.id))
                .then(|| format!("?step={}", node.id));
            view! {
                <g
                    class=format!("node still status-{status}")
                    data-step=node.id.clone()
                    data-status=status
                    transform=format!("translate({} {})", node.x, node.y)
                >
                    <a href=href class="node-link">
                        <rect class="node-card" width=NODE_W height=NODE_H rx="10"/>
                        <rect class="node-stripe" width="5" height=NODE_H rx="2.5"/>
                        <text class="node-name" x="16" y="27">{format::truncate(name, NAME_CHARS)}</text>
                        <text class="node-detail" x="16" y="45">{detail(&step)}</text>
                        <text class="node-percent" x=NODE_W - 12.0 y="45" text-anchor="end">
                            {format::percent(step.progress)}
                        </text>
                    </a>
                </g>
            }
        })
        .collect_view();
    let markers = layout
        .edges
        .iter()
        .filter(|edge| {
            states
                .of(&edge.from)
                .with_untracked(|s| s.status == Status::Running)
        })
        .map(|edge| view! { <MarkerView edge=edge.clone() step=states.of(&edge.from)/> })
        .collect_view();
    view! {
        <g class="edges">{edges}</g>
        <g class="nodes">{nodes}</g>
        <g class="markers">{markers}</g>
    }
}
