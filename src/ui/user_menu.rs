//! The top bar's right end: which ended runs raise a toast, who is signed in (and their
//! role), sign-out, and the audit trail for admins; or, with authentication off, a note that
//! this is the laptop's local mode.

use crate::api::functions::page_access;
use leptos::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when this page's sign-out form is submitted: the live connection then closes (4401)
/// while the form's navigation is under way, and must not reload the page over it.
static SIGNING_OUT: AtomicBool = AtomicBool::new(false);

/// Whether this page is signing out (see [`SIGNING_OUT`]).
#[cfg(feature = "hydrate")]
pub fn signing_out() -> bool {
    SIGNING_OUT.load(Ordering::Relaxed)
}

#[component]
pub fn UserMenu() -> impl IntoView {
    let access = Resource::new(|| (), |_| page_access());
    view! {
        <div class="user-menu">
            <crate::ui::toasts::NotifyChoice/>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match access.await.map(|a| a.viewer) {
                        Ok(Some(v)) if v.local => view! {
                            <a href="/audit">"Audit"</a>
                            <span class="chip" title="No sign-in: the server listens on loopback without a secret">
                                "Local mode"<span class="chip-detail">" · no sign-in"</span>
                            </span>
                        }.into_any(),
                        Ok(Some(v)) => view! {
                            {v.is_admin().then(|| view! { <a href="/audit">"Audit"</a> })}
                            <span class="chip user" title=format!("tenant {}", v.tenant)>
                                {v.user}<span class="muted chip-detail">{format!(" · {}", v.role)}</span>
                            </span>
                            <form method="post" action="/auth/logout" class="sign-out"
                                on:submit=|_| SIGNING_OUT.store(true, Ordering::Relaxed)>
                                <button type="submit" class="button link">"Sign out"</button>
                            </form>
                        }.into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
