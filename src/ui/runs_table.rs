//! Run history (home page, and each pipeline's page): filters by pipeline, status and day in
//! the URL (a plain GET form, so it works without JavaScript), pages of 25 newest first, and
//! on the first page rows that appear, change and finish live (topic `runs`), each with a
//! compact progress bar and a duration that ticks while the run goes on.

use crate::api::functions::{load_runs, RUNS_PAGE};
use crate::api::{RunsPage, RunsQuery, ServerFrame, QUERY_VALUE};
use crate::domain::{RunSummary, Status};
use crate::ui::format;
use crate::ui::live::{follow_topic, use_clock};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use percent_encoding::utf8_percent_encode;

/// Statuses offered by the filter.
const STATUSES: [Status; 7] = [
    Status::Running,
    Status::Success,
    Status::Warning,
    Status::Failed,
    Status::Cancelled,
    Status::Pending,
    Status::Skipped,
];

/// The runs the table shows: the URL's filters and the page of runs they select.
///
/// The page creates this itself, outside its view closures: while it renders, the server may
/// build a closure's components more than once (tachys resolves them in a dry run first), and
/// each copy of a resource takes the next serialisation id; the browser builds them once and
/// hydrates with the first copy's data, fetched before the data the HTML was drawn from. A run
/// that started in between made the two tables differ, which kills hydration.
#[derive(Clone, Copy)]
pub struct RunsSource {
    query: Memo<RunsQuery>,
    page: Resource<Result<RunsPage, ServerFnError>>,
}

impl RunsSource {
    /// `fixed`: the one pipeline whose runs these are (its page), or `None` (the home page).
    pub fn new(fixed: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        let url = use_query_map();
        let query = Memo::new(move |_| {
            let fixed = fixed();
            url.with(|q| RunsQuery {
                pipeline: fixed.or_else(|| q.get("pipeline")),
                status: q.get("status"),
                day: q.get("day"),
                before: q.get("before"),
            })
        });
        let page = Resource::new(
            move || query.get(),
            |q| load_runs(q.pipeline, q.status, q.day, q.before),
        );
        Self { query, page }
    }
}

