//! What the pages load through server functions.

use crate::domain::layout::LayerOrder;
use crate::domain::{Graph, Layout, ParamSpec, Pipeline, Plan};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A pipeline in the list on the home page.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineCard {
    pub id: String,
    pub name: String,
    pub description: String,
    pub steps: usize,
    pub params: BTreeMap<String, ParamSpec>,
}

impl From<&Pipeline> for PipelineCard {
    fn from(p: &Pipeline) -> Self {
        PipelineCard {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            steps: p.steps.len(),
            params: p.params.clone(),
        }
    }
}

/// Filters of a run list, as a page's URL and the API's query carry them (text as typed; the
/// server checks each and names a bad one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunsQuery {
    pub pipeline: Option<String>,
    /// A status (aliases allowed).
    pub status: Option<String>,
    /// A day, `YYYY-MM-DD` (UTC).
    pub day: Option<String>,
    /// Paging: runs older than this run.
    pub before: Option<String>,
}

/// One page of a run list, newest first, with the server's clock for running durations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunsPage {
    pub runs: Vec<crate::domain::RunSummary>,
    /// Older runs exist beyond this page.
    pub more: bool,
    pub now: DateTime<Utc>,
}

/// A pipeline page: its card and graph, and the dry run it was asked for (the plan, or why
/// there is none: a bad parameter names itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineView {
    pub card: PipelineCard,
    pub graph: Graph,
    pub plan: Option<Result<Plan, String>>,
    /// See [`RunView::layout`].
    #[serde(skip)]
    pub layout: Option<Arc<Layout>>,
    /// See [`RunView::order`].
    #[serde(default)]
    pub order: Option<LayerOrder>,
}

/// A run page: the graph, the state as of `state.seq`, and the server's clock at that moment
/// so server and browser render the same elapsed time before the browser's clock takes over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub graph: Graph,
    pub state: super::PageState,
    /// The history `state.seq` belongs to: the browser resumes the live stream with both.
    pub epoch: String,
    pub now: DateTime<Utc>,
    /// For an ad-hoc run: how long (ms) it may go without an event before it ends as failed
    /// (`--adhoc-idle-timeout`), so the page can say when that would happen.
    pub silence_ms: Option<u64>,
    /// How long this pipeline's recent successful runs took (for the time left); `None` for
    /// ad-hoc runs and pipelines without such history.
    pub typical: Option<crate::domain::eta::Typical>,
    /// The graph's layout, computed by the server off its async threads for the first render.
    /// Not sent: the browser draws it from the graph and `order`.
    #[serde(skip)]
    pub layout: Option<Arc<Layout>>,
    /// The order of the layout's layers: with it the browser draws the server's layout
    /// ([`Layout::in_order`]) without searching for the order again, most of the cost of laying
    /// out a big graph (tens of milliseconds for 2,000 steps in WebAssembly).
    #[serde(default)]
    pub order: Option<LayerOrder>,
}

/// How long a step took in an earlier run of its pipeline (the node panel's sparkline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastStep {
    pub run: String,
    pub status: crate::domain::Status,
    pub ms: i64,
}
