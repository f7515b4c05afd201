//! The job-progress messages other tools already publish on `tenant.<tenant>.job.<job>.progress`:
//! `{"nodeId": 1, "nodeName": "DB Input", "status": "running", "rowCount": 5000, "message": "…"}`.
//! The job is a run (an ad-hoc run created on first sight), each node a step (added to the run
//! when first seen), and each message becomes the events that say the same; when every step has
//! ended, the run ends too.

use crate::domain::{EventKind, Graph, GraphStep, NewEvent, RunState, Status};
use serde::Deserialize;

/// A node's id as tools send it: a number or a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NodeId {
    Number(u64),
    Text(String),
}

/// One message. Unknown fields are ignored: tools add their own.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    node_id: Option<NodeId>,
    node_name: Option<String>,
    status: Option<Status>,
    row_count: Option<u64>,
    message: Option<String>,
    /// Extension: the node's percentage (0–100).
    progress: Option<f64>,
}

impl JobProgress {
    pub fn parse(payload: &[u8]) -> Result<JobProgress, String> {
        let progress: JobProgress = serde_json::from_slice(payload)
            .map_err(|e| format!("invalid job progress message: {e}"))?;
        if progress.node_id.is_none() && progress.name().is_none() {
            return Err("a job progress message needs `nodeId` or `nodeName`".into());
        }
        Ok(progress)
    }

    fn name(&self) -> Option<&str> {
        self.node_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }

    fn id(&self) -> Option<String> {
        self.node_id.as_ref().map(|id| match id {
            NodeId::Number(n) => n.to_string(),
            NodeId::Text(t) => t.trim().to_owned(),
        })
    }

    /// The step this message's node is in `graph`: by id (`7`, `node-7`), else by name
    /// ("DB Input", `db-input`); `None` when the run does not have it yet.
    pub fn find_step<'g>(&self, graph: &'g Graph) -> Option<&'g GraphStep> {
        let id = self.id();
        let by_id = id.as_deref().and_then(|id| {
            let prefixed = format!("node-{id}");
            graph.steps.iter().find(|s| s.id == id || s.id == prefixed)
        });
        by_id.or_else(|| {
            let name = self.name()?;
            let slug = slug(name);
            graph.steps.iter().find(|s| s.name == name || s.id == slug)
        })
    }

    /// The step to add for a node seen for the first time, named after the node: `node-<id>`
    /// when it has an id (later messages may name it by id alone), else from its name.
    pub fn new_step(&self, graph: &Graph) -> GraphStep {
        let id = match (self.id(), self.name()) {
            (Some(id), _) => format!("node-{}", slug(&id)),
            (None, Some(name)) => slug(name),
            (None, None) => format!("node-{}", graph.steps.len() + 1),
        };
        GraphStep {
            name: self
                .name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("Node {}", self.id().unwrap_or_default())),
            id,
            kind: String::new(),
            needs: Vec::new(),
            weight: 1.0,
        }
    }

    /// The events that say what this message says about `step` of a run in `state`, checked
    /// by folding them; with the run's end when this ends its last open step.
    pub fn events(
        &self,
        step: &str,
        added: Option<GraphStep>,
        state: &RunState,
    ) -> Result<Vec<NewEvent>, String> {
        let mut kinds = Vec::new();
        if let Some(added) = added {
            kinds.push(EventKind::StepsAdded { steps: vec![added] });
        }
        let status = self.status.unwrap_or(Status::Running);
        let news = self.row_count.is_some() || self.progress.is_some() || self.message.is_some();
        if status == Status::Running || (news && !status.is_terminal()) {
            kinds.push(EventKind::StepProgress {
                step: step.to_owned(),
                progress: self.progress,
                message: self.message.clone(),
                rows: self.row_count,
            });
        } else if status.is_terminal() {
            if self.row_count.is_some() || self.progress.is_some() {
                kinds.push(EventKind::StepProgress {
                    step: step.to_owned(),
                    progress: self.progress,
                    message: None,
                    rows: self.row_count,
                });
            }
            kinds.push(EventKind::StepFinished {
                step: step.to_owned(),
                status,
                message: self.message.clone(),
            });
        }
        // Folded on a copy: a message that makes no sense (progress after the end) is refused
        // by name, and the run's end is known.
        let mut after = state.clone();
        let now = chrono::Utc::now();
        for kind in &kinds {
            let event = NewEvent::new(kind.clone()).into_stored(after.seq + 1, now);
            after.apply(&event).map_err(|e| e.to_string())?;
        }
        if let Some(status) = ended(&after) {
            kinds.push(EventKind::RunFinished {
                status,
                message: None,
            });
        }
        Ok(kinds.into_iter().map(NewEvent::new).collect())
    }
}

