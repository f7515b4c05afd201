//! The audit trail (admins): who started, cancelled, signed in or out, created or revoked a
//! token, and when; filtered by actor and action, newest first, paged by "Older".

use crate::api::functions::audit_entries;
use crate::api::AuditFilter;
use crate::ui::format;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Entries per page.
const PAGE: u32 = 100;

/// The actions the filter offers (prefixes match their sub-actions).
const ACTIONS: [&str; 9] = [
    "run",
    "run.start",
    "run.cancel",
    "run.retry",
    "sign_in",
    "sign_in.failed",
    "sign_out",
    "token.create",
    "token.revoke",
];

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|q| AuditFilter {
            actor: q.get("actor").filter(|a| !a.is_empty()),
            action: q.get("action").filter(|a| !a.is_empty()),
            before: q.get("before").and_then(|b| b.parse().ok()),
            limit: PAGE,
        })
    };
    let entries = Resource::new(filter, audit_entries);
    view! {
        <section class="audit">
            <h1>"Audit trail"</h1>
            <form class="audit-filter" method="get" action="/audit">
                <label>"Actor "<input name="actor" value=move || filter().actor.unwrap_or_default()/></label>
                <label>"Action "
                    <select name="action">
                        <option value="">"any"</option>
                        {ACTIONS.iter().map(|a| view! {
                            <option value=*a selected=move || filter().action.as_deref() == Some(*a)>{*a}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="button">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let current = filter();
                    match entries.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"Nothing recorded matches."</p> }.into_any(),
                        Ok(list) => {
                            // A form, so the browser encodes the filter into the next page's URL.
                            let older = (list.len() as u32 == PAGE).then(|| {
                                let last = list.last().map_or(0, |e| e.id);
                                view! {
                                    <form method="get" action="/audit">
                                        <input type="hidden" name="actor" value=current.actor.clone().unwrap_or_default()/>
                                        <input type="hidden" name="action" value=current.action.clone().unwrap_or_default()/>
                                        <input type="hidden" name="before" value=last.to_string()/>
                                        <button type="submit" class="button">"Older"</button>
                                    </form>
                                }
                            });
                            view! {
                                <table class="run-table audit-table">
                                    <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Detail"</th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|e| {
                                            let action = e.action.clone();
                                            view! {
                                            <tr data-action=action>
                                                <td title=e.at.to_rfc3339()>{format::date_time(e.at)}</td>
                                                <td>{e.actor}</td>
                                                <td><code>{e.action}</code></td>
                                                <td>{e.target}</td>
                                                <td>{e.detail}</td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                                {older}
                            }.into_any()
                        }
                        Err(e) => view! { <p class="error">{format!("Cannot show the audit trail: {e}")}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
