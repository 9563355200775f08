//! Getting pinned sources: from the content-addressed cache, then the mirrors, then upstream.
//!
//! Every byte is hashed on its way into a temporary file beside the cache; the file is renamed to
//! `sources/<sha256>` only when its digest is one the pin accepts. A cached file is hashed again
//! before it is handed out, so a file changed after it was cached is never used.

use crate::error::Error;
use crate::home::Home;
use crate::progress::Transfer;
use crate::toolchain::pins::{Artifact, Pin};
use anyhow::{Context, Result};
use fs_err as fs;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A place sources may be found besides upstream, from `PYELF_MIRROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// A local directory: files by their upstream name, or any file with the right digest.
    Dir(PathBuf),
    /// An http(s) base URL: `<base>/<file name>`.
    Url(String),
}

impl Mirror {
    /// Parses `PYELF_MIRROR`: comma-separated directories and http(s) URLs.
    pub fn parse_list(spec: &str) -> Vec<Mirror> {
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with("http://") || s.starts_with("https://") {
                    Mirror::Url(s.trim_end_matches('/').to_string())
                } else {
                    let p = PathBuf::from(s.strip_prefix("file://").unwrap_or(s));
                    Mirror::Dir(std::path::absolute(&p).unwrap_or(p))
                }
            })
            .collect()
    }

    /// The mirrors named in `PYELF_MIRROR`, if it is set.
    pub fn from_env() -> Vec<Mirror> {
        std::env::var("PYELF_MIRROR").map(|s| Mirror::parse_list(&s)).unwrap_or_default()
    }
}

/// Where a fetched source came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Mirror(String),
    Upstream(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Cache => f.write_str("cache"),
            Origin::Mirror(m) => write!(f, "mirror {m}"),
            Origin::Upstream(u) => write!(f, "upstream {u}"),
        }
    }
}

/// A verified source archive in the cache.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub name: String,
    pub version: String,
    /// Which of the pin's accepted archives this is.
    pub artifact: Artifact,
    /// `$PYELF_HOME/sources/<sha256>`.
    pub path: PathBuf,
    pub origin: Origin,
}

/// Fetches pinned sources into the cache.
pub struct Fetcher {
    cache: PathBuf,
    mirrors: Vec<Mirror>,
    upstream: bool,
    agent: ureq::Agent,
    attempts: u32,
    /// Digest index of each mirror directory, built the first time a file is not found by name.
    dir_index: Mutex<HashMap<PathBuf, HashMap<String, PathBuf>>>,
}

/// What went wrong at one place that was tried.
struct Miss(String);

impl Fetcher {
    /// A fetcher that uses the cache under `home`, then `mirrors`, then the upstream URLs.
    pub fn new(home: &Home, mirrors: Vec<Mirror>) -> Fetcher {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent(concat!("pyelf/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Fetcher {
            cache: home.sources(),
            mirrors,
            upstream: true,
            agent,
            attempts: 2,
            dir_index: Mutex::new(HashMap::new()),
        }
    }

    /// The cache under `home`, the mirrors in `PYELF_MIRROR`, and upstream unless `PYELF_OFFLINE`
    /// is set (to anything but empty or `0`).
    pub fn from_env(home: &Home) -> Fetcher {
        let fetcher = Fetcher::new(home, Mirror::from_env());
        match std::env::var("PYELF_OFFLINE") {
            Ok(v) if !v.is_empty() && v != "0" => fetcher.without_upstream(),
            _ => fetcher,
        }
    }

    /// Do not try upstream URLs (for tests and air-gapped use).
    pub fn without_upstream(mut self) -> Fetcher {
        self.upstream = false;
        self
    }

    /// The cache file a digest is kept in.
    pub fn cache_path(&self, sha256: &str) -> PathBuf {
        self.cache.join(sha256)
    }

    /// Gets `pin` into the cache, verified, and says where it came from.
    pub fn fetch(&self, pin: &Pin) -> Result<Fetched> {
        fs::create_dir_all(&self.cache).with_context(|| {
            format!("cannot create the source cache; is PYELF_HOME ({}) writable?", self.cache.display())
        })?;
        // Downloads cut short by a killed pyelf (nobody holds their lock).
        crate::stale::sweep(&self.cache, ".partial-")?;
        let mut tried = Vec::new();
        let found = |artifact: &Artifact, origin: Origin| Fetched {
            name: pin.name.clone(),
            version: pin.version.clone(),
            artifact: artifact.clone(),
            path: self.cache_path(&artifact.sha256),
            origin,
        };

        // 1. The cache.
        for a in &pin.artifacts {
            match self.check_cached(pin, a) {
                Ok(true) => return Ok(found(a, Origin::Cache)),
                Ok(false) => {}
                Err(Miss(m)) => tried.push(m),
            }
        }
        if tried.is_empty() {
            tried.push(format!("cache {}: not there", self.cache.display()));
        }

        // 2. The mirrors, 3. upstream.
        let mut places: Vec<(String, Place)> = Vec::new();
        for m in &self.mirrors {
            match m {
                Mirror::Dir(d) => places.push((format!("mirror {}", d.display()), Place::Dir(d.clone()))),
                Mirror::Url(base) => {
                    for a in &pin.artifacts {
                        let url = format!("{base}/{}", a.file);
                        places.push((format!("mirror {url}"), Place::Url(url)));
                    }
                }
            }
        }
        if self.upstream {
            for url in &pin.urls {
                places.push((format!("upstream {url}"), Place::Url(url.clone())));
            }
        } else if !pin.urls.is_empty() {
            crate::report::note_once(
                "PYELF_OFFLINE is set: the sources' upstream URLs are not tried, only the cache and PYELF_MIRROR",
            );
        }
        for (label, place) in places {
            let result = match &place {
                Place::Dir(d) => self.look_in_dir(pin, d),
                Place::Url(u) => self.look_at_url(pin, u).map(|a| a.map(|a| (a, u.clone()))),
            };
            match result {
                Ok(Some((artifact, from))) => {
                    let origin = match label.starts_with("mirror") {
                        true => Origin::Mirror(from),
                        false => Origin::Upstream(from),
                    };
                    return Ok(found(&artifact, origin));
                }
                Ok(None) => tried.push(format!("{label}: no such file")),
                // Another place will not help when our own disk is full or read-only.
                Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::CacheWrite { .. })) => return Err(e),
                Err(e) => {
                    // A checksum mismatch is reported as it is when nothing else works.
                    if let Some(Error::ChecksumMismatch { .. }) = e.downcast_ref::<Error>() {
                        crate::report::warn(&format!("{e}"));
                    }
                    tried.push(format!("{label}: {}", one_line(&e)));
                }
            }
        }
        Err(Error::SourceUnavailable {
            source_name: pin.name.clone(),
            version: pin.version.clone(),
            files: pin.artifacts.iter().map(|a| a.file.clone()).collect(),
            tried,
        }
        .into())
    }

    /// Is the cache entry for `a` present and intact? A damaged one is deleted.
    fn check_cached(&self, pin: &Pin, a: &Artifact) -> Result<bool, Miss> {
        let path = self.cache_path(&a.sha256);
        if !path.is_file() {
            return Ok(false);
        }
        let actual = sha256_file(&path).map_err(|e| Miss(format!("cache {}: {e}", path.display())))?;
        if actual == a.sha256 {
            return Ok(true);
        }
        let _ = fs::remove_file(&path);
        let e = Error::ChecksumMismatch {
            source_name: format!("{} {}", pin.name, pin.version),
            from: format!("cache {}", path.display()),
            expected: vec![a.sha256.clone()],
            actual,
            deleted: true,
        };
        crate::report::warn(&format!("{e}"));
        Err(Miss(format!("cache {}: changed after it was cached; deleted", path.display())))
    }

    /// Looks in a mirror directory: by file name first, then by digest.
    fn look_in_dir(&self, pin: &Pin, dir: &Path) -> Result<Option<(Artifact, String)>> {
        if !dir.is_dir() {
            anyhow::bail!("not a directory");
        }
        let mut mismatch = None;
        for a in &pin.artifacts {
            let p = dir.join(&a.file);
            if p.is_file() {
                match self.copy_in(pin, &p) {
                    Ok(a) => return Ok(Some((a, p.display().to_string()))),
                    Err(e) => mismatch = Some(e),
                }
            }
        }
        let by_digest = {
            let mut index = self.dir_index.lock().unwrap();
            if !index.contains_key(dir) {
                index.insert(dir.to_path_buf(), index_dir(dir)?);
            }
            let index = &index[dir];
            pin.artifacts.iter().find_map(|a| index.get(&a.sha256).cloned())
        };
        if let Some(p) = by_digest {
            return self.copy_in(pin, &p).map(|a| Some((a, p.display().to_string())));
        }
        match mismatch {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// Copies a local file into the cache through the digest check.
    fn copy_in(&self, pin: &Pin, path: &Path) -> Result<Artifact> {
        let file = fs::File::open(path)?;
        let len = file.metadata().ok().map(|m| m.len());
        let label = format!("copying {} {}", pin.name, pin.version);
        self.store(pin, &path.display().to_string(), file, len, &label)
    }

    /// Downloads a URL into the cache through the digest check, with one retry on network errors.
    fn look_at_url(&self, pin: &Pin, url: &str) -> Result<Option<Artifact>> {
        let mut last = None;
        for attempt in 1..=self.attempts {
            match self.download(pin, url) {
                Ok(a) => return Ok(a),
                Err(e) if is_retryable(&e) && attempt < self.attempts => {
                    crate::say!("  {url}: {}; retrying", one_line(&e));
                    std::thread::sleep(Duration::from_millis(500));
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn download(&self, pin: &Pin, url: &str) -> Result<Option<Artifact>> {
        let response = self.agent.get(url).call().map_err(|e| Transient(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 404 || status == 410 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            anyhow::bail!("HTTP status {status}");
        }
        let len =
            response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let body = response.into_body().into_with_config().limit(u64::MAX).reader();
        let label = format!("downloading {} {}", pin.name, pin.version);
        let artifact = self.store(pin, url, body, len, &label)?;
        Ok(Some(artifact))
    }

    /// Streams `reader` through sha256 into a temporary file in the cache, and renames it to its
    /// digest only when the pin accepts that digest (and the length matches, when known).
    fn store(&self, pin: &Pin, from: &str, mut reader: impl Read, len: Option<u64>, label: &str) -> Result<Artifact> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&self.cache)
            .with_context(|| format!("cannot write into the source cache {}", self.cache.display()))?;
        crate::stale::hold_file(tmp.as_file(), tmp.path())?;
        let mut hasher = Sha256::new();
        let mut progress = Transfer::start(label, len);
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    progress.finish("failed");
                    return Err(Transient(format!("reading failed: {e}")).into());
                }
            };
            hasher.update(&buf[..n]);
            if let Err(err) = tmp.write_all(&buf[..n]) {
                progress.finish("failed");
                return Err(Error::CacheWrite { dir: self.cache.clone(), err }.into());
            }
            progress.advance(n as u64);
            total += n as u64;
        }
        if let Some(len) = len {
            if total != len {
                progress.finish("failed");
                return Err(Transient(format!("short read: got {total} of {len} bytes")).into());
            }
        }
        let actual = hex::encode(hasher.finalize());
        let Some(artifact) = pin.artifact(&actual) else {
            progress.finish("rejected");
            // Dropping `tmp` deletes it: nothing of the bad file stays in the cache.
            drop(tmp);
            return Err(Error::ChecksumMismatch {
                source_name: format!("{} {}", pin.name, pin.version),
                from: from.to_string(),
                expected: pin.artifacts.iter().map(|a| a.sha256.clone()).collect(),
                actual,
                deleted: true,
            }
            .into());
        };
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(self.cache_path(&actual)).map_err(|e| e.error)?;
        progress.finish("verified");
        Ok(artifact.clone())
    }
}

enum Place {
    Dir(PathBuf),
    Url(String),
}

/// A failure worth one retry: the connection failed, timed out or ended early.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transient(String);

fn is_retryable(e: &anyhow::Error) -> bool {
    e.is::<Transient>()
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut f, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Digests of every regular file directly inside `dir`.
fn index_dir(dir: &Path) -> Result<HashMap<String, PathBuf>> {
    let mut index = HashMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_file() {
            if let Ok(d) = sha256_file(&path) {
                index.insert(d, path);
            }
        }
    }
    Ok(index)
}

/// Fetches every source a target needs and prints one line each (name, version, origin). Every
/// source is tried even when one fails, so that one run reports every problem.
pub fn fetch_all(fetcher: &Fetcher, pins: &[&Pin]) -> Result<Vec<Fetched>> {
    // A cache that cannot be written fails every source the same way: say it once.
    fs::create_dir_all(&fetcher.cache).with_context(|| {
        format!("cannot create the source cache; is PYELF_HOME ({}) writable?", fetcher.cache.display())
    })?;
    let results: Vec<_> = pins.iter().map(|pin| (pin, fetcher.fetch(pin))).collect();
    let mut fetched = Vec::new();
    let mut failures = Vec::new();
    for (pin, result) in results {
        match result {
            Ok(f) => {
                crate::say!("{:<10} {:<10} {}", f.name, f.version, f.origin);
                fetched.push(f);
            }
            Err(e) => {
                crate::say!("{:<10} {:<10} FAILED", pin.name, pin.version);
                failures.push(format!("{e:#}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(fetched)
    } else {
        anyhow::bail!("{} of {} sources could not be fetched:\n{}", failures.len(), pins.len(), failures.join("\n"))
    }
}
