//! The minimap: while a graph of some size does not fit on screen, a small overview of the whole graph
//! (every node in its status colour) sits at the bottom right of its box, with the part on
//! screen outlined; clicking or dragging on it brings that part of the graph into view.
//!
//! It is drawn as one path per status (seven elements whatever the graph's size), rebuilt
//! only when some node's status changes, never for mere progress.

use super::steps::NodeStates;
use super::zoom::Zoom;
use crate::domain::geometry::Rect;
use crate::domain::layout::{NODE_H, NODE_W};
use crate::domain::{Layout, Status, StepState};
use leptos::prelude::*;
use std::sync::Arc;

/// The overview's largest size on screen, in pixels.
const MAX_W: f64 = 200.0;
const MAX_H: f64 = 130.0;
/// Seen shares above this count as "everything is on screen".
const ALL_SEEN: f64 = 0.98;
/// Smaller graphs have no minimap: a few nodes off screen are one scroll away.
pub const MIN_NODES: usize = 20;

/// Statuses in drawing order (running last, on top).
const DRAWN: [Status; 7] = [
    Status::Pending,
    Status::Skipped,
    Status::Cancelled,
    Status::Success,
    Status::Warning,
    Status::Failed,
    Status::Running,
];

/// Path data with a rectangle for each node of `layout` whose status is `status`.
fn nodes_path(layout: &Layout, statuses: &[Status], status: Status) -> String {
    let mut d = String::new();
    for (node, _) in (layout.nodes.iter().zip(statuses)).filter(|(_, s)| **s == status) {
        d.push_str(&format!(
            "M{:.0} {:.0}h{NODE_W}v{NODE_H}h-{NODE_W}z",
            node.x, node.y
        ));
    }
    d
}

/// The overview's size in pixels for a graph `width` × `height`.
fn size(width: f64, height: f64) -> (f64, f64) {
    let scale = (MAX_W / width).min(MAX_H / height);
    (width * scale, height * scale)
}

