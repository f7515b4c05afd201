//! Deterministic layered layout, left to right: layers by dependency depth, crossings reduced by
//! barycenter sweeps, long edges routed through reserved slots so no edge crosses a node.
//! A pure function of the graph (no maps with random order, no clock): the server-rendered SVG and
//! the hydrated one are identical.

use super::fan_out::{self, FanOut};
use super::geometry::{round1, Cubic, Path, Point};
use super::graph::Graph;
use serde::{Deserialize, Serialize};

mod neighbours;
mod order;
pub use neighbours::Towards;
pub use order::LayerOrder;

pub const NODE_W: f64 = 200.0;
pub const NODE_H: f64 = 64.0;
/// Horizontal room between layers, where the edge curves live.
pub const LAYER_GAP: f64 = 96.0;
/// Vertical room between nodes of a layer.
pub const ROW_GAP: f64 = 32.0;
pub const MARGIN: f64 = 24.0;
/// Barycenter sweep rounds; more rarely helps on graphs of this size.
const SWEEPS: usize = 12;

/// A positioned node (top-left corner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeBox {
    pub id: String,
    pub layer: usize,
    pub x: f64,
    pub y: f64,
}

impl NodeBox {
    pub fn right_mid(&self) -> Point {
        Point::new(self.x + NODE_W, self.y + NODE_H / 2.0)
    }
    pub fn left_mid(&self) -> Point {
        Point::new(self.x, self.y + NODE_H / 2.0)
    }
}

/// A routed edge `from -> to` (to needs from).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgePath {
    pub from: String,
    pub to: String,
    pub path: Path,
}

/// On the wire an edge is its endpoints and its SVG path data.
impl Serialize for EdgePath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut edge = serializer.serialize_struct("EdgePath", 3)?;
        edge.serialize_field("from", &self.from)?;
        edge.serialize_field("to", &self.to)?;
        edge.serialize_field("d", &self.path.to_svg())?;
        edge.end()
    }
}

/// The whole drawing: node boxes in step order, edges in (step, need) order, the canvas size,
/// and the wide fan-outs drawn as one node each (whose boxes and edges carry the fan-out's id).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layout {
    pub nodes: Vec<NodeBox>,
    pub edges: Vec<EdgePath>,
    pub width: f64,
    pub height: f64,
    pub fan_outs: Vec<FanOut>,
    /// The order its layers were found in: sent with a page so that the browser draws this
    /// layout with [`Layout::in_order`] instead of searching for it again.
    #[serde(skip)]
    pub order: LayerOrder,
}

/// Waypoint slots reserved for edges that span several layers. Past this budget the longest
/// edges are drawn as direct curves (which may pass behind nodes) instead: whatever the graph,
/// the cost of a layout and the height of the canvas stay bounded.
pub const MAX_WAYPOINTS: usize = 4_000;

/// Slots are numbered globally: steps first (their declaration index), then waypoints.
type SlotId = usize;

impl Layout {
    /// Lays out a valid graph. Unknown `needs` are ignored and a cyclic graph falls back to
    /// declaration order, so the function never fails; validation reports those problems.
    /// Its cost grows as (steps + needs + waypoints) · log, with waypoints bounded by
    /// [`MAX_WAYPOINTS`], so a graph at the size limits lays out in milliseconds.
    pub fn compute(graph: &Graph) -> Layout {
        Layout::in_order(graph, None)
    }

    /// Lays the graph out in the order of its layers `known` from an earlier layout of the same
    /// graph (its [`Layout::order`]), which skips the costly search for it: the result is that
    /// layout. An order that does not fit the graph is ignored, and the order searched for.
    pub fn in_order(graph: &Graph, known: Option<&LayerOrder>) -> Layout {
        let (drawn, fan_outs) = fan_out::collapse(graph);
        Layout {
            fan_outs,
            ..Layout::of_drawn(&drawn, known)
        }
    }

