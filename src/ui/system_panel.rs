//! The server's vital signs, live (topic `system`): CPU, memory, the data disk, connected
//! clients and events stored per second, as an operator's wall screen shows them.

use crate::api::ServerFrame;
use crate::api::SystemSample;
use crate::ui::format;
use crate::ui::live::follow_topic;
use leptos::prelude::*;

#[component]
pub fn SystemPanel() -> impl IntoView {
    let sample = RwSignal::new(None::<SystemSample>);
    // `try_set` hands the value back once the panel is gone.
    follow_topic(
        "system",
        move |frame| match frame {
            ServerFrame::System(reading) => sample.try_set(Some(reading)).is_none(),
            _ => true,
        },
        move || sample.try_set(None).is_none(),
    );
    let reading = move |pick: fn(&SystemSample) -> String| {
        move || sample.with(|s| s.as_ref().map(pick).unwrap_or_else(|| "—".to_owned()))
    };
    view! {
        <aside class="system-panel" aria-label="Server" aria-live="off" data-live=move || sample.with(Option::is_some).to_string()>
            <dl>
                <div><dt>"CPU"</dt><dd data-metric="cpu">{reading(|s| format!("{:.0}%", s.cpu_percent))}</dd></div>
                <div><dt>"Memory"</dt><dd data-metric="memory">{reading(|s| format!("{} of {}", format::bytes(s.memory_used_bytes), format::bytes(s.memory_total_bytes)))}</dd></div>
                <div><dt>"Disk free"</dt><dd data-metric="disk">{reading(|s| format!("{} of {}", format::bytes(s.disk_free_bytes), format::bytes(s.disk_total_bytes)))}</dd></div>
                <div><dt>"Clients"</dt><dd data-metric="clients">{reading(|s| format::count(s.clients))}</dd></div>
                <div><dt>"Events/s"</dt><dd data-metric="events">{reading(|s| format::count(s.events_per_second.round() as u64))}</dd></div>
            </dl>
        </aside>
    }
}
