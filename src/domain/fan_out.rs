//! Wide fan-outs drawn as one node. A step that fans out to hundreds of interchangeable steps
//! (same upstream steps, same downstream steps: shards, partitions, matrix cells) would fill
//! the canvas with identical cards; drawn as one node with counts, the graph stays readable and
//! its shape visible. Only the drawing changes: the run still tracks every member step.

use super::graph::{Graph, GraphStep};
use super::run::StepState;
use super::status::Status;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Fan-outs of at least this many interchangeable steps are drawn as one node.
pub const GROUP_FROM: usize = 25;

/// Steps drawn as one node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FanOut {
    /// `fan-out:<first member>`: never a step id (step ids have no `:`).
    pub id: String,
    /// What the node is called: the members' common name, and how many they are.
    pub name: String,
    /// The first member's kind (its icon).
    pub kind: String,
    /// Member step ids, in declaration order.
    pub members: Vec<String>,
}

impl FanOut {
    pub const PREFIX: &'static str = "fan-out:";

    /// Whether `id` names a fan-out node rather than a step.
    pub fn is_fan_out(id: &str) -> bool {
        id.starts_with(Self::PREFIX)
    }
}

/// The graph as drawn: every wide fan-out replaced, where its first member was declared, by one
/// step that needs what its members need and is needed where they were; and the fan-outs.
/// Steps group when they have the same upstream and the same downstream steps and at least one
/// of the two (unrelated steps are not a fan-out). A graph without wide fan-outs is drawn as
/// it is, borrowed: copying a 2,000-step graph was a tenth of laying it out in the browser.
pub fn collapse(graph: &Graph) -> (Cow<'_, Graph>, Vec<FanOut>) {
    let downstream = graph.downstream_indices();
    let mut by_neighbours: BTreeMap<(Vec<&str>, Vec<usize>), Vec<usize>> = BTreeMap::new();
    for (i, step) in graph.steps.iter().enumerate() {
        let mut needs: Vec<&str> = step.needs.iter().map(String::as_str).collect();
        needs.sort_unstable();
        needs.dedup();
        let mut dependants = downstream[i].clone();
        dependants.sort_unstable();
        dependants.dedup();
        if needs.is_empty() && dependants.is_empty() {
            continue;
        }
        by_neighbours
            .entry((needs, dependants))
            .or_default()
            .push(i);
    }
    let mut group_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<usize>> = by_neighbours
        .into_values()
        .filter(|members| members.len() >= GROUP_FROM)
        .collect();
    groups.sort_by_key(|members| members[0]);
    for (g, members) in groups.iter().enumerate() {
        for &m in members {
            group_of.insert(m, g);
        }
    }
    if groups.is_empty() {
        return (Cow::Borrowed(graph), Vec::new());
    }
    let fan_outs: Vec<FanOut> = groups
        .iter()
        .map(|members| FanOut {
            id: format!("{}{}", FanOut::PREFIX, graph.steps[members[0]].id),
            name: group_name(members.iter().map(|&m| display_name(&graph.steps[m]))),
            kind: graph.steps[members[0]].kind.clone(),
            members: members.iter().map(|&m| graph.steps[m].id.clone()).collect(),
        })
        .collect();
    let index = graph.index();
    let drawn_id = |id: &str| match index.get(id).and_then(|i| group_of.get(i)) {
        Some(&g) => fan_outs[g].id.clone(),
        None => id.to_owned(),
    };
    let steps = graph
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let drawn_needs = |step: &GraphStep| {
                let mut needs: Vec<String> = Vec::with_capacity(step.needs.len());
                for need in &step.needs {
                    let need = drawn_id(need);
                    if !needs.contains(&need) {
                        needs.push(need);
                    }
                }
                needs
            };
            match group_of.get(&i) {
                None => Some(GraphStep {
                    needs: drawn_needs(step),
                    ..step.clone()
                }),
                Some(&g) if groups[g][0] == i => Some(GraphStep {
                    id: fan_outs[g].id.clone(),
                    name: fan_outs[g].name.clone(),
                    kind: fan_outs[g].kind.clone(),
                    needs: drawn_needs(step),
                    weight: groups[g].iter().map(|&m| graph.steps[m].weight).sum(),
                }),
                Some(_) => None,
            }
        })
        .collect();
    (Cow::Owned(Graph { steps }), fan_outs)
}