/// `pipelines`: the pipelines to filter by (the home page; none on a pipeline's page, whose
/// `source` is fixed to it).
#[component]
pub fn RunsTable(
    source: RunsSource,
    #[prop(optional)] pipelines: Vec<(String, String)>,
) -> impl IntoView {
    let url = use_query_map();
    let RunsSource { query, page } = source;
    // The fields show the URL's filters as attributes (`selected`, `value`), which the server
    // writes too: right without JavaScript, and hydration leaves a choice made before it alone.
    let chosen = move |key: &'static str| move || url.with(|q| q.get(key).unwrap_or_default());
    let option = move |key: &'static str, value: String, label: String| {
        let selected = {
            let value = value.clone();
            move || chosen(key)() == value
        };
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <section class="runs" aria-label="Runs">
            <form method="get" class="run-filters">
                {(!pipelines.is_empty()).then(|| view! {
                    <label>"Pipeline"
                        <select name="pipeline">
                            {option("pipeline", String::new(), "All".into())}
                            {pipelines.into_iter().map(|(id, name)| option("pipeline", id, name)).collect_view()}
                        </select>
                    </label>
                })}
                <label>"Status"
                    <select name="status">
                        {option("status", String::new(), "All".into())}
                        {STATUSES.map(|s| option("status", s.as_str().into(), s.as_str().into())).collect_view()}
                    </select>
                </label>
                <label>"Day (UTC)"<input type="date" name="day" value=chosen("day")/></label>
                <button type="submit" class="button">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    let query = query.get_untracked();
                    match page.await {
                        Ok(page) => view! { <RunRows page query/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{format!("Could not load runs: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RunRows(page: RunsPage, query: RunsQuery) -> impl IntoView {
    let RunsPage { runs, more, now } = page;
    let older = runs
        .last()
        .filter(|_| more)
        .map(|last| link(&query, Some(&last.id)));
    let newest = query.before.is_some().then(|| link(&query, None));
    let rows = RwSignal::new(runs);
    let clock = use_clock(now);
    // Only the first page changes live: older pages are history.
    if query.before.is_none() {
        let wanted = query.clone();
        follow_topic(
            "runs",
            move |frame| match frame {
                ServerFrame::Run { run } => {
                    rows.try_update(|rows| upsert(rows, run, &wanted)).is_some()
                }
                ServerFrame::Runs { runs } => {
                    let fresh: Vec<RunSummary> = runs
                        .into_iter()
                        .filter(|r| matches(r, &wanted))
                        .take(RUNS_PAGE as usize)
                        .collect();
                    rows.try_set(fresh).is_none()
                }
                _ => true,
            },
            || true,
        );
    }
    view! {
        {move || rows.with(Vec::is_empty).then(|| view! { <p class="muted">"No runs match."</p> })}
        <table class="run-table" class:hidden=move || rows.with(Vec::is_empty)>
            <thead><tr><th>"Run"</th><th>"Name"</th><th>"Status"</th><th>"Progress"</th><th>"Started"</th><th>"Duration"</th></tr></thead>
            <tbody>
                {move || rows.get().into_iter().map(|run| view! { <RunRow run clock/> }).collect_view()}
            </tbody>
        </table>
        <nav class="run-pages">
            {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
            {older.map(|href| view! { <a href=href>"Older runs →"</a> })}
        </nav>
    }
}

#[component]
fn RunRow(run: RunSummary, clock: Signal<DateTime<Utc>>) -> impl IntoView {
    let percent = run.percent.clamp(0.0, 100.0);
    let status = run.status;
    let duration = move || match (run.started_at, run.finished_at) {
        (Some(start), Some(end)) => format::duration((end - start).num_milliseconds()),
        (Some(start), None) => format::duration((clock.get() - start).num_milliseconds()),
        _ => "—".to_owned(),
    };
    view! {
        <tr data-run=run.id.clone() data-pipeline=run.pipeline.clone() data-status=status.as_str()>
            <td><a href=format!("/runs/{}", run.id)>{run.id.clone()}</a></td>
            <td>{run.name.clone()}</td>
            <td><span class="badge" data-status=status.as_str()>{status.as_str()}</span></td>
            <td class="run-progress">
                <span class="mini-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{percent:.0}")>
                    <span style:width=format!("{percent:.1}%")></span>
                </span>
                {format::percent(percent)}
            </td>
            <td>{run.started_at.map(|at| started(at, clock.get_untracked())).unwrap_or_default()}</td>
            <td class="run-duration">{duration}</td>
        </tr>
    }
}

/// When a run started: the time of day for today's runs, the date too for older ones (older
/// pages of the history span days).
fn started(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() {
        format::clock(at)
    } else {
        format::date_time(at)
    }
}

/// The URL of the list with the same filters, from the newest run or after `before`.
fn link(query: &RunsQuery, before: Option<&str>) -> String {
    let pairs = [
        ("pipeline", query.pipeline.as_deref()),
        ("status", query.status.as_deref()),
        ("day", query.day.as_deref()),
        ("before", before),
    ];
    let encoded: Vec<String> = pairs
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        })
        .collect();
    format!("?{}", encoded.join("&"))
}

/// Whether a run belongs in a list with these filters.
fn matches(run: &RunSummary, query: &RunsQuery) -> bool {
    let given = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    given(&query.pipeline).is_none_or(|p| run.pipeline.as_deref() == Some(p.as_str()))
        && given(&query.status).is_none_or(|s| Status::parse(&s) == Some(run.status))
        && given(&query.day).is_none_or(|d| run.created_at.format("%Y-%m-%d").to_string() == d)
}

/// Applies a run-list change: the run's row changes, appears at the top, or leaves a list
/// whose filter it no longer matches.
fn upsert(rows: &mut Vec<RunSummary>, run: RunSummary, query: &RunsQuery) {
    let at = rows.iter().position(|r| r.id == run.id);
    match (at, matches(&run, query)) {
        (Some(i), true) => rows[i] = run,
        (Some(i), false) => {
            rows.remove(i);
        }
        (None, true) => {
            let place = rows
                .iter()
                .position(|r| r.created_at < run.created_at)
                .unwrap_or(rows.len());
            rows.insert(place, run);
            rows.truncate(RUNS_PAGE as usize);
        }
        (None, false) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run(id: &str, pipeline: &str, status: Status, minute: u32) -> RunSummary {
        RunSummary {
            id: id.into(),
            pipeline: Some(pipeline.into()),
            name: pipeline.into(),
            status,
            seq: 1,
            percent: 0.0,
            created_at: Utc.with_ymd_and_hms(2026, 12, 2, 10, minute, 0).unwrap(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn live_changes_keep_the_list_sorted_and_filtered() {
        let failed = RunsQuery {
            status: Some("failed".into()),
            ..RunsQuery::default()
        };
        let mut rows = vec![run("b", "etl", Status::Failed, 5)];
        upsert(&mut rows, run("a", "etl", Status::Running, 1), &failed);
        assert_eq!(rows.len(), 1, "a running run is not a failed one");
        upsert(&mut rows, run("c", "etl", Status::Failed, 9), &failed);
        upsert(&mut rows, run("a", "etl", Status::Failed, 1), &failed);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"], "newest first");
        upsert(&mut rows, run("b", "etl", Status::Success, 5), &failed);
        assert_eq!(rows.len(), 2, "a run that no longer matches leaves");
        let other_day = RunsQuery {
            day: Some("2026-12-01".into()),
            ..RunsQuery::default()
        };
        assert!(!matches(&run("d", "etl", Status::Running, 0), &other_day));
        let deploys = RunsQuery {
            pipeline: Some("deploy".into()),
            ..RunsQuery::default()
        };
        assert!(!matches(&run("e", "etl", Status::Running, 0), &deploys));
    }

    #[test]
    fn older_runs_show_the_day_they_started() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let morning = Utc.with_ymd_and_hms(2026, 12, 2, 0, 5, 0).unwrap();
        let yesterday = Utc.with_ymd_and_hms(2026, 12, 1, 23, 55, 0).unwrap();
        assert_eq!(started(morning, now), "00:05:00 UTC");
        assert_eq!(started(yesterday, now), "2026-12-01 23:55:00 UTC");
    }

    #[test]
    fn paging_links_keep_the_filters() {
        let query = RunsQuery {
            status: Some("failed".into()),
            day: Some("2026-12-02".into()),
            ..RunsQuery::default()
        };
        assert_eq!(
            link(&query, Some("etl-1 x")),
            "?status=failed&day=2026-12-02&before=etl-1%20x"
        );
        assert_eq!(link(&RunsQuery::default(), None), "?");
    }
}
