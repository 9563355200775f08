//! File-system helpers both pipelines use: removing a directory that may be absent, listing a
//! tree's files.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Removes `dir` and everything in it, if it is there.
pub fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        done => done.with_context(|| format!("cannot remove {}", dir.display())),
    }
}

/// Every file under `dir` (not directories), sorted.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_absent_directory_is_no_error_and_a_present_one_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        super::remove_dir_if_present(&dir).unwrap();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f"), "x").unwrap();
        assert_eq!(super::walk(&dir).unwrap(), [dir.join("sub/f")]);
        super::remove_dir_if_present(&dir).unwrap();
        assert!(!dir.exists());
    }
}
