//! Zooming and panning the graph. Until the user zooms, the stylesheet sizes the graph to its
//! box (down to [`MIN_SHARE`] of its natural size, then the box scrolls sideways). Zooming
//! sets an explicit scale: the drawing's width becomes the natural width times the scale, and
//! the box a scroll area in both directions, so panning is the browser's own smooth scrolling
//! (scrollbars, wheel, touch) plus dragging the background with the mouse. Ctrl/⌘ + wheel
//! and pinch zoom around the pointer, the buttons around the middle of the box; Fit shows the
//! whole graph. Below [`FAR_BELOW`] node text is hidden (unreadable there; cheaper to paint)
//! and markers keep a readable size.
//!
//! With a node focused (Tab reaches each node's link), the arrow keys move between nodes:
//! right and left along edges, up and down within a layer; Enter opens the node's panel.
//!
//! The scale is applied to the element directly, not through a signal: a zoom around the
//! pointer must read the new layout in the same event to put the pointed-at spot back under
//! the pointer. A signal mirrors it for the toolbar.

use super::viewport::Viewport;
#[cfg(feature = "hydrate")]
use super::viewport::MIN_SHARE;
use crate::domain::Layout;
use leptos::prelude::*;
use std::sync::Arc;

/// Scales the user can zoom to (rendered pixels per graph unit).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MIN_SCALE: f64 = 0.2;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MAX_SCALE: f64 = 2.0;
/// One click of a zoom button.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const STEP: f64 = 1.25;
/// Below this scale node text is hidden.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const FAR_BELOW: f64 = 0.5;
/// Room the zoomed box leaves on the screen above and below it (header, margins), in pixels.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SCREEN_ROOM: f64 = 144.0;

/// The zoom of one graph: its natural size and the scale the user chose (`None`: automatic).
#[derive(Clone, Copy)]
pub struct Zoom {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    width: f64,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    height: f64,
    scale: RwSignal<Option<f64>>,
}

impl Zoom {
    pub fn new(width: f64, height: f64) -> Zoom {
        Zoom {
            width,
            height,
            scale: RwSignal::new(None),
        }
    }

    /// Subscribes the caller to zoom changes.
    #[cfg(feature = "hydrate")]
    pub fn track(&self) {
        self.scale.track();
    }

