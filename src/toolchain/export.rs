//! A finished toolchain as one archive, so that a fleet of CI runners builds it once and shares it
//! through whatever artifact store it has.
//!
//! The archive is a gzipped tar: first `pyelf-toolchain.toml` (the toolchain's name, the path it
//! was built in and the hash of each part of its key), then the toolchain's files under
//! `<name>/`, and last `pyelf-files.toml` (the sha256 of every file and the target of every
//! symbolic link). An import refuses the archive before unpacking anything when its key differs
//! from the toolchain these pins and this machine's compiler would build (naming the parts that
//! differ), unpacks into a temporary directory beside the toolchains, checks every file against
//! the list, and renames the directory into place only when all of it matched. A killed import
//! leaves a temporary directory that the next import or build sweeps.
//!
//! An archive imports into any `PYELF_HOME`: a toolchain built in another place is moved
//! ([`super::relocate`]), so a laptop, a CI runner and a container, each with its own home, share
//! one archive.

use crate::home::Home;
use crate::toolchain;
use crate::toolchain::compiler::HostCompiler;
use crate::toolchain::manifest::Manifest;
use crate::toolchain::pins::Pins;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The archive's first entry.
const HEADER: &str = "pyelf-toolchain.toml";
/// The archive's last entry.
const FILES: &str = "pyelf-files.toml";
/// The layout of the archive.
const FORMAT: u32 = 1;

/// What the archive says of the toolchain, before its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    /// `<triple>-<key>` (`<triple>-<profile>-<key>` outside the default profile).
    name: String,
    target: String,
    /// Its profile (`toolchains/profiles.toml`).
    profile: String,
    /// The directory it was built in (an import elsewhere rewrites the paths that name it).
    root: PathBuf,
    /// The parts of its key (see `toolchain::key_parts`).
    part: Vec<Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Part {
    label: String,
    sha256: String,
    /// The part's text when it is one short line (the host compiler's version, say), for a
    /// message that says what differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

/// What the archive holds: every file's sha256 and every link's target, by path in the toolchain.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Files {
    files: BTreeMap<String, String>,
    #[serde(default)]
    links: BTreeMap<String, String>,
}

fn parts(key_parts: &[(String, String)]) -> Vec<Part> {
    key_parts
        .iter()
        .map(|(label, text)| Part {
            label: label.clone(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            value: (text.len() <= 120 && !text.contains('\n')).then(|| text.clone()),
        })
        .collect()
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub name: String,
    pub files: usize,
    pub bytes: u64,
}

/// Writes the finished toolchain `tc` to `out` (whole or not at all).
pub fn export(tc: &toolchain::Toolchain, out: &Path) -> Result<Exported> {
    let manifest = tc.manifest()?;
    let host = HostCompiler::for_target(&tc.target)?;
    let header = Header {
        format: FORMAT,
        name: manifest.name.clone(),
        target: manifest.target.clone(),
        profile: manifest.profile.clone(),
        root: tc.root.clone(),
        part: parts(&toolchain::key_parts(&tc.target, &host, &tc.profile)),
    };
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut partial = tempfile::Builder::new()
        .prefix(".pyelf-export-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let activity = crate::progress::Activity::start(&format!("exporting {}", manifest.name));
    let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(partial.as_file_mut()), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    append_bytes(&mut tar, HEADER, toml::to_string(&header)?.as_bytes())?;
    let mut files = Files::default();
    let mut entries = Vec::new();
    list(&tc.root, Path::new(""), &mut entries)?;
    for rel in &entries {
        let path = tc.root.join(rel);
        let meta = fs::symlink_metadata(&path)?;
        let key = rel.to_string_lossy().to_string();
        let name = Path::new(&manifest.name).join(rel);
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        h.set_uid(0);
        h.set_gid(0);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)?;
            files.links.insert(key, target.to_string_lossy().to_string());
            tar.append_link(&mut h, &name, &target)?;
        } else if meta.is_dir() {
            tar.append_data(&mut h, &name, std::io::empty())?;
        } else {
            let mut reader = HashingReader { inner: fs::File::open(&path)?, hash: Sha256::new() };
            tar.append_data(&mut h, &name, &mut reader)?;
            files.files.insert(key, hex::encode(reader.hash.finalize()));
        }
    }
    append_bytes(&mut tar, FILES, toml::to_string(&files)?.as_bytes())?;
    tar.into_inner()?.finish()?.flush()?;
    drop(activity);
    partial.as_file().sync_all()?;
    partial.persist(out).map_err(|e| e.error).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Exported { name: manifest.name, files: files.files.len(), bytes: fs::metadata(out)?.len() })
}

/// Every entry under `dir` (relative to the walk's start), sorted, directories before their
/// contents.
fn list(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut names: Vec<_> =
        fs::read_dir(root.join(rel))?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    names.sort();
    for n in names {
        let child = rel.join(n);
        let is_dir = fs::symlink_metadata(root.join(&child))?.is_dir();
        out.push(child.clone());
        if is_dir {
            list(root, &child, out)?;
        }
    }
    Ok(())
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    tar.append_data(&mut h, name, bytes)?;
    Ok(())
}

struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Installed as this toolchain directory.
    Installed(PathBuf),
    /// The toolchain was already there; the archive was not unpacked.
    AlreadyThere(PathBuf),
}

/// Installs the toolchain in the archive `file`, after checking that it is the toolchain these
/// pins and this machine's compiler would build, and that every file is as exported.
pub fn import(home: &Home, pins: &Pins, file: &Path) -> Result<Imported> {
    let reader = fs::File::open(file)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(reader)));
    let mut entries =
        archive.entries().with_context(|| format!("{} is not a pyelf toolchain archive", file.display()))?;
    let not_ours =
        || format!("{} is not a pyelf toolchain archive (pyelf toolchain --export writes them)", file.display());
    let mut first = entries.next().with_context(not_ours)?.with_context(not_ours)?;
    if first.path()?.as_ref() != Path::new(HEADER) {
        bail!(not_ours());
    }
    let mut text = String::new();
    first.read_to_string(&mut text).with_context(not_ours)?;
    let header: Header = toml::from_str(&text).with_context(not_ours)?;
    drop(first);
    if header.format != FORMAT {
        bail!("{} is an archive of format {}, this pyelf reads format {FORMAT}", file.display(), header.format);
    }

    // The toolchain these pins and this machine would build.
    let target = pins
        .target(&header.target)
        .with_context(|| format!("{} is a toolchain for {}", file.display(), header.target))?;
    let host = HostCompiler::for_target(target)?;
    let profile = crate::toolchain::profile::Profiles::builtin()
        .get(Some(&header.profile))
        .with_context(|| format!("{} is a toolchain of the {:?} profile", file.display(), header.profile))?;
    let name = toolchain::name(target, &host, profile);
    if header.name != name {
        bail!("{}", mismatch(file, &header, &parts(&toolchain::key_parts(target, &host, profile)), &name));
    }
    let dir = home.toolchains();
    let root = dir.join(&name);
    if Manifest::exists(&root) {
        return Ok(Imported::AlreadyThere(root));
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}; is PYELF_HOME writable?", dir.display()))?;
    let _lock = toolchain::lock_exclusive(&dir.join(format!(".{name}.lock")), "installing this toolchain")?;
    if Manifest::exists(&root) {
        return Ok(Imported::AlreadyThere(root));
    }
    toolchain::remove_leftovers(&dir, &name)?;
    let tmp = tempfile::Builder::new().prefix(&format!(".{name}.tmp-")).tempdir_in(&dir)?;
    let activity = crate::progress::Activity::start(&format!("importing {name}"));
    let damaged = |what: String| {
        anyhow::anyhow!("{} is damaged or was altered: {what}\nhint: export it again (pyelf toolchain --export), or build the toolchain here with `pyelf toolchain`", file.display())
    };

    let mut got = Files::default();
    let mut listed: Option<Files> = None;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("cannot read it ({e})")))?;
        let path = entry.path()?.to_path_buf();
        if path == Path::new(FILES) {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            listed = Some(toml::from_str(&text).map_err(|e| damaged(format!("{FILES} is not valid ({e})")))?);
            continue;
        }
        if listed.is_some() {
            return Err(damaged(format!("{} comes after the file list", path.display())));
        }
        let rel = path
            .strip_prefix(&name)
            .ok()
            .filter(|r| r.components().all(|c| matches!(c, Component::Normal(_))) && !r.as_os_str().is_empty())
            .ok_or_else(|| damaged(format!("{} is not a path inside {name}/", path.display())))?
            .to_path_buf();
        let to = tmp.path().join(&rel);
        let key = rel.to_string_lossy().to_string();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&to)?;
        } else if kind.is_symlink() {
            let link = entry.link_name()?.ok_or_else(|| damaged(format!("{key} is a link without a target")))?;
            if !stays_inside(&rel, &link) {
                return Err(damaged(format!("{key} links outside the toolchain ({})", link.display())));
            }
            std::os::unix::fs::symlink(&link, &to)?;
            got.links.insert(key, link.to_string_lossy().to_string());
        } else if kind.is_file() {
            let mode = entry.header().mode()?;
            let mtime = entry.header().mtime()?;
            let mut out = fs::File::create(&to)?;
            let mut reader = HashingReader { inner: &mut entry, hash: Sha256::new() };
            std::io::copy(&mut reader, &mut out).map_err(|e| damaged(format!("cannot read {key} ({e})")))?;
            got.files.insert(key, hex::encode(reader.hash.finalize()));
            // The stdlib's .pyc files are checked against their sources' times.
            let out = out.into_parts().0;
            out.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime))?;
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
        } else {
            return Err(damaged(format!("{key} is neither a file, a directory nor a link")));
        }
    }
    let listed = listed.ok_or_else(|| damaged(format!("it ends before its file list ({FILES})")))?;
    if let Some(diff) = first_difference(&listed, &got) {
        return Err(damaged(diff));
    }
    let manifest = Manifest::read(tmp.path())?;
    if manifest.name != name {
        return Err(damaged(format!("its manifest names {}, not {name}", manifest.name)));
    }
    // Built in another home: its text files are made to name this place, and checked.
    if header.root != root {
        let moved = super::relocate::relocate(tmp.path(), &header.root, &root, target)
            .with_context(|| format!("cannot move the toolchain of {} here", file.display()))?;
        crate::say!(
            "moved from {}: {} text files name its new place, {} stale bytecode files removed",
            header.root.display(),
            moved.rewritten,
            moved.stale_bytecode
        );
    }
    sync_dir(tmp.path())?;
    let tmp = tmp.keep();
    fs::rename(&tmp, &root)?;
    sync_dir(&dir)?;
    drop(activity);
    Ok(Imported::Installed(root))
}

