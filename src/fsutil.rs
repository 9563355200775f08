//! File-system helpers both pipelines use: removing a directory that may be absent, listing a
//! tree's files, writing a file whole, hashing the parts of a cache key.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Writes what `from` reads to `path`, whole or not at all: into a temporary file beside it, then
/// renamed into place (a reader never sees a file half-written, two writers leave one whole).
pub fn write_whole(path: &Path, from: &mut dyn std::io::Read) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    std::io::copy(from, tmp.as_file_mut())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Adds `part` to `h` after its length, so that no two sequences of parts hash alike (a cache
/// key's parts: "ab", "c" and "a", "bc" give different keys).
pub fn framed(h: &mut Sha256, part: &[u8]) {
    h.update((part.len() as u64).to_le_bytes());
    h.update(part);
}

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
