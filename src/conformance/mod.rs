//! Conformance: CPython's own regression tests, run inside a pyelf binary and by the toolchain's
//! python3 from files, module by module, in the same root filesystems; the per-module results
//! (state, tests run, failed, skipped, and which tests failed) must be equal.
//!
//! The binary embeds `test.libregrtest` and the test modules of `toolchains/conformance.toml`,
//! with the test suite's data files, and is built with `--python-cli`: it is installed in the
//! root as `python3.13` with a `python3` link, so that `python3 -m test` runs the suite in it, and
//! the tests that start `sys.executable` (hundreds of them) start it as python, as they start the
//! interpreter. Both sides run `python3 -m test -jN --junit-xml …` with the same environment, in
//! the same root (the toolchain is bind-mounted read-only for the interpreter), with or without
//! /proc.

use crate::build;
use crate::home::Home;
use crate::options::BuildOptions;
use crate::toolchain::pins::Pins;
use crate::toolchain::{self, Toolchain};
use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PLAN_TOML: &str = include_str!("../../toolchains/conformance.toml");
const REGRTEST_PY: &str = include_str!("regrtest.py");

/// The test modules, the subset for `cargo test`, and the known differences.
#[derive(Debug, Clone, Deserialize)]
pub struct Plan {
    pub quick: Vec<String>,
    pub groups: BTreeMap<String, Vec<String>>,
    /// By module.
    #[serde(default)]
    pub differences: BTreeMap<String, Difference>,
}

/// A module whose results in the binary differ from the interpreter's, and why.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Difference {
    /// The roots where it differs (none: everywhere).
    #[serde(default)]
    pub roots: Vec<String>,
    pub reason: String,
}

impl Difference {
    fn covers(&self, place: &Place) -> bool {
        self.roots.is_empty() || self.roots.iter().any(|r| r == place.root)
    }
}

impl Plan {
    pub fn builtin() -> Plan {
        toml::from_str(PLAN_TOML).expect("toolchains/conformance.toml is valid")
    }

    /// Every module, each once, in the file's order of groups.
    pub fn modules(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.groups.values().flatten().filter(|m| seen.insert(m.as_str())).cloned().collect()
    }
}

/// Where a run happens: a root filesystem of `rootfs.sh` (`empty`, `alpine`), with or without
/// /proc mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Place {
    pub root: &'static str,
    pub proc: bool,
}

impl Place {
    pub fn name(&self) -> String {
        format!("{}{}", self.root, if self.proc { "" } else { ", no /proc" })
    }

    /// Every root the binaries must run in, with and without /proc.
    pub const ALL: [Place; 4] = [
        Place { root: "empty", proc: false },
        Place { root: "empty", proc: true },
        Place { root: "alpine", proc: false },
        Place { root: "alpine", proc: true },
    ];
}

/// One module's results in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// libregrtest's verdict: passed, failed, skipped, resource denied, env changed, crashed, …
    pub state: String,
    pub run: u64,
    /// Failures and errors.
    pub failed: u64,
    pub skipped: u64,
    /// The ids of the tests that failed.
    pub failed_tests: BTreeSet<String>,
}

impl Outcome {
    pub fn passed(&self) -> u64 {
        self.run.saturating_sub(self.failed + self.skipped)
    }

    fn figures(&self) -> String {
        format!("{} {}/{}/{}/{}", self.state, self.run, self.passed(), self.failed, self.skipped)
    }
}

/// One module in one place: the interpreter's results and the binary's.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub module: String,
    pub interpreter: Outcome,
    pub binary: Outcome,
}

