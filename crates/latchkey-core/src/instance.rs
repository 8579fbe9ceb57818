//! Which Latchkey processes are alive. Each running process (the app, one CLI invocation) holds an
//! exclusive lock on `instances/<id>.lock` in the data folder for as long as it runs; the OS drops
//! the lock when the process ends, however it ends (SIGKILL included). A multi-step operation
//! records its instance id, so start-up can tell an operation that is still running in another
//! process from one whose process died half-way.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct Instance {
    id: String,
    path: PathBuf,
    _file: File,
}

impl Instance {
    pub fn claim(data_dir: &Path) -> Result<Instance> {
        let dir = data_dir.join("instances");
        let io = |e: std::io::Error| Error::Storage(format!("cannot use {}: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let id = uuid::Uuid::new_v4().to_string();
        let path = dir.join(format!("{id}.lock"));
        let file = OpenOptions::new().create_new(true).write(true).open(&path).map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Instance { id, path, _file: file })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the instance `owner` still runs. An unknown or unlockable-by-us id counts as alive
    /// only while its lock is held.
    pub fn is_alive(data_dir: &Path, owner: &str) -> bool {
        if owner.is_empty() || !owner.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return false;
        }
        let path = data_dir.join("instances").join(format!("{owner}.lock"));
        let Ok(file) = OpenOptions::new().write(true).open(&path) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => {
                drop(file);
                let _ = std::fs::remove_file(&path);
                false
            }
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(_)) => false,
        }
    }
}

impl Instance {
    /// Removes the lock file; the lock is released when the file handle closes (the process ends
    /// or replaces itself). Nothing may record this instance as an operation's owner afterwards.
    pub fn release(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_instance_is_seen_alive_and_a_gone_one_is_not() {
        let dir = tempfile::tempdir().expect("tmp");
        let me = Instance::claim(dir.path()).expect("claim");
        assert!(Instance::is_alive(dir.path(), me.id()));
        let id = me.id().to_owned();
        drop(me);
        assert!(!Instance::is_alive(dir.path(), &id));
        assert!(!Instance::is_alive(dir.path(), "../../etc/passwd"));
        assert!(!Instance::is_alive(dir.path(), ""));
    }
}
