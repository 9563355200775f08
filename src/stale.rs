//! Temporary files and directories that say whether their owner is alive: the owner holds a lock
//! on them while it works, so what a killed process left behind is recognised (its lock is free)
//! and removed by the next run, while the work of a live process is never touched.

use anyhow::{Context, Result};
use fs_err as fs;
use std::fs::File;
use std::path::Path;

/// The lock file inside a guarded directory.
const DIR_LOCK: &str = ".owner.lock";

/// Locks a temporary file we are writing; the lock lasts while `file` is open.
pub fn hold_file(file: &File, path: &Path) -> Result<()> {
    file.try_lock().with_context(|| format!("cannot lock {}", path.display()))
}

/// Makes `dir` a guarded directory of ours: returns the lock, held while it is open.
pub fn hold_dir(dir: &Path) -> Result<File> {
    let path = dir.join(DIR_LOCK);
    // Locked under another name, then renamed into place: a sweep never finds the lock file
    // there and free (created, not locked yet), which it would take for a killed owner's, and
    // remove the directory being set up (two builds at once: one's work directory vanished).
    let new = dir.join(format!("{DIR_LOCK}.new"));
    let file = fs::File::create(&new)?.into_parts().0;
    file.try_lock().with_context(|| format!("cannot lock {}", new.display()))?;
    fs::rename(&new, &path)?;
    Ok(file)
}

/// A work directory that is ours while this value lives: created under `root` with a name starting
/// with `prefix`, locked at once, and removed on drop *before* its lock is let go, so that nobody
/// ever sees it unlocked while it still exists (a sweep leaves a directory without a lock file
/// alone while it is young).
pub struct OwnedDir {
    dir: Option<tempfile::TempDir>,
    _lock: File,
}

impl OwnedDir {
    pub fn new_in(root: &Path, prefix: &str) -> Result<OwnedDir> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(root)
            .with_context(|| format!("cannot create a work directory in {}", root.display()))?;
        let lock = hold_dir(dir.path())?;
        Ok(OwnedDir { dir: Some(dir), _lock: lock })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("the directory lives as long as its owner").path()
    }
}

impl Drop for OwnedDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        // `_lock` is closed after this, when the directory is already gone.
    }
}

/// What an abandoned directory is renamed to before it is removed: `.swept-` and its old name.
const SWEPT: &str = ".swept-";

/// Removes the entries of `dir` whose names start with `prefix` and whose owner is gone: a file
/// nobody holds a lock on, or a directory whose lock file nobody holds (or that has no lock file
/// and is older than a minute, so that one being set up right now is left alone).
///
/// A killed owner's children (a compiler, `strip`) may live on and still write into its directory
/// by path. So an abandoned directory is first renamed out of the way, in one step: its old name is
/// gone at once, and what those children create by that name fails instead of racing the removal.
/// If the removal still fails, the renamed directory (nobody's, by its name) goes in a later sweep.
pub fn sweep(dir: &Path, prefix: &str) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.strip_prefix(SWEPT).is_some_and(|old| old.starts_with(prefix)) {
            if std::fs::remove_dir_all(entry.path()).is_ok() {
                removed += 1;
            }
            continue;
        }
        if !name.starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            let lock = path.join(DIR_LOCK);
            let abandoned = match std::fs::OpenOptions::new().write(true).open(&lock) {
                Ok(f) => f.try_lock().is_ok(),
                Err(_) => meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|a| a.as_secs() > 60),
            };
            if !abandoned {
                continue;
            }
            let swept = dir.join(format!("{SWEPT}{name}"));
            // Another sweep may have taken it first: then it is that sweep's to remove.
            if std::fs::rename(&path, &swept).is_ok() && std::fs::remove_dir_all(&swept).is_ok() {
                removed += 1;
            }
        } else {
            let abandoned = match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => f.try_lock().is_ok(),
                Err(_) => false,
            };
            if abandoned && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_nobody_holds_is_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let live = fs::File::create(d.join(".partial-live")).unwrap().into_parts().0;
        hold_file(&live, &d.join(".partial-live")).unwrap();
        fs::write(d.join(".partial-dead"), b"half").unwrap();
        fs::write(d.join("other"), b"kept").unwrap();
        fs::create_dir(d.join(".partial-dir-live")).unwrap();
        let _dir_lock = hold_dir(&d.join(".partial-dir-live")).unwrap();
        fs::create_dir(d.join(".partial-dir-dead")).unwrap();
        drop(hold_dir(&d.join(".partial-dir-dead")).unwrap());
        assert_eq!(sweep(d, ".partial-").unwrap(), 2);
        let mut left: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, [".partial-dir-live", ".partial-live", "other"]);
    }

    #[test]
    fn an_abandoned_directory_is_gone_by_its_name_at_once_even_while_something_writes_into_it() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        let abandoned = d.join("build-dead");
        fs::create_dir(&abandoned).unwrap();
        drop(hold_dir(&abandoned).unwrap());
        for i in 0..200 {
            fs::write(abandoned.join(format!("f{i}")), b"x").unwrap();
        }
        // A killed build's orphan, still writing into the directory by its path.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (stop, abandoned) = (stop.clone(), abandoned.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::write(abandoned.join(format!("late{i}")), b"x");
                    i += 1;
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(sweep(&d, "build-").unwrap(), 1);
        assert!(!abandoned.exists(), "the abandoned directory's name is gone");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        // A renamed directory that an earlier sweep could not finish is anyone's to remove.
        fs::create_dir_all(d.join(".swept-build-older/sub")).unwrap();
        fs::create_dir_all(d.join(".swept-other-prefix")).unwrap();
        assert_eq!(sweep(&d, "build-").unwrap(), 1);
        let left: Vec<String> =
            std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert_eq!(left, [".swept-other-prefix"], "only another prefix's leftovers stay");
    }

    #[test]
    fn an_owned_directory_is_locked_while_alive_and_gone_before_its_lock_is() {
        let tmp = tempfile::tempdir().unwrap();
        let owned = OwnedDir::new_in(tmp.path(), "build-").unwrap();
        let path = owned.path().to_path_buf();
        fs::write(path.join("half-written"), b"x").unwrap();
        assert_eq!(sweep(tmp.path(), "build-").unwrap(), 0, "a live owner's directory is kept");
        let lock = std::fs::OpenOptions::new().write(true).open(path.join(DIR_LOCK)).unwrap();
        assert!(lock.try_lock().is_err(), "held by its owner");
        drop(owned);
        assert!(!path.exists());
        // The handle opened above still names the unlinked lock file, and that lock is free now.
        assert!(lock.try_lock().is_ok());
    }
}