impl Compared {
    pub fn same(&self) -> bool {
        self.interpreter == self.binary
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlaceReport {
    pub place: String,
    pub interpreter_seconds: f64,
    pub binary_seconds: f64,
    pub modules: Vec<Compared>,
    /// Modules that differed in the first run and gave the same results when run again.
    pub flaky: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub binary_bytes: u64,
    pub build_seconds: f64,
    pub places: Vec<PlaceReport>,
    /// Modules that differ somewhere and are not in the plan's `[differences]`.
    pub unexplained: Vec<String>,
    /// Listed differences, for the table.
    pub explained: BTreeMap<String, Difference>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub modules: Vec<String>,
    pub places: Vec<Place>,
    /// libregrtest's `-j`.
    pub jobs: usize,
    /// Where the roots and the binary go (made if missing).
    pub work: PathBuf,
}

/// Builds the conformance binary into `dir` (as `python3.13`, with a `python3` link beside it).
pub fn build_binary(home: &Home, tc: &Toolchain, modules: &[String], dir: &Path) -> Result<(PathBuf, build::Built)> {
    fs::create_dir_all(dir)?;
    let script = dir.join("regrtest.py");
    fs::write(&script, REGRTEST_PY)?;
    let stdlib_test = tc.root.join(crate::runtime::STDLIB_TREE).join("test");
    let mut opts = BuildOptions::new(script);
    opts.output = Some(dir.join("python3.13"));
    opts.python_cli = true;
    // The whole stdlib: the tests import modules by names computed at run time (test_re the
    // deprecated sre_* modules in a loop), which no analysis sees.
    opts.stdlib = Some(crate::options::Stdlib::Full);
    opts.include_packages = vec!["test.libregrtest".into(), "test.support".into()];
    opts.include_modules = vec!["test.__main__".into()];
    for m in modules {
        if stdlib_test.join(m).join("__init__.py").is_file() {
            opts.include_packages.push(format!("test.{m}"));
        } else if stdlib_test.join(format!("{m}.py")).is_file() {
            opts.include_modules.push(format!("test.{m}"));
        } else {
            bail!("conformance: no test module {m} in the toolchain's stdlib ({})", stdlib_test.display());
        }
    }
    let built = build::build(home, &opts)?;
    let link = dir.join("python3");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink("python3.13", &link)?;
    Ok((built.path.clone(), built))
}

/// Which python runs the suite.
enum Runner<'a> {
    /// The toolchain's python3, from files (its directory is bind-mounted into the root).
    Interpreter(&'a Toolchain),
    /// The conformance binary, copied into the root.
    Binary(&'a Path),
}

/// The root filesystem tool of this machine (`../shared/tools/rootfs.sh`), or `PYELF_ROOTFS_TOOL`.
fn rootfs_tool() -> Result<PathBuf> {
    let tool = match std::env::var_os("PYELF_ROOTFS_TOOL") {
        Some(t) => PathBuf::from(t),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/rootfs.sh"),
    };
    if !tool.is_file() {
        bail!(
            "conformance: no root filesystem tool at {} (set PYELF_ROOTFS_TOOL to one that takes KIND DIR)",
            tool.display()
        );
    }
    Ok(tool)
}

/// A fresh root of `kind` under `work`, with a writable /work for the tests.
fn make_root(work: &Path, kind: &str, name: &str) -> Result<PathBuf> {
    let root = work.join(format!("root-{kind}-{name}"));
    crate::fsutil::remove_dir_if_present(&root)?;
    let status = Command::new("bash")
        .arg(rootfs_tool()?)
        .arg(kind)
        .arg(&root)
        .status()
        .context("cannot run the root filesystem tool")?;
    if !status.success() {
        bail!("conformance: making the {kind} root in {} failed ({status})", root.display());
    }
    fs::create_dir_all(root.join("work/tmp"))?;
    fs::create_dir_all(root.join("proc"))?;
    // The network tests talk to `localhost` and to this machine's name, on loopback only: in a
    // root whose /etc/hosts does not name them, every lookup waits for DNS timeouts (minutes a
    // module), in the interpreter as in the binary.
    let hosts = root.join("etc/hosts");
    let mut text = fs::read_to_string(&hosts).unwrap_or_default();
    text.push_str(&format!(
        "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.1.1 {}\n",
        hostname()
    ));
    fs::create_dir_all(root.join("etc"))?;
    fs::write(&hosts, text)?;
    Ok(root)
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if r == 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".into()
    }
}

fn cstring(p: &Path) -> Result<CString> {
    Ok(CString::new(p.as_os_str().as_bytes())?)
}

/// Runs `python3 -m test` for `modules` chrooted into `root` (in a private mount namespace, with
/// /proc mounted when asked) and returns each module's outcome.
fn run_suite(
    runner: &Runner,
    root: &Path,
    place: Place,
    modules: &[String],
    jobs: usize,
    log: &Path,
) -> Result<BTreeMap<String, Outcome>> {
    let (python, bind) = match runner {
        Runner::Interpreter(tc) => {
            let inside = root.join(tc.root.strip_prefix("/").unwrap_or(&tc.root));
            fs::create_dir_all(&inside)?;
            (tc.python(), Some((cstring(&tc.root)?, cstring(&inside)?)))
        }
        Runner::Binary(bin) => {
            let dir = root.join("conformance");
            fs::create_dir_all(&dir)?;
            fs::copy(bin, dir.join("python3.13"))?;
            let link = dir.join("python3");
            if !link.exists() {
                std::os::unix::fs::symlink("python3.13", &link)?;
            }
            (PathBuf::from("/conformance/python3"), None)
        }
    };
    let xml = root.join("work/results.xml");
    let _ = fs::remove_file(&xml);
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "test", "-j", &jobs.to_string(), "--timeout", "600", "--junit-xml", "/work/results.xml"])
        .args(modules)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/work")
        .env("TMPDIR", "/work/tmp")
        .stdin(std::process::Stdio::null());
    let out = std::fs::File::create(log).with_context(|| format!("cannot write {}", log.display()))?;
    cmd.stdout(out.try_clone()?).stderr(out);
    let root_c = cstring(root)?;
    let proc_c = cstring(&root.join("proc"))?;
    let proc_fs = CString::new("proc")?;
    let slash = CString::new("/")?;
    let work = CString::new("/work")?;
    // SAFETY: between fork and exec only async-signal-safe calls (unshare, mount, chroot, chdir)
    // on strings made before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let check = |r: libc::c_int| if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                slash.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            if let Some((from, to)) = &bind {
                check(libc::mount(
                    from.as_ptr(),
                    to.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
            }
            if place.proc {
                check(libc::mount(proc_fs.as_ptr(), proc_c.as_ptr(), proc_fs.as_ptr(), 0, std::ptr::null()))?;
            }
            check(libc::chroot(root_c.as_ptr()))?;
            check(libc::chdir(work.as_ptr()))?;
            Ok(())
        });
    }
    let status = cmd.status().with_context(|| format!("cannot run {} in {}", python.display(), root.display()))?;
    let output = fs::read_to_string(log).unwrap_or_default();
    let mut outcomes = states(&output, modules);
    if xml.is_file() {
        count(&fs::read_to_string(&xml)?, modules, &mut outcomes)?;
    } else if outcomes.is_empty() {
        bail!(
            "python3 -m test ended ({status}) without results; its output is in {}:\n{}",
            log.display(),
            tail(&output, 20)
        );
    }
    for m in modules {
        outcomes.entry(m.clone()).or_insert_with(|| Outcome { state: "not run".into(), ..Default::default() });
    }
    Ok(outcomes)
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The configured module a name of libregrtest's belongs to (`test_inspect.test_inspect`, a part
/// run on its own, belongs to `test_inspect`; a test id `test.test_json.test_decode.X.y` to
/// `test_json`).
fn module_of<'a>(name: &str, modules: &'a [String]) -> Option<&'a String> {
    let name = name.strip_prefix("test.").unwrap_or(name);
    // test_datetime runs the tests of test.datetimetester (twice: C and pure Python).
    let name = match name.strip_prefix("datetimetester") {
        Some(rest) => format!("test_datetime{rest}"),
        None => name.to_string(),
    };
    let name = name.as_str();
    modules.iter().filter(|m| name == m.as_str() || name.starts_with(&format!("{m}."))).max_by_key(|m| m.len())
}