    /// "120%", or "auto" before the user zoomed.
    pub fn label(&self) -> String {
        match self.scale.get() {
            Some(scale) => format!("{:.0}%", scale * 100.0),
            None => "auto".to_owned(),
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlElement, SvgElement};

    use crate::ui::graph::svg_of;

    impl Zoom {
        /// The scale the graph is drawn at now (measured when automatic).
        pub(super) fn current(&self, wrap: &Element) -> f64 {
            self.scale.get_untracked().unwrap_or_else(|| {
                svg_of(wrap)
                    .map(|svg| svg.get_bounding_client_rect().width() / self.width)
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .unwrap_or(MIN_SHARE)
            })
        }

        /// Draws the graph at `scale` (clamped).
        fn apply(&self, wrap: &Element, scale: f64) -> f64 {
            let scale = scale.clamp(MIN_SCALE, MAX_SCALE);
            // Each property is set on the element that uses it (`--zoom-w` is not inherited,
            // see the stylesheet): set on the box, where all the drawing's elements inherited
            // them, every zoom restyled each of them (72 ms of a 133 ms zoom on 2,000 steps).
            let style_of = |element: Element| Some(element.dyn_into::<SvgElement>().ok()?.style());
            if let Some(svg) = svg_of(wrap) {
                let markers = svg.query_selector(":scope > g.markers").ok().flatten();
                if let Some(style) = style_of(svg) {
                    let _ = style.set_property("--zoom-w", &format!("{:.1}px", self.width * scale));
                }
                if let Some(style) = markers.and_then(style_of) {
                    // Markers never shrink below about 80 % of their natural size.
                    let marker_scale = format!("{:.3}", (0.8 / scale).max(1.0));
                    let _ = style.set_property("--marker-scale", &marker_scale);
                }
            }
            if let Some(wrap) = wrap.dyn_ref::<HtmlElement>() {
                let classes = wrap.class_list();
                let _ = classes.add_1("zoomed");
                if scale < FAR_BELOW {
                    let _ = classes.add_1("graph-far");
                } else if classes.contains("graph-far") {
                    // Text comes back on the next frame, once a big graph has dropped what left
                    // the view: at once, the zoom's own layout restyled the text of every node
                    // drawn far out (one frame of 133-217 ms back to 1:1 on 2,000 steps).
                    let (zoom, classes) = (*self, classes.clone());
                    request_animation_frame(move || {
                        if zoom.scale.get_untracked().is_some_and(|s| s >= FAR_BELOW) {
                            let _ = classes.remove_1("graph-far");
                        }
                    });
                }
            }
            self.scale.set(Some(scale));
            scale
        }

        /// Zooms by `factor` keeping the graph point under `(x, y)` (client pixels; the middle
        /// of the box when `None`) where it is.
        pub fn zoom_by(&self, wrap: &Element, factor: f64, at: Option<(f64, f64)>) {
            let Some(svg) = svg_of(wrap) else {
                return;
            };
            let before = svg.get_bounding_client_rect();
            let box_rect = wrap.get_bounding_client_rect();
            let (x, y) = at.unwrap_or((
                box_rect.left() + box_rect.width() / 2.0,
                box_rect.top() + box_rect.height() / 2.0,
            ));
            let old = self.current(wrap);
            let (gx, gy) = ((x - before.left()) / old, (y - before.top()) / old);
            let new = self.apply(wrap, old * factor);
            // Reading the rectangle lays the page out at the new scale.
            let after = svg.get_bounding_client_rect();
            let dx = after.left() + gx * new - x;
            let dy = after.top() + gy * new - y;
            wrap.set_scroll_left(wrap.scroll_left() + dx.round() as i32);
            wrap.set_scroll_top(wrap.scroll_top() + dy.round() as i32);
        }

        /// Shows the whole graph in the box (within the zoom limits), from its top-left corner.
        pub fn fit(&self, wrap: &Element) {
            let screen_h = web_sys::window()
                .and_then(|w| w.inner_height().ok())
                .and_then(|h| h.as_f64())
                .unwrap_or(800.0);
            let padding = 16.0;
            let width = f64::from(wrap.client_width()) - padding;
            let height = (screen_h - SCREEN_ROOM).max(320.0) - padding;
            self.apply(wrap, (width / self.width).min(height / self.height));
            wrap.set_scroll_left(0);
            wrap.set_scroll_top(0);
        }

        /// The graph at its natural size.
        pub fn actual_size(&self, wrap: &Element) {
            let factor = 1.0 / self.current(wrap);
            self.zoom_by(wrap, factor, None);
        }
    }
}

/// A mouse drag in progress: where it started and the box's scroll position then.
#[derive(Clone, Copy, Default)]
struct Drag {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    from: Option<(i32, i32, i32, i32)>,
}

/// The graph's box and what its zoom controls and gestures act on.
#[derive(Clone, Copy)]
pub struct Canvas {
    zoom: Zoom,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    wrap: NodeRef<leptos::html::Div>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    viewport: Viewport,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    large: bool,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    drag: StoredValue<Drag>,
    /// Where the arrow keys lead from each node.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    layout: StoredValue<Arc<Layout>>,
}

impl Canvas {
    pub fn new(
        zoom: Zoom,
        wrap: NodeRef<leptos::html::Div>,
        viewport: Viewport,
        large: bool,
        layout: Arc<Layout>,
    ) -> Canvas {
        Canvas {
            zoom,
            wrap,
            viewport,
            large,
            drag: StoredValue::new(Drag::default()),
            layout: StoredValue::new(layout),
        }
    }
}

#[cfg(not(feature = "hydrate"))]
impl Canvas {
    pub fn zoom_in(&self) {}
    pub fn zoom_out(&self) {}
    pub fn fit(&self) {}
    pub fn actual_size(&self) {}
    pub fn wheel(&self, _: leptos::ev::WheelEvent) {}
    pub fn key(&self, _: leptos::ev::KeyboardEvent) {}
    pub fn pointer_down(&self, _: leptos::ev::PointerEvent) {}
    pub fn pointer_move(&self, _: leptos::ev::PointerEvent) {}
    pub fn pointer_up(&self) {}
}

#[cfg(feature = "hydrate")]
impl Canvas {
    /// Runs a zoom action on the box, then redraws what it shows (big graphs).
    fn act(&self, action: impl FnOnce(&Zoom, &web_sys::Element)) {
        if let Some(wrap) = self.wrap.get_untracked() {
            action(&self.zoom, &wrap);
            if self.large {
                self.viewport.measure(&wrap, self.zoom.width);
            }
        }
    }

    pub fn zoom_in(&self) {
        self.act(|zoom, wrap| zoom.zoom_by(wrap, STEP, None));
    }

    pub fn zoom_out(&self) {
        self.act(|zoom, wrap| zoom.zoom_by(wrap, 1.0 / STEP, None));
    }

    pub fn fit(&self) {
        self.act(|zoom, wrap| zoom.fit(wrap));
    }

    pub fn actual_size(&self) {
        self.act(|zoom, wrap| zoom.actual_size(wrap));
    }

    /// Ctrl/⌘ + wheel, and pinch (which browsers report as ctrl + wheel), zoom at the pointer;
    /// a plain wheel scrolls.
    pub fn wheel(&self, ev: leptos::ev::WheelEvent) {
        if !(ev.ctrl_key() || ev.meta_key()) {
            return;
        }
        ev.prevent_default();
        let factor = (-ev.delta_y() * 0.002).exp().clamp(0.5, 2.0);
        let at = (f64::from(ev.client_x()), f64::from(ev.client_y()));
        self.act(|zoom, wrap| zoom.zoom_by(wrap, factor, Some(at)));
    }

