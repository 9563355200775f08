//! Unpacking an untrusted archive: whatever the bytes, pyelf must not panic, and nothing may be
//! written outside the destination (no file beside it, no link inside it that leads out).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let name = Path::new("fuzz.tar");
    // The first byte picks how the rest is read: a plain tar stream, or gzip-compressed.
    let _ = if mode & 1 == 0 {
        pyelf::toolchain::unpack::unpack_tar(body, name, &dest)
    } else {
        pyelf::toolchain::unpack::unpack_tar(flate2::read::MultiGzDecoder::new(body), name, &dest)
    };
    let beside: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(beside.iter().all(|n| n == "out"), "written beside the destination: {beside:?}");
    if dest.exists() {
        let root = dest.canonicalize().unwrap();
        check_inside(&root, &dest);
    }
});

/// Every entry under `dir` that resolves resolves inside `root`.
fn check_inside(root: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(real) = path.canonicalize() {
            assert!(real.starts_with(root), "{} leads out to {}", path.display(), real.display());
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            check_inside(root, &path);
        }
    }
}
