//! Big graphs keep in the DOM only what is on screen (plus a margin). Every element of an SVG
//! costs the browser paint and compositing work on each frame that changes anything, whether
//! it is visible or not; a 2,000-step graph has some 10,000 of them.
//!
//! The server renders everything, as static markup (the page works without JavaScript);
//! once hydrated, the browser measures the visible part of the graph, draws only that part
//! live in place of the markup, and measures again on scroll and resize.

use crate::domain::geometry::Rect;
use leptos::prelude::*;

/// Graphs with at least this many steps are drawn only where they are seen.
pub const VIRTUAL_FROM: usize = 300;
/// The smallest share of its natural size a graph is drawn at (the stylesheet's
/// `--graph-min-w`); narrower windows scroll it.
pub const MIN_SHARE: f64 = 0.8;
/// Graph units kept drawn beyond each side of the visible area, so scrolling shows a drawn
/// graph while the next measure catches up.
const MARGIN: f64 = 400.0;
/// The window the server draws a big graph's first screen for (a large desktop's, in CSS
/// pixels): smaller windows see part of it, a wall screen sees the rest once hydrated.
#[cfg(feature = "ssr")]
const FIRST_WINDOW: (f64, f64) = (1920.0, 1200.0);

/// The part of a graph that a `width` × `height` window shows when the graph starts near its
/// top-left corner, unscrolled, at the smallest scale the stylesheet allows ([`MIN_SHARE`]),
/// with the margin.
fn unscrolled(width: f64, height: f64) -> Rect {
    let scale = 1.0 / MIN_SHARE;
    Rect {
        min: crate::domain::geometry::Point::new(-MARGIN, -MARGIN),
        max: crate::domain::geometry::Point::new(width * scale + MARGIN, height * scale + MARGIN),
    }
}

/// What the server draws of a big graph for browsers with JavaScript: what [`FIRST_WINDOW`]
/// shows unscrolled. The browser parses only that before its script draws the rest of what it
/// shows (see [`super::still`]).
#[cfg(feature = "ssr")]
pub fn first_screen() -> Rect {
    unscrolled(FIRST_WINDOW.0, FIRST_WINDOW.1)
}

/// Side of the square tiles that elements watch, in graph units. One signal watched by every
/// element made each move of the view quadratic: each of thousands of subscribers leaving a
/// long subscriber list. Elements watch the few tiles they overlap; a tile watches the view.
const TILE: f64 = 512.0;

/// The part of the graph to draw (`None`: all of it), and the graph's tiles.
#[derive(Clone, Copy)]
pub struct Viewport {
    /// Set by the browser only (the server draws everything).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    view: RwSignal<Option<Rect>>,
    /// Whether each tile (row-major, `columns` wide) is seen; empty when everything is drawn.
    tiles: StoredValue<Vec<Memo<bool>>>,
    columns: usize,
}

impl Viewport {
    /// A viewport over a graph `width` × `height` units; `virtual`: drawn only where seen.
    pub fn new(width: f64, height: f64, r#virtual: bool) -> Viewport {
        let view = RwSignal::new(None::<Rect>);
        let (columns, rows) = if r#virtual {
            (tile_of(width) + 1, tile_of(height) + 1)
        } else {
            (0, 0)
        };
        let tiles = (0..rows)
            .flat_map(|row| (0..columns).map(move |column| (row, column)))
            .map(|(row, column)| {
                let tile = Rect::new(column as f64 * TILE, row as f64 * TILE, TILE, TILE);
                Memo::new(move |_| view.with(|v| v.is_none_or(|v| v.intersects(&tile))))
            })
            .collect();
        Viewport {
            view,
            tiles: StoredValue::new(tiles),
            columns,
        }
    }

    /// Whether something occupying `rect` is drawn: whether a tile it overlaps is seen
    /// (tracked: it changes as the view moves).
    pub fn shows(&self, rect: Rect) -> bool {
        if self.columns == 0 {
            return true;
        }
        let (columns, rows) = (
            tile_of(rect.min.x)..=tile_of(rect.max.x),
            tile_of(rect.min.y)..=tile_of(rect.max.y),
        );
        self.tiles.with_value(|tiles| {
            rows.flat_map(|row| {
                columns
                    .clone()
                    .map(move |column| row * self.columns + column)
            })
            .any(|i| tiles.get(i).is_some_and(|tile| tile.get()))
        })
    }

    /// Before the first measurement: what the window shows of the graph unscrolled
    /// ([`unscrolled`]). Needs no layout: measuring while the server's drawing is still in the
    /// page would lay out all of it (tens of milliseconds) just to remove it. The next
    /// measurement corrects it.
    #[cfg(feature = "hydrate")]
    pub fn assume_unscrolled(&self) {
        let size = |v: Result<wasm_bindgen::JsValue, _>| v.ok().and_then(|v| v.as_f64());
        let Some(window) = web_sys::window() else {
            return;
        };
        let (Some(screen_w), Some(screen_h)) =
            (size(window.inner_width()), size(window.inner_height()))
        else {
            return;
        };
        self.view.set(Some(unscrolled(screen_w, screen_h)));
    }

    /// Measures which part of the graph (`width` graph units wide, drawn in the `svg.graph`
    /// inside `wrap`) is on screen. Only moves the view by a quarter margin or more, so
    /// scrolling re-evaluates the elements a few times a screen, not on every pixel.
    #[cfg(feature = "hydrate")]
    pub fn measure(&self, wrap: &web_sys::Element, width: f64) {
        let (Some(window), Some(svg)) = (web_sys::window(), crate::ui::graph::svg_of(wrap)) else {
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
        let moved = self.view.with_untracked(|view| {
            view.is_none_or(|v| {
                let far = |a: f64, b: f64| (a - b).abs() > MARGIN / 4.0;
                far(v.min.x, seen.min.x)
                    || far(v.min.y, seen.min.y)
                    || far(v.max.x, seen.max.x)
                    || far(v.max.y, seen.max.y)
            })
        });
        if moved {
            self.view.set(Some(seen));
        }
    }
}

/// The tile index along one axis of a graph coordinate (coordinates before the origin fall in
/// the first tile).
fn tile_of(at: f64) -> usize {
    (at.max(0.0) / TILE) as usize
}