    /// `+`/`=` zoom in, `-` out, `0` fits, `1` shows the actual size (when the box has focus);
    /// arrows move between nodes when one has focus.
    pub fn key(&self, ev: leptos::ev::KeyboardEvent) {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        if self.arrow(&ev) {
            ev.prevent_default();
            return;
        }
        match ev.key().as_str() {
            "+" | "=" => self.zoom_in(),
            "-" | "_" => self.zoom_out(),
            "0" => self.fit(),
            "1" => self.actual_size(),
            _ => return,
        }
        ev.prevent_default();
    }

    /// An arrow key pressed on a node: focuses the node that way (true: the key was used).
    fn arrow(&self, ev: &leptos::ev::KeyboardEvent) -> bool {
        use crate::domain::layout::Towards;
        use wasm_bindgen::JsCast;
        let Some(towards) = Towards::from_key(&ev.key()) else {
            return false;
        };
        // On the background, arrows scroll as usual.
        let Some(from) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("g.node[data-step]").ok().flatten())
            .and_then(|node| node.get_attribute("data-step"))
        else {
            return false;
        };
        let to = self.layout.with_value(|layout| {
            let id = layout.neighbour(&from, towards)?;
            layout.nodes.iter().find(|n| n.id == id).cloned()
        });
        if let Some(to) = to {
            self.focus_node(to);
        }
        true
    }

    /// Focuses a node's link (the browser scrolls it into view). A big graph draws only what
    /// is on screen: it first scrolls there and focuses once the node is drawn.
    fn focus_node(&self, node: crate::domain::NodeBox) {
        use crate::domain::layout::{NODE_H, NODE_W};
        use wasm_bindgen::JsCast;
        let Some(wrap) = self.wrap.get_untracked() else {
            return;
        };
        let selector = format!("g.node[data-step=\"{}\"] a", node.id);
        let focus = move |wrap: &web_sys::Element| {
            let link = wrap.query_selector(&selector).ok().flatten();
            link.map(|l| l.unchecked_into::<web_sys::SvgElement>().focus())
                .is_some()
        };
        if focus(&wrap) || !self.large {
            return;
        }
        let scale = self.zoom.current(&wrap);
        let x = (node.x + NODE_W / 2.0) * scale - f64::from(wrap.client_width()) / 2.0;
        let y = (node.y + NODE_H / 2.0) * scale - f64::from(wrap.client_height()) / 2.0;
        wrap.set_scroll_left(x.max(0.0).round() as i32);
        wrap.set_scroll_top(y.max(0.0).round() as i32);
        self.viewport.measure(&wrap, self.zoom.width);
        request_animation_frame(move || {
            focus(&wrap);
        });
    }

    /// Starts a drag unless it begins on a link (a node to open); touch pans natively.
    pub fn pointer_down(&self, ev: leptos::ev::PointerEvent) {
        use wasm_bindgen::JsCast;
        let on_link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("a[href]").ok().flatten())
            .is_some();
        let Some(wrap) = self.wrap.get_untracked() else {
            return;
        };
        if ev.pointer_type() != "mouse" || ev.button() != 0 || on_link {
            return;
        }
        self.drag.set_value(Drag {
            from: Some((
                ev.client_x(),
                ev.client_y(),
                wrap.scroll_left(),
                wrap.scroll_top(),
            )),
        });
        let _ = wrap.set_pointer_capture(ev.pointer_id());
        let _ = wrap.class_list().add_1("panning");
    }

    pub fn pointer_move(&self, ev: leptos::ev::PointerEvent) {
        let (Some((x, y, left, top)), Some(wrap)) =
            (self.drag.get_value().from, self.wrap.get_untracked())
        else {
            return;
        };
        wrap.set_scroll_left(left - (ev.client_x() - x));
        wrap.set_scroll_top(top - (ev.client_y() - y));
    }

    pub fn pointer_up(&self) {
        self.drag.set_value(Drag::default());
        if let Some(wrap) = self.wrap.get_untracked() {
            let _ = wrap.class_list().remove_1("panning");
        }
    }
}

/// The zoom buttons; they appear once the page is hydrated (they need its script), in a slot
/// the server already leaves for them, so nothing moves when they do.
#[component]
pub fn ZoomTools(canvas: Canvas) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let zoom = canvas.zoom;
    let tools = move || {
        hydrated.get().then(|| {
            view! {
                <div class="graph-tools" role="toolbar" aria-label="Zoom">
                    <button type="button" class="zoom-out" title="Zoom out (−)" aria-label="Zoom out" on:click=move |_| canvas.zoom_out()>"−"</button>
                    <span class="zoom-level" aria-live="polite">{move || zoom.label()}</span>
                    <button type="button" class="zoom-in" title="Zoom in (+)" aria-label="Zoom in" on:click=move |_| canvas.zoom_in()>"+"</button>
                    <button type="button" class="zoom-fit" title="Fit the whole graph (0)" on:click=move |_| canvas.fit()>"Fit"</button>
                    <button type="button" class="zoom-actual" title="Actual size (1)" on:click=move |_| canvas.actual_size()>"1:1"</button>
                </div>
            }
        })
    };
    view! { <div class="graph-tools-slot">{tools}</div> }
}
