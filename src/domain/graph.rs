//! The step graph of a run or pipeline: nodes with `needs` edges, and its validation.
//! Pipelines and producer-created (ad-hoc) runs share this model, so both get the same checks.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use thiserror::Error;

/// One node of the graph, as drawn and as tracked by the reducer.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphStep {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Free-form; picks the node icon.
    #[serde(default)]
    pub kind: String,
    /// Upstream step ids: the edges of the graph.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Share of the run's overall percentage.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

#[cfg(test)]
impl GraphStep {
    /// A step with only an id and its needs (no name, no kind, weight 1), for tests.
    pub(crate) fn bare(id: &str, needs: &[&str]) -> GraphStep {
        GraphStep {
            id: id.into(),
            name: String::new(),
            kind: String::new(),
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            weight: default_weight(),
        }
    }
}

/// Steps in declaration order; the order is part of the deterministic layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Graph {
    pub steps: Vec<GraphStep>,
}

/// A structural problem of a graph, naming the step concerned.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GraphError {
    #[error("step `{0}`: id must be non-empty and use only a-z, 0-9, `-` and `_`")]
    BadId(String),
    #[error("step `{0}`: duplicate id")]
    Duplicate(String),
    #[error("step `{step}`: needs unknown step `{need}`")]
    UnknownNeed { step: String, need: String },
    #[error("step `{0}`: needs itself")]
    SelfNeed(String),
    #[error("step `{0}`: part of a cycle ({1})")]
    Cycle(String, String),
    #[error("step `{0}`: weight must be a finite number >= 0")]
    BadWeight(String),
    #[error("the graph has no steps")]
    Empty,
    #[error("the graph is too large: {steps} steps and {edges} needs (at most {MAX_STEPS} and {MAX_EDGES})")]
    TooLarge { steps: usize, edges: usize },
}

/// Largest graph accepted: layout and rendering cost grow with steps and edges, and a producer
/// must not be able to stall the server with one request.
pub const MAX_STEPS: usize = 2_000;
pub const MAX_EDGES: usize = 8_000;

