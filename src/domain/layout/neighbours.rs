//! Moving between a drawn graph's nodes with the arrow keys: right follows an edge downstream,
//! left upstream (to the node nearest in height), up and down go to the next node of the same
//! layer.

use super::Layout;

/// An arrow key's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Towards {
    Downstream,
    Upstream,
    Above,
    Below,
}

impl Towards {
    /// The direction of an arrow key (`KeyboardEvent.key`), if it is one.
    pub fn from_key(key: &str) -> Option<Towards> {
        match key {
            "ArrowRight" => Some(Towards::Downstream),
            "ArrowLeft" => Some(Towards::Upstream),
            "ArrowUp" => Some(Towards::Above),
            "ArrowDown" => Some(Towards::Below),
            _ => None,
        }
    }
}

impl Layout {
    /// The node to move to from node `id`, if there is one that way.
    pub fn neighbour(&self, id: &str, towards: Towards) -> Option<&str> {
        let here = self.nodes.iter().find(|n| n.id == id)?;
        let nearest = |ids: Vec<&str>| {
            self.nodes
                .iter()
                .filter(|n| ids.contains(&n.id.as_str()))
                .min_by(|a, b| (a.y - here.y).abs().total_cmp(&(b.y - here.y).abs()))
                .map(|n| n.id.as_str())
        };
        match towards {
            Towards::Downstream => nearest(
                (self.edges.iter())
                    .filter(|e| e.from == id)
                    .map(|e| e.to.as_str())
                    .collect(),
            ),
            Towards::Upstream => nearest(
                (self.edges.iter())
                    .filter(|e| e.to == id)
                    .map(|e| e.from.as_str())
                    .collect(),
            ),
            Towards::Above => (self.nodes.iter())
                .filter(|n| n.layer == here.layer && n.y < here.y)
                .max_by(|a, b| a.y.total_cmp(&b.y))
                .map(|n| n.id.as_str()),
            Towards::Below => (self.nodes.iter())
                .filter(|n| n.layer == here.layer && n.y > here.y)
                .min_by(|a, b| a.y.total_cmp(&b.y))
                .map(|n| n.id.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::tests::graph;

    #[test]
    fn arrows_follow_edges_and_layers() {
        // a → b, a → c, b → d, c → d
        let layout = Layout::compute(&graph(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["b", "c"]),
        ]));
        let right = layout.neighbour("a", Towards::Downstream).unwrap();
        assert!(right == "b" || right == "c");
        let below = layout.neighbour(right, Towards::Below);
        let above = layout.neighbour(right, Towards::Above);
        assert!(below.or(above).is_some(), "b and c share a layer");
        assert_eq!(layout.neighbour("d", Towards::Downstream), None);
        let left = layout.neighbour("d", Towards::Upstream).unwrap();
        assert!(left == "b" || left == "c");
        assert_eq!(layout.neighbour("a", Towards::Upstream), None);
        assert_eq!(
            layout.neighbour("a", Towards::Below),
            None,
            "a is alone in its layer"
        );
        assert_eq!(layout.neighbour("nope", Towards::Below), None);
        assert_eq!(Towards::from_key("ArrowLeft"), Some(Towards::Upstream));
        assert_eq!(Towards::from_key("a"), None);
    }
}