    /// Lays out the graph as drawn (wide fan-outs already collapsed).
    fn of_drawn(graph: &Graph, known: Option<&LayerOrder>) -> Layout {
        let n = graph.steps.len();
        let index = &graph.index();
        // Edges as (from, to) step indices, in (step, need) declaration order.
        let edges: Vec<(usize, usize)> = graph
            .steps
            .iter()
            .enumerate()
            .flat_map(|(to, s)| {
                s.needs
                    .iter()
                    .filter_map(move |need| index.get(need.as_str()).map(|&from| (from, to)))
            })
            .filter(|(from, to)| from != to)
            .collect();
        let layer_of = known
            .and_then(|order| order.layers(n, &edges))
            .unwrap_or_else(|| layers(graph, &edges));
        let layer_count = layer_of.iter().copied().max().map_or(0, |m| m + 1);
        let span = |(from, to): (usize, usize)| layer_of[to].saturating_sub(layer_of[from]);
        let routed = routed_edges(&edges, span);

        // Slots per layer; routed edges get a waypoint in each layer they pass.
        let mut slots: Vec<Vec<SlotId>> = vec![Vec::new(); layer_count];
        for (i, &l) in layer_of.iter().enumerate() {
            slots[l].push(i);
        }
        let mut next_slot = n;
        // Per edge, the slots it passes through from source to target.
        let mut chains: Vec<Vec<SlotId>> = Vec::with_capacity(edges.len());
        for (e, &(from, to)) in edges.iter().enumerate() {
            let mut chain = vec![from];
            if routed[e] {
                for layer in &mut slots[layer_of[from] + 1..layer_of[to]] {
                    layer.push(next_slot);
                    chain.push(next_slot);
                    next_slot += 1;
                }
            }
            chain.push(to);
            chains.push(chain);
        }
        match known.and_then(|order| order.slots(&slots, next_slot)) {
            Some(ordered) => slots = ordered,
            None => {
                // Links between slots of adjacent layers, which the ordering untangles.
                let links: Vec<(SlotId, SlotId)> = chains
                    .iter()
                    .filter(|chain| chain.len() > 2 || span((chain[0], chain[1])) == 1)
                    .flat_map(|chain| chain.windows(2).map(|w| (w[0], w[1])))
                    .collect();
                order_layers(&mut slots, &links, next_slot);
            }
        }

        // Coordinates: every slot has the node height; layers are centred on the tallest one.
        let row = NODE_H + ROW_GAP;
        let tallest = slots.iter().map(Vec::len).max().unwrap_or(0) as f64;
        let mut position = vec![Point::default(); next_slot];
        for (l, layer) in slots.iter().enumerate() {
            let x = MARGIN + l as f64 * (NODE_W + LAYER_GAP);
            let top = MARGIN + (tallest - layer.len() as f64) * row / 2.0;
            for (k, &slot) in layer.iter().enumerate() {
                position[slot] = Point::new(round1(x), round1(top + k as f64 * row));
            }
        }
        let nodes: Vec<NodeBox> = graph
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| NodeBox {
                id: s.id.clone(),
                layer: layer_of[i],
                x: position[i].x,
                y: position[i].y,
            })
            .collect();

        let edge_paths = edges
            .iter()
            .zip(&chains)
            .map(|(&(from, to), chain)| {
                let mut segments = Vec::with_capacity(2 * chain.len());
                let mut cursor = nodes[from].right_mid();
                for &waypoint in &chain[1..chain.len() - 1] {
                    let p = position[waypoint];
                    let enter = Point::new(p.x, p.y + NODE_H / 2.0);
                    let leave = Point::new(p.x + NODE_W, p.y + NODE_H / 2.0);
                    segments.push(Cubic::horizontal(cursor, enter));
                    segments.push(Cubic::horizontal(enter, leave));
                    cursor = leave;
                }
                segments.push(Cubic::horizontal(cursor, nodes[to].left_mid()));
                EdgePath {
                    from: graph.steps[from].id.clone(),
                    to: graph.steps[to].id.clone(),
                    path: Path::new(segments.into_iter().map(round_cubic).collect()),
                }
            })
            .collect();

        Layout {
            nodes,
            edges: edge_paths,
            width: round1(
                2.0 * MARGIN
                    + layer_count as f64 * NODE_W
                    + layer_count.saturating_sub(1) as f64 * LAYER_GAP,
            ),
            height: round1(
                2.0 * MARGIN + tallest * row - if tallest > 0.0 { ROW_GAP } else { 0.0 },
            ),
            fan_outs: Vec::new(),
            order: LayerOrder::of(&slots),
        }
    }

    pub fn node(&self, id: &str) -> Option<&NodeBox> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Edges leaving `id`, where its progress markers ride.
    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a EdgePath> + 'a {
        self.edges.iter().filter(move |e| e.from == id)
    }
}

fn round_cubic(c: Cubic) -> Cubic {
    let r = |p: Point| Point::new(round1(p.x), round1(p.y));
    Cubic {
        from: r(c.from),
        c1: r(c.c1),
        c2: r(c.c2),
        to: r(c.to),
    }
}

