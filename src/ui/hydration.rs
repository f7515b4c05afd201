//! When the page's hydration has finished.
//!
//! The app hydrates asynchronously (its pages are split out of the main module and loaded
//! while hydration runs), so effects, timers and live connections get to run while parts of
//! the page are still the server's HTML waiting to be hydrated. A change that reaches such a
//! part first (a log line, a run's event, a toast, the clock's tick) makes the browser's view
//! differ from the server's HTML, which tachys cannot recover from: the page's script dies.
//! So whatever changes the page from outside waits for [`finished`].

#[cfg(feature = "hydrate")]
use std::cell::RefCell;

#[cfg(feature = "hydrate")]
thread_local! {
    /// Those waiting for hydration to finish; `None` once it has.
    static WAITING: RefCell<Option<Vec<futures::channel::oneshot::Sender<()>>>> =
        const { RefCell::new(Some(Vec::new())) };
}

/// Hydrates the server-rendered page (Leptos's `hydrate_lazy`, then marks it finished).
#[cfg(feature = "hydrate")]
pub fn hydrate<F, N>(app: F)
where
    F: FnOnce() -> N + 'static,
    N: leptos::prelude::IntoView,
{
    wasm_bindgen_futures::spawn_local(async move {
        let owner = leptos::mount::hydrate_from_async(leptos::tachys::dom::body(), app).await;
        mark_finished();
        owner.forget();
    });
}

/// Wakes everything waiting in [`finished`].
#[cfg(feature = "hydrate")]
fn mark_finished() {
    if let Some(waiting) = WAITING.with(|w| w.borrow_mut().take()) {
        for waiter in waiting {
            let _ = waiter.send(());
        }
    }
}

/// Whether the page has finished hydrating (always, on the server: nothing hydrates there).
pub fn is_finished() -> bool {
    #[cfg(feature = "hydrate")]
    return WAITING.with(|w| w.borrow().is_none());
    #[cfg(not(feature = "hydrate"))]
    true
}

/// Resolves once the page has finished hydrating (at once if it has; views created by
/// client-side navigation are never hydrated).
pub async fn finished() {
    #[cfg(feature = "hydrate")]
    {
        let waiter = WAITING.with(|w| {
            w.borrow_mut().as_mut().map(|waiting| {
                let (tx, rx) = futures::channel::oneshot::channel();
                waiting.push(tx);
                rx
            })
        });
        if let Some(rx) = waiter {
            let _ = rx.await;
        }
    }
}
