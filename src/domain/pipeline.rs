//! Pipeline files (TOML): parsing and validation into a [`Pipeline`].

use super::duration::parse_millis;
use super::graph::{is_slug, Graph, GraphError, GraphStep};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;

/// The kind (and icon) of `on_failure` steps on a run's graph.
pub const ROLLBACK_KIND: &str = "rollback";

/// The pipeline kind whose runs the deployments board shows.
pub const DEPLOYMENT_KIND: &str = "deployment";

/// A run parameter, shown as a form field when starting a run.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(default)]
    pub default: Option<String>,
    /// When non-empty, the only accepted values (a select in the form).
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A run cannot start without a (non-empty) value.
    #[serde(default)]
    pub required: bool,
}

/// One validated step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Shell command (`sh -c`); `None` marks an external step reported by a producer.
    pub run: Option<String>,
    pub needs: Vec<String>,
    pub timeout_ms: Option<u64>,
    pub retries: u32,
    pub continue_on_error: bool,
    pub weight: f64,
    /// Run only when each named parameter has one of the listed values; otherwise the step
    /// (and whatever needs it) ends `skipped`.
    pub when: BTreeMap<String, Vec<String>>,
}

/// A validated pipeline definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Free-form; `deployment` puts the pipeline's runs on the deployments board.
    pub kind: String,
    pub max_parallel: usize,
    pub params: BTreeMap<String, ParamSpec>,
    pub steps: Vec<Step>,
    /// Rollback steps, run in order only when the run fails.
    pub on_failure: Vec<Step>,
}

/// A problem with a pipeline file, naming the file and (where it applies) the step.
#[derive(Debug, Error, Clone, PartialEq)]
pub struct PipelineError {
    pub file: String,
    pub problem: String,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

/// The raw file shape; `deny_unknown_fields` turns typos into errors instead of silence.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    id: String,
    name: Option<String>,
    description: Option<String>,
    kind: Option<String>,
    max_parallel: Option<usize>,
    #[serde(default)]
    params: BTreeMap<String, ParamSpec>,
    #[serde(default)]
    steps: Vec<StepFile>,
    #[serde(default)]
    on_failure: Vec<StepFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    id: String,
    name: Option<String>,
    kind: Option<String>,
    run: Option<String>,
    #[serde(default)]
    needs: Vec<String>,
    timeout: Option<String>,
    #[serde(default)]
    retries: u32,
    #[serde(default)]
    continue_on_error: bool,
    weight: Option<f64>,
    #[serde(default)]
    when: BTreeMap<String, OneOrMany>,
}

/// `when = { environment = "production" }` or `{ environment = ["staging", "production"] }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(value) => vec![value],
            OneOrMany::Many(values) => values,
        }
    }
}

/// Default bound on concurrently running steps when a file gives none.
pub const DEFAULT_MAX_PARALLEL: usize = 4;