/// Longest-path layering: a step sits one layer right of its deepest need.
fn layers(graph: &Graph, edges: &[(usize, usize)]) -> Vec<usize> {
    let n = graph.steps.len();
    let order = graph.topo_order().unwrap_or_else(|_| (0..n).collect());
    let mut incoming = vec![Vec::new(); n];
    for &(from, to) in edges {
        incoming[to].push(from);
    }
    let mut layer = vec![0usize; n];
    for &v in &order {
        layer[v] = incoming[v].iter().map(|&f| layer[f] + 1).max().unwrap_or(0);
    }
    layer
}

/// Which edges get waypoints: those spanning several layers, shortest first, while the
/// budget lasts.
fn routed_edges(edges: &[(usize, usize)], span: impl Fn((usize, usize)) -> usize) -> Vec<bool> {
    let mut long: Vec<usize> = (0..edges.len()).filter(|&e| span(edges[e]) > 1).collect();
    long.sort_by_key(|&e| (span(edges[e]), e));
    let mut routed = vec![false; edges.len()];
    let mut budget = MAX_WAYPOINTS;
    for e in long {
        let needed = span(edges[e]) - 1;
        if needed > budget {
            break;
        }
        budget -= needed;
        routed[e] = true;
    }
    routed
}

/// Barycenter ordering: alternate sweeps right (order by mean position of the previous layer's
/// neighbours) and left (by the next layer's), keeping the order with the fewest crossings.
/// Sorting is stable, so ties keep declaration order and the result is deterministic.
fn order_layers(slots: &mut [Vec<SlotId>], links: &[(SlotId, SlotId)], slot_count: usize) {
    let mut previous: Vec<Vec<SlotId>> = vec![Vec::new(); slot_count];
    let mut next: Vec<Vec<SlotId>> = vec![Vec::new(); slot_count];
    for &(a, b) in links {
        next[a].push(b);
        previous[b].push(a);
    }
    let mut position = vec![0usize; slot_count];
    for layer in slots.iter() {
        for (k, &slot) in layer.iter().enumerate() {
            position[slot] = k;
        }
    }
    let mut best = slots.to_vec();
    let mut best_crossings = crossings(slots, &next, &position);
    for sweep in 0..SWEEPS {
        if best_crossings == 0 {
            break;
        }
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..slots.len()).collect()
        } else {
            (0..slots.len().saturating_sub(1)).rev().collect()
        };
        let neighbours = if downward { &previous } else { &next };
        for l in order {
            let mut keyed: Vec<(f64, SlotId)> = slots[l]
                .iter()
                .enumerate()
                .map(|(k, &slot)| {
                    let around = &neighbours[slot];
                    let key = if around.is_empty() {
                        k as f64
                    } else {
                        around.iter().map(|&s| position[s] as f64).sum::<f64>()
                            / around.len() as f64
                    };
                    (key, slot)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (k, &(_, slot)) in keyed.iter().enumerate() {
                slots[l][k] = slot;
                position[slot] = k;
            }
        }
        let count = crossings(slots, &next, &position);
        if count < best_crossings {
            best_crossings = count;
            best = slots.to_vec();
        }
    }
    slots.clone_from_slice(&best);
}

/// Crossings between adjacent layers: per layer, the links sorted by their upper end, counted
/// as inversions of their lower ends (merge sort), in O(links · log links).
fn crossings(slots: &[Vec<SlotId>], next: &[Vec<SlotId>], position: &[usize]) -> usize {
    let mut count = 0;
    for layer in slots {
        let mut ends: Vec<(usize, usize)> = layer
            .iter()
            .flat_map(|&a| next[a].iter().map(move |&b| (position[a], position[b])))
            .collect();
        ends.sort_unstable();
        let mut lower: Vec<usize> = ends.into_iter().map(|(_, b)| b).collect();
        count += inversions(&mut lower);
    }
    count
}

