//! The routes' split points: each page's code (and whatever only it uses) is cut out of the
//! main wasm bundle by `cargo leptos build --split` into a part of its own, which the router
//! fetches before showing that page. The main bundle keeps only the shell (top bar, user
//! menu, toasts), the router and what pages share, so a browser downloads and compiles only
//! the code of the pages it opens.

use super::audit::AuditPage;
use super::deployments::DeploymentsPage;
use super::home::HomePage;
use super::login::LoginPage;
use super::pipeline::PipelinePage;
use super::run::RunPage;
use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};
use leptos_router::hooks::use_location;
use leptos_router::location::Location;
use leptos_router::LazyRoute;
use std::future::Future;

/// Shows a page's view once its part of the bundle has loaded. A part that cannot be loaded
/// (a newer build replaced this one's files since the tab opened them, or the network failed)
/// would leave the tab dead: the page the router is going to is loaded afresh instead. (On the
/// server the view is called directly and cannot fail.)
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
async fn or_reload(
    view: impl Future<Output = Result<AnyView, SplitLoaderError>>,
    going_to: Location,
) -> AnyView {
    match view.await {
        Ok(view) => view,
        Err(_) => {
            #[cfg(feature = "hydrate")]
            reload_at(&going_to);
            ().into_any()
        }
    }
}

/// Loads `location` from the server.
#[cfg(feature = "hydrate")]
fn reload_at(location: &Location) {
    let search = location.search.get_untracked();
    let hash = location.hash.get_untracked();
    let target = format!(
        "{}{}{}{}{}",
        location.pathname.get_untracked(),
        if search.is_empty() { "" } else { "?" },
        search,
        if hash.is_empty() || hash.starts_with('#') {
            ""
        } else {
            "#"
        },
        hash
    );
    reload_once(&target);
}

/// Where this tab last loaded a page afresh, and when: the key it is kept under.
#[cfg(feature = "hydrate")]
const RELOADED_KEY: &str = "signalbox.reloaded";

/// Loads `target` from the server, unless this tab did so in the last minute already: a part
/// that is missing even from a fresh page (the server's files are damaged) must not reload
/// the page forever. The page then stays as the server rendered it, which works without its
/// code.
#[cfg(feature = "hydrate")]
fn reload_once(target: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let storage = window.session_storage().ok().flatten();
    // Whole milliseconds: formatting or parsing a float would pull float code into the main
    // module, which every page loads (16 KB gzipped).
    let now = js_sys::Date::now() as u64;
    let recent = storage
        .as_ref()
        .and_then(|s| s.get_item(RELOADED_KEY).ok().flatten())
        .and_then(|last| {
            let (at, path) = last.split_once(' ')?;
            Some(path == target && now.saturating_sub(at.parse::<u64>().ok()?) < 60_000)
        })
        .unwrap_or(false);
    if recent {
        leptos::logging::error!("a part of the page's code is missing from the server: {target}");
        return;
    }
    leptos::logging::warn!("a part of the page's code did not load: loading {target} afresh");
    if let Some(storage) = storage {
        let _ = storage.set_item(RELOADED_KEY, &format!("{now} {target}"));
    }
    let _ = window.location().assign(target);
}

/// A route whose view is a split point: `$view` is the part's name in the split manifest, and
/// `$preload` fetches it without showing it (the router preloads a page's part before it
/// hydrates the page, so the view is ready when hydration reaches it).
macro_rules! split_route {
    ($(#[$doc:meta])* $route:ident, $view:ident, $preload:ident, $page:ident) => {
        $(#[$doc])*
        pub struct $route {
            /// Where the router is going (read when the route matches).
            going_to: Location,
        }

        #[wasm_split($view, wasm_split_path = ::leptos::wasm_split, fallible, preload($preload))]
        fn $view() -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <$page/> }.into_any())
        }

        impl LazyRoute for $route {
            fn data() -> Self {
                $route {
                    going_to: use_location(),
                }
            }

            async fn view(this: Self) -> AnyView {
                or_reload($view(), this.going_to).await
            }

            async fn preload() {
                // Split only in the browser. A part that fails to load fails the view as well,
                // which then loads the page afresh.
                #[cfg(target_arch = "wasm32")]
                let _ = $preload().await;
            }
        }
    };
}

