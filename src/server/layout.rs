//! Graph layouts on the server: computed on the blocking pool, never on the async threads
//! that serve requests and live connections, and remembered by graph, since every run of a
//! pipeline has the same graph and a run's graph never changes (a run page used to lay its
//! graph out again on every request).

use crate::domain::{Graph, Layout};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

/// Distinct graphs whose layouts are kept; beyond it the cache starts afresh.
const KEPT: usize = 256;

type Entries = HashMap<u64, Vec<(Graph, Arc<Layout>)>>;

fn entries() -> &'static Mutex<Entries> {
    static ENTRIES: OnceLock<Mutex<Entries>> = OnceLock::new();
    ENTRIES.get_or_init(Mutex::default)
}

/// A hash of the graph's shape (ids, names, kinds, needs; weights do not move nodes).
fn key(graph: &Graph) -> u64 {
    let mut hasher = DefaultHasher::new();
    for step in &graph.steps {
        (&step.id, &step.name, &step.kind, &step.needs).hash(&mut hasher);
    }
    hasher.finish()
}

/// The graph's layout: remembered, or laid out on the blocking pool.
pub async fn lay_out(graph: Graph) -> Result<Arc<Layout>, tokio::task::JoinError> {
    let key = key(&graph);
    let known = {
        let entries = entries().lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&key)
            .and_then(|same| same.iter().find(|(g, _)| *g == graph))
            .map(|(_, layout)| Arc::clone(layout))
    };
    if let Some(layout) = known {
        return Ok(layout);
    }
    let (graph, layout) = tokio::task::spawn_blocking(move || {
        let layout = Arc::new(Layout::compute(&graph));
        (graph, layout)
    })
    .await?;
    let mut entries = entries().lock().unwrap_or_else(|e| e.into_inner());
    if entries.len() >= KEPT {
        entries.clear();
    }
    entries
        .entry(key)
        .or_default()
        .push((graph, Arc::clone(&layout)));
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GraphStep;

    fn graph(names: &[&str]) -> Graph {
        Graph {
            steps: names
                .iter()
                .map(|n| GraphStep {
                    id: (*n).into(),
                    name: (*n).into(),
                    kind: String::new(),
                    needs: Vec::new(),
                    weight: 1.0,
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn the_same_graph_gets_the_same_layout_and_another_its_own() {
        let first = lay_out(graph(&["a", "b"])).await.unwrap();
        let again = lay_out(graph(&["a", "b"])).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "remembered");
        let other = lay_out(graph(&["a", "c"])).await.unwrap();
        let mut ids: Vec<&str> = other.nodes.iter().map(|n| n.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "c"]);
    }
}
