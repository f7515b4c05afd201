//! Server rendering of a big run page: an ad-hoc run of `steps` steps in layers of 25 (each
//! step needs two of the layer before), 200 of them running, fetched sequentially.

use super::client::{self, create_run, post_events};
use super::stats::median;
use super::target::Target;
use serde::Serialize;
use std::time::Instant;

const WIDTH: usize = 25;
const RUNNING: usize = 200;

#[derive(Clone, Debug, Serialize)]
pub struct RenderConfig {
    pub steps: usize,
    pub requests: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RenderReport {
    pub median_ms: f64,
    pub max_ms: f64,
    pub html_kb: f64,
}

/// The steps of a layered graph: `s<layer>-<j>` needs `s<layer-1>-<j>` and its neighbour.
pub fn layered(steps: usize) -> Vec<(String, Vec<String>)> {
    (0..steps)
        .map(|i| {
            let (layer, j) = (i / WIDTH, i % WIDTH);
            let needs = if layer == 0 {
                Vec::new()
            } else {
                let up = |k: usize| format!("s{}-{}", layer - 1, k % WIDTH);
                let mut needs = vec![up(j)];
                if (layer - 1) * WIDTH + (j + 1) % WIDTH < steps {
                    needs.push(up(j + 1));
                }
                needs.dedup();
                needs
            };
            (format!("s{layer}-{j}"), needs)
        })
        .collect()
}

pub async fn run(
    target: &Target,
    config: &RenderConfig,
) -> Result<RenderReport, client::ClientError> {
    let http = client::http_client();
    let id = format!(
        "render-{}-{}",
        config.steps,
        chrono::Utc::now().timestamp_micros()
    );
    let steps = layered(config.steps);
    create_run(&http, target, &id, &steps).await?;
    let progress: Vec<String> = steps
        .iter()
        .take(RUNNING)
        .enumerate()
        .map(|(k, (step, _))| {
            format!(
                r#"{{"type":"step.progress","step":"{step}","progress":{},"message":"working on part {k}","rows":{}}}"#,
                k % 100,
                k * 1000
            )
        })
        .collect();
    post_events(&http, target, &id, format!("[{}]", progress.join(","))).await?;
    let url = target.http(&format!("/runs/{id}"));
    let mut times = Vec::with_capacity(config.requests);
    let mut bytes = 0;
    for _ in 0..config.requests {
        let began = Instant::now();
        let response = client::check("fetching the run page", http.get(&url).send().await).await?;
        let body = response
            .bytes()
            .await
            .map_err(|source| client::ClientError::Http {
                what: "reading the run page",
                source,
            })?;
        times.push(began.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    Ok(RenderReport {
        max_ms: times.iter().copied().fold(0.0, f64::max),
        median_ms: median(times),
        html_kb: bytes as f64 / 1024.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Graph, GraphStep};

    #[test]
    fn the_layered_graph_is_valid() {
        for steps in [30, 500, 2000] {
            let graph = Graph {
                steps: layered(steps)
                    .into_iter()
                    .map(|(id, needs)| GraphStep {
                        name: id.clone(),
                        kind: String::new(),
                        needs,
                        weight: 1.0,
                        id,
                    })
                    .collect(),
            };
            assert!(graph.validate().is_empty(), "{:?}", graph.validate());
            assert_eq!(graph.steps.len(), steps);
        }
    }
}
