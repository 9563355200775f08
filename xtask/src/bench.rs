//! `cargo xtask bench`: sizes, start-up, build time and run-time speed, measured in one run on
//! one machine, printed as a table and written as JSON. Figures, not assertions.
//!
//! Run-time speed compares, on small pure-Python benchmarks in the style of pyperformance:
//! - the pyelf binary (the benchmark compiled by Cython, on the static musl libpython),
//! - the toolchain's static `python3` interpreting the same file (musl, static),
//! - a glibc CPython of the same version built from the same source with the usual defaults
//!   (`./configure && make`), built once into the bench cache.

use anyhow::{bail, Context, Result};
use fs_err as fs;
use pyelf::app::{self, BuildOptions};
use pyelf::fetch::Fetcher;
use pyelf::home::Home;
use pyelf::pins::Pins;
use pyelf::steplog::Step;
use pyelf::toolchain;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The benchmarks: `(name, source, what it exercises)`. Each defines `run(scale)`.
const BENCHMARKS: &[(&str, &str)] = &[
    ("nbody", include_str!("../../bench/nbody.py")),
    ("spectral_norm", include_str!("../../bench/spectral_norm.py")),
    ("float", include_str!("../../bench/float_ops.py")),
    ("richards", include_str!("../../bench/richards.py")),
    ("fannkuch", include_str!("../../bench/fannkuch.py")),
    ("json_dumps", include_str!("../../bench/json_dumps.py")),
    ("json_loads", include_str!("../../bench/json_loads.py")),
    ("regex", include_str!("../../bench/regex.py")),
    ("unpack_sequence", include_str!("../../bench/unpack_sequence.py")),
];

/// Appended to each benchmark: runs `run(scale)` `repeat` times and prints the median time.
const HARNESS: &str = r#"

def _pyelf_bench_main():
    import sys, time
    scale, repeat = int(sys.argv[1]), int(sys.argv[2])
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run(scale)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"time {times[len(times) // 2]:.6f}")


if __name__ == "__main__":
    _pyelf_bench_main()
"#;

const TEST_PY: &str = include_str!("../../test.py");
const HEAVY_PY: &str = include_str!("../../tests/e2e/heavy.py");

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Benchmark workload multiplier.
    pub scale: u32,
    /// Repetitions inside a benchmark process (the median is taken).
    pub repeat: u32,
    /// Start-up runs of each command.
    pub startup_runs: u32,
    /// Warm builds of test.py.
    pub builds: u32,
    /// Processes of each benchmark under each runner (the median is taken).
    pub rounds: u32,
}

impl Mode {
    pub const QUICK: Mode = Mode { scale: 1, repeat: 3, startup_runs: 40, builds: 2, rounds: 3 };
    pub const FULL: Mode = Mode { scale: 2, repeat: 5, startup_runs: 200, builds: 5, rounds: 5 };
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub mode: String,
    pub host: String,
    pub sizes: Vec<Size>,
    /// test.py's bytes by component (interpreter, musl, each library, frozen bytecode, data, app).
    pub composition: Vec<Size>,
    pub startup: Startup,
    pub build_seconds_median: f64,
    pub benchmarks: Vec<Benchmark>,
    /// Geometric mean of glibc time / pyelf binary time (above 1: the binary is faster).
    pub geomean_binary_vs_glibc: f64,
    /// Geometric mean of glibc time / static python3 time (the interpreter alone).
    pub geomean_static_interpreter_vs_glibc: f64,
    /// Geometric mean of the system python3's time / pyelf binary time (what users run: Debian's
    /// python3 is built with PGO and LTO); none without a system python3.
    pub geomean_binary_vs_system: Option<f64>,
    /// The same for the static python3 (the interpreter alone).
    pub geomean_static_interpreter_vs_system: Option<f64>,
    /// Targets of other architectures this machine has the cross tools for.
    pub cross: Vec<CrossFigures>,
}

