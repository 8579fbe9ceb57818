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
        crate::paths::private_dir(&dir).map_err(io)?;
        remove_stale(&dir);
        let id = uuid::Uuid::new_v4().to_string();
        let path = dir.join(format!("{id}.lock"));
        // Locked under another name first, so another process's sweep never sees it unlocked.
        let fresh = dir.join(format!("{id}.new"));
        let file = crate::paths::private_file().create_new(true).write(true).open(&fresh).map_err(io)?;
        file.lock().map_err(io)?;
        std::fs::rename(&fresh, &path).map_err(io)?;
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

/// Removes the lock files of processes that ended without removing theirs (killed, crashed): those
/// whose lock nobody holds. A `.new` file is one a process was killed between creating and naming;
/// it is removed once it is an hour old.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("lock") => {
                let Ok(file) = OpenOptions::new().write(true).open(&path) else { continue };
                if file.try_lock().is_ok() {
                    drop(file);
                    let _ = std::fs::remove_file(&path);
                }
            }
            Some("new") => {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 3600));
                if old {
                    let _ = std::fs::remove_file(&path);
                }
            }
            _ => {}
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

    #[test]
    fn claiming_removes_the_lock_files_of_dead_processes_and_keeps_live_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let instances = dir.path().join("instances");
        std::fs::create_dir_all(&instances).expect("mkdir");
        let stale: Vec<PathBuf> = (0..3).map(|i| instances.join(format!("0000000{i}-dead.lock"))).collect();
        for path in &stale {
            std::fs::write(path, "").expect("stale lock file");
        }
        let live = Instance::claim(dir.path()).expect("first");
        for path in &stale {
            assert!(!path.exists(), "{} removed", path.display());
        }
        let other = Instance::claim(dir.path()).expect("second");
        assert!(Instance::is_alive(dir.path(), live.id()), "a held lock is kept");
        let mut left: Vec<_> = std::fs::read_dir(&instances)
            .expect("list")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        left.sort();
        let mut want = vec![format!("{}.lock", live.id()), format!("{}.lock", other.id())];
        want.sort();
        assert_eq!(left, want);
    }
}
