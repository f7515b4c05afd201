//! Deterministic layered layout, left to right: layers by dependency depth, crossings reduced by
//! barycenter sweeps, long edges routed through reserved slots so no edge crosses a node.
//! A pure function of the graph (no maps with random order, no clock): the server-rendered SVG and
//! the hydrated one are identical.

use super::geometry::{round1, Cubic, Path, Point};
use super::graph::Graph;
use serde::{Deserialize, Serialize};

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

/// The whole drawing: node boxes in step order, edges in (step, need) order, and the canvas size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layout {
    pub nodes: Vec<NodeBox>,
    pub edges: Vec<EdgePath>,
    pub width: f64,
    pub height: f64,
}

/// A link between slots of adjacent layers: ((layer, slot), (next layer, slot)).
type Link = ((usize, Slot), (usize, Slot));

/// A slot in a layer: a real step, or a waypoint reserving room for a long edge.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Node(usize),
    /// Waypoint of edge number `.0` in its hop sequence.
    Waypoint(usize),
}

impl Layout {
    /// Lays out a valid graph. Unknown `needs` are ignored and a cyclic graph falls back to
    /// declaration order, so the function never fails; validation reports those problems.
    pub fn compute(graph: &Graph) -> Layout {
        let n = graph.steps.len();
        let index = |id: &str| graph.steps.iter().position(|s| s.id == id);
        // Edges as (from, to) step indices, in (step, need) declaration order.
        let edges: Vec<(usize, usize)> = graph
            .steps
            .iter()
            .enumerate()
            .flat_map(|(to, s)| {
                s.needs
                    .iter()
                    .filter_map(move |need| index(need).map(|from| (from, to)))
            })
            .filter(|(from, to)| from != to)
            .collect();
        let layer_of = layers(graph, &edges);
        let layer_count = layer_of.iter().copied().max().map_or(0, |m| m + 1);

        // Slots per layer; edges spanning several layers get a waypoint in each layer between.
        let mut slots: Vec<Vec<Slot>> = vec![Vec::new(); layer_count];
        for (i, &l) in layer_of.iter().enumerate() {
            slots[l].push(Slot::Node(i));
        }
        // Hop chains: per edge, the slots it passes through, from source to target.
        let mut waypoints = 0;
        let mut chains: Vec<Vec<(usize, Slot)>> = Vec::with_capacity(edges.len());
        for &(from, to) in &edges {
            let mut chain = vec![(layer_of[from], Slot::Node(from))];
            let between = layer_of[from] + 1..layer_of[to];
            for (l, layer) in slots
                .iter_mut()
                .enumerate()
                .take(between.end)
                .skip(between.start)
            {
                let w = waypoints;
                waypoints += 1;
                layer.push(Slot::Waypoint(w));
                chain.push((l, Slot::Waypoint(w)));
            }
            chain.push((layer_of[to], Slot::Node(to)));
            chains.push(chain);
        }
        order_layers(&mut slots, &chains);

        // Coordinates: every slot has the node height; layers are centred on the tallest one.
        let row = NODE_H + ROW_GAP;
        let tallest = slots.iter().map(Vec::len).max().unwrap_or(0) as f64;
        let mut node_pos = vec![Point::default(); n];
        let mut waypoint_pos = vec![Point::default(); waypoints];
        for (l, layer) in slots.iter().enumerate() {
            let x = MARGIN + l as f64 * (NODE_W + LAYER_GAP);
            let top = MARGIN + (tallest - layer.len() as f64) * row / 2.0;
            for (k, slot) in layer.iter().enumerate() {
                let p = Point::new(round1(x), round1(top + k as f64 * row));
                match *slot {
                    Slot::Node(i) => node_pos[i] = p,
                    Slot::Waypoint(w) => waypoint_pos[w] = p,
                }
            }
        }
        let nodes: Vec<NodeBox> = graph
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| NodeBox {
                id: s.id.clone(),
                layer: layer_of[i],
                x: node_pos[i].x,
                y: node_pos[i].y,
            })
            .collect();

