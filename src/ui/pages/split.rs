//! The routes' split points: each page's code (and whatever only it uses) is cut out of the
//! main wasm bundle by `cargo leptos build --split` into a file of its own, which the server
//! preloads with the page that needs it and the router fetches before showing that page. The
//! main bundle keeps only the shell (top bar, user menu, toasts), the router and what pages
//! share, so a browser downloads and compiles only the code of the pages it opens.

use super::audit::AuditPage;
use super::deployments::DeploymentsPage;
use super::home::HomePage;
use super::login::LoginPage;
use super::pipeline::PipelinePage;
use super::run::RunPage;
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// `/`: the pipelines and the run history.
pub struct HomeRoute;

#[lazy_route]
impl LazyRoute for HomeRoute {
    fn data() -> Self {
        HomeRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <HomePage/> }.into_any()
    }
}

/// `/pipelines/:id`: a pipeline's graph and runs.
pub struct PipelineRoute;

#[lazy_route]
impl LazyRoute for PipelineRoute {
    fn data() -> Self {
        PipelineRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <PipelinePage/> }.into_any()
    }
}

/// `/deployments`: the deployments board.
pub struct DeploymentsRoute;

#[lazy_route]
impl LazyRoute for DeploymentsRoute {
    fn data() -> Self {
        DeploymentsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <DeploymentsPage/> }.into_any()
    }
}

/// `/runs/:id`: a run's live graph, panel and timeline.
pub struct RunRoute;

#[lazy_route]
impl LazyRoute for RunRoute {
    fn data() -> Self {
        RunRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <RunPage/> }.into_any()
    }
}

/// `/login`: signing in.
pub struct LoginRoute;

#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        LoginRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <LoginPage/> }.into_any()
    }
}

/// `/audit`: the admin's audit log.
pub struct AuditRoute;

#[lazy_route]
impl LazyRoute for AuditRoute {
    fn data() -> Self {
        AuditRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <AuditPage/> }.into_any()
    }
}
