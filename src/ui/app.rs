//! The HTML shell and the router.

use super::pages::{
    AuditRoute, DeploymentsRoute, HomeRoute, LoginRoute, NotFound, PipelineRoute, RunRoute,
    SplitPreloads,
};
use super::user_menu::UserMenu;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, SsrMode};

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // Without JavaScript, what only works with it is hidden (the page says why), and
                // the static view is not dimmed as if a live connection were down.
                <noscript><style>".js-only { display: none !important; } .run-page.stale .graph-area { opacity: 1 !important; } .run-page.stale .run-elapsed { text-decoration: none !important; color: inherit !important; }"</style></noscript>
                // Named after its content's hash (see `server::site_files`).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <SplitPreloads/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Pages render with `SsrMode::Async`: the server waits for the data, so the first HTML holds
/// the whole page (graph included), works without JavaScript, and carries the right status
/// code (404 for an unknown run).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    super::live::provide_topics();
    super::toasts::provide_watched();
    view! {
        <Title text="Signalbox" formatter=crate::ui::format::title_text/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Signalbox"</span>
                </A>
                <nav class="topnav">
                    <A href="/">"Pipelines"</A>
                    <A href="/deployments">"Deployments"</A>
                </nav>
                <UserMenu/>
            </header>
            <main class="page">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines/:id") view={Lazy::<PipelineRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/deployments") view={Lazy::<DeploymentsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/runs/:id") view={Lazy::<RunRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </main>
            <super::toasts::Toasts/>
        </Router>
    }
}
