//! Objects of earlier builds, reused when a build compiles the same C again: the runtime's files,
//! which are the same for every app of a toolchain, and the generated ones (the deep-frozen
//! modules, the launcher, Cython's C of a module) when their inputs did not change.
//!
//! An object follows from the compiler command (flags, the toolchain it runs), the source file and
//! every file the preprocessor read for it. As ccache's "direct mode" does, a first key names the
//! command (with the environment variables gcc reads) and its source file's place; under it the
//! cache keeps the list of files the last compile of that command read (from gcc's `-MD` output).
//! The object is then stored under a second key of that first key and the bytes of each of those
//! files: when none changed, the preprocessor would read the same text and gcc (deterministic)
//! would write the same object, so the one stored is what a compile would give, byte for byte.
//!
//! Paths under the build's work directory (a new one each build) are keyed relative to it; the
//! compiler maps them away in the object too (`-ffile-prefix-map`). Files are written whole
//! (renamed into place); the least recently used are removed beyond [`ObjectCache::ENTRIES`]; a
//! file another build removes meanwhile is a miss, not an error.

use crate::fsutil::{framed, write_whole};
use anyhow::Result;
use fs_err as fs;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bump when what goes into a key changes meaning.
const VERSION: &str = "pyelf-objects-1";

/// What the work directory is called in keys and lists.
const WORK: &str = "<work>";

/// The environment variables with which gcc finds other headers or programs, or writes other
/// output (the wrapper sets `SOURCE_DATE_EPOCH` itself).
const GCC_ENVIRONMENT: [&str; 8] = [
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "GCC_COMPARE_DEBUG",
];

