//! The deployments board's data: each deployment pipeline's stages in order, and the most
//! recent runs of those pipelines with their whole state (the board folds their live events
//! with the same reducer as the run page).

use crate::domain::pipeline::ROLLBACK_KIND;
use crate::domain::{Pipeline, RunState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Rows the board shows: the newest runs of deployment pipelines.
pub const BOARD_ROWS: usize = 20;

/// One stage of a deployment: a step of its pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    /// An `on_failure` step: shown only once it runs.
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
        // A validated pipeline has no cycle; declaration order is the fallback all the same.
        let order = graph
            .topo_order()
            .unwrap_or_else(|_| (0..graph.steps.len()).collect());
        let stages = order
            .into_iter()
            .map(|i| {
                let step = &graph.steps[i];
                Stage {
                    id: step.id.clone(),
                    name: step.name.clone(),
                    rollback: step.kind == ROLLBACK_KIND,
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
    fn stages_follow_the_dependencies_and_mark_rollbacks() {
        let pipeline = Pipeline::parse(
            "d.toml",
            r#"
id = "d"
kind = "deployment"
[[steps]]
id = "verify"
needs = ["build"]
[[steps]]
id = "build"
name = "Build"
[[on_failure]]
id = "undo"
"#,
        )
        .unwrap();
        let board = BoardPipeline::from(&pipeline);
        let ids: Vec<&str> = board.stages.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["build", "verify", "undo"]);
        assert_eq!(board.stages[0].name, "Build");
        assert!(board.stages[2].rollback && !board.stages[0].rollback);
    }
}
