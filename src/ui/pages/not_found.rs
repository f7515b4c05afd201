use leptos::prelude::*;

/// The fallback route; answers with status 404 on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="empty">
            <h1>"Not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Back to the pipelines"</a></p>
        </section>
    }
}
