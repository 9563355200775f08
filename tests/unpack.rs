//! Unpacking refuses every entry that would land outside the build directory.

use pyelf::toolchain::pins::Format;
use pyelf::toolchain::unpack::unpack;
use std::fs;
use std::path::Path;

/// A .tar.gz with the given entries; `name` is written into the header as it is (no checks).
fn tar_gz(path: &Path, entries: &[(&str, tar::EntryType, &str, &[u8])]) {
    let file = fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        if !link.is_empty() {
            let raw = &mut h.as_old_mut().linkname;
            raw[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn attempt(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> (tempfile::TempDir, Result<(), String>) {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar.gz");
    tar_gz(&archive, entries);
    let dest = tmp.path().join("build/dest");
    let r = unpack(&archive, Format::TarGz, &dest).map_err(|e| format!("{e:#}"));
    (tmp, r)
}

const FILE: tar::EntryType = tar::EntryType::Regular;
const SYMLINK: tar::EntryType = tar::EntryType::Symlink;
const HARDLINK: tar::EntryType = tar::EntryType::Link;

#[test]
fn a_normal_archive_unpacks() {
    let (tmp, r) = attempt(&[
        ("pkg-1/", tar::EntryType::Directory, "", b""),
        ("pkg-1/a.c", FILE, "", b"int x;"),
        ("pkg-1/inner/link", SYMLINK, "../a.c", b""),
    ]);
    r.unwrap();
    let dest = tmp.path().join("build/dest");
    assert_eq!(fs::read(dest.join("pkg-1/a.c")).unwrap(), b"int x;");
    assert_eq!(fs::read_link(dest.join("pkg-1/inner/link")).unwrap(), Path::new("../a.c"));
}

#[test]
fn parent_directory_entries_are_refused() {
    let (tmp, r) = attempt(&[("pkg/../../evil", FILE, "", b"x")]);
    let e = r.unwrap_err();
    assert!(e.contains("refusing to unpack") && e.contains("outside"), "{e}");
    assert!(!tmp.path().join("evil").exists());
    assert!(!tmp.path().join("build/evil").exists());
}

#[test]
fn absolute_entries_are_refused() {
    let target = tempfile::tempdir().unwrap();
    let abs = target.path().join("evil");
    let (_tmp, r) = attempt(&[(abs.to_str().unwrap(), FILE, "", b"x")]);
    let e = r.unwrap_err();
    assert!(e.contains("refusing to unpack"), "{e}");
    assert!(!abs.exists());
}

#[test]
fn symlinks_pointing_out_are_refused() {
    for link in ["../../outside", "/etc", "a/../../../x"] {
        let (tmp, r) = attempt(&[("pkg/link", SYMLINK, link, b""), ("pkg/link/passwd", FILE, "", b"x")]);
        let e = r.unwrap_err();
        assert!(e.contains("refusing to unpack") && e.contains("link"), "{link}: {e}");
        assert!(!tmp.path().join("build/dest/pkg/link").exists(), "{link}");
    }
}

#[test]
fn hard_links_pointing_out_are_refused() {
    let (_tmp, r) = attempt(&[("pkg/h", HARDLINK, "../../../etc/passwd", b"")]);
    assert!(r.unwrap_err().contains("hard link"));
}

#[test]
fn a_truncated_archive_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar.gz");
    tar_gz(&archive, &[("pkg/a", FILE, "", &[7u8; 100_000])]);
    let bytes = fs::read(&archive).unwrap();
    fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    assert!(unpack(&archive, Format::TarGz, &tmp.path().join("d")).is_err());
}
