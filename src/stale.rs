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
    let file = fs::File::create(&path)?.into_parts().0;
    file.try_lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Removes the entries of `dir` whose names start with `prefix` and whose owner is gone: a file
/// nobody holds a lock on, or a directory whose lock file nobody holds (or that has no lock file
/// and is older than a minute, so that one being set up right now is left alone).
pub fn sweep(dir: &Path, prefix: &str) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
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
            if abandoned && std::fs::remove_dir_all(&path).is_ok() {
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
        let mut left: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, [".partial-dir-live", ".partial-live", "other"]);
    }
}