impl Pipeline {
    /// Parses and validates a pipeline file. `file` names it in every error.
    pub fn parse(file: &str, text: &str) -> Result<Pipeline, Vec<PipelineError>> {
        let err = |problem: String| PipelineError {
            file: file.to_owned(),
            problem,
        };
        let raw: PipelineFile =
            toml::from_str(text).map_err(|e| vec![err(toml_problem(text, &e))])?;
        let mut errors = Vec::new();
        if !is_slug(&raw.id) {
            errors.push(err(format!(
                "pipeline id `{}` must use only a-z, 0-9, `-` and `_`",
                raw.id
            )));
        }
        if raw.max_parallel == Some(0) {
            errors.push(err("`max_parallel` must be at least 1".into()));
        }
        for (key, spec) in &raw.params {
            if let (Some(default), false) = (&spec.default, spec.choices.is_empty()) {
                if !spec.choices.contains(default) {
                    errors.push(err(format!(
                        "param `{key}`: default `{default}` is not one of its choices"
                    )));
                }
            }
        }
        let steps = convert_steps(raw.steps, &mut |p| errors.push(err(p)));
        let on_failure = convert_steps(raw.on_failure, &mut |p| errors.push(err(p)));
        for step in steps.iter().chain(&on_failure) {
            for problem in condition_problems(step, &raw.params) {
                errors.push(err(problem));
            }
        }
        let pipeline = Pipeline {
            name: raw.name.unwrap_or_else(|| raw.id.clone()),
            id: raw.id,
            description: raw.description.unwrap_or_default(),
            kind: raw.kind.unwrap_or_default(),
            max_parallel: raw.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL),
            params: raw.params,
            steps,
            on_failure,
        };
        errors.extend(
            pipeline
                .graph()
                .validate()
                .into_iter()
                .map(|e| err(e.to_string())),
        );
        let rollback = Graph {
            steps: pipeline.on_failure.iter().map(Step::graph_step).collect(),
        };
        if !rollback.steps.is_empty() {
            for problem in rollback.validate() {
                errors.push(err(format!("on_failure {problem}")));
            }
        }
        for step in &pipeline.on_failure {
            if pipeline.steps.iter().any(|s| s.id == step.id) {
                errors.push(err(GraphError::Duplicate(step.id.clone()).to_string()));
            }
        }
        if errors.is_empty() {
            Ok(pipeline)
        } else {
            Err(errors)
        }
    }

    /// The graph drawn for this pipeline and tracked by its runs.
    /// The steps the executor schedules (without the rollback steps).
    pub fn graph(&self) -> Graph {
        Graph {
            steps: self.steps.iter().map(Step::graph_step).collect(),
        }
    }

    /// The graph as a run shows and tracks it: the steps, then the `on_failure` rollback steps
    /// (kind `rollback`, no share of the percentage), drawn after the graph's last steps.
    pub fn run_graph(&self) -> Graph {
        let mut graph = self.graph();
        let ends: Vec<String> = graph
            .steps
            .iter()
            .filter(|s| !graph.steps.iter().any(|t| t.needs.contains(&s.id)))
            .map(|s| s.id.clone())
            .collect();
        graph.steps.extend(self.on_failure.iter().map(|step| {
            let mut rollback = step.graph_step();
            rollback.kind = ROLLBACK_KIND.to_owned();
            rollback.weight = 0.0;
            if rollback.needs.is_empty() {
                rollback.needs = ends.clone();
            }
            rollback
        }));
        graph
    }

    /// Whether the deployments board shows this pipeline's runs.
    pub fn on_board(&self) -> bool {
        self.kind == DEPLOYMENT_KIND
    }

    /// The rollback steps as a pipeline of their own, for the executor.
    pub fn rollback(&self) -> Pipeline {
        Pipeline {
            steps: self.on_failure.clone(),
            on_failure: Vec::new(),
            ..self.clone()
        }
    }

    /// The parameters of a run: defaults filled in, unknown keys, missing required values and
    /// values outside the choices rejected with a message naming the parameter.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        if let Some(unknown) = given.keys().find(|k| !self.params.contains_key(*k)) {
            return Err(format!("unknown parameter `{unknown}`"));
        }
        let mut resolved = BTreeMap::new();
        for (key, spec) in &self.params {
            let value = given
                .get(key)
                .cloned()
                .or_else(|| spec.default.clone())
                .unwrap_or_default();
            if spec.required && value.trim().is_empty() {
                return Err(format!("parameter `{key}` is required"));
            }
            if !spec.choices.is_empty() && !spec.choices.contains(&value) {
                return Err(format!(
                    "parameter `{key}` must be one of {}",
                    spec.choices.join(", ")
                ));
            }
            resolved.insert(key.clone(), value);
        }
        Ok(resolved)
    }
}

/// What is wrong with a step's `when`: unknown parameters, no values, values outside the
/// parameter's choices (a typo would otherwise skip the step for ever).
fn condition_problems(step: &Step, params: &BTreeMap<String, ParamSpec>) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, values) in &step.when {
        let Some(spec) = params.get(key) else {
            problems.push(format!(
                "step `{}`: when: unknown parameter `{key}`",
                step.id
            ));
            continue;
        };
        if values.is_empty() {
            problems.push(format!("step `{}`: when: `{key}` lists no values", step.id));
        }
        if let Some(value) = values
            .iter()
            .find(|v| !spec.choices.is_empty() && !spec.choices.contains(v))
        {
            problems.push(format!(
                "step `{}`: when: `{value}` is not one of the choices of `{key}`",
                step.id
            ));
        }
    }
    problems
}

impl Step {
    /// Why this step does not run with these (resolved) parameters, or `None` when it runs.
    pub fn condition_unmet(&self, params: &BTreeMap<String, String>) -> Option<String> {
        self.when.iter().find_map(|(key, values)| {
            let value = params.get(key).map(String::as_str).unwrap_or_default();
            (!values.iter().any(|v| v == value)).then(|| {
                format!(
                    "skipped: `{key}` is \"{value}\"; runs only for {}",
                    values.join(" or ")
                )
            })
        })
    }

    fn graph_step(&self) -> GraphStep {
        GraphStep {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            needs: self.needs.clone(),
            weight: self.weight,
        }
    }
}

fn convert_steps(raw: Vec<StepFile>, report: &mut dyn FnMut(String)) -> Vec<Step> {
    raw.into_iter()
        .map(|s| {
            let timeout_ms = s.timeout.as_deref().and_then(|t| match parse_millis(t) {
                Ok(ms) => Some(ms),
                Err(e) => {
                    report(format!("step `{}`: timeout: {e}", s.id));
                    None
                }
            });
            Step {
                name: s.name.unwrap_or_else(|| s.id.clone()),
                kind: s.kind.unwrap_or_default(),
                run: s.run,
                needs: s.needs,
                timeout_ms,
                retries: s.retries,
                continue_on_error: s.continue_on_error,
                weight: s.weight.unwrap_or(1.0),
                when: s
                    .when
                    .into_iter()
                    .map(|(key, values)| (key, values.into_vec()))
                    .collect(),
                id: s.id,
            }
        })
        .collect()
}

