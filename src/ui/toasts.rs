//! Toasts when runs end: for the runs whose page this tab opened (which includes the runs it
//! started), or for every run, or never (the choice is kept in the browser). Each links to its
//! run and goes away after a while; when several end together they are grouped into one, so
//! a busy server never floods the screen. They follow the stream's `runs` topic.

use crate::api::ServerFrame;
use crate::domain::{RunSummary, Status};
use crate::ui::live::follow_topic;
use leptos::prelude::*;
use std::collections::HashSet;

/// More toasts than this on screen become one summary.
const MAX_SHOWN: usize = 3;
/// How long a toast stays.
#[cfg(feature = "hydrate")]
const SHOW_MS: u32 = 8_000;

/// Which runs are announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    Watched,
    All,
    Off,
}

impl Notify {
    fn as_str(self) -> &'static str {
        match self {
            Notify::Watched => "watched",
            Notify::All => "all",
            Notify::Off => "off",
        }
    }

    fn parse(text: &str) -> Notify {
        match text {
            "all" => Notify::All,
            "off" => Notify::Off,
            _ => Notify::Watched,
        }
    }
}

/// The runs whose page this tab opened (so also those it started): the run page adds its run.
/// Kept for the tab's life in its session storage, so a reload or a visit elsewhere does not
/// forget them.
#[derive(Clone, Copy)]
pub struct Watched(pub RwSignal<HashSet<String>>);

/// The key the watched runs are kept under in the tab's session storage, one id a line, oldest
/// first.
#[cfg(feature = "hydrate")]
const WATCHED_KEY: &str = "signalbox.watched";

/// Runs a tab keeps watching at most (the oldest are let go).
#[cfg(feature = "hydrate")]
const WATCHED_MAX: usize = 200;

#[cfg(feature = "hydrate")]
fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

/// The runs this tab watched before this page, oldest first.
fn stored_watched() -> Vec<String> {
    #[cfg(feature = "hydrate")]
    if let Some(text) = session_storage().and_then(|s| s.get_item(WATCHED_KEY).ok().flatten()) {
        return text.lines().map(str::to_owned).collect();
    }
    Vec::new()
}

/// Which ended runs raise a toast: chosen in the top bar ([`NotifyChoice`]), read by the
/// toasts.
#[derive(Clone, Copy)]
struct Choice(RwSignal<Notify>);

/// Gives the app the set of watched runs (above the pages that add to it and the toasts that
/// read it; nothing renders it, so the browser may fill it before hydration) and the choice
/// of what to announce.
pub fn provide_watched() {
    let runs = stored_watched().into_iter().collect();
    provide_context(Watched(RwSignal::new(runs)));
    let choice = RwSignal::new(Notify::Watched);
    // Read in the browser only, after hydration, so both renders start alike.
    Effect::new(move |_| choice.set(stored_choice()));
    provide_context(Choice(choice));
}

/// The choice of which ended runs raise a toast, in the top bar (in the page's corner it
/// covered whatever scrolled under it: a step's log, a row of the runs table). Toasts need
/// JavaScript, and so does the choice.
#[component]
pub fn NotifyChoice() -> impl IntoView {
    let choice = use_context::<Choice>().map_or_else(|| RwSignal::new(Notify::Watched), |c| c.0);
    view! {
        <label class="toast-choice js-only" title="Which ended runs raise a notification in this browser">
            <span class="toast-choice-text">"Notify me of "</span>
            <select
                prop:value=move || choice.get().as_str()
                on:change=move |ev| {
                    let picked = Notify::parse(&event_target_value(&ev));
                    choice.set(picked);
                    store_choice(picked);
                }
            >
                <option value="watched">"runs I watch"</option>
                <option value="all">"all runs"</option>
                <option value="off">"nothing"</option>
            </select>
        </label>
    }
}