/// The run's status once every step has ended: the worst of its steps'.
fn ended(state: &RunState) -> Option<Status> {
    if state.status.is_terminal() || !state.steps.values().all(|s| s.status.is_terminal()) {
        return None;
    }
    let has = |status: Status| state.steps.values().any(|s| s.status == status);
    Some(
        [Status::Failed, Status::Cancelled, Status::Warning]
            .into_iter()
            .find(|s| has(*s))
            .unwrap_or(Status::Success),
    )
}

/// "DB Input" → `db-input`: a step id from a node's name.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(64);
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn message(json: &str) -> JobProgress {
        JobProgress::parse(json.as_bytes()).unwrap()
    }

    fn graph() -> Graph {
        Graph {
            steps: vec![GraphStep {
                id: "db-input".into(),
                name: "DB Input".into(),
                kind: String::new(),
                needs: Vec::new(),
                weight: 1.0,
            }],
        }
    }

    #[test]
    fn nodes_map_to_steps_by_id_or_name_and_new_ones_get_a_step() {
        let graph = graph();
        let known = message(r#"{"nodeId": 1, "nodeName": "DB Input", "status": "running"}"#);
        assert_eq!(
            known.find_step(&graph).map(|s| s.id.as_str()),
            Some("db-input")
        );
        let fresh = message(r#"{"nodeId": 2, "nodeName": "Sort rows / dedupe"}"#);
        assert!(fresh.find_step(&graph).is_none());
        let step = fresh.new_step(&graph);
        assert_eq!(
            (step.id.as_str(), step.name.as_str()),
            ("node-2", "Sort rows / dedupe")
        );
        let graph = Graph { steps: vec![step] };
        let by_id = message(r#"{"nodeId": 2, "status": "done"}"#);
        assert_eq!(
            by_id.find_step(&graph).map(|s| s.id.as_str()),
            Some("node-2")
        );
        let idless = message(r#"{"nodeName": "Load warehouse"}"#);
        assert_eq!(idless.new_step(&graph).id, "load-warehouse");
        let nameless = message(r#"{"nodeId": 7}"#);
        assert_eq!(nameless.new_step(&graph).name, "Node 7");
        assert_eq!(
            JobProgress::parse(br#"{"status": "running"}"#).unwrap_err(),
            "a job progress message needs `nodeId` or `nodeName`"
        );
        assert!(JobProgress::parse(br#"{"nodeId": 1, "rowCount": "many"}"#)
            .unwrap_err()
            .starts_with("invalid job progress message"));
    }

    #[test]
    fn messages_become_events_and_the_last_end_ends_the_run() {
        let graph = graph();
        let state = RunState::new("job", None, "job", &graph, Utc::now());
        let running = message(
            r#"{"nodeId": 1, "status": "running", "rowCount": 5000, "message": "reading"}"#,
        );
        let events = running.events("db-input", None, &state).unwrap();
        assert_eq!(events.len(), 1);
        assert!(matches!(
            &events[0].kind,
            EventKind::StepProgress { rows: Some(5000), message: Some(m), .. } if m == "reading"
        ));
        let done = message(r#"{"nodeId": 1, "status": "completed", "rowCount": 9000}"#);
        let kinds: Vec<EventKind> = done
            .events("db-input", None, &state)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(matches!(
            kinds[0],
            EventKind::StepProgress {
                rows: Some(9000),
                ..
            }
        ));
        assert!(matches!(
            kinds[1],
            EventKind::StepFinished {
                status: Status::Success,
                ..
            }
        ));
        assert!(matches!(
            kinds[2],
            EventKind::RunFinished {
                status: Status::Success,
                ..
            }
        ));
        // A new node's step is added first; the run goes on while it runs.
        let sort = message(
            r#"{"nodeId": 2, "nodeName": "Sort", "status": "error", "message": "disk full"}"#,
        );
        let added = sort.new_step(&graph);
        let kinds: Vec<EventKind> = sort
            .events(&added.id, Some(added.clone()), &state)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(matches!(&kinds[0], EventKind::StepsAdded { steps } if steps[0].id == "node-2"));
        assert!(matches!(
            kinds[1],
            EventKind::StepFinished {
                status: Status::Failed,
                ..
            }
        ));
        assert_eq!(kinds.len(), 2, "db-input is still pending: {kinds:?}");
    }

    #[test]
    fn a_message_that_makes_no_sense_is_refused_by_name() {
        let graph = graph();
        let mut state = RunState::new("job", None, "job", &graph, Utc::now());
        let finish = NewEvent::new(EventKind::StepFinished {
            step: "db-input".into(),
            status: Status::Success,
            message: None,
        });
        state.apply(&finish.into_stored(1, Utc::now())).unwrap();
        let late = message(r#"{"nodeId": 1, "status": "running", "rowCount": 1}"#);
        assert_eq!(
            late.events("db-input", None, &state).unwrap_err(),
            "`step`: step `db-input` already finished as success"
        );
    }
}