/// Pairs i < j with v[i] > v[j], sorting `v` on the way.
fn inversions(v: &mut [usize]) -> usize {
    if v.len() < 2 {
        return 0;
    }
    let mid = v.len() / 2;
    let mut count = inversions(&mut v[..mid]) + inversions(&mut v[mid..]);
    let mut merged = Vec::with_capacity(v.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < v.len() {
        if v[j] < v[i] {
            count += mid - i;
            merged.push(v[j]);
            j += 1;
        } else {
            merged.push(v[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&v[i..mid]);
    merged.extend_from_slice(&v[j..]);
    v.copy_from_slice(&merged);
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::tests::graph;
    use crate::domain::graph::{GraphStep, MAX_EDGES, MAX_STEPS};

    fn fan() -> Graph {
        graph(&[
            ("checkout", &[]),
            ("build-a", &["checkout"]),
            ("build-b", &["checkout"]),
            ("test-a", &["build-a"]),
            ("test-b", &["build-b"]),
            ("lint", &["checkout"]),
            ("package", &["test-a", "test-b", "lint"]),
        ])
    }

    /// Pairs of edge segments that cross between two adjacent layers (a measure of legibility).
    fn crossing_segments(layout: &Layout) -> usize {
        let spans: Vec<(f64, f64, f64, f64)> = layout
            .edges
            .iter()
            .flat_map(|e| e.path.segments.iter())
            .map(|s| (s.from.x, s.from.y, s.to.x, s.to.y))
            .collect();
        let mut count = 0;
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                if a.0 == b.0 && a.2 == b.2 && (a.1 - b.1) * (a.3 - b.3) < 0.0 {
                    count += 1;
                }
            }
        }
        count
    }

    #[test]
    fn inversions_count_crossing_pairs() {
        assert_eq!(inversions(&mut [0, 1, 2]), 0);
        assert_eq!(inversions(&mut [2, 1, 0]), 3);
        assert_eq!(inversions(&mut [1, 1, 0]), 2);
        let mut v = [3, 0, 2, 1];
        assert_eq!(inversions(&mut v), 4);
        assert_eq!(v, [0, 1, 2, 3]);
    }

    /// A graph at the size limits with edges as long as they get: a 2,000-step chain whose
    /// steps also need steps far upstream.
    fn huge() -> Graph {
        let mut steps: Vec<GraphStep> = (0..MAX_STEPS)
            .map(|i| GraphStep {
                id: format!("s{i}"),
                name: format!("s{i}"),
                kind: String::new(),
                needs: if i == 0 {
                    vec![]
                } else {
                    vec![format!("s{}", i - 1)]
                },
                weight: 1.0,
            })
            .collect();
        let mut extra = MAX_EDGES - (MAX_STEPS - 1);
        for i in (2..MAX_STEPS).rev() {
            for back in [i / 2, i / 3, 7 * i / 8, 0] {
                if extra > 0 && back + 1 < i && !steps[i].needs.contains(&format!("s{back}")) {
                    steps[i].needs.push(format!("s{back}"));
                    extra -= 1;
                }
            }
        }
        Graph { steps }
    }

    #[test]
    fn a_graph_at_the_size_limits_lays_out_with_bounded_waypoints() {
        let graph = huge();
        assert!(graph.validate().is_empty(), "{:?}", &graph.validate()[..1]);
        assert_eq!(
            graph.steps.iter().map(|s| s.needs.len()).sum::<usize>(),
            MAX_EDGES
        );
        let layout = Layout::compute(&graph);
        assert_eq!(layout.nodes.len(), MAX_STEPS);
        assert_eq!(layout.edges.len(), MAX_EDGES);
        let waypoint_segments: usize = layout
            .edges
            .iter()
            .map(|e| (e.path.segments.len() - 1) / 2)
            .sum();
        assert!(waypoint_segments <= MAX_WAYPOINTS, "{waypoint_segments}");
        // Every edge still starts and ends at its steps.
        for edge in &layout.edges {
            let from = layout.node(&edge.from).unwrap();
            assert_eq!(edge.path.point_at(0.0), from.right_mid());
        }
    }

    #[test]
    fn layers_follow_dependency_depth() {
        let layout = Layout::compute(&fan());
        let layer = |id: &str| layout.node(id).unwrap().layer;
        assert_eq!(layer("checkout"), 0);
        assert_eq!(layer("build-a"), 1);
        assert_eq!(layer("lint"), 1);
        assert_eq!(layer("test-b"), 2);
        assert_eq!(layer("package"), 3);
        // Left to right: x grows with the layer.
        assert!(layout.node("package").unwrap().x > layout.node("test-a").unwrap().x);
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(Layout::compute(&fan()), Layout::compute(&fan()));
    }

    #[test]
    fn nodes_do_not_overlap_and_fit_the_canvas() {
        let layout = Layout::compute(&fan());
        for (i, a) in layout.nodes.iter().enumerate() {
            assert!(a.x >= 0.0 && a.y >= 0.0);
            assert!(
                a.x + NODE_W <= layout.width && a.y + NODE_H <= layout.height,
                "{a:?}"
            );
            for b in &layout.nodes[i + 1..] {
                let apart = a.x + NODE_W <= b.x
                    || b.x + NODE_W <= a.x
                    || a.y + NODE_H <= b.y
                    || b.y + NODE_H <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn edges_run_from_right_side_to_left_side_without_crossing_nodes() {
        let layout = Layout::compute(&fan());
        assert_eq!(layout.edges.len(), 8);
        for edge in &layout.edges {
            let from = layout.node(&edge.from).unwrap();
            let to = layout.node(&edge.to).unwrap();
            assert_eq!(edge.path.point_at(0.0), from.right_mid());
            assert!(edge.path.point_at(1.0).distance(to.left_mid()) < 1e-6);
            // Sample the edge: no point falls strictly inside any node box.
            for k in 1..200 {
                let p = edge.path.point_at(k as f64 / 200.0);
                for node in &layout.nodes {
                    let inside = p.x > node.x + 0.5
                        && p.x < node.x + NODE_W - 0.5
                        && p.y > node.y + 0.5
                        && p.y < node.y + NODE_H - 0.5;
                    assert!(
                        !inside,
                        "edge {}->{} crosses {}",
                        edge.from, edge.to, node.id
                    );
                }
            }
        }
    }

    #[test]
    fn barycenter_ordering_removes_avoidable_crossings() {
        // Declared so that a naive order crosses: b2 feeds a1 and b1 feeds a2.
        let g = graph(&[("b1", &[]), ("b2", &[]), ("a1", &["b2"]), ("a2", &["b1"])]);
        let layout = Layout::compute(&g);
        assert_eq!(crossing_segments(&layout), 0);
        let y = |id: &str| layout.node(id).unwrap().y;
        assert_eq!(y("a2") < y("a1"), y("b1") < y("b2"));
        assert_eq!(crossing_segments(&Layout::compute(&fan())), 0);
    }

    fn step(id: &str, needs: Vec<String>) -> GraphStep {
        GraphStep {
            id: id.to_owned(),
            name: String::new(),
            kind: String::new(),
            needs,
            weight: 1.0,
        }
    }

    /// The fan-in/fan-out graph plus a fan-out wide enough to be drawn as one node and an
    /// edge that skips layers.
    fn wide() -> Graph {
        let mut g = fan();
        g.steps
            .extend((0..30).map(|i| step(&format!("w{i}"), vec!["checkout".into()])));
        let mut needs: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
        needs.push("checkout".into());
        needs.push("package".into());
        g.steps.push(step("sink", needs));
        g
    }

    #[test]
    fn a_layout_redrawn_in_its_own_order_is_that_layout() {
        for g in [fan(), wide(), huge()] {
            let searched = Layout::compute(&g);
            assert!(!searched.order.0.is_empty());
            assert_eq!(Layout::in_order(&g, Some(&searched.order)), searched);
        }
    }

    #[test]
    fn a_known_order_is_followed_without_searching_again() {
        let g = wide();
        let searched = Layout::compute(&g);
        // Every layer upside down: a valid order the search would not pick.
        let reversed = LayerOrder(
            searched
                .order
                .0
                .iter()
                .map(|layer| layer.iter().rev().copied().collect())
                .collect(),
        );
        assert_ne!(reversed, searched.order);
        let drawn = Layout::in_order(&g, Some(&reversed));
        assert_eq!(drawn.order, reversed);
        let y = |layout: &Layout, id: &str| layout.node(id).unwrap().y;
        assert_eq!(
            y(&drawn, "build-a") < y(&drawn, "lint"),
            y(&searched, "build-a") > y(&searched, "lint"),
            "the second layer is drawn upside down"
        );
    }

    #[test]
    fn an_order_that_does_not_fit_the_graph_is_ignored() {
        let g = wide();
        let searched = Layout::compute(&g);
        let layers = &searched.order.0;
        let changed = |change: &dyn Fn(&mut Vec<Vec<u32>>)| {
            let mut order = layers.clone();
            change(&mut order);
            LayerOrder(order)
        };
        let misfits = [
            // A step moved one layer right of where its needs put it.
            changed(&|o| {
                let moved = o[1].remove(0);
                o[2].push(moved);
            }),
            // A step missing, or listed twice.
            changed(&|o| {
                o[1].remove(0);
            }),
            changed(&|o| {
                let again = o[1][0];
                o[1].push(again);
            }),
            // A slot the graph does not have, and one layer too few.
            changed(&|o| o[1][0] = 9_999),
            changed(&|o| {
                o.pop();
            }),
            // The order of another graph.
            Layout::compute(&fan()).order,
            LayerOrder::default(),
        ];
        for order in misfits {
            assert_eq!(Layout::in_order(&g, Some(&order)), searched, "{order:?}");
        }
    }
}
