//! Big graphs keep in the DOM only what is on screen (plus a margin). Every element of an SVG
//! costs the browser paint and compositing work on each frame that changes anything, whether
//! it is visible or not; a 2,000-step graph has some 10,000 of them.
//!
//! The server renders everything, as static markup (the page works without JavaScript);
//! once hydrated, the browser measures the visible part of the graph, draws only that part
//! live in place of the markup, and measures again on scroll and resize. What a move of the
//! view brings into sight is drawn some tens of elements per frame, nearest the middle of the
//! view first: zooming a 2,000-step graph out drew hundreds of nodes in one frame of up to
//! 200 ms.

use crate::domain::geometry::Rect;
use leptos::prelude::*;

/// Graphs with at least this many steps are drawn only where they are seen.
pub const VIRTUAL_FROM: usize = 300;
/// The smallest share of its natural size a graph is drawn at (the stylesheet's
/// `--graph-min-w`); narrower windows scroll it.
pub const MIN_SHARE: f64 = 0.8;
/// Graph units kept drawn beyond each side of the visible area, so scrolling shows a drawn
/// graph while the next measure catches up. The first live drawing has none
/// ([`Viewport::measure_visible`]): the page goes live once what is on screen is drawn, and
/// the first scroll or resize adds the margin.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MARGIN: f64 = 400.0;
/// The window the server draws a big graph's first screen for (a large desktop's, in CSS
/// pixels): smaller windows see part of it, a wall screen sees the rest once hydrated.
#[cfg(feature = "ssr")]
const FIRST_WINDOW: (f64, f64) = (1920.0, 1200.0);

/// The part of a graph that a `width` × `height` window shows when the graph starts near its
/// top-left corner, unscrolled, at the smallest scale the stylesheet allows ([`MIN_SHARE`]),
/// with the margin.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn unscrolled(width: f64, height: f64) -> Rect {
    let scale = 1.0 / MIN_SHARE;
    Rect {
        min: crate::domain::geometry::Point::new(-MARGIN, -MARGIN),
        max: crate::domain::geometry::Point::new(width * scale + MARGIN, height * scale + MARGIN),
    }
}

/// What the server draws of a big graph for browsers with JavaScript: what [`FIRST_WINDOW`]
/// shows unscrolled, without the margin the live drawing keeps for scrolling (the script
/// replaces this drawing before anyone scrolls far; the margin made it half as large again,
/// and styling and laying it out is the largest task before the script can start). The
/// browser parses only that before its script draws the rest of what it shows (see
/// [`super::still`]).
#[cfg(feature = "ssr")]
pub fn first_screen() -> Rect {
    let scale = 1.0 / MIN_SHARE;
    Rect::new(0.0, 0.0, FIRST_WINDOW.0 * scale, FIRST_WINDOW.1 * scale)
}

/// Side of the square tiles that elements watch, in graph units. One signal watched by every
/// element made each move of the view quadratic: each of thousands of subscribers leaving a
/// long subscriber list. Elements watch the few tiles they overlap; a move of the view sets
/// the tiles it changes ([`Viewport::set_view`]).
const TILE: f64 = 512.0;
/// Nodes and edges (an edge with its marker) drawn per frame when a move of the view brings
/// many into sight; the tiles nearest the middle of the view come first.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const DRAWN_PER_FRAME: usize = 80;

/// A block of tiles, first to last column and row (inclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tiles {
    columns: (usize, usize),
    rows: (usize, usize),
}

/// The part of the graph to draw (`None`: all of it), and the graph's tiles.
#[derive(Clone, Copy)]
pub struct Viewport {
    /// Set by the browser only (the server draws everything).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    view: StoredValue<Option<Rect>>,
    /// Whether what lies over each tile (row-major, `columns` wide) is drawn; empty when
    /// everything is drawn.
    tiles: StoredValue<Vec<RwSignal<bool>>>,
    /// Elements over each tile: what drawing it costs.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    weights: StoredValue<Vec<usize>>,
    /// Tiles in the view but not drawn yet, the next to draw last.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pending: StoredValue<Vec<usize>>,
    /// Whether a frame is asked for to draw pending tiles.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    drawing: StoredValue<bool>,
    columns: usize,
}

