//! The data directory and its lock: one server at a time may use a data directory (SQLite has
//! one writer, and a starting server kills the step processes its predecessor left behind,
//! which must never be those of a server still running).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DataDirError {
    #[error("cannot use data directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("data directory {0} is in use by another signalbox server")]
    Busy(String),
}

/// The locked data directory; the lock is released when this is dropped (or the process dies).
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock.
    pub fn lock(path: &Path) -> Result<DataDir, DataDirError> {
        let io = |source| DataDirError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io)?;
        let path = path.canonicalize().map_err(io)?;
        let lock = File::create(path.join("signalbox.lock")).map_err(io)?;
        // SAFETY: flock(2) on a descriptor we own; no memory is touched.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(DataDirError::Busy(path.display().to_string()));
        }
        Ok(DataDir { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_server_cannot_take_a_locked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::lock(dir.path()).unwrap();
        assert!(matches!(
            DataDir::lock(dir.path()),
            Err(DataDirError::Busy(_))
        ));
        drop(first);
        // Another test of this binary forking a process holds a copy of every descriptor
        // (and so of the lock) until it execs: allow that moment to pass.
        let relocked = (0..100).any(|_| {
            let locked = DataDir::lock(dir.path()).is_ok();
            if !locked {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            locked
        });
        assert!(relocked, "released with the first");
    }
}
