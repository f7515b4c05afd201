//! CPU time and resident memory of a process, read from `/proc` (Linux).

use std::time::Duration;

/// A reading of one process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// User plus system CPU time consumed so far.
    pub cpu: Duration,
    /// Resident set size.
    pub rss_bytes: u64,
}

/// Reads `/proc/<pid>`; `None` when the process is gone or `/proc` is not there.
pub fn usage(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is parenthesised and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|t| *t > 0)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(Usage {
        cpu: Duration::from_nanos(ticks * 1_000_000_000 / per_second),
        rss_bytes: rss_kib * 1024,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = usage(std::process::id()).expect("/proc is readable");
        assert!(
            me.rss_bytes > 1024 * 1024,
            "a test process holds over 1 MiB"
        );
        assert!(usage(u32::MAX).is_none(), "no such process");
    }
}