impl Viewport {
    /// A viewport over a graph `width` × `height` units; `virtual`: drawn only where seen.
    pub fn new(width: f64, height: f64, r#virtual: bool) -> Viewport {
        let (columns, rows) = if r#virtual {
            (tile_of(width) + 1, tile_of(height) + 1)
        } else {
            (0, 0)
        };
        Viewport {
            view: StoredValue::new(None),
            tiles: StoredValue::new((0..rows * columns).map(|_| RwSignal::new(true)).collect()),
            weights: StoredValue::new(vec![0; rows * columns]),
            pending: StoredValue::new(Vec::new()),
            drawing: StoredValue::new(false),
            columns,
        }
    }

    /// The indices of elements occupying `rects`, grouped by the tiles each overlaps (groups
    /// in order of their first element, elements in order within each). Elements over the
    /// same tiles are shown and hidden together, so a group needs one `Show` where one per
    /// element cost a 2,000-step page some 10,000 of them (a memo and an effect each) before
    /// it could draw its first screen. A graph drawn whole is one group. Adds the elements to
    /// their tiles' weights, which pace the drawing of what comes into view.
    pub fn group(&self, rects: impl Iterator<Item = Rect>) -> Vec<(Tiles, Vec<usize>)> {
        let mut groups: Vec<(Tiles, Vec<usize>)> = Vec::new();
        // The groups by their first tile (row-major), so an element's is found among a few.
        // (No hash map: a map keyed by tiles made the bundle larger for nothing.)
        let mut by_first_tile: Vec<Vec<usize>> = Vec::new();
        for (i, rect) in rects.enumerate() {
            let tiles = self.tiles_under(rect);
            let first = tiles.rows.0 * self.columns + tiles.columns.0;
            if by_first_tile.len() <= first {
                by_first_tile.resize(first + 1, Vec::new());
            }
            let known = by_first_tile[first]
                .iter()
                .copied()
                .find(|&g| groups[g].0 == tiles);
            let group = known.unwrap_or_else(|| {
                groups.push((tiles, Vec::new()));
                by_first_tile[first].push(groups.len() - 1);
                groups.len() - 1
            });
            groups[group].1.push(i);
        }
        self.weights.update_value(|weights| {
            for (tiles, members) in &groups {
                for tile in self.indices(*tiles) {
                    if let Some(weight) = weights.get_mut(tile) {
                        *weight += members.len();
                    }
                }
            }
        });
        groups
    }

    /// The row-major indices of `tiles`.
    fn indices(&self, tiles: Tiles) -> impl Iterator<Item = usize> + '_ {
        let columns = tiles.columns.0..=tiles.columns.1;
        (tiles.rows.0..=tiles.rows.1).flat_map(move |row| {
            columns
                .clone()
                .map(move |column| row * self.columns + column)
        })
    }

    /// The tiles `rect` overlaps (all of them, as one group, when everything is drawn).
    fn tiles_under(&self, rect: Rect) -> Tiles {
        if self.columns == 0 {
            return Tiles::default();
        }
        Tiles {
            columns: (tile_of(rect.min.x), tile_of(rect.max.x)),
            rows: (tile_of(rect.min.y), tile_of(rect.max.y)),
        }
    }

    /// Whether what lies over `tiles` is drawn: whether one of them is seen (tracked: it
    /// changes as the view moves).
    pub fn shows(&self, tiles: Tiles) -> bool {
        if self.columns == 0 {
            return true;
        }
        self.tiles.with_value(|drawn| {
            self.indices(tiles)
                .any(|i| drawn.get(i).is_some_and(|tile| tile.get()))
        })
    }

    /// Moves the view to `seen`: what leaves it goes at once; what comes into it is drawn
    /// now up to `budget` elements (`None`: all of it), nearest the middle of `seen` first,
    /// and the rest [`DRAWN_PER_FRAME`] at a time on the frames that follow.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn set_view(&self, seen: Rect, budget: Option<usize>) {
        self.view.set_value(Some(seen));
        let middle = (
            (seen.min.x + seen.max.x) / 2.0,
            (seen.min.y + seen.max.y) / 2.0,
        );
        let mut pending: Vec<(f64, usize)> = Vec::new();
        self.tiles.with_value(|tiles| {
            for (i, tile) in tiles.iter().enumerate() {
                let (column, row) = ((i % self.columns) as f64, (i / self.columns) as f64);
                let area = Rect::new(column * TILE, row * TILE, TILE, TILE);
                match (area.intersects(&seen), tile.get_untracked()) {
                    (false, true) => tile.set(false),
                    (true, false) => {
                        let (dx, dy) = (
                            (column + 0.5) * TILE - middle.0,
                            (row + 0.5) * TILE - middle.1,
                        );
                        pending.push((dx * dx + dy * dy, i));
                    }
                    _ => {}
                }
            }
        });
        // Farthest first, so the nearest is popped first.
        pending.sort_by(|a, b| b.0.total_cmp(&a.0));
        self.pending
            .set_value(pending.into_iter().map(|(_, i)| i).collect());
        if !self.draw_pending(budget.unwrap_or(usize::MAX)) {
            self.draw_on_next_frame();
        }
    }

    /// Draws pending tiles, nearest first, up to `budget` elements (always at least one tile
    /// that has any). Returns whether none is left.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn draw_pending(&self, budget: usize) -> bool {
        let mut spent = 0;
        loop {
            let Some(next) = self.pending.with_value(|pending| pending.last().copied()) else {
                return true;
            };
            let weight = self
                .weights
                .with_value(|w| w.get(next).copied().unwrap_or(0));
            if spent > 0 && spent + weight > budget {
                return false;
            }
            self.pending.update_value(|pending| {
                pending.pop();
            });
            spent += weight;
            self.tiles
                .with_value(|tiles| tiles.get(next).map(|tile| tile.set(true)));
        }
    }

    /// Asks for a frame that draws the next pending tiles (one request at a time).
    #[cfg(feature = "hydrate")]
    fn draw_on_next_frame(&self) {
        if self.drawing.get_value() {
            return;
        }
        self.drawing.set_value(true);
        let this = *self;
        request_animation_frame(move || {
            this.drawing.set_value(false);
            if !this.draw_pending(DRAWN_PER_FRAME) {
                this.draw_on_next_frame();
            }
        });
    }

    /// Without a browser there are no frames (the unit tests draw what is pending themselves).
    #[cfg(not(feature = "hydrate"))]
    #[cfg_attr(not(test), allow(dead_code))]
    fn draw_on_next_frame(&self) {}

    /// What the window shows of the graph unscrolled ([`unscrolled`]), needing no layout: the
    /// view where a measurement cannot be made (the graph not laid out yet).
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
        self.set_view(unscrolled(screen_w, screen_h), None);
    }

    /// Measures which part of the graph (`width` graph units wide, drawn in the `svg.graph`
    /// inside `wrap`) is on screen, with the margin. Only moves the view by a quarter margin
    /// or more, so scrolling re-evaluates the elements a few times a screen, not on every
    /// pixel (a view without the margin always moves). What comes into view is drawn over
    /// the next frames ([`DRAWN_PER_FRAME`]) when it is much.
    #[cfg(feature = "hydrate")]
    pub fn measure(&self, wrap: &web_sys::Element, width: f64) {
        self.measure_with(wrap, width, MARGIN, Some(DRAWN_PER_FRAME));
    }

    /// What is on screen and nothing more, drawn at once: the first live drawing. Built in
    /// the same task as hydration, before the page is live, the margin made it about half as
    /// large again.
    #[cfg(feature = "hydrate")]
    pub fn measure_visible(&self, wrap: &web_sys::Element, width: f64) {
        self.measure_with(wrap, width, 0.0, None);
    }

    #[cfg(feature = "hydrate")]
    fn measure_with(
        &self,
        wrap: &web_sys::Element,
        width: f64,
        margin: f64,
        budget: Option<usize>,
    ) {
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
                (left - s.left()) * scale - margin,
                (top - s.top()) * scale - margin,
            ),
            max: crate::domain::geometry::Point::new(
                (right.max(left) - s.left()) * scale + margin,
                (bottom.max(top) - s.top()) * scale + margin,
            ),
        };
        let moved = self.view.with_value(|view| {
            view.is_none_or(|v| {
                let far = |a: f64, b: f64| (a - b).abs() > MARGIN / 4.0;
                far(v.min.x, seen.min.x)
                    || far(v.min.y, seen.min.y)
                    || far(v.max.x, seen.max.x)
                    || far(v.max.y, seen.max.y)
            })
        });
        if moved {
            self.set_view(seen, budget);
        }
    }
}