/// The cache directory and, for one build, the work directory it maps away, the headers in it,
/// and the digests of the files read so far (a header shared by many sources is read once).
pub struct ObjectCache {
    dir: PathBuf,
    work: PathBuf,
    headers: Vec<String>,
    digests: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl ObjectCache {
    /// How many files (objects and lists) are kept, and how many bytes at most.
    pub const ENTRIES: usize = 2048;
    pub const BYTES: u64 = 512 << 20;

    /// Whether the object of `source` can be kept: a C file, whose every input the preprocessor
    /// lists, unless it pulls bytes in with the assembler's `.incbin` (which it does not list).
    /// Assembly files here are such wrappers of data files: not kept. The source's digest is
    /// noted on the way (its key needs it).
    pub fn can_keep(&self, source: &Path) -> bool {
        if source.extension().is_none_or(|x| x != "c") {
            return false;
        }
        let Ok(bytes) = fs::read(source) else { return false };
        if bytes.windows(7).any(|w| w == b".incbin") {
            return false;
        }
        self.remember(source, &bytes);
        true
    }

    /// Records the digest of `file`, whose bytes are `bytes`, for [`Self::digest`].
    fn remember(&self, file: &Path, bytes: &[u8]) -> String {
        let digest = hex::encode(Sha256::digest(bytes));
        self.digests.lock().expect("the digests' lock").insert(file.to_path_buf(), Some(digest.clone()));
        digest
    }

    /// The cache in `dir` for the compiles of one work directory, made once the headers the build
    /// generates are written there.
    pub fn new(dir: &Path, work: &Path) -> ObjectCache {
        let mut headers: Vec<String> = fs::read_dir(work)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".h"))
                    .collect()
            })
            .unwrap_or_default();
        headers.sort();
        ObjectCache { dir: dir.to_path_buf(), work: work.to_path_buf(), headers, digests: Mutex::new(HashMap::new()) }
    }

    /// The first key: the compiler command (`program` and `args`, the source among them) with the
    /// work directory mapped away, and the names of the headers in the work directory (a header
    /// put there since would be found before one listed).
    pub fn command_key(&self, program: &Path, args: &[String]) -> String {
        let mut h = Sha256::new();
        framed(&mut h, VERSION.as_bytes());
        framed(&mut h, self.relative(program).as_bytes());
        for a in args {
            framed(&mut h, a.replace(&*self.work.to_string_lossy(), WORK).as_bytes());
        }
        // What gcc reads from its environment that can change what it includes or writes.
        for var in GCC_ENVIRONMENT {
            framed(&mut h, std::env::var_os(var).unwrap_or_default().as_encoded_bytes());
        }
        for n in &self.headers {
            framed(&mut h, n.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// Copies the object stored for `command_key` to `out` when every file its last compile read
    /// is as it was; false otherwise.
    pub fn fetch(&self, command_key: &str, out: &Path) -> bool {
        let Ok(list) = fs::read_to_string(self.dir.join(format!("{command_key}.deps"))) else { return false };
        let files: Vec<PathBuf> = list.lines().map(|l| self.absolute(l)).collect();
        let Some(key) = self.object_key(command_key, &files) else { return false };
        let stored = self.dir.join(format!("{key}.o"));
        if fs::copy(&stored, out).is_err() {
            return false;
        }
        touch(&stored);
        touch(&self.dir.join(format!("{command_key}.deps")));
        true
    }

    /// Keeps the object `obj` that `command_key`'s compile wrote after reading the files in the
    /// dependency file `deps` (gcc's `-MD` output). A failure to keep it is no error.
    pub fn keep(&self, command_key: &str, obj: &Path, deps: &Path) {
        let keep = || -> Result<()> {
            let files = parse_deps(&fs::read_to_string(deps)?);
            let Some(key) = self.object_key(command_key, &files) else { return Ok(()) };
            fs::create_dir_all(&self.dir)?;
            let list: String = files.iter().map(|f| self.relative(f) + "\n").collect();
            write_whole(&self.dir.join(format!("{key}.o")), &mut fs::File::open(obj)?)?;
            write_whole(&self.dir.join(format!("{command_key}.deps")), &mut list.as_bytes())?;
            Ok(())
        };
        if keep().is_ok() {
            self.prune();
        }
    }

    /// The second key: the first and each file's name and bytes; None when one cannot be read.
    fn object_key(&self, command_key: &str, files: &[PathBuf]) -> Option<String> {
        let mut h = Sha256::new();
        framed(&mut h, command_key.as_bytes());
        for f in files {
            framed(&mut h, self.relative(f).as_bytes());
            framed(&mut h, self.digest(f)?.as_bytes());
        }
        Some(hex::encode(h.finalize()))
    }

    fn digest(&self, file: &Path) -> Option<String> {
        if let Some(known) = self.digests.lock().expect("the digests' lock").get(file) {
            return known.clone();
        }
        match fs::read(file) {
            Ok(bytes) => Some(self.remember(file, &bytes)),
            Err(_) => {
                self.digests.lock().expect("the digests' lock").insert(file.to_path_buf(), None);
                None
            }
        }
    }

    fn relative(&self, path: &Path) -> String {
        match path.strip_prefix(&self.work) {
            Ok(rel) => format!("{WORK}/{}", rel.display()),
            Err(_) => path.display().to_string(),
        }
    }

    fn absolute(&self, listed: &str) -> PathBuf {
        match listed.strip_prefix(WORK) {
            Some(rel) => self.work.join(rel.trim_start_matches('/')),
            None => PathBuf::from(listed),
        }
    }

    /// Removes the least recently used files beyond [`Self::ENTRIES`] or [`Self::BYTES`].
    fn prune(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        files.sort();
        let (mut count, mut bytes) = (files.len(), files.iter().map(|f| f.1).sum::<u64>());
        for (_, len, path) in &files {
            if count <= Self::ENTRIES && bytes <= Self::BYTES {
                break;
            }
            let _ = fs::remove_file(path);
            count -= 1;
            bytes -= len;
        }
    }
}

/// The files a dependency file (`target: file file \` lines, as gcc's `-MD` writes them) names.
pub fn parse_deps(text: &str) -> Vec<PathBuf> {
    let joined = text.replace("\\\n", " ");
    let Some((_, rest)) = joined.split_once(": ") else { return Vec::new() };
    let rest = rest.lines().next().unwrap_or("");
    let mut files = Vec::new();
    let mut word = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(' ') | Some('#') | Some('\\')) => word.push(chars.next().unwrap()),
            '$' if chars.peek() == Some(&'$') => word.push(chars.next().unwrap()),
            ' ' | '\t' => {
                if !word.is_empty() {
                    files.push(PathBuf::from(std::mem::take(&mut word)));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        files.push(PathBuf::from(word));
    }
    files
}

/// Marks a file as used now (its modification time: what [`ObjectCache::prune`] sorts by).
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_file_gives_its_files_with_escapes_undone() {
        let d =
            "obj/0001-a.o: /w/a.c /t/include/Python.h \\\n /t/include/pyport.h /w/my\\ dir/x\\#1.h \\\n /w/$$HOME.h\n";
        let files: Vec<String> = parse_deps(d).iter().map(|p| p.display().to_string()).collect();
        assert_eq!(files, ["/w/a.c", "/t/include/Python.h", "/t/include/pyport.h", "/w/my dir/x#1.h", "/w/$HOME.h"]);
        assert!(parse_deps("").is_empty());
    }

    /// A "compile": the object is the source's and its header's bytes, the dependency file names
    /// both.
    fn compile(work: &Path, obj: &Path) -> PathBuf {
        let bytes = [fs::read(work.join("a.c")).unwrap(), fs::read(work.join("a.h")).unwrap()].concat();
        fs::write(obj, bytes).unwrap();
        let deps = obj.with_extension("d");
        fs::write(
            &deps,
            format!("{}: {} \\\n {}\n", obj.display(), work.join("a.c").display(), work.join("a.h").display()),
        )
        .unwrap();
        deps
    }

    #[test]
    fn an_object_is_reused_only_while_its_command_and_every_file_it_read_are_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let cache_dir = tmp.path().join("cache");
        let args = |work: &Path| vec!["-c".to_string(), work.join("a.c").display().to_string(), "-O2".into()];
        let build = |n: &str, source: &str, header: &str, flag: &str| -> (bool, Vec<u8>) {
            // Each build in a work directory of its own, as pyelf's are.
            let work = tmp.path().join(n);
            fs::create_dir_all(&work).unwrap();
            fs::write(work.join("a.c"), source).unwrap();
            fs::write(work.join("a.h"), header).unwrap();
            let cache = ObjectCache::new(&cache_dir, &work);
            let mut a = args(&work);
            a.push(flag.into());
            let key = cache.command_key(Path::new("/t/bin/cc"), &a);
            let obj = work.join("a.o");
            if cache.fetch(&key, &obj) {
                return (true, fs::read(&obj).unwrap());
            }
            let deps = compile(&work, &obj);
            cache.keep(&key, &obj, &deps);
            (false, fs::read(&obj).unwrap())
        };
        assert_eq!(build("1", "int a;", "H1", "-g"), (false, b"int a;H1".to_vec()));
        assert_eq!(
            build("2", "int a;", "H1", "-g"),
            (true, b"int a;H1".to_vec()),
            "the same inputs in another work directory"
        );
        assert_eq!(build("3", "int a;", "H2", "-g"), (false, b"int a;H2".to_vec()), "a header changed");
        assert_eq!(build("4", "int b;", "H2", "-g"), (false, b"int b;H2".to_vec()), "the source changed");
        assert_eq!(build("5", "int b;", "H2", "-g0"), (false, b"int b;H2".to_vec()), "a flag changed");
        assert_eq!(build("6", "int b;", "H2", "-g0"), (true, b"int b;H2".to_vec()));
        // A stored object removed by another build meanwhile: a miss.
        for e in fs::read_dir(&cache_dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "o") {
                fs::remove_file(p).unwrap();
            }
        }
        assert_eq!(build("7", "int b;", "H2", "-g0"), (false, b"int b;H2".to_vec()));
    }

    #[test]
    fn only_c_files_without_incbin_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = tmp.path().join(name);
            fs::write(&p, text).unwrap();
            p
        };
        let cache = ObjectCache::new(&tmp.path().join("cache"), tmp.path());
        assert!(cache.can_keep(&file("a.c", "int a;")));
        assert!(!cache.can_keep(&file("b.c", "__asm__(\".incbin \\\"x.bin\\\"\");")));
        assert!(!cache.can_keep(&file("blob.S", "    .section .rodata\n")));
        assert!(!cache.can_keep(&tmp.path().join("missing.c")));
    }

    #[test]
    fn the_least_recently_used_are_removed_beyond_the_limits() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ObjectCache::new(tmp.path(), Path::new("/nonexistent-work"));
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for i in 0..ObjectCache::ENTRIES + 3 {
            let p = tmp.path().join(format!("{i:05}.o"));
            fs::write(&p, b"x").unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(old + std::time::Duration::from_secs(i as u64)).unwrap();
        }
        cache.prune();
        let mut left: Vec<String> =
            fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left.len(), ObjectCache::ENTRIES);
        assert_eq!(left[0], "00003.o", "the three oldest went");
    }

    #[test]
    fn a_new_header_in_the_work_directory_changes_the_first_key() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ObjectCache::new(&tmp.path().join("cache"), tmp.path());
        let args = ["-c".to_string(), "x.c".into()];
        let before = cache.command_key(Path::new("cc"), &args);
        assert_eq!(before, cache.command_key(Path::new("cc"), &args));
        fs::write(tmp.path().join("Python.h"), "").unwrap();
        let cache = ObjectCache::new(&tmp.path().join("cache"), tmp.path());
        assert_ne!(before, cache.command_key(Path::new("cc"), &args));
    }
}
