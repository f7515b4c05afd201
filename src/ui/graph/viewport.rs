//! Big graphs keep in the DOM only what is on screen (plus a margin). Every element of an SVG
//! costs the browser paint and compositing work on each frame that changes anything, whether
//! it is visible or not; a 2,000-step graph has some 10,000 of them.
//!
//! The server renders everything (the page works without JavaScript, and hydration finds the
//! same DOM); once hydrated, the browser measures the visible part of the graph and drops the
//! rest, and measures again on scroll and resize.

use crate::domain::geometry::Rect;
use leptos::prelude::*;

/// Graphs with at least this many steps are drawn only where they are seen.
pub const VIRTUAL_FROM: usize = 300;
/// Graph units kept drawn beyond each side of the visible area, so scrolling shows a drawn
/// graph while the next measure catches up.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MARGIN: f64 = 400.0;

/// The part of the graph to draw; `None`: all of it.
#[derive(Clone, Copy)]
pub struct Viewport(RwSignal<Option<Rect>>);

impl Viewport {
    pub fn new() -> Viewport {
        Viewport(RwSignal::new(None))
    }

    /// Whether something occupying `rect` is drawn (tracked: it changes as the view moves).
    pub fn shows(&self, rect: Rect) -> bool {
        self.0.with(|view| view.is_none_or(|v| v.intersects(&rect)))
    }

    /// Measures which part of the graph (`width` graph units wide, drawn in the `svg.graph`
    /// inside `wrap`) is on screen. Only moves the view by a quarter margin or more, so
    /// scrolling re-evaluates the elements a few times a screen, not on every pixel.
    #[cfg(feature = "hydrate")]
    pub fn measure(&self, wrap: &web_sys::Element, width: f64) {
        let (Some(window), Some(svg)) = (
            web_sys::window(),
            wrap.query_selector("svg.graph").ok().flatten(),
        ) else {
            return;
        };
        let size = |v: Result<wasm_bindgen::JsValue, _>| v.ok().and_then(|v| v.as_f64());
        let (Some(screen_w), Some(screen_h)) =
            (size(window.inner_width()), size(window.inner_height()))
        else {
            return;
        };
        let (s, w) = (
            svg.get_bounding_client_rect(),
            wrap.get_bounding_client_rect(),
        );
        if s.width() <= 0.0 {
            return;
        }
        let left = s.left().max(w.left()).max(0.0);
        let right = s.right().min(w.right()).min(screen_w);
        let top = s.top().max(w.top()).max(0.0);
        let bottom = s.bottom().min(w.bottom()).min(screen_h);
        let scale = width / s.width();
        let seen = Rect {
            min: crate::domain::geometry::Point::new(
                (left - s.left()) * scale - MARGIN,
                (top - s.top()) * scale - MARGIN,
            ),
            max: crate::domain::geometry::Point::new(
                (right.max(left) - s.left()) * scale + MARGIN,
                (bottom.max(top) - s.top()) * scale + MARGIN,
            ),
        };
        let moved = self.0.with_untracked(|view| {
            view.is_none_or(|v| {
                let far = |a: f64, b: f64| (a - b).abs() > MARGIN / 4.0;
                far(v.min.x, seen.min.x)
                    || far(v.min.y, seen.min.y)
                    || far(v.max.x, seen.max.x)
                    || far(v.max.y, seen.max.y)
            })
        });
        if moved {
            self.0.set(Some(seen));
        }
    }
}
