//! Unpacking source archives (.tar.gz, .tar.xz, .tar.bz2) into a build directory, refusing any
//! entry that would land outside it.

use crate::error::Error;
use crate::toolchain::fetch::Fetched;
use crate::toolchain::pins::Format;
use anyhow::{Context, Result};
use fs_err as fs;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

/// Unpacks `archive` into `dest` (created if missing).
pub fn unpack(archive: &Path, format: Format, dest: &Path) -> Result<()> {
    let file = BufReader::new(fs::File::open(archive)?);
    let reader: Box<dyn Read> = match format {
        Format::TarGz => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Format::TarXz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
        Format::TarBz2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
    };
    unpack_tar(reader, archive, dest)
}

/// Unpacks a tar stream; `name` is only for messages.
pub fn unpack_tar(reader: impl Read, name: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest)?;
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_mtime(true);
    tar.set_overwrite(true);
    let refuse = |entry: &Path, reason: &str| Error::UnsafeArchiveEntry {
        archive: name.to_path_buf(),
        entry: entry.display().to_string(),
        reason: reason.to_string(),
    };
    for entry in tar.entries().with_context(|| format!("cannot read {}", name.display()))? {
        let mut entry = entry.with_context(|| format!("{} is damaged or truncated", name.display()))?;
        let path = entry.path()?.into_owned();
        let Some(rel) = confined(Path::new(""), &path) else {
            return Err(refuse(&path, "would land outside the build directory").into());
        };
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            let target = entry.link_name()?.ok_or_else(|| refuse(&path, "is a link without a target"))?;
            let parent = rel.parent().unwrap_or(Path::new(""));
            if target.is_absolute() || confined(parent, &target).is_none() {
                return Err(
                    refuse(&path, &format!("is a link to {} outside the build directory", target.display())).into()
                );
            }
        } else if kind.is_hard_link() {
            let target = entry.link_name()?.ok_or_else(|| refuse(&path, "is a link without a target"))?;
            if confined(Path::new(""), &target).is_none() {
                return Err(refuse(
                    &path,
                    &format!("is a hard link to {} outside the build directory", target.display()),
                )
                .into());
            }
        } else if kind.is_block_special() || kind.is_character_special() || kind.is_fifo() {
            return Err(refuse(&path, "is a device or fifo").into());
        }
        let unpacked = entry
            .unpack_in(dest)
            .with_context(|| format!("cannot unpack {} from {}", path.display(), name.display()))?;
        if !unpacked {
            return Err(refuse(&path, "would land outside the build directory").into());
        }
    }
    Ok(())
}

/// `base` joined with `rel`, with `.` and `..` resolved, if it stays inside the root it is
/// relative to; `None` when it is absolute or climbs out.
fn confined(base: &Path, rel: &Path) -> Option<PathBuf> {
    let mut parts: Vec<_> = Vec::new();
    for c in base.components().chain(rel.components()) {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Unpacks a fetched source into `build_dir` and returns its source tree (the pin's top_dir).
pub fn unpack_source(src: &Fetched, build_dir: &Path) -> Result<PathBuf> {
    unpack(&src.path, src.artifact.format, build_dir)
        .with_context(|| format!("unpacking {} {}", src.name, src.version))?;
    let tree = build_dir.join(&src.artifact.top_dir);
    anyhow::ensure!(
        tree.is_dir(),
        "{} {}: the archive has no directory {} (top_dir in toolchains/sources.toml)",
        src.name,
        src.version,
        src.artifact.top_dir
    );
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_paths() {
        assert_eq!(confined(Path::new(""), Path::new("a/./b")), Some(PathBuf::from("a/b")));
        assert_eq!(confined(Path::new("a/b"), Path::new("../c")), Some(PathBuf::from("a/c")));
        assert_eq!(confined(Path::new("a"), Path::new("../../c")), None);
        assert_eq!(confined(Path::new(""), Path::new("/etc/passwd")), None);
        assert_eq!(confined(Path::new(""), Path::new("..")), None);
    }
}
