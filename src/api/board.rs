//! The deployments board's data: each deployment pipeline's stages in order, and the most
//! recent runs of those pipelines with their whole state (the board folds their live events
//! with the same reducer as the run page).

use crate::domain::fan_out::group_name;
use crate::domain::pipeline::ROLLBACK_KIND;
use crate::domain::{Pipeline, RunState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Rows the board shows: the newest runs of deployment pipelines.
pub const BOARD_ROWS: usize = 20;

/// One stage of a deployment: a wave of its pipeline, the steps that run side by side (their
/// longest chain of dependencies is as long); a linear pipeline has a stage per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Its steps, in declaration order.
    pub steps: Vec<String>,
    /// The step's name, or for several "<common start>… ×N".
    pub name: String,
    /// `on_failure` steps: shown only once they run.
    pub rollback: bool,
}

/// A pipeline on the board, with its stages in the order they run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardPipeline {
    pub id: String,
    pub name: String,
    pub stages: Vec<Stage>,
}

impl From<&Pipeline> for BoardPipeline {
    fn from(pipeline: &Pipeline) -> Self {
        let graph = pipeline.run_graph();
        let wave = graph.waves();
        // Rollback steps come after all the others, in waves of their own.
        let mut waves: BTreeMap<(bool, usize), Vec<usize>> = BTreeMap::new();
        for (i, step) in graph.steps.iter().enumerate() {
            let rollback = step.kind == ROLLBACK_KIND;
            waves.entry((rollback, wave[i])).or_default().push(i);
        }
        let stages = waves
            .into_iter()
            .map(|((rollback, _), members)| {
                let steps = members.iter().map(|&i| &graph.steps[i]);
                Stage {
                    name: match members.as_slice() {
                        [one] => graph.steps[*one].name.clone(),
                        _ => group_name(steps.clone().map(|s| s.name.as_str())),
                    },
                    steps: steps.map(|s| s.id.clone()).collect(),
                    rollback,
                }
            })
            .collect();
        BoardPipeline {
            id: pipeline.id.clone(),
            name: pipeline.name.clone(),
            stages,
        }
    }
}

/// The board as a page loads it: runs newest first, and the server's clock for running times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardView {
    pub pipelines: Vec<BoardPipeline>,
    pub runs: Vec<RunState>,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_waves_in_dependency_order_with_rollbacks_last() {
        let pipeline = Pipeline::parse(
            "d.toml",
            r#"
id = "d"
kind = "deployment"
[[steps]]
id = "verify"
needs = ["build-linux", "build-macos"]
[[steps]]
id = "build-linux"
name = "Build (linux)"
needs = ["checkout"]
[[steps]]
id = "checkout"
name = "Checkout"
[[steps]]
id = "build-macos"
name = "Build (macos)"
needs = ["checkout"]
[[on_failure]]
id = "undo"
"#,
        )
        .unwrap();
        let board = BoardPipeline::from(&pipeline);
        let stages: Vec<(Vec<&str>, &str, bool)> = (board.stages.iter())
            .map(|s| {
                (
                    s.steps.iter().map(String::as_str).collect(),
                    s.name.as_str(),
                    s.rollback,
                )
            })
            .collect();
        assert_eq!(
            stages,
            [
                (vec!["checkout"], "Checkout", false),
                (vec!["build-linux", "build-macos"], "Build… ×2", false),
                (vec!["verify"], "verify", false),
                (vec!["undo"], "undo", true),
            ]
        );
    }
}
