//! Runs one attempt of a shell step: `sh -c` in its own process group, stdout and stderr read
//! line by line through the output protocol, bounded by the step's timeout and the run's
//! cancellation. Step processes never outlive the server: each runs under a small `sh`
//! supervisor that the kernel signals when the server dies (even by `kill -9`), and that then
//! kills the step's whole process group.

use super::output::parse;
use super::reporter::Reporter;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often buffered output is reported while a step runs.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How long to keep reading output after the process exits (grandchildren may hold the pipes).
const DRAIN_FOR: Duration = Duration::from_secs(2);

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Exited(i32),
    /// Killed by a signal (number) without an exit code.
    Signalled(Option<i32>),
    TimedOut,
    Cancelled,
    /// The shell could not be started at all.
    SpawnFailed(String),
}

/// What a step's process needs from its surroundings.
pub struct Launch<'a> {
    pub script: &'a str,
    pub cwd: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub timeout: Option<Duration>,
    pub cancel: &'a CancellationToken,
}

/// The supervisor: the process group's leader, running the step as its child. SIGTERM (sent
/// by the kernel when the server dies, see `die_with_server`) or SIGHUP kills the whole group.
/// Otherwise it waits for the step and ends as the step did: with its exit status, or killed
/// by the same signal (which `wait` reports as 128 + the signal's number). (The step runs as a
/// background job, the only kind a trap can interrupt, so it starts with SIGINT and SIGQUIT
/// ignored.)
const SUPERVISOR: &str = "trap 'kill -KILL 0' HUP TERM
sh -c \"$1\" &
wait $!
status=$?
if [ $status -gt 128 ]; then trap - HUP TERM; kill -$((status - 128)) $$; fi
exit $status";

pub async fn run_attempt(launch: Launch<'_>, reporter: &mut Reporter) -> Attempt {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("signalbox-step")
        .arg(launch.script)
        .current_dir(launch.cwd)
        // The server's signing secret must not reach steps (a step printing its environment
        // would put it in a log every viewer reads); steps report with their own token.
        .env_remove("SIGNALBOX_SECRET")
        .envs(launch.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout or cancel kills the whole tree (sh and its children).
        .process_group(0);
    die_with_server(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return Attempt::SpawnFailed(error.to_string()),
    };
    let pid = child.id();
    let (tx, mut rx) = mpsc::channel::<(&'static str, String)>(1024);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_lines(out, "stdout", tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_lines(err, "stderr", tx.clone()));
    }
    drop(tx);

    let deadline = launch.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let outcome = loop {
        // Biased with output last: a step that prints without pause cannot starve its
        // cancel, its timeout or the periodic flush.
        tokio::select! {
            biased;
            _ = launch.cancel.cancelled() => break Attempt::Cancelled,
            _ = sleep_until(deadline) => break Attempt::TimedOut,
            _ = tick.tick() => reporter.flush().await,
            status = child.wait() => break match status {
                Ok(status) => match status.code() {
                    Some(code) => Attempt::Exited(code),
                    None => Attempt::Signalled(std::os::unix::process::ExitStatusExt::signal(&status)),
                },
                Err(error) => Attempt::SpawnFailed(error.to_string()),
            },
            Some((stream, line)) = rx.recv() => reporter.line(stream, parse(&line)).await,
        }
    };
    if matches!(outcome, Attempt::TimedOut | Attempt::Cancelled) {
        kill_group(pid);
        let _ = child.wait().await;
    }
    // Whatever the process printed before it ended still belongs to its log.
    let drain_until = tokio::time::Instant::now() + DRAIN_FOR;
    while let Ok(Some((stream, line))) = tokio::time::timeout_at(drain_until, rx.recv()).await {
        reporter.line(stream, parse(&line)).await;
    }
    // Children that outlive the shell and keep printing are not waited for.
    kill_group(pid);
    reporter.flush().await;
    outcome
}

/// Longest output line read at once; the rest of a longer line is skipped (ingest then cuts
/// what is kept to the log's line limit), so one endless line cannot exhaust memory.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Forwards a pipe line by line. Bytes that are not UTF-8 are replaced rather than ending the
/// step's output, which would otherwise die of SIGPIPE at its next write.
async fn forward_lines(
    pipe: impl AsyncRead + Unpin,
    stream: &'static str,
    tx: mpsc::Sender<(&'static str, String)>,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if buf.len() >= MAX_LINE_BYTES && !skip_rest_of_line(&mut reader).await {
            break;
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        if tx.send((stream, line)).await.is_err() {
            break;
        }
    }
}

/// Discards input up to and including the next newline; false at the end of the pipe.
async fn skip_rest_of_line(reader: &mut (impl AsyncBufRead + Unpin)) -> bool {
    loop {
        let (done, used) = match reader.fill_buf().await {
            Ok([]) | Err(_) => return false,
            Ok(chunk) => match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, chunk.len()),
            },
        };
        reader.consume(used);
        if done {
            return true;
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Asks the kernel to send SIGTERM to the supervisor when the server dies, whatever kills it.
/// (The signal goes when the spawning thread ends; tokio's worker threads live as long as the
/// server, and leftovers of anything that slips through are killed at the next start.)
fn die_with_server(command: &mut Command) {
    let server = std::process::id() as libc::pid_t;
    // SAFETY: runs in the forked child before exec; prctl(2) and getppid(2) are
    // async-signal-safe and nothing is allocated.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The server may have died between fork and prctl.
            if libc::getppid() != server {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Kills the step's whole process group; harmless when it is already gone.
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::Hub;
    use crate::server::runs::Runs;
    use crate::server::store::Store;
    use std::sync::Arc;

    /// Ten minutes of a step that never ends pass in no time: the clock is paused and jumps
    /// from timer to timer, so the ten-minute timeout fires and kills the step as it would
    /// after ten real minutes.
    #[tokio::test]
    async fn a_step_past_its_timeout_is_killed_in_paused_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("db.sqlite")).await.unwrap());
        let runs = Arc::new(Runs::new(store, Arc::new(Hub::default())));
        let mut reporter = Reporter::new(runs, "r1", "slow");
        let (env, cancel) = (BTreeMap::new(), CancellationToken::new());
        let launch = Launch {
            script: "exec sleep 3600",
            cwd: dir.path(),
            env: &env,
            timeout: Some(Duration::from_secs(600)),
            cancel: &cancel,
        };
        tokio::time::pause();
        let (real, paused) = (std::time::Instant::now(), tokio::time::Instant::now());
        assert_eq!(run_attempt(launch, &mut reporter).await, Attempt::TimedOut);
        assert!(paused.elapsed() >= Duration::from_secs(600));
        assert!(
            real.elapsed() < Duration::from_secs(60),
            "no real ten minutes: {:?}",
            real.elapsed()
        );
    }
}
