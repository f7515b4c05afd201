//! Dry runs: what a run of a pipeline would do with given parameters, without executing
//! anything. Steps run in waves (a wave's steps need only steps of earlier waves, so they may
//! run side by side, `max_parallel` at a time); a step whose `when` is not met, and whatever
//! needs it, would be skipped; rollback steps would run only if the run failed.

use super::pipeline::Pipeline;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What the executor would do with one step.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedAction {
    /// Runs its command.
    Run,
    /// Has no command: waits for a producer to report it.
    Wait,
    /// Would end `skipped` (see the step's `reason`).
    Skip,
    /// A rollback step: runs only if the run fails.
    OnFailure,
}

/// One step of the plan.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub id: String,
    pub name: String,
    pub action: PlannedAction,
    /// The wave (1, 2, …) it would start in; `None` for skipped and rollback steps.
    pub wave: Option<usize>,
    /// Why it would be skipped, or when it would run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    pub retries: u32,
    pub continue_on_error: bool,
}

/// The execution plan of a run that has not happened.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub pipeline: String,
    /// The parameters as the run would get them (defaults filled in).
    pub params: BTreeMap<String, String>,
    pub max_parallel: usize,
    /// Step ids by wave, each in declaration order.
    pub waves: Vec<Vec<String>>,
    /// Every step of the run's graph: waves first, in order, then skipped and rollback steps.
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// The plan of one step, by id.
    pub fn step(&self, id: &str) -> Option<&PlannedStep> {
        self.steps.iter().find(|s| s.id == id)
    }
}

impl Pipeline {
    /// The plan of a run with `params` (resolved: defaults filled in, already validated).
    pub fn plan(&self, params: &BTreeMap<String, String>) -> Plan {
        let graph = self.graph();
        let order = graph
            .topo_order()
            .unwrap_or_else(|_| (0..self.steps.len()).collect());
        // A step that runs has only needs that run (a skipped need skips it), so its wave is
        // the graph's.
        let depth = graph.waves();
        // Wave per step that runs; the reason for each skipped one.
        let mut wave: HashMap<&str, usize> = HashMap::new();
        let mut skipped: HashMap<&str, String> = HashMap::new();
        for &i in &order {
            let step = &self.steps[i];
            let blocker = step.needs.iter().find(|n| skipped.contains_key(n.as_str()));
            if let Some(reason) = step.condition_unmet(params) {
                skipped.insert(&step.id, reason);
            } else if let Some(blocker) = blocker {
                skipped.insert(&step.id, format!("skipped: `{blocker}` would be skipped"));
            } else {
                wave.insert(&step.id, depth[i] + 1);
            }
        }
        let count = wave.values().copied().max().unwrap_or(0);
        let waves: Vec<Vec<String>> = (1..=count)
            .map(|w| {
                self.steps
                    .iter()
                    .filter(|s| wave.get(s.id.as_str()) == Some(&w))
                    .map(|s| s.id.clone())
                    .collect()
            })
            .collect();
        let planned = |step: &super::Step, action, wave: Option<usize>, reason| PlannedStep {
            id: step.id.clone(),
            name: step.name.clone(),
            action,
            wave,
            reason,
            timeout_ms: step.timeout_ms,
            retries: step.retries,
            continue_on_error: step.continue_on_error,
        };
        let by_id: HashMap<&str, &super::Step> =
            self.steps.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut steps: Vec<PlannedStep> = waves
            .iter()
            .enumerate()
            .flat_map(|(w, ids)| ids.iter().map(move |id| (w + 1, id)))
            .map(|(w, id)| {
                let step = by_id[id.as_str()];
                match step.run {
                    Some(_) => planned(step, PlannedAction::Run, Some(w), None),
                    None => planned(
                        step,
                        PlannedAction::Wait,
                        Some(w),
                        Some("external: waits for a producer to report it".to_owned()),
                    ),
                }
            })
            .collect();
        steps.extend(self.steps.iter().filter_map(|step| {
            let reason = skipped.get(step.id.as_str())?;
            Some(planned(
                step,
                PlannedAction::Skip,
                None,
                Some(reason.clone()),
            ))
        }));
        steps.extend(self.on_failure.iter().map(|step| {
            let reason = match step.condition_unmet(params) {
                Some(unmet) => format!("only if the run fails, and then {unmet}"),
                None => "runs only if the run fails".to_owned(),
            };
            planned(step, PlannedAction::OnFailure, None, Some(reason))
        }));
        Plan {
            pipeline: self.id.clone(),
            params: params.clone(),
            max_parallel: self.max_parallel,
            waves,
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
id = "release"
max_parallel = 2

[params.target]
default = "staging"
choices = ["staging", "production"]

[[steps]]
id = "build"
run = "true"

[[steps]]
id = "lint"
run = "true"

[[steps]]
id = "test"
run = "true"
needs = ["build"]

[[steps]]
id = "approve"
needs = ["test"]
when = { target = "production" }

[[steps]]
id = "ship"
run = "true"
needs = ["approve", "lint"]

[[steps]]
id = "docs"
run = "true"
needs = ["build"]
when = { target = ["staging", "production"] }

[[on_failure]]
id = "undo"
run = "true"
"#;

    fn plan(target: &str) -> Plan {
        let pipeline = Pipeline::parse("release.toml", FILE).unwrap();
        let params = BTreeMap::from([("target".to_owned(), target.to_owned())]);
        pipeline.plan(&params)
    }

    #[test]
    fn waves_follow_needs_and_conditions_skip_their_dependants() {
        let production = plan("production");
        assert_eq!(
            production.waves,
            [
                vec!["build", "lint"],
                vec!["test", "docs"],
                vec!["approve"],
                vec!["ship"]
            ]
        );
        let approve = production.step("approve").unwrap();
        assert_eq!(
            (approve.action, approve.wave),
            (PlannedAction::Wait, Some(3))
        );

        let staging = plan("staging");
        assert_eq!(staging.waves, [vec!["build", "lint"], vec!["test", "docs"]]);
        let approve = staging.step("approve").unwrap();
        assert_eq!(approve.action, PlannedAction::Skip);
        assert_eq!(
            approve.reason.as_deref(),
            Some("skipped: `target` is \"staging\"; runs only for production")
        );
        assert_eq!(
            staging.step("ship").unwrap().reason.as_deref(),
            Some("skipped: `approve` would be skipped")
        );
        let undo = staging.step("undo").unwrap();
        assert_eq!((undo.action, undo.wave), (PlannedAction::OnFailure, None));
        let ids: Vec<&str> = staging.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["build", "lint", "test", "docs", "approve", "ship", "undo"]
        );
    }

    #[test]
    fn conditions_must_name_declared_parameters_and_choices() {
        let broken = FILE
            .replace(
                r#"when = { target = "production" }"#,
                r#"when = { target = "prod" }"#,
            )
            .replace(
                r#"when = { target = ["staging", "production"] }"#,
                r#"when = { region = "eu" }"#,
            );
        let problems: Vec<String> = Pipeline::parse("release.toml", &broken)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "release.toml: step `approve`: when: `prod` is not one of the choices of `target`",
                "release.toml: step `docs`: when: unknown parameter `region`",
            ]
        );
    }
}