/// A TOML error in one line: "invalid TOML at line 3: missing field `id`".
fn toml_problem(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().to_owned();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("invalid TOML at line {line}: {message}")
        }
        None => format!("invalid TOML: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "deploy-web"
name = "Deploy web service"
kind = "deployment"
max_parallel = 2

[params.environment]
default = "staging"
choices = ["staging", "production"]

[[steps]]
id = "build"
kind = "build"
run = "echo build"
timeout = "10m"
retries = 1

[[steps]]
id = "test"
run = "echo test"
needs = ["build"]
continue_on_error = true
weight = 2.0

[[on_failure]]
id = "rollback"
run = "echo undo"
"#;

    #[test]
    fn parses_a_full_file() {
        let p = Pipeline::parse("deploy.toml", GOOD).unwrap();
        assert_eq!(p.id, "deploy-web");
        assert_eq!(p.max_parallel, 2);
        assert_eq!(p.steps[0].timeout_ms, Some(600_000));
        assert_eq!(p.steps[0].retries, 1);
        assert_eq!(p.steps[1].name, "test");
        assert!(p.steps[1].continue_on_error);
        assert_eq!(p.on_failure[0].id, "rollback");
        assert_eq!(p.graph().steps[1].needs, ["build"]);
        assert!(p.on_board(), "kind = \"deployment\" puts it on the board");
        let plain = Pipeline::parse("x.toml", "id = \"x\"\n[[steps]]\nid = \"a\"\n").unwrap();
        assert!(!plain.on_board());
    }

    #[test]
    fn a_runs_graph_shows_the_rollback_steps_after_the_last_steps() {
        let p = Pipeline::parse("deploy.toml", GOOD).unwrap();
        assert_eq!(
            p.graph().steps.len(),
            2,
            "the executor's graph leaves them out"
        );
        let graph = p.run_graph();
        let rollback = &graph.steps[2];
        assert_eq!(rollback.id, "rollback");
        assert_eq!(rollback.kind, ROLLBACK_KIND);
        assert_eq!(rollback.weight, 0.0, "no share of the percentage");
        assert_eq!(
            rollback.needs,
            ["test"],
            "drawn after the graph's last step"
        );
        assert!(graph.validate().is_empty());
        assert_eq!(p.rollback().steps[0].id, "rollback");
    }

    fn problems(text: &str) -> Vec<String> {
        Pipeline::parse("bad.toml", text)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn names_file_step_and_problem() {
        let cycle =
            problems("id='p'\n[[steps]]\nid='a'\nneeds=['b']\n[[steps]]\nid='b'\nneeds=['a']\n");
        assert_eq!(cycle, ["bad.toml: step `a`: part of a cycle (a -> b)"]);
        let unknown = problems("id='p'\n[[steps]]\nid='a'\nneeds=['zzz']\n");
        assert_eq!(unknown, ["bad.toml: step `a`: needs unknown step `zzz`"]);
        let duplicate = problems("id='p'\n[[steps]]\nid='a'\n[[steps]]\nid='a'\n");
        assert_eq!(duplicate, ["bad.toml: step `a`: duplicate id"]);
        let duration = problems("id='p'\n[[steps]]\nid='a'\ntimeout='soon'\n");
        assert!(
            duration[0].starts_with("bad.toml: step `a`: timeout: bad duration `soon`"),
            "{duration:?}"
        );
    }

    #[test]
    fn rejects_bad_toml_and_unknown_fields() {
        let syntax = problems("id = \n");
        assert!(
            syntax[0].starts_with("bad.toml: invalid TOML"),
            "{syntax:?}"
        );
        let typo = problems("id='p'\n[[steps]]\nid='a'\nneeds_=['b']\n");
        assert!(typo[0].contains("needs_"), "{typo:?}");
    }

    #[test]
    fn resolves_params() {
        let p = Pipeline::parse("deploy.toml", GOOD).unwrap();
        let defaults = p.resolve_params(&BTreeMap::new()).unwrap();
        assert_eq!(defaults["environment"], "staging");
        let bad = BTreeMap::from([("environment".to_owned(), "moon".to_owned())]);
        assert!(p.resolve_params(&bad).unwrap_err().contains("environment"));
        let unknown = BTreeMap::from([("colour".to_owned(), "red".to_owned())]);
        assert_eq!(
            p.resolve_params(&unknown).unwrap_err(),
            "unknown parameter `colour`"
        );
        let ticketed = Pipeline::parse(
            "t.toml",
            "id = 't'\n[params.ticket]\nrequired = true\n[[steps]]\nid = 'a'\n",
        )
        .unwrap();
        let blank = BTreeMap::from([("ticket".to_owned(), " ".to_owned())]);
        for given in [BTreeMap::new(), blank] {
            assert_eq!(
                ticketed.resolve_params(&given).unwrap_err(),
                "parameter `ticket` is required"
            );
        }
        let given = BTreeMap::from([("ticket".to_owned(), "OPS-1".to_owned())]);
        assert_eq!(ticketed.resolve_params(&given).unwrap()["ticket"], "OPS-1");
    }
}
