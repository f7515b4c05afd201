//! The server's vital signs, read every `--metrics-interval` (sysinfo): CPU, memory, the data
//! directory's disk, live connections, events stored per second. The latest reading is what
//! the `system` topic of the live stream sends and what `/metrics` exports.

use crate::api::SystemSample;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use sysinfo::{Disks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Events stored since the server started, in every tenant (the runs count them as they
/// commit).
pub static EVENTS_STORED: AtomicU64 = AtomicU64::new(0);

/// What a reading needs besides the machine.
pub struct Sources {
    pub data_dir: PathBuf,
    /// The live connections' tasks: their number is the number of clients.
    pub live: TaskTracker,
}

/// Reads every `every` until `stopping`; the latest reading is in the returned channel (empty
/// until the first).
pub fn start(
    sources: Sources,
    every: Duration,
    stopping: CancellationToken,
) -> watch::Receiver<Option<SystemSample>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let mut reader = match Reader::new(sources.data_dir) {
            Ok(reader) => reader,
            Err(error) => {
                tracing::warn!(%error, "no system readings: the system cannot be read");
                return;
            }
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopping.cancelled() => break,
                _ = tick.tick() => {}
            }
            let clients = sources.live.len() as u64;
            let read = tokio::task::spawn_blocking(move || {
                let sample = reader.read(clients);
                (reader, sample)
            })
            .await;
            let Ok((back, sample)) = read else { break };
            reader = back;
            super::metrics::record_system(&sample, reader.process_memory);
            tx.send_replace(Some(sample));
        }
    });
    rx
}

/// sysinfo's handles, kept between readings (CPU usage is a difference between two).
struct Reader {
    system: System,
    disks: Option<Disks>,
    data_dir: PathBuf,
    pid: Pid,
    events_before: u64,
    read_before: std::time::Instant,
    /// This process's resident memory at the last reading.
    process_memory: u64,
}

impl Reader {
    fn new(data_dir: PathBuf) -> Result<Reader, sysinfo::Error> {
        let mut system = System::new()?;
        system.refresh_cpu_usage();
        Ok(Reader {
            system,
            disks: Disks::new_with_refreshed_list().ok(),
            data_dir,
            pid: Pid::from_u32(std::process::id()),
            events_before: EVENTS_STORED.load(Ordering::Relaxed),
            read_before: std::time::Instant::now(),
            process_memory: 0,
        })
    }

    fn read(&mut self, clients: u64) -> SystemSample {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
        self.process_memory = self.system.process(self.pid).map_or(0, |p| p.memory());
        let (disk_free_bytes, disk_total_bytes) = match &mut self.disks {
            Some(disks) => {
                disks.refresh(true);
                holding(disks, &self.data_dir)
            }
            None => (0, 0),
        };
        let events = EVENTS_STORED.load(Ordering::Relaxed);
        let seconds = self.read_before.elapsed().as_secs_f64().max(1e-3);
        let events_per_second = (events - self.events_before) as f64 / seconds;
        (self.events_before, self.read_before) = (events, std::time::Instant::now());
        SystemSample {
            at: chrono::Utc::now(),
            cpu_percent: self.system.global_cpu_usage(),
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
            disk_free_bytes,
            disk_total_bytes,
            clients,
            events_per_second,
        }
    }
}

/// Free and total bytes of the disk mounted deepest above `dir`.
fn holding(disks: &Disks, dir: &Path) -> (u64, u64) {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    disks
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map_or((0, 0), |d| (d.available_space(), d.total_space()))
}