        let edge_paths = edges
            .iter()
            .zip(&chains)
            .map(|(&(from, to), chain)| {
                let mut segments = Vec::new();
                let mut cursor = nodes[from].right_mid();
                for &(_, slot) in &chain[1..] {
                    match slot {
                        Slot::Waypoint(w) => {
                            let p = waypoint_pos[w];
                            let enter = Point::new(p.x, p.y + NODE_H / 2.0);
                            let leave = Point::new(p.x + NODE_W, p.y + NODE_H / 2.0);
                            segments.push(Cubic::horizontal(cursor, enter));
                            segments.push(Cubic::horizontal(enter, leave));
                            cursor = leave;
                        }
                        Slot::Node(i) => {
                            segments.push(Cubic::horizontal(cursor, nodes[i].left_mid()))
                        }
                    }
                }
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
        }
    }

    pub fn node(&self, id: &str) -> Option<&NodeBox> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Edges leaving `id`, where its progress markers ride.
    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a EdgePath> + 'a {
        self.edges.iter().filter(move |e| e.from == id)
    }

    /// Pairs of edges that cross between two adjacent layers (a measure of legibility).
    pub fn crossings(&self) -> usize {
        let spans: Vec<(f64, f64, f64, f64)> = self
            .edges
            .iter()
            .flat_map(|e| e.path.segments.iter())
            .map(|s| (s.from.x, s.from.y, s.to.x, s.to.y))
            .collect();
        let mut count = 0;
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                let same_gap = a.0 == b.0 && a.2 == b.2;
                if same_gap && (a.1 - b.1) * (a.3 - b.3) < 0.0 {
                    count += 1;
                }
            }
        }
        count
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
    let order = graph
        .topo_order()
        .unwrap_or_else(|_| (0..graph.steps.len()).collect());
    let mut layer = vec![0usize; graph.steps.len()];
    for &v in &order {
        for &(from, to) in edges {
            if to == v {
                layer[v] = layer[v].max(layer[from] + 1);
            }
        }
    }
    layer
}

/// Barycenter ordering: alternate sweeps right (order by mean position of the previous layer's
/// neighbours) and left (by the next layer's), keeping the order with the fewest crossings.
/// Sorting is stable, so ties keep declaration order and the result is deterministic.
fn order_layers(slots: &mut [Vec<Slot>], chains: &[Vec<(usize, Slot)>]) {
    // Adjacent-layer links between slots, from the hop chains.
    let links: Vec<Link> = chains
        .iter()
        .flat_map(|c| c.windows(2).map(|w| (w[0], w[1])))
        .collect();
    let mut best = slots.to_vec();
    let mut best_crossings = count_crossings(slots, &links);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let layer_ids: Vec<usize> = if downward {
            (1..slots.len()).collect()
        } else {
            (0..slots.len().saturating_sub(1)).rev().collect()
        };
        for l in layer_ids {
            let neighbour_layer = if downward { l - 1 } else { l + 1 };
            let position = |slot: Slot| slots[neighbour_layer].iter().position(|s| *s == slot);
            let keyed: Vec<(f64, Slot)> = slots[l]
                .iter()
                .enumerate()
                .map(|(k, &slot)| {
                    let neighbours: Vec<f64> = links
                        .iter()
                        .filter_map(|&(a, b)| {
                            let (me, other) = if downward { (b, a) } else { (a, b) };
                            (me == (l, slot))
                                .then(|| position(other.1))
                                .flatten()
                                .map(|p| p as f64)
                        })
                        .collect();
                    let key = if neighbours.is_empty() {
                        k as f64
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (key, slot)
                })
                .collect();
            let mut sorted = keyed;
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            slots[l] = sorted.into_iter().map(|(_, s)| s).collect();
        }
        let crossings = count_crossings(slots, &links);
        if crossings < best_crossings {
            best_crossings = crossings;
            best = slots.to_vec();
        }
    }
    slots.clone_from_slice(&best);
}

fn count_crossings(slots: &[Vec<Slot>], links: &[Link]) -> usize {
    let pos = |(l, s): (usize, Slot)| slots[l].iter().position(|x| *x == s).unwrap_or(0);
    let spans: Vec<(usize, usize, usize)> =
        links.iter().map(|&(a, b)| (a.0, pos(a), pos(b))).collect();
    let mut count = 0;
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if a.0 == b.0 && ((a.1 < b.1 && a.2 > b.2) || (a.1 > b.1 && a.2 < b.2)) {
                count += 1;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::tests::graph;

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
        assert_eq!(layout.crossings(), 0);
        let y = |id: &str| layout.node(id).unwrap().y;
        assert_eq!(y("a2") < y("a1"), y("b1") < y("b2"));
        assert_eq!(Layout::compute(&fan()).crossings(), 0);
    }
}