#[component]
pub fn Minimap(
    layout: Arc<Layout>,
    states: NodeStates,
    wrap: NodeRef<leptos::html::Div>,
    zoom: Zoom,
    /// The part of the graph on screen, in graph units (`None` until measured); the box's own
    /// scrolling measures it too ([`measure`]).
    seen: RwSignal<Option<Rect>>,
) -> impl IntoView {
    let (width, height) = (layout.width, layout.height);
    let signals: Vec<Signal<StepState>> = layout.nodes.iter().map(|n| states.of(&n.id)).collect();
    let statuses = Memo::new(move |_| {
        signals
            .iter()
            .map(|s| s.with(|s| s.status))
            .collect::<Vec<Status>>()
    });
    #[cfg(feature = "hydrate")]
    {
        let measure = move || measure(wrap, width, seen);
        // After a zoom (which fires no scroll event when nothing scrolls), and as the box or
        // the page scrolls or the window changes size.
        Effect::new(move |_| {
            zoom.track();
            request_animation_frame(measure);
        });
        let handles = [
            window_event_listener(leptos::ev::scroll, move |_| measure()),
            window_event_listener(leptos::ev::resize, move |_| measure()),
        ];
        on_cleanup(move || handles.into_iter().for_each(|h| h.remove()));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (wrap, zoom);
    let shown = move || {
        seen.with(|s| {
            s.is_some_and(|s| {
                let w = (s.max.x - s.min.x) / width;
                let h = (s.max.y - s.min.y) / height;
                w < ALL_SEEN || h < ALL_SEEN
            })
        })
    };
    let (w, h) = size(width, height);
    let paths = {
        let layout = Arc::clone(&layout);
        move || {
            statuses.with(|statuses| {
                DRAWN
                    .iter()
                    .map(|&status| {
                        let d = nodes_path(&layout, statuses, status);
                        view! { <path class="minimap-nodes" data-status=status.as_str() d=d/> }
                    })
                    .collect_view()
            })
        }
    };
    let frame = move || {
        seen.get().map(|s| {
            view! {
                <rect
                    class="minimap-view"
                    x=s.min.x.max(0.0)
                    y=s.min.y.max(0.0)
                    width=(s.max.x.min(width) - s.min.x.max(0.0)).max(0.0)
                    height=(s.max.y.min(height) - s.min.y.max(0.0)).max(0.0)
                />
            }
        })
    };
    let dragging = StoredValue::new(false);
    let go = move |ev: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(wrap) = wrap.get_untracked() {
            browser::bring_into_view(&wrap, &ev, width, height);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <div class="minimap-dock">
            <Show when=shown>
                <svg
                    class="minimap"
                    width=format!("{w:.0}")
                    height=format!("{h:.0}")
                    style=format!("--mini-w: {w:.0}px; --mini-h: {h:.0}px")
                    viewBox=format!("0 0 {width} {height}")
                    role="img"
                    aria-label="Overview of the whole graph: click to go there"
                    on:pointerdown=move |ev| {
                        dragging.set_value(true);
                        go(ev);
                    }
                    on:pointermove=move |ev| if dragging.get_value() { go(ev) }
                    on:pointerup=move |_| dragging.set_value(false)
                    on:pointerleave=move |_| dragging.set_value(false)
                >
                    {paths.clone()}
                    {frame}
                </svg>
            </Show>
        </div>
    }
}

/// Measures what part of the graph is on screen.
#[cfg(feature = "hydrate")]
pub fn measure(wrap: NodeRef<leptos::html::Div>, width: f64, seen: RwSignal<Option<Rect>>) {
    if let Some(wrap) = wrap.get_untracked() {
        let now = browser::seen(&wrap, width);
        if seen.get_untracked() != now {
            seen.set(now);
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use wasm_bindgen::JsCast;
    use web_sys::Element;

    use crate::ui::graph::svg_of;

    /// The part of the graph visible in the window, in graph units.
    pub fn seen(wrap: &Element, width: f64) -> Option<Rect> {
        let svg = svg_of(wrap)?.get_bounding_client_rect();
        let scale = svg.width() / width;
        if !(scale.is_finite() && scale > 0.0) {
            return None;
        }
        let window = web_sys::window()?;
        let (screen_w, screen_h) = (
            window.inner_width().ok()?.as_f64()?,
            window.inner_height().ok()?.as_f64()?,
        );
        let frame = wrap.get_bounding_client_rect();
        let left = frame.left().max(0.0);
        let top = frame.top().max(0.0);
        let right = (frame.left() + f64::from(wrap.client_width())).min(screen_w);
        let bottom = (frame.top() + f64::from(wrap.client_height())).min(screen_h);
        Some(Rect::new(
            (left - svg.left()) / scale,
            (top - svg.top()) / scale,
            ((right - left) / scale).max(0.0),
            ((bottom - top) / scale).max(0.0),
        ))
    }

    /// Scrolls so that the graph point under the pointer is in the middle of what is seen:
    /// the box scrolls where it can, the page for the rest.
    pub fn bring_into_view(wrap: &Element, ev: &leptos::ev::PointerEvent, width: f64, height: f64) {
        let (Some(map), Some(seen), Some(svg)) = (
            ev.current_target()
                .and_then(|t| t.dyn_into::<Element>().ok()),
            seen(wrap, width),
            svg_of(wrap),
        ) else {
            return;
        };
        let bounds = map.get_bounding_client_rect();
        let gx = (f64::from(ev.client_x()) - bounds.left()) / bounds.width() * width;
        let gy = (f64::from(ev.client_y()) - bounds.top()) / bounds.height() * height;
        let scale = svg.get_bounding_client_rect().width() / width;
        let dx = (gx - (seen.min.x + seen.max.x) / 2.0) * scale;
        let dy = (gy - (seen.min.y + seen.max.y) / 2.0) * scale;
        wrap.set_scroll_left(wrap.scroll_left() + dx.round() as i32);
        let before = wrap.scroll_top();
        wrap.set_scroll_top(before + dy.round() as i32);
        let rest = dy - f64::from(wrap.scroll_top() - before);
        if rest.abs() >= 1.0 {
            if let Some(window) = web_sys::window() {
                window.scroll_by_with_x_and_y(0.0, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::tests::graph;

    #[test]
    fn one_rectangle_per_node_in_its_status_path() {
        let layout = Layout::compute(&graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"])]));
        let statuses = [Status::Success, Status::Running, Status::Running];
        assert_eq!(
            nodes_path(&layout, &statuses, Status::Running)
                .matches('M')
                .count(),
            2
        );
        assert_eq!(
            nodes_path(&layout, &statuses, Status::Success)
                .matches('M')
                .count(),
            1
        );
        assert!(nodes_path(&layout, &statuses, Status::Failed).is_empty());
        let (w, h) = size(4_000.0, 400.0);
        assert!((w - MAX_W).abs() < 1e-9 && h <= MAX_H);
        let (w, h) = size(400.0, 4_000.0);
        assert!((h - MAX_H).abs() < 1e-9 && w <= MAX_W);
    }
}
