//! The sign-in page: paste a token, or open a one-time link (`/login?link=…`), and post it to
//! `/auth/login`, which sets the session cookie. A plain form: it works before the script loads.

use crate::api::functions::page_access;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::use_query_map;

/// What a sign-in error code (from `/auth/login`) means to the person reading it.
fn explain(code: &str) -> &'static str {
    match code {
        "expired" => "That token or link has expired. Ask an admin for a new one.",
        "revoked" => "That token has been revoked.",
        "used" => "That sign-in link has already been used: links work once. Ask for a new one.",
        "reporter" => "Reporter tokens are for programs and cannot sign in.",
        "tenant" => "That token's tenant is not served here.",
        "unavailable" => "Signing in failed on the server. Try again.",
        _ => "That is not a valid Signalbox token or sign-in link.",
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |key: &str| {
        query
            .with_untracked(|q| q.get(key))
            .filter(|v| !v.is_empty())
    };
    let link = get("link");
    let next = get("next").unwrap_or_else(|| "/".to_owned());
    let error = get("error");
    let signed_out = get("signed_out").is_some();
    let access = Resource::new(|| (), |_| page_access());
    view! {
        // The link's token must not travel on to other sites in a Referer header.
        <Meta name="referrer" content="no-referrer"/>
        <section class="login">
            <h1>"Sign in"</h1>
            <Suspense fallback=|| ()>
                {move || {
                    let (link, next, error) = (link.clone(), next.clone(), error.clone());
                    Suspend::new(async move {
                        if access.await.is_ok_and(|a| !a.sign_in_required) {
                            return view! {
                                <p class="login-note">
                                    "Sign-in is off: this server listens on loopback without a secret (laptop mode). "
                                    <a href="/">"Go to the pipelines"</a>
                                </p>
                            }.into_any();
                        }
                        view! {
                            {signed_out.then(|| view! { <p class="login-note" role="status">"You have signed out."</p> })}
                            {error.map(|code| view! { <p class="login-error" role="alert">{explain(&code)}</p> })}
                            <form class="login-form" method="post" action="/auth/login">
                                <input type="hidden" name="next" value=next/>
                                {match link {
                                    Some(link) => view! {
                                        <p>"You are signing in with a one-time link."</p>
                                        <input type="hidden" name="credential" value=link/>
                                        <button type="submit" class="button primary">"Sign in"</button>
                                    }.into_any(),
                                    None => view! {
                                        <label for="credential">"API token or sign-in link"</label>
                                        <textarea id="credential" name="credential" rows="4" required
                                            autocomplete="off" spellcheck="false"
                                            placeholder="eyJhbGciOiJIUzI1NiIs…"></textarea>
                                        <p class="muted">"An admin creates one with "<code>"signalbox token create --user you --role operator"</code>"."</p>
                                        <button type="submit" class="button primary">"Sign in"</button>
                                    }.into_any(),
                                }}
                            </form>
                        }.into_any()
                    })
                }}
            </Suspense>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_its_own_explanation() {
        let codes = [
            "expired",
            "revoked",
            "used",
            "reporter",
            "tenant",
            "unavailable",
        ];
        let texts: std::collections::HashSet<_> = codes.iter().map(|c| explain(c)).collect();
        assert_eq!(texts.len(), codes.len());
        assert!(!texts.contains(explain("garbage")));
    }
}
