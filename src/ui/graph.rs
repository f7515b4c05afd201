//! The SVG workflow graph. The layout is a pure function of the graph, computed once (by the
//! server when it can); each node, edge and marker reads only its own step's signal
//! ([`StepSignals`]), and only the selected node and the one before it react to a selection.
//!
//! Big graphs (see [`viewport`]) arrive as static markup that hydration does not walk (ten
//! thousand elements took the browser over a second to hydrate); once hydrated, the browser
//! measures what is on screen and draws only that part, live.

mod edge;
pub(crate) mod icons;
mod marker;
mod minimap;
mod node;
mod steps;
#[cfg(feature = "ssr")]
mod still;
mod viewport;
mod zoom;

pub use steps::StepSignals;

use steps::NodeStates;

use crate::domain::geometry::Rect;
use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Graph, Layout};
use edge::EdgeView;
use leptos::either::Either;
use leptos::prelude::*;
use marker::MarkerView;
use minimap::Minimap;
use node::NodeView;
use std::collections::HashMap;
use std::sync::Arc;
use viewport::{Viewport, MIN_SHARE, VIRTUAL_FROM};
use zoom::{Canvas, Zoom, ZoomTools};

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
    let names = graph
        .steps
        .iter()
        .map(|s| (s.id.clone(), (s.name.clone(), s.kind.clone())))
        .chain((layout.fan_outs.iter()).map(|f| (f.id.clone(), (f.name.clone(), f.kind.clone()))))
        .collect();
    let states = NodeStates::new(steps, &layout.fan_outs);
    let frame = Frame {
        width: layout.width,
        height: layout.height,
        steps: layout.nodes.len(),
    };
    let large = frame.steps >= VIRTUAL_FROM;
    let viewport = Viewport::new(frame.width, frame.height, large);
    let keys = Arc::clone(&layout);
    let overview = (Arc::clone(&layout), states.clone());
    let drawing = Drawing {
        layout,
        names: Arc::new(names),
        states,
        link_steps,
        selected,
        viewport,
    };
    let wrap = NodeRef::<leptos::html::Div>::new();
    let width = frame.width;
    let content = if large {
        // False on the server and while hydrating: both see the static markup.
        let drawn = RwSignal::new(false);
        #[cfg(feature = "hydrate")]
        {
            let measure = move || {
                if let Some(wrap) = wrap.get_untracked() {
                    viewport.measure(&wrap, width);
                }
            };
            // Once hydrated: draw live what the window shows (without the scrolling margin,
            // which the first scroll or resize adds), in place of the server's drawing. That
            // drawing has the live one's size and place and was laid out for the first paint,
            // so it is measured (cheaply) first; had the view been assumed instead, the next
            // frame's measure would redraw the difference before the page went live.
            // Measured again on the next frame, should the swap have moved anything.
            let measure_visible = move || {
                if let Some(wrap) = wrap.get_untracked() {
                    viewport.measure_visible(&wrap, width);
                }
            };
            Effect::new(move |_| {
                if let Some(wrap) = wrap.get() {
                    viewport.assume_unscrolled();
                    viewport.measure_visible(&wrap, width);
                    drawn.set(true);
                    request_animation_frame(measure_visible);
                }
            });
            let scroll = window_event_listener(leptos::ev::scroll, move |_| measure());
            let resize = window_event_listener(leptos::ev::resize, move |_| measure());
            on_cleanup(move || {
                scroll.remove();
                resize.remove();
            });
        }
        Either::Right(move || {
            if drawn.get() {
                Either::Left(frame.live(drawing.view()))
            } else {
                Either::Right(frame.still(drawing.markup(frame)))
            }
        })
    } else {
        Either::Left(frame.live(drawing.view()))
    };
    let seen = RwSignal::new(None);
    let on_scroll = move |_: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            if large {
                if let Some(wrap) = wrap.get_untracked() {
                    viewport.measure(&wrap, width);
                }
            }
            minimap::measure(wrap, width, seen);
        }
    };
    let zoom = Zoom::new(frame.width, frame.height);
    let canvas = Canvas::new(zoom, wrap, viewport, large, keys);
    // On narrow screens the graph keeps at least this share of its natural size and scrolls.
    let style = format!(
        "--graph-w: {width}px; --graph-min-w: {}px",
        (width * MIN_SHARE).round()
    );
    view! {
        <div class="graph-box">
            <ZoomTools canvas/>
            <div
                class="graph-wrap"
                class:graph-large=large
                style=style
                node_ref=wrap
                tabindex="0"
                aria-label="Graph: drag to pan, Ctrl + wheel to zoom, keys + − 0 1; Tab to a node, then arrows move between nodes and Enter opens one"
                on:scroll=on_scroll
                on:wheel=move |ev| canvas.wheel(ev)
                on:keydown=move |ev| canvas.key(ev)
                on:pointerdown=move |ev| canvas.pointer_down(ev)
                on:pointermove=move |ev| canvas.pointer_move(ev)
                on:pointerup=move |_| canvas.pointer_up()
                on:pointercancel=move |_| canvas.pointer_up()
            >
                {content}
            </div>
            {(overview.0.nodes.len() >= minimap::MIN_NODES).then(|| view! {
                <Minimap layout=overview.0 states=overview.1 wrap zoom seen/>
            })}
        </div>
    }
}