/// The tile index along one axis of a graph coordinate (coordinates before the origin fall in
/// the first tile).
fn tile_of(at: f64) -> usize {
    (at.max(0.0) / TILE) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test` with a reactive owner, which the signals need.
    fn reactive(test: impl FnOnce()) {
        Owner::new().with(test)
    }

    #[test]
    fn elements_over_the_same_tiles_share_a_group_in_order_of_first_element() {
        reactive(|| {
            let viewport = Viewport::new(4.0 * TILE, 2.0 * TILE, true);
            let rects = [
                Rect::new(10.0, 10.0, 200.0, 64.0),          // tile (0, 0)
                Rect::new(TILE + 10.0, 10.0, 200.0, 64.0),   // tile (1, 0)
                Rect::new(300.0, 10.0, 200.0, 64.0),         // tiles (0..=0, 0): the first group
                Rect::new(TILE - 100.0, 10.0, 200.0, 64.0),  // tiles (0..=1, 0): its own group
                Rect::new(TILE + 300.0, 100.0, 100.0, 64.0), // tile (1, 0) again
            ];
            let groups = viewport.group(rects.into_iter());
            let members: Vec<&[usize]> = groups.iter().map(|(_, m)| m.as_slice()).collect();
            assert_eq!(members, [&[0, 2][..], &[1, 4], &[3]]);
            // Before the browser measures, everything is drawn (the server's view).
            assert!(groups.iter().all(|(tiles, _)| viewport.shows(*tiles)));
        });
    }

    #[test]
    fn a_group_is_shown_while_any_of_its_tiles_is_seen() {
        reactive(|| {
            let viewport = Viewport::new(4.0 * TILE, 2.0 * TILE, true);
            let rects = [
                Rect::new(10.0, 10.0, 100.0, 64.0),
                Rect::new(TILE - 50.0, 10.0, 100.0, 64.0),
                Rect::new(3.0 * TILE + 10.0, TILE + 10.0, 100.0, 64.0),
            ];
            let groups = viewport.group(rects.into_iter());
            viewport.set_view(Rect::new(TILE + 1.0, 0.0, TILE - 2.0, TILE - 2.0), None);
            let shown: Vec<bool> = groups.iter().map(|(t, _)| viewport.shows(*t)).collect();
            assert_eq!(shown, [false, true, false]);
        });
    }

    #[test]
    fn what_comes_into_view_is_drawn_within_the_budget_nearest_the_middle_first() {
        reactive(|| {
            let viewport = Viewport::new(4.0 * TILE, TILE, true);
            // Three elements over each of the four tiles of one row.
            let rects = (0..12).map(|i| Rect::new((i / 3) as f64 * TILE + 10.0, 10.0, 100.0, 64.0));
            let groups = viewport.group(rects);
            let shown =
                || -> Vec<bool> { groups.iter().map(|(t, _)| viewport.shows(*t)).collect() };
            viewport.set_view(Rect::new(TILE + 1.0, 1.0, 10.0, 10.0), None);
            assert_eq!(shown(), [false, true, false, false]);
            // What leaves the view goes at once.
            viewport.set_view(Rect::new(2.0 * TILE + 1.0, 1.0, 10.0, 10.0), Some(5));
            assert_eq!(shown(), [false, false, true, false]);
            viewport.set_view(Rect::new(TILE + 100.0, 1.0, TILE, 10.0), Some(5));
            assert_eq!(shown(), [false, true, true, false]);
            // A budget is spent a tile at a time, at least one tile per frame.
            viewport.set_view(Rect::new(2.0 * TILE + 1.0, 1.0, 10.0, 10.0), None);
            viewport.set_view(Rect::new(0.0, 0.0, 4.0 * TILE, TILE), Some(5));
            assert_eq!(shown().iter().filter(|s| **s).count(), 2);
            assert!(!viewport.draw_pending(5));
            assert_eq!(shown().iter().filter(|s| **s).count(), 3);
            viewport.set_view(Rect::new(TILE + 100.0, 1.0, TILE, 10.0), None);
            // Tiles 0 and 3 come into view, 3 nearer the middle: it is drawn first.
            viewport.set_view(Rect::new(300.0, 0.0, 4.0 * TILE - 300.0, TILE), Some(5));
            assert_eq!(shown(), [false, true, true, true]);
            // The next frame draws the rest, up to the budget.
            assert!(viewport.draw_pending(3));
            assert_eq!(shown(), [true, true, true, true]);
        });
    }

    #[test]
    fn a_graph_drawn_whole_is_one_group_always_shown() {
        reactive(|| {
            let viewport = Viewport::new(4.0 * TILE, 2.0 * TILE, false);
            let rects = (0..5).map(|i| Rect::new(i as f64 * TILE, 0.0, 100.0, 64.0));
            let groups = viewport.group(rects);
            assert_eq!(groups.len(), 1);
            assert_eq!(groups[0].1, [0, 1, 2, 3, 4]);
            assert!(viewport.shows(groups[0].0));
        });
    }
}