/// Building for a target of another architecture.
#[derive(Debug, Serialize)]
pub struct CrossFigures {
    pub triple: String,
    /// The seconds its toolchain's build steps took (with the build machine's toolchain cached).
    pub toolchain_seconds: f64,
    /// Whether the toolchain was built by this run (else: the figure its build recorded).
    pub toolchain_built_now: bool,
    /// A build of test.py with everything cached.
    pub warm_build_seconds: f64,
    pub test_py_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Size {
    pub what: String,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Startup {
    pub pyelf_ms_median: f64,
    pub system_python: String,
    pub system_python_ms_median: f64,
    /// pyelf / system python (below 1: pyelf starts faster).
    pub ratio: f64,
    /// A binary of an empty script.
    pub empty_pyelf_ms_median: f64,
    /// `<system python> -I -S -c pass`.
    pub system_python_bare_ms_median: f64,
    /// empty binary / bare system python.
    pub empty_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Benchmark {
    pub name: String,
    pub glibc_cpython_s: f64,
    pub static_python3_s: f64,
    pub pyelf_binary_s: f64,
    /// The system python3 interpreting the same file (Debian's: another CPython version).
    pub system_python_s: Option<f64>,
}

/// Runs the benchmark and writes the JSON report to `json_out`.
pub fn run(home: &Home, mode: Mode, mode_name: &str, json_out: &Path) -> Result<Report> {
    let pins = Pins::builtin();
    let triple = pyelf::pins::native_triple();
    let tc = toolchain::ensure(home, &pins, triple, &Default::default())?;
    let reference = reference_python(home, &pins)?;
    let work_root = home.root().join("work");
    ensure_dir(&work_root)?;
    // Locked while the run lives; those of killed runs are removed here (as app builds' are).
    pyelf::stale::sweep(&work_root, "bench-")?;
    let work = pyelf::stale::OwnedDir::new_in(&work_root, "bench-")?;
    let dir = work.path();
    let build_app = |name: &str, source: &str, extra: &dyn Fn(&mut BuildOptions)| -> Result<(app::Built, f64)> {
        let script = dir.join(format!("{name}.py"));
        fs::write(&script, source)?;
        let mut opts = BuildOptions::new(script);
        opts.target = Some(triple.to_string());
        opts.output = Some(dir.join(name));
        extra(&mut opts);
        let t = Instant::now();
        let built = app::build(home, &opts)?;
        Ok((built, t.elapsed().as_secs_f64()))
    };
    let build = |name: &str, source: &str, extra: &dyn Fn(&mut BuildOptions)| -> Result<(PathBuf, f64)> {
        build_app(name, source, extra).map(|(built, secs)| (built.path, secs))
    };

    pyelf::say!("sizes and build time");
    let mut sizes = Vec::new();
    let mut build_times = Vec::new();
    let mut test_bin = PathBuf::new();
    let mut test_map = PathBuf::new();
    for _ in 0..mode.builds {
        let (built, secs) = build_app("test", TEST_PY, &|_| {})?;
        build_times.push(secs);
        test_bin = built.path;
        test_map = built.link_map;
    }
    let test_bytes = fs::metadata(&test_bin)?.len();
    sizes.push(Size { what: "test.py".into(), bytes: test_bytes });
    // What test.py's bytes are, from its link map.
    let composition =
        pyelf::sizes::breakdown(&test_map, test_bytes)?.into_iter().map(|(what, bytes)| Size { what, bytes }).collect();
    let (heavy, _) = build("heavy", HEAVY_PY, &|_| {})?;
    sizes.push(Size {
        what: "heavy.py (json, xml, hashlib, decimal, argparse, subprocess, ...)".into(),
        bytes: fs::metadata(&heavy)?.len(),
    });
    let (no_pie, _) = build("test-no-pie", TEST_PY, &|o| o.pie = false)?;
    sizes.push(Size { what: "test.py --no-pie".into(), bytes: fs::metadata(&no_pie)?.len() });
    if Command::new("upx").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let (upx, _) = build("test-upx", TEST_PY, &|o| o.upx = true)?;
        sizes.push(Size { what: "test.py --upx".into(), bytes: fs::metadata(&upx)?.len() });
    } else {
        pyelf::say!("  upx is not installed: no --upx figure");
    }

    pyelf::say!("start-up ({} runs each)", mode.startup_runs);
    let system_python = ["/usr/bin/python3", "/usr/local/bin/python3"].into_iter().find(|p| Path::new(p).exists());
    let test_py = dir.join("test.py");
    let (pyelf_ms, sys_ms) = match system_python {
        Some(py) => {
            let (a, b) = startup_pair(&test_bin, &[], Path::new(py), &[test_py.as_os_str()], mode.startup_runs)?;
            (a, b)
        }
        None => (startup_pair(&test_bin, &[], &test_bin, &[], mode.startup_runs)?.0, f64::NAN),
    };
    let (empty_bin, _) = build("empty", "", &|_| {})?;
    let bare = ["-I", "-S", "-c", "pass"].map(std::ffi::OsStr::new);
    let (empty_ms, bare_ms) = match system_python {
        Some(py) => startup_pair(&empty_bin, &[], Path::new(py), &bare, mode.startup_runs)?,
        None => (startup_pair(&empty_bin, &[], &empty_bin, &[], mode.startup_runs)?.0, f64::NAN),
    };

    pyelf::say!("run-time benchmarks (scale {}, median of {} rounds of {})", mode.scale, mode.rounds, mode.repeat);
    let mut benchmarks = Vec::new();
    for (name, source) in BENCHMARKS {
        let source = format!("{source}{HARNESS}");
        let (bin, _) = build(name, &source, &|_| {})?;
        let script = dir.join(format!("{name}.py"));
        let args = [mode.scale.to_string(), mode.repeat.to_string()];
        // The three take turns, several rounds, so that a busy moment of the machine does not
        // fall on one of them only; each figure is the median over the rounds.
        let (mut glibc, mut stat, mut binary, mut system) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..mode.rounds {
            glibc.push(bench_time(Command::new(&reference).arg("-I").arg(&script).args(&args))?);
            stat.push(bench_time(Command::new(tc.python()).arg("-I").arg(&script).args(&args))?);
            binary.push(bench_time(Command::new(&bin).args(&args))?);
            if let Some(py) = system_python {
                system.push(bench_time(Command::new(py).arg("-I").arg(&script).args(&args))?);
            }
        }
        let (glibc, stat, binary) = (median(&mut glibc), median(&mut stat), median(&mut binary));
        let system = (!system.is_empty()).then(|| median(&mut system));
        pyelf::say!(
            "  {name:<16} glibc {glibc:.3}s  static python3 {stat:.3}s  pyelf {binary:.3}s  system {}",
            system.map_or("-".to_string(), |s| format!("{s:.3}s"))
        );
        benchmarks.push(Benchmark {
            name: name.to_string(),
            glibc_cpython_s: glibc,
            static_python3_s: stat,
            pyelf_binary_s: binary,
            system_python_s: system,
        });
    }
    let cross = cross_figures(home, &pins, mode, dir)?;
    let geomean = |f: &dyn Fn(&Benchmark) -> f64| {
        (benchmarks.iter().map(|b| f(b).ln()).sum::<f64>() / benchmarks.len() as f64).exp()
    };
    let report = Report {
        mode: mode_name.to_string(),
        host: host_description(),
        sizes,
        composition,
        startup: Startup {
            pyelf_ms_median: pyelf_ms,
            system_python: system_python.unwrap_or("none").to_string(),
            system_python_ms_median: sys_ms,
            ratio: pyelf_ms / sys_ms,
            empty_pyelf_ms_median: empty_ms,
            system_python_bare_ms_median: bare_ms,
            empty_ratio: empty_ms / bare_ms,
        },
        build_seconds_median: median(&mut build_times),
        geomean_binary_vs_glibc: geomean(&|b| b.glibc_cpython_s / b.pyelf_binary_s),
        geomean_static_interpreter_vs_glibc: geomean(&|b| b.glibc_cpython_s / b.static_python3_s),
        geomean_binary_vs_system: system_python
            .map(|_| geomean(&|b| b.system_python_s.unwrap_or(f64::NAN) / b.pyelf_binary_s)),
        geomean_static_interpreter_vs_system: system_python
            .map(|_| geomean(&|b| b.system_python_s.unwrap_or(f64::NAN) / b.static_python3_s)),
        benchmarks,
        cross,
    };
    if let Some(parent) = json_out.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(json_out, serde_json::to_string_pretty(&report)?)?;
    Ok(report)
}

/// For each target of another architecture whose cross tools are here: its toolchain (built if
/// needed, timed), and test.py built for it with everything cached.
fn cross_figures(home: &Home, pins: &Pins, mode: Mode, dir: &Path) -> Result<Vec<CrossFigures>> {
    let mut out = Vec::new();
    for target in pins.targets.iter().filter(|t| !t.is_native()) {
        if let Err(e) = pyelf::compiler::HostCompiler::for_target(target) {
            pyelf::say!("  no figures for {}: {}", target.triple, e.to_string().lines().next().unwrap_or(""));
            continue;
        }
        pyelf::say!("cross: {}", target.triple);
        let built = toolchain::is_built(home, target)?;
        let tc = toolchain::ensure(home, pins, &target.triple, &Default::default())?;
        let script = dir.join("test.py");
        let mut opts = BuildOptions::new(script);
        opts.target = Some(target.triple.clone());
        opts.output = Some(dir.join(format!("test-{}", target.triple)));
        let mut times = Vec::new();
        let mut path = PathBuf::new();
        for _ in 0..mode.builds.max(2) {
            let t = Instant::now();
            path = app::build(home, &opts)?.path;
            times.push(t.elapsed().as_secs_f64());
        }
        // The first build may have filled caches; the others are warm.
        let warm = median(&mut times[1..].to_vec());
        out.push(CrossFigures {
            triple: target.triple.clone(),
            toolchain_seconds: toolchain::recorded_seconds(&tc.root)?,
            toolchain_built_now: !built,
            warm_build_seconds: warm,
            test_py_bytes: fs::metadata(&path)?.len(),
        });
    }
    Ok(out)
}

/// The report as a Markdown table.
pub fn table(r: &Report) -> String {
    let mut t = format!("pyelf bench ({} mode) on {}\n\n| figure | value |\n|---|---|\n", r.mode, r.host);
    for s in &r.sizes {
        t.push_str(&format!("| size: {} | {} ({} bytes) |\n", s.what, pyelf::progress::human_bytes(s.bytes), s.bytes));
    }
    for s in &r.composition {
        t.push_str(&format!(
            "| test.py's bytes: {} | {} ({:.1} %) |\n",
            s.what,
            pyelf::progress::human_bytes(s.bytes),
            100.0 * s.bytes as f64 / r.sizes[0].bytes.max(1) as f64
        ));
    }
    t.push_str(&format!(
        "| start-up: test.py binary vs `{} test.py` (median) | {:.1} ms vs {:.1} ms = {:.2}x |\n",
        r.startup.system_python, r.startup.pyelf_ms_median, r.startup.system_python_ms_median, r.startup.ratio
    ));
    t.push_str(&format!(
        "| start-up: empty script's binary vs `{} -I -S -c pass` (median) | {:.1} ms vs {:.1} ms = {:.2}x |\n",
        r.startup.system_python,
        r.startup.empty_pyelf_ms_median,
        r.startup.system_python_bare_ms_median,
        r.startup.empty_ratio
    ));
    t.push_str(&format!("| warm build of test.py (median) | {:.1} s |\n", r.build_seconds_median));
    for c in &r.cross {
        let how = if c.toolchain_built_now { "built by this run" } else { "as recorded when it was built" };
        t.push_str(&format!(
            "| {}: toolchain, build machine's cached ({how}) | {:.0} s |\n",
            c.triple, c.toolchain_seconds
        ));
        t.push_str(&format!("| {}: warm build of test.py | {:.1} s |\n", c.triple, c.warm_build_seconds));
        t.push_str(&format!(
            "| {}: size: test.py | {} ({} bytes) |\n",
            c.triple,
            pyelf::progress::human_bytes(c.test_py_bytes),
            c.test_py_bytes
        ));
    }
    t.push('\n');
    t.push_str(&format!(
        "| benchmark | glibc CPython (interpreted) | static python3 (interpreted) | pyelf binary (Cython) | binary speed-up vs glibc | system `{}` (interpreted) | binary speed-up vs system |\n|---|---|---|---|---|---|---|\n",
        r.startup.system_python
    ));
    let or_dash = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.3}{unit}"));
    for b in &r.benchmarks {
        t.push_str(&format!(
            "| {} | {:.3} s | {:.3} s | {:.3} s | {:.2}x | {} | {} |\n",
            b.name,
            b.glibc_cpython_s,
            b.static_python3_s,
            b.pyelf_binary_s,
            b.glibc_cpython_s / b.pyelf_binary_s,
            or_dash(b.system_python_s, " s"),
            or_dash(b.system_python_s.map(|s| s / b.pyelf_binary_s), "x"),
        ));
    }
    t.push_str(&format!(
        "| **geometric mean** (glibc time / other time) | 1.00x | {:.2}x | {:.2}x | | | |\n",
        r.geomean_static_interpreter_vs_glibc, r.geomean_binary_vs_glibc
    ));
    if let (Some(b), Some(s)) = (r.geomean_binary_vs_system, r.geomean_static_interpreter_vs_system) {
        t.push_str(&format!(
            "| **geometric mean** (system python3 time / other time) | | {s:.2}x | {b:.2}x | | 1.00x | |\n"
        ));
    }
    t
}

/// Medians of wall-clock start-up times (ms) of two commands, run alternately.
fn startup_pair(
    a: &Path,
    a_args: &[&std::ffi::OsStr],
    b: &Path,
    b_args: &[&std::ffi::OsStr],
    runs: u32,
) -> Result<(f64, f64)> {
    let time = |prog: &Path, args: &[&std::ffi::OsStr]| -> Result<f64> {
        let t = Instant::now();
        let out = Command::new(prog).args(args).output()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            bail!("{} failed: {}", prog.display(), String::from_utf8_lossy(&out.stderr));
        }
        Ok(ms)
    };
    time(a, a_args)?;
    time(b, b_args)?;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ta.push(time(a, a_args)?);
        tb.push(time(b, b_args)?);
    }
    Ok((median(&mut ta), median(&mut tb)))
}

