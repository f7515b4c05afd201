//! One edge: a smooth curve with an arrowhead, coloured by its upstream step once that finished.

use crate::domain::{Status, StepState};
use leptos::prelude::*;

/// An edge's colour: its upstream step's status once it runs.
pub(super) fn tone(status: Status) -> &'static str {
    if status.is_terminal() || status == Status::Running {
        status.as_str()
    } else {
        "pending"
    }
}

#[component]
pub fn EdgeView(
    from_state: Signal<StepState>,
    from: String,
    to: String,
    d: String,
) -> impl IntoView {
    let status = Memo::new(move |_| from_state.with(|s| s.status));
    let class = move || format!("edge edge-{}", tone(status.get()));
    view! { <path class=class data-from=from data-to=to d=d marker-end="url(#arrow)"/> }
}
