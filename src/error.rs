//! The errors pyelf reports to users: each says what failed and what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid pins: {0}")]
    BadPins(String),

    #[error("unknown target '{target}'; known targets: {}", known.join(", "))]
    UnknownTarget { target: String, known: Vec<String> },

    #[error(
        "checksum mismatch for {source_name} from {from}\n  expected sha256: {}\n  actual sha256:   {actual}\nThe file was not used{}.",
        expected.join(" or "),
        if *deleted { " and was deleted from the cache" } else { "" }
    )]
    ChecksumMismatch { source_name: String, from: String, expected: Vec<String>, actual: String, deleted: bool },

    #[error(
        "could not get {source_name} {version} ({files}); tried:\n{}\nhint: point PYELF_MIRROR at a directory or http(s) URL that holds the source archives named above \
         (comma-separated, e.g. PYELF_MIRROR=/srv/mirror,https://mirror.example/pyelf)",
        tried.iter().map(|t| format!("  - {t}")).collect::<Vec<_>>().join("\n"),
        files = files.join(" or ")
    )]
    SourceUnavailable { source_name: String, version: String, files: Vec<String>, tried: Vec<String> },

    #[error(
        "cannot write into the source cache {}: {err}\nhint: make room there (the sources take about 100 MB, a toolchain about 2 GB while it builds) or set PYELF_HOME to a writable place with room",
        dir.display()
    )]
    CacheWrite { dir: PathBuf, err: std::io::Error },

    #[error("refusing to unpack {archive}: entry {entry:?} {reason}")]
    UnsafeArchiveEntry { archive: PathBuf, entry: String, reason: String },

    #[error("step '{step}' failed: {what}\n--- last lines of {log} ---\n{tail}\n--- full log: {log} ---")]
    StepFailed { step: String, what: String, log: PathBuf, tail: String },
}