/// The drawing's `<svg>` inside the graph's box.
#[cfg(feature = "hydrate")]
fn svg_of(wrap: &web_sys::Element) -> Option<web_sys::Element> {
    wrap.query_selector("svg.graph").ok().flatten()
}

/// The `<svg>` element around a drawing.
#[derive(Clone, Copy)]
struct Frame {
    width: f64,
    height: f64,
    steps: usize,
}

impl Frame {
    fn live(self, drawing: impl IntoView) -> impl IntoView {
        view! {
            <svg
                class="graph"
                viewBox=format!("0 0 {} {}", self.width, self.height)
                role="img"
                aria-label=format!("Pipeline graph with {} steps", self.steps)
                data-node-w=NODE_W
                data-node-h=NODE_H
            >
                {drawing}
            </svg>
        }
    }

    /// The server's drawing ([`Drawing::markup`]), as markup hydration leaves alone (the
    /// browser gets empty strings: it only ever hydrates these elements, never builds them).
    /// With JavaScript the browser parses the first screen's part only (a `<noscript>` is
    /// text to it) and draws live what it shows once hydrated; without, it hides that part and
    /// shows the whole graph from the `<noscript>`.
    fn still(self, (first_screen, whole): (String, String)) -> impl IntoView {
        view! {
            <svg
                class="graph js-only"
                viewBox=format!("0 0 {} {}", self.width, self.height)
                role="img"
                aria-label=format!("Pipeline graph with {} steps", self.steps)
                data-node-w=NODE_W
                data-node-h=NODE_H
                data-static=""
                inner_html=first_screen
            ></svg>
            <noscript inner_html=whole></noscript>
        }
    }
}

/// Everything inside the `<svg>`: edges, nodes and markers, each shown while the viewport
/// sees it.
#[derive(Clone)]
struct Drawing {
    layout: Arc<Layout>,
    /// Step id → (name, kind).
    names: Arc<HashMap<String, (String, String)>>,
    states: NodeStates,
    link_steps: bool,
    selected: Option<Signal<Option<String>>>,
    viewport: Viewport,
}

