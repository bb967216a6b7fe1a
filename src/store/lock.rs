//! An exclusive lock on the data dir, so that two embedded instances never share
//! one SQLite file and object folder (and so that, holding it, an instance knows
//! every PROCESSING lease in the database belongs to a dead process).

use std::fs::File;
use std::path::Path;

/// Held for the life of the process; the OS releases it when the process dies.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// The data dir is in use.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another orakgaraki instance is using {0}")]
    Busy(String),
    #[error("cannot lock the data dir: {0}")]
    Io(#[from] std::io::Error),
}

impl DataDirLock {
    /// Takes `<dir>/.lock` without waiting.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir)?;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Busy(dir.display().to_string())),
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(DataDirLock::acquire(dir.path()), Err(LockError::Busy(_))));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