split_route!(
    /// `/`: the pipelines and the run history.
    HomeRoute, home_view, preload_home_view, HomePage
);
split_route!(
    /// `/pipelines/:id`: a pipeline's graph and runs.
    PipelineRoute, pipeline_view, preload_pipeline_view, PipelinePage
);
split_route!(
    /// `/deployments`: the deployments board.
    DeploymentsRoute, deployments_view, preload_deployments_view, DeploymentsPage
);
split_route!(
    /// `/runs/:id`: a run's live graph, panel and timeline.
    RunRoute, run_view, preload_run_view, RunPage
);
split_route!(
    /// `/login`: signing in.
    LoginRoute, login_view, preload_login_view, LoginPage
);
split_route!(
    /// `/audit`: the admin's audit log.
    AuditRoute, audit_view, preload_audit_view, AuditPage
);

/// The split point of the view the router shows at `path`, as the routes in `ui::app` match
/// it.
#[cfg(feature = "ssr")]
fn view_at(path: &str) -> Option<&'static str> {
    let page = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    };
    match path {
        "/" => Some("home_view"),
        "/deployments" => Some("deployments_view"),
        "/login" => Some("login_view"),
        "/audit" => Some("audit_view"),
        _ if page("/pipelines/") => Some("pipeline_view"),
        _ if page("/runs/") => Some("run_view"),
        _ => None,
    }
}

/// In the page's `<head>`: the parts of the bundle the requested page needs, so the browser
/// fetches them alongside the main module rather than once the main module has started and
/// the router asks for them (`server::site_files::SplitParts`). Rendered on the server only.
#[component]
pub fn SplitPreloads() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        use crate::server::state::AppState;
        let path = use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_owned());
        let parts = use_context::<AppState>().map(|state| state.split_parts.clone());
        let links = path.as_deref().and_then(view_at).and_then(|view| {
            let (loader, modules) = parts.as_ref()?.of_page(view)?;
            let modules = modules
                .iter()
                .map(|href| {
                    // (Built by hand: `as` is a Rust keyword, which `view!` does not take.)
                    leptos::html::link()
                        .rel("preload")
                        .href(href.clone())
                        .r#as("fetch")
                        .r#type("application/wasm")
                        .crossorigin("")
                })
                .collect_view();
            Some(view! { <link rel="modulepreload" href=loader.to_owned()/> {modules} })
        });
        links
    }
}

/// Fetches the run page's part of the bundle in the background, from the pages that lead to
/// runs (a pipeline's Start run, the runs table's rows), so that following such a link shows
/// the run at once instead of first loading the run page's code.
pub fn prefetch_run_page() {
    #[cfg(target_arch = "wasm32")]
    Effect::new(|_| {
        leptos::task::spawn_local(async {
            // A failure is retried, and handled, when the run page is opened.
            let _ = preload_run_view().await;
        });
    });
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::view_at;

    #[test]
    fn each_route_has_its_view() {
        assert_eq!(view_at("/"), Some("home_view"));
        assert_eq!(view_at("/pipelines/deploy-web"), Some("pipeline_view"));
        assert_eq!(view_at("/runs/deploy-web-1a2b"), Some("run_view"));
        assert_eq!(view_at("/deployments"), Some("deployments_view"));
        assert_eq!(view_at("/login"), Some("login_view"));
        assert_eq!(view_at("/audit"), Some("audit_view"));
        assert_eq!(view_at("/runs/"), None);
        assert_eq!(view_at("/runs/a/b"), None);
        assert_eq!(view_at("/nope"), None);
    }
}
