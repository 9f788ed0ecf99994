//! One process per data dir. tauri-plugin-single-instance forwards a second start to the running
//! window (over D-Bus on Linux), but where there is no session bus it "launches normally": this
//! lock is what guarantees two processes never open the same database.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("another Deckhand is already using {0}")]
    Busy(PathBuf),
    #[error("could not lock {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Held for the life of the process; dropping it (or the process dying) releases the lock.
pub struct DataDirLock(#[allow(dead_code)] File);

pub fn lock(data_dir: &Path) -> Result<DataDirLock, InstanceError> {
    let path = data_dir.join("deckhand.lock");
    let io = |source| InstanceError::Io { path: path.clone(), source };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock(file)),
        Err(TryLockError::WouldBlock) => Err(InstanceError::Busy(data_dir.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        assert!(matches!(lock(dir.path()), Err(InstanceError::Busy(_))));
        let other = tempfile::tempdir().unwrap();
        lock(other.path()).expect("another data dir is independent");
        drop(first);
        lock(dir.path()).expect("free again once the first process let go");
    }
}
