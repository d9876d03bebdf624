//! The data directory's lock: one chinwagd (or `chinwagd admin`) at a time.
//!
//! Two writers on one SQLite database would each keep their own view of
//! the accounts, rooms and bans in memory, so a second process on the same
//! directory is refused at start. The lock is an OS file lock (`flock`) on
//! `chinwagd.lock`, which the kernel drops when the process ends, however
//! it ends: a file left behind by `kill -9` never blocks a restart. The
//! holder's PID is written into the file so that the refusal can name it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::StoreError;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "chinwagd.lock";

/// The held lock; dropping it (closing the file) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock on `dir` (which must exist), or says which process
    /// holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let data_dir_error = |error: std::io::Error| StoreError::DataDir {
            dir: dir.display().to_string(),
            error: format!("{}: {error}", path.display()),
        };
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(data_dir_error)?;
        if !try_lock(&file).map_err(data_dir_error)? {
            let mut text = String::new();
            // The holder may not have written its PID yet: then none is named.
            let pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(StoreError::InUse {
                dir: dir.display().to_string(),
                pid,
            });
        }
        file.set_len(0).map_err(data_dir_error)?;
        file.rewind().map_err(data_dir_error)?;
        writeln!(file, "{}", std::process::id()).map_err(data_dir_error)?;
        Ok(DataDirLock { _file: file })
    }
}

/// An exclusive lock on the whole file without waiting: `Ok(false)` if
/// another open file holds it. (`File::try_lock` needs Rust 1.89; the
/// workspace supports 1.85 on Unix.)
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(error),
    }
}

#[cfg(not(unix))]
#[allow(clippy::incompatible_msrv)] // Rust 1.89 where there is no flock
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        match DataDirLock::acquire(dir.path()) {
            Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