fn display_name(step: &GraphStep) -> &str {
    if step.name.is_empty() {
        &step.id
    } else {
        &step.name
    }
}

/// "<common start of the names>… ×N", or "N steps" when the names share no start.
pub fn group_name<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let (mut common, mut count) = (None::<&str>, 0);
    for name in names {
        count += 1;
        common = Some(match common {
            None => name,
            Some(common) => {
                let end = common
                    .char_indices()
                    .zip(name.chars())
                    .find(|((_, a), b)| a != b)
                    // No difference: the shorter is a start of the longer.
                    .map_or(common.len().min(name.len()), |((at, _), _)| at);
                &common[..end]
            }
        });
    }
    let prefix = common
        .unwrap_or_default()
        .trim_end_matches([' ', '-', '_', '(', '[', '.', '/']);
    if prefix.is_empty() {
        format!("{count} steps")
    } else {
        format!("{prefix}… ×{count}")
    }
}

/// One state standing for all the members' states: the status of the whole (in progress while
/// some run or some are done and some still wait; else the worst terminal status), the mean
/// progress, "done/total" with the failures or running count as message, summed rows, the
/// earliest start and, once all ended, the last end.
pub fn summarize<'a>(members: impl IntoIterator<Item = &'a StepState>) -> StepState {
    // Per status, in the order of its declaration.
    let mut counts = [0usize; Status::ALL.len()];
    let (mut total, mut progress, mut rows) = (0usize, 0.0, None::<u64>);
    let mut summary = StepState::default();
    for step in members {
        total += 1;
        counts[step.status as usize] += 1;
        progress += if step.status.is_terminal() {
            100.0
        } else {
            step.progress.clamp(0.0, 100.0)
        };
        if let Some(r) = step.rows {
            rows = Some(rows.unwrap_or(0).saturating_add(r));
        }
        summary.started_at = match (summary.started_at, step.started_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        summary.finished_at = summary.finished_at.max(step.finished_at);
        summary.weight += step.weight;
    }
    let count = |s: Status| counts[s as usize];
    let waiting = count(Status::Pending);
    let running = count(Status::Running);
    let done = total - waiting - running;
    let mut present = Status::ALL.into_iter().filter(|&s| count(s) > 0);
    summary.status = if let (Some(only), None) = (present.next(), present.next()) {
        only
    } else if running > 0 || (waiting > 0 && done > 0) {
        Status::Running
    } else {
        [
            Status::Failed,
            Status::Cancelled,
            Status::Warning,
            Status::Success,
            Status::Skipped,
        ]
        .into_iter()
        .find(|&s| count(s) > 0)
        .unwrap_or_default()
    };
    if !summary.status.is_terminal() {
        summary.finished_at = None;
    }
    summary.progress = if total == 0 {
        0.0
    } else {
        progress / total as f64
    };
    let mut message = format!("{done}/{total} done");
    let failed = count(Status::Failed);
    if failed > 0 {
        message.push_str(&format!(" · {failed} failed"));
    } else if running > 0 {
        message.push_str(&format!(" · {running} running"));
    }
    summary.message = Some(message);
    summary.rows = rows;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, needs: &[&str]) -> GraphStep {
        GraphStep::bare(id, needs)
    }

    /// split → shard-0..shard-{n-1} → merge, and `side` needing split only.
    fn fan(n: usize) -> Graph {
        let mut steps = vec![step("split", &[])];
        steps.extend((0..n).map(|i| step(&format!("shard-{i}"), &["split"])));
        let shards: Vec<String> = (0..n).map(|i| format!("shard-{i}")).collect();
        let shard_refs: Vec<&str> = shards.iter().map(String::as_str).collect();
        steps.push(step("merge", &shard_refs));
        steps.push(step("side", &["split"]));
        Graph { steps }
    }

    #[test]
    fn a_wide_fan_out_becomes_one_node_wired_like_its_members() {
        let graph = fan(GROUP_FROM);
        let (drawn, fan_outs) = collapse(&graph);
        let ids: Vec<&str> = drawn.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["split", "fan-out:shard-0", "merge", "side"]);
        assert_eq!(fan_outs.len(), 1);
        assert_eq!(fan_outs[0].members.len(), GROUP_FROM);
        assert_eq!(fan_outs[0].members[3], "shard-3");
        let group = &drawn.steps[1];
        assert_eq!(group.needs, ["split"]);
        assert_eq!(group.name, format!("shard… ×{GROUP_FROM}"));
        assert_eq!(group.weight, GROUP_FROM as f64);
        assert_eq!(drawn.steps[2].needs, ["fan-out:shard-0"]);
        assert!(FanOut::is_fan_out(&drawn.steps[1].id));
        assert!(!FanOut::is_fan_out("shard-0"));
    }

    #[test]
    fn narrow_fan_outs_and_steps_with_other_neighbours_stay_as_they_are() {
        let graph = fan(GROUP_FROM - 1);
        let (drawn, fan_outs) = collapse(&graph);
        assert!(
            matches!(drawn, Cow::Borrowed(_)),
            "drawn as it is, not copied"
        );
        assert!(fan_outs.is_empty());
        // Same upstream but a different downstream: not interchangeable.
        let mut graph = fan(GROUP_FROM);
        graph.steps.push(step("audit", &["shard-0"]));
        let (drawn, fan_outs) = collapse(&graph);
        assert!(fan_outs.is_empty());
        assert_eq!(*drawn, graph);
        // Unrelated steps (no needs, no dependants) are not a fan-out.
        let lone = Graph {
            steps: (0..GROUP_FROM * 2)
                .map(|i| step(&format!("s{i}"), &[]))
                .collect(),
        };
        assert!(collapse(&lone).1.is_empty());
    }

    #[test]
    fn the_layout_of_a_collapsed_fan_out_has_one_node_for_it() {
        let layout = crate::domain::Layout::compute(&fan(500));
        assert_eq!(layout.nodes.len(), 4);
        assert_eq!(layout.fan_outs.len(), 1);
        assert_eq!(layout.outgoing("fan-out:shard-0").count(), 1);
    }

    fn state(status: Status, progress: f64) -> StepState {
        StepState {
            status,
            progress,
            weight: 1.0,
            ..StepState::default()
        }
    }

    #[test]
    fn a_summary_counts_its_members_and_reports_the_whole() {
        let pending = state(Status::Pending, 0.0);
        let all_waiting = summarize([&pending, &pending]);
        assert_eq!(all_waiting.status, Status::Pending);
        assert_eq!(all_waiting.message.as_deref(), Some("0/2 done"));

        let members = [
            state(Status::Success, 100.0),
            state(Status::Running, 50.0),
            state(Status::Pending, 0.0),
            state(Status::Pending, 0.0),
        ];
        let summary = summarize(&members);
        assert_eq!(summary.status, Status::Running);
        assert_eq!(summary.progress, 37.5);
        assert_eq!(summary.message.as_deref(), Some("1/4 done · 1 running"));
        assert_eq!(summary.weight, 4.0);

        // Some done, the rest waiting: still in progress, not pending.
        let half = [state(Status::Success, 100.0), state(Status::Pending, 0.0)];
        assert_eq!(summarize(&half).status, Status::Running);

        let ended = [
            state(Status::Success, 100.0),
            state(Status::Failed, 20.0),
            state(Status::Warning, 100.0),
        ];
        let summary = summarize(&ended);
        assert_eq!(summary.status, Status::Failed);
        assert_eq!(summary.progress, 100.0);
        assert_eq!(summary.message.as_deref(), Some("3/3 done · 1 failed"));
        let fine = [state(Status::Success, 100.0), state(Status::Skipped, 0.0)];
        assert_eq!(summarize(&fine).status, Status::Success);
    }
}
