//! Step processes left behind by a server that died without cleaning up (in case one slipped
//! past the supervisor, e.g. a step that moved itself to a new process group). Every step
//! process carries `SIGNALBOX_OWNER=<data directory>` in its environment; a starting server,
//! which holds the data directory's lock, kills every process that carries its own.

use std::path::Path;

/// The variable marking a step process with the data directory of the server that started it.
pub const OWNER_VAR: &str = "SIGNALBOX_OWNER";

/// Kills the processes marked with `owner`; returns how many there were.
pub fn kill_leftovers(owner: &str) -> usize {
    let marker = format!("{OWNER_VAR}={owner}");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || !carries(&entry.path().join("environ"), &marker) {
            continue;
        }
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: kill(2) only signals the process; no memory is touched.
        if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
            killed += 1;
        }
    }
    killed
}

/// True when the NUL-separated environment file holds exactly `marker` as one entry.
fn carries(environ: &Path, marker: &str) -> bool {
    std::fs::read(environ).is_ok_and(|bytes| {
        bytes
            .split(|b| *b == 0)
            .any(|entry| entry == marker.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn kills_only_processes_marked_with_its_owner() {
        let owner = format!("/tmp/signalbox-test-{}", std::process::id());
        let mut mine = Command::new("sleep")
            .arg("30")
            .env(OWNER_VAR, &owner)
            .spawn()
            .unwrap();
        let mut other = Command::new("sleep")
            .arg("30")
            .env(OWNER_VAR, format!("{owner}-other"))
            .spawn()
            .unwrap();
        // The kernel publishes a new program's environment a moment after `spawn` returns.
        let environ = std::path::PathBuf::from(format!("/proc/{}/environ", mine.id()));
        let marker = format!("{OWNER_VAR}={owner}");
        for _ in 0..200 {
            if carries(&environ, &marker) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(kill_leftovers(&owner), 1);
        assert!(!mine.wait().unwrap().success(), "killed");
        assert!(other.try_wait().unwrap().is_none(), "left alone");
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