/// libregrtest's verdict on each module, from its progress lines (`[ 3/96/1] test_x failed (…)`).
fn states(output: &str, modules: &[String]) -> BTreeMap<String, Outcome> {
    let rank = |s: &str| {
        ["passed", "skipped", "resource denied", "env changed", "failed", "timed out", "crashed"]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(7)
    };
    let mut out: BTreeMap<String, Outcome> = BTreeMap::new();
    for line in output.lines() {
        let Some(rest) = line.split_once("] ").map(|(_, r)| r) else { continue };
        let Some((name, verdict)) = rest.split_once(' ') else { continue };
        let Some(m) = module_of(name, modules) else { continue };
        let state = if verdict.starts_with("passed") {
            "passed"
        } else if verdict.starts_with("skipped (resource denied)") {
            "resource denied"
        } else if verdict.starts_with("skipped") {
            "skipped"
        } else if verdict.starts_with("failed (env changed)") {
            "env changed"
        } else if verdict.starts_with("failed") {
            "failed"
        } else if verdict.starts_with("crashed") {
            "crashed"
        } else if verdict.contains("timed out") {
            "timed out"
        } else {
            continue;
        };
        let o = out.entry(m.clone()).or_default();
        if o.state.is_empty() || rank(state) > rank(&o.state) {
            o.state = state.to_string();
        }
    }
    out
}