/// True when `id` is a slug: `[a-z0-9-_]+`.
pub fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Graph {
    /// Looks a step up by id.
    pub fn step(&self, id: &str) -> Option<&GraphStep> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Every problem of the graph, in declaration order; empty when it is a valid DAG.
    pub fn validate(&self) -> Vec<GraphError> {
        let mut errors = Vec::new();
        if self.steps.is_empty() {
            errors.push(GraphError::Empty);
        }
        let edges = self.steps.iter().map(|s| s.needs.len()).sum();
        if self.steps.len() > MAX_STEPS || edges > MAX_EDGES {
            // Checking a huge graph any further is the cost this limit exists to avoid.
            return vec![GraphError::TooLarge {
                steps: self.steps.len(),
                edges,
            }];
        }
        let mut seen = BTreeSet::new();
        for step in &self.steps {
            if !is_slug(&step.id) {
                errors.push(GraphError::BadId(step.id.clone()));
            }
            if !seen.insert(step.id.as_str()) {
                errors.push(GraphError::Duplicate(step.id.clone()));
            }
            if !step.weight.is_finite() || step.weight < 0.0 {
                errors.push(GraphError::BadWeight(step.id.clone()));
            }
        }
        for step in &self.steps {
            for need in &step.needs {
                if need == &step.id {
                    errors.push(GraphError::SelfNeed(step.id.clone()));
                } else if !seen.contains(need.as_str()) {
                    errors.push(GraphError::UnknownNeed {
                        step: step.id.clone(),
                        need: need.clone(),
                    });
                }
            }
        }
        if errors.is_empty() {
            if let Err(cycle) = self.topo_order() {
                let first = cycle.first().cloned().unwrap_or_default();
                errors.push(GraphError::Cycle(first, cycle.join(" -> ")));
            }
        }
        errors
    }

    /// Step id to its position in declaration order (hashed: a 2,000-step graph looks ids up
    /// thousands of times while it is laid out, and string comparisons down a tree were a
    /// tenth of that in the browser).
    pub(crate) fn index(&self) -> HashMap<&str, usize> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect()
    }

    /// Step indices in dependency order (Kahn's algorithm, ties by declaration order), or the
    /// ids of the steps left on a cycle.
    pub fn topo_order(&self) -> Result<Vec<usize>, Vec<String>> {
        let index = self.index();
        let mut missing: Vec<usize> = self
            .steps
            .iter()
            .map(|s| {
                s.needs
                    .iter()
                    .filter(|n| index.contains_key(n.as_str()))
                    .count()
            })
            .collect();
        let downstream = self.downstream_indices();
        let mut ready: BTreeSet<usize> =
            (0..self.steps.len()).filter(|&i| missing[i] == 0).collect();
        let mut order = Vec::with_capacity(self.steps.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &downstream[i] {
                missing[d] -= 1;
                if missing[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() == self.steps.len() {
            Ok(order)
        } else {
            let done: BTreeSet<usize> = order.into_iter().collect();
            Err((0..self.steps.len())
                .filter(|i| !done.contains(i))
                .map(|i| self.steps[i].id.clone())
                .collect())
        }
    }

    /// Each step's wave (by index): 0 for a step that needs nothing, else one more than its
    /// latest need's. A wave's steps need only steps of earlier waves, so they may run side
    /// by side. Unknown needs are ignored; a cyclic graph counts in declaration order.
    pub fn waves(&self) -> Vec<usize> {
        let index = self.index();
        let order = self
            .topo_order()
            .unwrap_or_else(|_| (0..self.steps.len()).collect());
        let mut wave = vec![0usize; self.steps.len()];
        for i in order {
            wave[i] = (self.steps[i].needs.iter())
                .filter_map(|n| index.get(n.as_str()))
                .map(|&n| wave[n] + 1)
                .max()
                .unwrap_or(0);
        }
        wave
    }

    /// For each step, the indices of the steps that need it.
    pub fn downstream_indices(&self) -> Vec<Vec<usize>> {
        let index = self.index();
        let mut downstream = vec![Vec::new(); self.steps.len()];
        for (i, step) in self.steps.iter().enumerate() {
            for need in &step.needs {
                if let Some(&u) = index.get(need.as_str()) {
                    downstream[u].push(i);
                }
            }
        }
        downstream
    }

    /// Every step that depends on `id`, directly or transitively.
    pub fn dependants_of(&self, id: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut frontier = vec![id.to_owned()];
        while let Some(current) = frontier.pop() {
            for step in &self.steps {
                if step.needs.iter().any(|n| n == &current) && found.insert(step.id.clone()) {
                    frontier.push(step.id.clone());
                }
            }
        }
        found
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A graph from `(id, needs)` pairs, for tests.
    pub(crate) fn graph(spec: &[(&str, &[&str])]) -> Graph {
        Graph {
            steps: spec
                .iter()
                .map(|(id, needs)| GraphStep {
                    id: (*id).into(),
                    name: id.to_uppercase(),
                    kind: String::new(),
                    needs: needs.iter().map(|n| (*n).into()).collect(),
                    weight: 1.0,
                })
                .collect(),
        }
    }

    #[test]
    fn valid_dag_orders_dependencies_first() {
        let g = graph(&[("c", &["a", "b"]), ("a", &[]), ("b", &["a"])]);
        assert!(g.validate().is_empty());
        let order: Vec<_> = g
            .topo_order()
            .unwrap()
            .into_iter()
            .map(|i| g.steps[i].id.as_str())
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn reports_each_problem_by_step() {
        let g = graph(&[("a", &["x"]), ("a", &[]), ("B", &["B"])]);
        let errors: Vec<String> = g.validate().iter().map(ToString::to_string).collect();
        assert!(
            errors.contains(&"step `a`: needs unknown step `x`".to_owned()),
            "{errors:?}"
        );
        assert!(
            errors.contains(&"step `a`: duplicate id".to_owned()),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("step `B`: id must")),
            "{errors:?}"
        );
        assert!(
            errors.contains(&"step `B`: needs itself".to_owned()),
            "{errors:?}"
        );
    }

    #[test]
    fn detects_cycles() {
        let g = graph(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        let errors = g.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "step `a`: part of a cycle (a -> b -> c)"
        );
    }

    #[test]
    fn refuses_graphs_too_large_to_lay_out() {
        let ids: Vec<String> = (0..=MAX_STEPS).map(|i| format!("s{i}")).collect();
        let spec: Vec<(&str, &[&str])> = ids.iter().map(|id| (id.as_str(), &[][..])).collect();
        let errors = graph(&spec).validate();
        assert_eq!(
            errors,
            [GraphError::TooLarge {
                steps: MAX_STEPS + 1,
                edges: 0
            }]
        );
    }

    #[test]
    fn dependants_are_transitive() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        let deps: Vec<_> = g.dependants_of("a").into_iter().collect();
        assert_eq!(deps, ["b", "c"]);
    }
}