/// Whether a link at `rel` pointing at `link` stays inside the toolchain.
fn stays_inside(rel: &Path, link: &Path) -> bool {
    if link.is_absolute() {
        return false;
    }
    let mut depth = rel.components().count() as i64 - 1;
    for c in link.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// The first way what was unpacked differs from what the archive lists.
fn first_difference(listed: &Files, got: &Files) -> Option<String> {
    for (path, sha) in &listed.files {
        match got.files.get(path) {
            None => return Some(format!("{path} is listed but not in it")),
            Some(s) if s != sha => return Some(format!("{path} does not match its recorded sha256")),
            _ => {}
        }
    }
    if let Some(path) = got.files.keys().find(|p| !listed.files.contains_key(*p)) {
        return Some(format!("{path} is in it but not listed"));
    }
    (listed.links != got.links).then(|| "its symbolic links differ from its list".to_string())
}

/// The message for an archive of another key: which parts differ.
fn mismatch(file: &Path, header: &Header, here: &[Part], name: &str) -> String {
    let theirs: BTreeMap<&str, &Part> = header.part.iter().map(|p| (p.label.as_str(), p)).collect();
    let mut lines = Vec::new();
    for p in here {
        match theirs.get(p.label.as_str()) {
            None => lines.push(format!("  {}: not in the archive", p.label)),
            Some(t) if t.sha256 != p.sha256 => match (&t.value, &p.value) {
                (Some(a), Some(b)) => lines.push(format!("  {}: {a:?} in the archive, {b:?} here", p.label)),
                _ => lines.push(format!("  {}: differs", p.label)),
            },
            _ => {}
        }
    }
    for t in &header.part {
        if !here.iter().any(|p| p.label == t.label) {
            lines.push(format!("  {}: only in the archive", t.label));
        }
    }
    format!(
        "{} holds toolchain {}, but these pins and this machine's compiler make {name}; it differs in:\n{}\nhint: export it from a machine with the same pyelf and compiler, or build it here with `pyelf toolchain`",
        file.display(),
        header.name,
        lines.join("\n")
    )
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_inside() {
        assert!(stays_inside(Path::new("bin/python3"), Path::new("python3.13")));
        assert!(stays_inside(Path::new("lib/pkgconfig/python3.pc"), Path::new("../x.pc")));
        assert!(!stays_inside(Path::new("bin/python3"), Path::new("../../etc/passwd")));
        assert!(!stays_inside(Path::new("bin/python3"), Path::new("/usr/bin/python3")));
    }

    #[test]
    fn differences_are_named() {
        let listed = Files {
            files: [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())].into_iter().collect(),
            links: BTreeMap::new(),
        };
        assert_eq!(first_difference(&listed, &listed.clone()), None);
        let mut got = listed.clone();
        got.files.insert("b".into(), "3".into());
        assert!(first_difference(&listed, &got).unwrap().contains("b does not match"));
        got.files.remove("b");
        assert!(first_difference(&listed, &got).unwrap().contains("b is listed but not in it"));
        let mut more = listed.clone();
        more.files.insert("c".into(), "4".into());
        assert!(first_difference(&listed, &more).unwrap().contains("c is in it but not listed"));
    }

    #[test]
    fn a_mismatch_names_the_parts_that_differ() {
        let header = Header {
            format: FORMAT,
            name: "t-1".into(),
            target: "t".into(),
            profile: "quick".into(),
            root: "/x".into(),
            part: parts(&[("host-cc".into(), "gcc 12".into()), ("recipe a".into(), "x\ny".into())]),
        };
        let here = parts(&[("host-cc".into(), "gcc 13".into()), ("recipe a".into(), "x\nz".into())]);
        let msg = mismatch(Path::new("tc.tar.gz"), &header, &here, "t-2");
        assert!(msg.contains("host-cc: \"gcc 12\" in the archive, \"gcc 13\" here"), "{msg}");
        assert!(msg.contains("recipe a: differs"), "{msg}");
    }
}