/// Adds the tests of the JUnit XML libregrtest wrote (one `testsuite` a module or part) to the
/// outcomes: run, failed (failures and errors, subtests included), skipped, the failed tests.
fn count(xml: &str, modules: &[String], out: &mut BTreeMap<String, Outcome>) -> Result<()> {
    let doc = roxmltree::Document::parse(xml).context("libregrtest's JUnit XML")?;
    for suite in doc.descendants().filter(|n| n.has_tag_name("testsuite")) {
        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        let Some(module) = cases.iter().find_map(|c| module_of(c.attribute("name").unwrap_or(""), modules)) else {
            continue;
        };
        let o = out.entry(module.clone()).or_default();
        let attr = |k: &str| suite.attribute(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        o.run += attr("tests");
        o.failed += attr("errors") + attr("failures");
        for c in &cases {
            if c.children().any(|n| n.has_tag_name("skipped")) {
                o.skipped += 1;
            }
            if c.children().any(|n| n.has_tag_name("failure") || n.has_tag_name("error")) {
                o.failed_tests.insert(c.attribute("name").unwrap_or("").to_string());
            }
        }
    }
    Ok(())
}

/// Builds the binary and runs `opts.modules` in every place with both runners.
pub fn run(home: &Home, opts: &Options) -> Result<Report> {
    let pins = Pins::builtin();
    let tc = toolchain::ensure(home, &pins, crate::toolchain::pins::native_triple(), &Default::default())?;
    let plan = Plan::builtin();
    fs::create_dir_all(&opts.work)?;
    crate::say!("conformance: building the binary with {} test modules", opts.modules.len());
    let started = Instant::now();
    let (bin, built) = build_binary(home, &tc, &opts.modules, &opts.work.join("bin"))?;
    let build_seconds = started.elapsed().as_secs_f64();
    // libregrtest's output of each run, kept after the work directory is gone.
    let logs = home.root().join("logs/conformance");
    fs::create_dir_all(&logs)?;
    let mut places = Vec::new();
    let mut unexplained = BTreeSet::new();
    for place in &opts.places {
        let timed = |runner: &Runner, what: &str, modules: &[String]| -> Result<(BTreeMap<String, Outcome>, f64)> {
            crate::say!("conformance: {} modules by the {what} in {}", modules.len(), place.name());
            // A fresh root for each run: the tests leave files behind (a /dev/null written as a
            // plain file in a root without devices), which the next run would see.
            let root = make_root(&opts.work, place.root, &what.replace(" (again)", "-again"))?;
            let t = Instant::now();
            let log = logs.join(format!(
                "{}-{}-{}.log",
                what.replace(" (again)", "-again"),
                place.root,
                if place.proc { "proc" } else { "noproc" }
            ));
            let r = run_suite(runner, &root, *place, modules, opts.jobs, &log)?;
            let seconds = t.elapsed().as_secs_f64();
            fs::remove_dir_all(&root).ok();
            Ok((r, seconds))
        };
        let (interp, interpreter_seconds) = timed(&Runner::Interpreter(&tc), "interpreter", &opts.modules)?;
        let (binary, binary_seconds) = timed(&Runner::Binary(&bin), "binary", &opts.modules)?;
        let modules: Vec<Compared> = opts
            .modules
            .iter()
            .map(|m| Compared { module: m.clone(), interpreter: interp[m].clone(), binary: binary[m].clone() })
            .collect();
        let explained = |c: &Compared| plan.differences.get(&c.module).is_some_and(|d| d.covers(place));
        // A module that differs is run again on both sides: a real difference comes back, a test
        // that fails now and then (on either side) does not, and is reported as flaky.
        let suspects: Vec<String> =
            modules.iter().filter(|c| !c.same() && !explained(c)).map(|c| c.module.clone()).collect();
        let mut flaky = Vec::new();
        if !suspects.is_empty() {
            let (again_i, _) = timed(&Runner::Interpreter(&tc), "interpreter (again)", &suspects)?;
            let (again_b, _) = timed(&Runner::Binary(&bin), "binary (again)", &suspects)?;
            for m in &suspects {
                let again = Compared { module: m.clone(), interpreter: again_i[m].clone(), binary: again_b[m].clone() };
                if again.same() {
                    flaky.push(m.clone());
                } else {
                    unexplained.insert(format!("{m} ({})", place.name()));
                }
            }
        }
        places.push(PlaceReport { place: place.name(), interpreter_seconds, binary_seconds, modules, flaky });
    }
    let explained = plan
        .differences
        .iter()
        .filter(|(m, _)| opts.modules.contains(m))
        .map(|(m, r)| (m.clone(), r.clone()))
        .collect();
    Ok(Report {
        binary_bytes: built.size,
        build_seconds,
        places,
        unexplained: unexplained.into_iter().collect(),
        explained,
    })
}

/// The results as a table: the interpreter's figures in the first place, and for each place
/// whether the binary's are the same.
pub fn table(report: &Report) -> String {
    let mut s = format!(
        "conformance binary: {:.1} MiB, built in {:.0} s\nstate run/passed/failed/skipped of python3 -m test, interpreter (from files) and pyelf binary\n",
        report.binary_bytes as f64 / 1048576.0,
        report.build_seconds
    );
    let Some(first) = report.places.first() else { return s };
    s.push_str(&format!("{:<28} {:<34}", "module", format!("interpreter ({})", first.place)));
    for p in &report.places {
        s.push_str(&format!(" | {:<16}", p.place));
    }
    s.push('\n');
    for (i, c) in first.modules.iter().enumerate() {
        s.push_str(&format!("{:<28} {:<34}", c.module, c.interpreter.figures()));
        for p in &report.places {
            let c = &p.modules[i];
            let cell = if c.same() { "same".to_string() } else { format!("binary: {}", c.binary.figures()) };
            s.push_str(&format!(" | {cell:<16}"));
        }
        s.push('\n');
    }
    for p in &report.places {
        let diff: Vec<&Compared> = p.modules.iter().filter(|c| !c.same()).collect();
        s.push_str(&format!(
            "{}: interpreter {:.0} s, binary {:.0} s, {} of {} modules the same\n",
            p.place,
            p.interpreter_seconds,
            p.binary_seconds,
            p.modules.len() - diff.len(),
            p.modules.len()
        ));
        for c in diff {
            let only = |a: &Outcome, b: &Outcome| {
                a.failed_tests.difference(&b.failed_tests).take(5).cloned().collect::<Vec<_>>().join(", ")
            };
            s.push_str(&format!(
                "  {}: interpreter {}, binary {}; failed only in the binary: [{}]; only in the interpreter: [{}] (failed subtests are counted, not named: see the logs)\n",
                c.module,
                c.interpreter.figures(),
                c.binary.figures(),
                only(&c.binary, &c.interpreter),
                only(&c.interpreter, &c.binary)
            ));
            if p.flaky.contains(&c.module) {
                s.push_str("    run again on both sides, the same: a flaky test, not a difference of the binary's\n");
            }
        }
    }
    for (m, d) in &report.explained {
        let roots = if d.roots.is_empty() { "every root".to_string() } else { d.roots.join(", ") };
        s.push_str(&format!("known difference, {m} ({roots}): {}\n", d.reason));
    }
    if report.unexplained.is_empty() {
        s.push_str("no unexplained difference\n");
    } else {
        s.push_str(&format!("UNEXPLAINED differences: {}\n", report.unexplained.join(", ")));
    }
    s
}

/// Runs the comparison in a work directory of its own (under `$PYELF_HOME/work`) and writes its
/// JSON report to `json`.
pub fn run_and_report(
    home: &crate::home::Home,
    modules: Vec<String>,
    places: Vec<Place>,
    jobs: usize,
    json: &std::path::Path,
) -> Result<Report> {
    let work_root = home.root().join("work");
    fs_err::create_dir_all(&work_root)?;
    // Locked while the run lives; those of killed runs are removed here (as app builds' are).
    crate::stale::sweep(&work_root, "conformance-")?;
    let work = crate::stale::OwnedDir::new_in(&work_root, "conformance-")?;
    let opts = Options { modules, places, jobs, work: work.path().to_path_buf() };
    let report = run(home, &opts)?;
    if let Some(dir) = json.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(json, serde_json::to_string_pretty(&report)?)?;
    crate::say!("JSON: {}", json.display());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_at_least_sixty_modules_and_a_subset_of_them() {
        let plan = Plan::builtin();
        let all = plan.modules();
        assert!(all.len() >= 60, "{}", all.len());
        assert!(plan.quick.iter().all(|m| all.contains(m)), "the subset is part of the list");
        assert!(plan.differences.keys().all(|m| all.contains(m)));
    }

    #[test]
    fn libregrtest_output_and_junit_xml_are_read_per_module() {
        let modules: Vec<String> = ["test_json", "test_inspect", "test_types"].map(String::from).to_vec();
        let out = "0:00:01 load avg: 0.5 [ 1/3] test_json passed\n\
                   0:00:02 load avg: 0.5 [ 2/3/1] test_inspect.test_inspect failed (1 failure) -- running (1): x\n\
                   0:00:02 load avg: 0.5 [ 3/3/1] test_inspect.test_clinic passed\n\
                   0:00:03 load avg: 0.5 [ 4/3/1] test_types skipped\n";
        let mut o = states(out, &modules);
        assert_eq!(o["test_json"].state, "passed");
        assert_eq!(o["test_inspect"].state, "failed", "the worst part wins");
        assert_eq!(o["test_types"].state, "skipped");
        let xml = r#"<testsuites><testsuite tests="3" errors="0" failures="1">
            <testcase name="test.test_inspect.test_inspect.A.test_a" status="run"><failure message="x"/></testcase>
            <testcase name="test.test_inspect.test_inspect.A.test_b" status="run"><skipped>no</skipped></testcase>
            <testcase name="test.test_inspect.test_inspect.A.test_c" status="run"/>
            </testsuite><testsuite tests="2" errors="1" failures="0">
            <testcase name="test.test_json.test_x.T.test_y" status="run"><error message="e"/></testcase>
            <testcase name="test.test_json.test_x.T.test_z" status="run"/></testsuite></testsuites>"#;
        count(xml, &modules, &mut o).unwrap();
        let i = &o["test_inspect"];
        assert_eq!((i.run, i.failed, i.skipped, i.passed()), (3, 1, 1, 1));
        assert!(i.failed_tests.contains("test.test_inspect.test_inspect.A.test_a"));
        assert_eq!((o["test_json"].run, o["test_json"].failed), (2, 1));
    }
}