impl Drawing {
    fn view(&self) -> impl IntoView {
        let Drawing {
            layout,
            names,
            states,
            link_steps,
            selected,
            viewport,
        } = self.clone();
        // Per element, only what decides whether it is seen is worked out now; the rest when
        // it is first drawn (most elements of a big graph never are). A group's elements are
        // type-erased views: lists of them are compiled once for the whole bundle, where a
        // list of each kind of element made the run page's WebAssembly several KB larger.
        let edge_groups = viewport.group(layout.edges.iter().map(|e| e.path.bounds()));
        let edges = edge_groups
            .iter()
            .map(|(tiles, members)| {
                let (layout, states, members) =
                    (Arc::clone(&layout), states.clone(), members.clone());
                let tiles = *tiles;
                view! {
                    <Show when=move || viewport.shows(tiles)>
                        {
                            members
                                .iter()
                                .map(|&i| {
                                    let edge = &layout.edges[i];
                                    view! {
                                        <EdgeView
                                            from_state=states.of(&edge.from)
                                            from=edge.from.clone()
                                            to=edge.to.clone()
                                            d=edge.path.to_svg()
                                        />
                                    }
                                })
                                .map(IntoAny::into_any)
                                .collect_view()
                        }
                    </Show>
                }
            })
            .collect_view();
        let selection = Selector::new(move || selected.and_then(|s| s.get()));
        let node_groups = viewport
            .group((layout.nodes.iter()).map(|node| Rect::new(node.x, node.y, NODE_W, NODE_H)));
        let nodes = node_groups
            .into_iter()
            .map(|(tiles, members)| {
                let (layout, states, names) =
                    (Arc::clone(&layout), states.clone(), Arc::clone(&names));
                let selection = selection.clone();
                view! {
                    <Show when=move || viewport.shows(tiles)>
                        {
                            members
                                .iter()
                                .map(|&i| {
                                    let node = &layout.nodes[i];
                                    let (name, kind) =
                                        names.get(&node.id).cloned().unwrap_or_default();
                                    let link = link_steps;
                                    let (selection, key) =
                                        (selection.clone(), Some(node.id.clone()));
                                    let selected =
                                        Signal::derive(move || selection.selected(&key));
                                    view! {
                                        <NodeView
                                            id=node.id.clone()
                                            name
                                            kind
                                            x=node.x
                                            y=node.y
                                            step=states.of(&node.id)
                                            link
                                            selected
                                        />
                                    }
                                })
                                .map(IntoAny::into_any)
                                .collect_view()
                        }
                    </Show>
                }
            })
            .collect_view();
        let markers = edge_groups
            .into_iter()
            .map(|(tiles, members)| {
                let (layout, states) = (Arc::clone(&layout), states.clone());
                view! {
                    <Show when=move || viewport.shows(tiles)>
                        {
                            members
                                .iter()
                                .map(|&i| {
                                    let edge = &layout.edges[i];
                                    view! { <MarkerView edge=edge.clone() step=states.of(&edge.from)/> }
                                })
                                .map(IntoAny::into_any)
                                .collect_view()
                        }
                    </Show>
                }
            })
            .collect_view();
        view! {
            <ArrowHead/>
            <g class="edges">{edges}</g>
            <g class="nodes">{nodes}</g>
            <g class="markers">{markers}</g>
        }
    }

    /// The drawing as HTML, for the server's page ([`Frame::still`]): what a first screen
    /// shows, and the whole graph in its `<svg>`.
    fn markup(&self, frame: Frame) -> (String, String) {
        #[cfg(feature = "ssr")]
        {
            let draw = |region| {
                let drawing = still::still_drawing(
                    &self.layout,
                    &self.names,
                    &self.states,
                    self.link_steps,
                    region,
                );
                view! { <ArrowHead/> {drawing} }
            };
            let first_screen = draw(Some(viewport::first_screen())).to_html();
            (first_screen, frame.live(draw(None)).to_html())
        }
        #[cfg(not(feature = "ssr"))]
        {
            let _ = frame;
            (String::new(), String::new())
        }
    }
}

/// The arrowhead every edge ends with.
#[component]
fn ArrowHead() -> impl IntoView {
    view! {
        <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M0 1 L9 5 L0 9 z" class="arrowhead"/>
            </marker>
        </defs>
    }
}
