//! A big graph as the server draws it: the first paint, and all there is for browsers without
//! JavaScript. Each node is a card with its name, detail line and percentage (seven elements,
//! where the live node has fourteen: parsing, styling and laying out tens of thousands of
//! elements was most of a 2,000-step page's load); edges are drawn as one path per colour and
//! one path of all arrowheads (thousands of edge elements were another fifth of them), and
//! markers only for running steps. Drawn twice: the part a first screen shows, which is all a
//! browser with JavaScript parses (the whole of a 2,000-step graph took 0.7 s to parse, style
//! and lay out before the page's script could run), and the whole graph, for browsers without.
//! The browser replaces it with the live drawing of what is on screen ([`super::viewport`]).

use super::edge::tone;
use super::marker::MarkerView;
use super::node::{detail, NAME_CHARS};
use super::steps::NodeStates;
use crate::domain::geometry::{num, Rect};
use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Layout, Status};
use crate::ui::format;
use leptos::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// The live graph's arrowhead (its `<marker>`, scaled by the stroke width) in graph units:
/// from the base to the tip, and half its height.
const ARROW_LENGTH: f64 = 12.6;
const ARROW_HALF: f64 = 5.6;

pub fn still_drawing(
    layout: &Layout,
    names: &HashMap<String, (String, String)>,
    states: &NodeStates,
    link_steps: bool,
    region: Option<Rect>,
) -> impl IntoView {
    let seen = |rect: Rect| region.is_none_or(|region| region.intersects(&rect));
    let mut curves: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut heads = String::new();
    for edge in layout.edges.iter().filter(|e| seen(e.path.bounds())) {
        let status = states.of(&edge.from).with_untracked(|s| s.status);
        let d = curves.entry(tone(status)).or_default();
        d.push_str(&edge.path.to_svg());
        d.push(' ');
        // Edges end level, at the target's left side: the arrowhead points right.
        if let Some(tip) = edge.path.segments.last().map(|c| c.to) {
            let (base, top, bottom) =
                (tip.x - ARROW_LENGTH, tip.y - ARROW_HALF, tip.y + ARROW_HALF);
            heads.push_str(&format!(
                "M{} {}L{} {}L{} {}Z",
                num(base),
                num(top),
                num(tip.x),
                num(tip.y),
                num(base),
                num(bottom)
            ));
        }
    }
    let edges = curves
        .into_iter()
        .map(|(tone, d)| view! { <path class=format!("edge edge-{tone}") d=d/> })
        .collect_view();
    let nodes = layout
        .nodes
        .iter()
        .filter(|node| seen(Rect::new(node.x, node.y, NODE_W, NODE_H)))
        .map(|node| {
            let step = states.of(&node.id).get_untracked();
            let name = names.get(&node.id).map_or(node.id.as_str(), |(name, _)| name);
            let status = step.status.as_str();
            let href = link_steps.then(|| format!("?step={}", node.id));
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
                && seen(edge.path.bounds())
        })
        .map(|edge| view! { <MarkerView edge=edge.clone() step=states.of(&edge.from)/> })
        .collect_view();
    view! {
        <g class="edges">{edges} <path class="arrowhead" d=heads/></g>
        <g class="nodes">{nodes}</g>
        <g class="markers">{markers}</g>
    }
}