/// Runs a benchmark process and reads the `time <seconds>` line it prints.
fn bench_time(cmd: &mut Command) -> Result<f64> {
    let out = cmd.output().with_context(|| format!("cannot run {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("time ").and_then(|v| v.trim().parse().ok()))
        .with_context(|| format!("{cmd:?} printed no time: {stdout}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ensure_dir(p: &Path) -> Result<&Path> {
    fs::create_dir_all(p)?;
    Ok(p)
}

fn host_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores")
}

/// A glibc CPython of the toolchain's version, built from the same pinned source with the usual
/// defaults (`./configure && make`), cached under `$PYELF_HOME/bench/`. Returns its `python`.
pub fn reference_python(home: &Home, pins: &Pins) -> Result<PathBuf> {
    let pin = pins.source("cpython")?;
    let name = format!("cpython-{}-glibc-{}", pin.version, &pin.artifacts[0].sha256[..12]);
    let dir = home.root().join("bench");
    let root = dir.join(&name);
    let python = root.join("python");
    if root.join(".complete").is_file() {
        return Ok(python);
    }
    fs::create_dir_all(&dir)?;
    let _lock = toolchain::lock_exclusive(&dir.join(format!(".{name}.lock")), "building the reference CPython")?;
    if root.join(".complete").is_file() {
        return Ok(python);
    }
    pyelf::say!("building the reference glibc CPython {} (./configure && make; once)", pin.version);
    let started = Instant::now();
    let src = Fetcher::from_env(home).fetch(pin)?;
    let tmp = tempfile::Builder::new().prefix(&format!(".{name}.tmp-")).tempdir_in(&dir)?;
    let tree = pyelf::unpack::unpack_source(&src, tmp.path())?;
    let step = Step::start("reference-cpython", home.root().join("logs").join(format!("{name}.log")))?;
    let sh = xshell::Shell::new()?;
    sh.change_dir(&tree);
    let jobs = toolchain::Options::default().jobs.to_string();
    step.run(xshell::cmd!(sh, "./configure --without-ensurepip"))?;
    step.run(xshell::cmd!(sh, "make -j{jobs}"))?;
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    fs::rename(&tree, &root)?;
    // It must work where it now lives before it is marked complete.
    let out = Command::new(&python).args(["-c", "import json, re, decimal; print('ok')"]).output()?;
    if !out.status.success() {
        step.note(&String::from_utf8_lossy(&out.stderr))?;
        fs::remove_dir_all(&root)?;
        return Err(step.failure("the reference python does not start"));
    }
    fs::write(root.join(".complete"), "")?;
    pyelf::say!("  built in {:.0}s", started.elapsed().as_secs_f64());
    Ok(python)
}