/// Marks a run as watched (its page is open).
pub fn watch(run: &str) {
    let Some(Watched(set)) = use_context::<Watched>() else {
        return;
    };
    let added = set
        .try_update(|s| s.insert(run.to_owned()))
        .unwrap_or(false);
    #[cfg(feature = "hydrate")]
    if added {
        if let Some(storage) = session_storage() {
            let mut runs = stored_watched();
            runs.push(run.to_owned());
            let keep = runs.len().saturating_sub(WATCHED_MAX);
            let _ = storage.set_item(WATCHED_KEY, &runs[keep..].join("\n"));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = added;
}

#[derive(Clone, Debug, PartialEq)]
enum Toast {
    Run(RunSummary),
    /// Several runs that ended together: how many, and how many of them failed.
    Many {
        ended: usize,
        failed: usize,
    },
}

/// The key the choice is kept under in the browser's storage.
#[cfg(feature = "hydrate")]
const STORAGE_KEY: &str = "signalbox.notify";

fn stored_choice() -> Notify {
    #[cfg(feature = "hydrate")]
    {
        let stored = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
        if let Some(choice) = stored {
            return Notify::parse(&choice);
        }
    }
    Notify::Watched
}

fn store_choice(choice: Notify) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(STORAGE_KEY, choice.as_str());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = choice;
}

/// Adds a toast, folding everything into one summary once there are too many.
fn push(toasts: &mut Vec<Toast>, run: RunSummary) {
    let failed = usize::from(run.status == Status::Failed);
    if let Some(Toast::Many { ended, failed: f }) = toasts.first_mut() {
        *ended += 1;
        *f += failed;
        return;
    }
    toasts.push(Toast::Run(run));
    if toasts.len() > MAX_SHOWN {
        let failed = toasts
            .iter()
            .filter(|t| matches!(t, Toast::Run(r) if r.status == Status::Failed))
            .count();
        *toasts = vec![Toast::Many {
            ended: toasts.len(),
            failed,
        }];
    }
}

#[component]
pub fn Toasts() -> impl IntoView {
    let watched = use_context::<Watched>().map_or_else(|| RwSignal::new(HashSet::new()), |w| w.0);
    let choice = use_context::<Choice>().map_or_else(|| RwSignal::new(Notify::Watched), |c| c.0);
    let toasts = RwSignal::new(Vec::<Toast>::new());
    let announced = StoredValue::new(HashSet::<String>::new());
    follow_topic(
        "runs",
        move |frame| {
            let ServerFrame::Run { run } = frame else {
                return true;
            };
            if !run.status.is_terminal() || announced.with_value(|a| a.contains(&run.id)) {
                return true;
            }
            let wanted = match choice.get_untracked() {
                Notify::All => true,
                Notify::Watched => watched.with_untracked(|w| w.contains(&run.id)),
                Notify::Off => false,
            };
            if wanted {
                announced.update_value(|a| {
                    a.insert(run.id.clone());
                });
                let gone = toasts.try_update(|t| push(t, run)).is_none();
                if gone {
                    return false;
                }
                #[cfg(feature = "hydrate")]
                wasm_bindgen_futures::spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new(SHOW_MS).await;
                    let _ = toasts.try_update(|t| {
                        if !t.is_empty() {
                            t.remove(0);
                        }
                    });
                });
            }
            true
        },
        || true,
    );
    let close = move |index: usize| {
        toasts.update(|t| {
            if index < t.len() {
                t.remove(index);
            }
        })
    };
    view! {
        <section class="toasts" aria-live="polite" aria-label="Notifications">
            {move || toasts.get().into_iter().enumerate().map(|(i, toast)| {
                let (status, text, href) = match toast {
                    Toast::Run(run) => {
                        let verb = match run.status {
                            Status::Failed => "failed",
                            Status::Warning => "finished with warnings",
                            Status::Cancelled => "was cancelled",
                            _ => "finished",
                        };
                        (run.status.as_str(), format!("{} {verb}", run.name), format!("/runs/{}", run.id))
                    }
                    Toast::Many { ended, failed } => (
                        if failed > 0 { "failed" } else { "success" },
                        format!("{ended} runs ended, {failed} failed"),
                        if failed > 0 { "/?status=failed".to_owned() } else { "/".to_owned() },
                    ),
                };
                view! {
                    <div class="toast" data-status=status role="status">
                        <a href=href>{text}</a>
                        <button type="button" class="toast-close" aria-label="Dismiss" on:click=move |_| close(i)>"×"</button>
                    </div>
                }
            }).collect_view()}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(id: &str, status: Status) -> RunSummary {
        RunSummary {
            id: id.into(),
            pipeline: None,
            name: id.into(),
            status,
            seq: 3,
            percent: 100.0,
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn many_endings_fold_into_one_toast() {
        let mut toasts = Vec::new();
        push(&mut toasts, ended("a", Status::Success));
        push(&mut toasts, ended("b", Status::Failed));
        push(&mut toasts, ended("c", Status::Success));
        assert_eq!(toasts.len(), 3);
        push(&mut toasts, ended("d", Status::Failed));
        assert_eq!(
            toasts,
            [Toast::Many {
                ended: 4,
                failed: 2
            }]
        );
        push(&mut toasts, ended("e", Status::Failed));
        assert_eq!(
            toasts,
            [Toast::Many {
                ended: 5,
                failed: 3
            }]
        );
    }
}
