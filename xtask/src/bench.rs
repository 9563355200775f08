//! `cargo xtask bench`: sizes, start-up, build time and run-time speed, measured in one run on
//! one machine, printed as a table and written as JSON. Figures, not assertions.
//!
//! Run-time speed compares, on small pure-Python benchmarks in the style of pyperformance:
//! - the pyelf binary (the benchmark compiled by Cython, on the static musl libpython), in each
//!   toolchain profile (`toolchains/profiles.toml`: quick -O2, release PGO+LTO),
//! - the toolchain's static `python3` interpreting the same file (musl, static), in each profile,
//! - glibc CPythons of the same version built from the same source, once into the bench cache:
//!   with the defaults (`./configure && make`) and with PGO+LTO (as distributions build theirs),
//! - the system's `python3` (Debian's: 3.11, built with PGO and LTO), what users already run.
//!
//! Only the full mode measures every profile and reference (and builds them: about 45 minutes on
//! 2 cores the first time); `--quick`, which CI runs, the default profile and the default-flags
//! reference.

use anyhow::{bail, Context, Result};
use fs_err as fs;
use pyelf::build::{self, BuildOptions};
use pyelf::home::Home;
use pyelf::steplog::Step;
use pyelf::toolchain;
use pyelf::toolchain::fetch::Fetcher;
use pyelf::toolchain::pins::Pins;
use serde::{Deserialize, Serialize};
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
    ("logs", include_str!("../../bench/logs.py")),
    ("unpack_sequence", include_str!("../../bench/unpack_sequence.py")),
];

/// Code written for Cython's pure-Python mode, measured apart from the others: its speed-up is
/// Cython's, not the interpreter's (issue 30's goal: 3x python3 or better).
const TYPED: &str = include_str!("../../bench/typed.py");

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
    /// Builds of test.py: the first may be cold, the others are the warm figure.
    pub builds: u32,
    /// Processes of each benchmark under each runner (the median is taken).
    pub rounds: u32,
    /// Every toolchain profile and every reference CPython (else the default profile, the
    /// default-flags reference and the system python3).
    pub every_profile: bool,
}

impl Mode {
    pub const QUICK: Mode = Mode { scale: 1, repeat: 3, startup_runs: 40, builds: 2, rounds: 3, every_profile: false };
    pub const FULL: Mode = Mode { scale: 2, repeat: 5, startup_runs: 200, builds: 5, rounds: 5, every_profile: true };
}

/// The glibc CPythons the benchmarks are compared with, built from the same pinned source as the
/// toolchain's and cached under `$PYELF_HOME/bench/`: `(id, label, configure arguments)`.
pub const REFERENCES: &[(&str, &str, &[&str])] = &[
    ("glibc", "glibc CPython, ./configure defaults", &[]),
    ("glibc-pgo-lto", "glibc CPython, PGO+LTO", &["--enable-optimizations", "--with-lto"]),
];

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub mode: String,
    pub host: String,
    /// Sizes of binaries built in the default profile.
    pub sizes: Vec<Size>,
    /// test.py's bytes by component (interpreter, musl, each library, frozen bytecode, data, app).
    pub composition: Vec<Size>,
    /// Size, build time and start-up in each toolchain profile measured.
    pub profiles: Vec<ProfileFigures>,
    /// The columns of the run-time table: what ran each benchmark.
    pub runners: Vec<String>,
    pub benchmarks: Vec<Benchmark>,
    /// Geometric means of `against`'s time / `of`'s time over the benchmarks (above 1: `of` is
    /// faster).
    pub geomeans: Vec<Geomean>,
    /// Targets of other architectures this machine has the cross tools for.
    pub cross: Vec<CrossFigures>,
    /// A numpy + pandas app from musllinux wheels, against a CPython 3.13 venv (when there is one
    /// to compare with).
    #[serde(default)]
    pub wheels: Option<WheelsFigures>,
    /// The typed workload (`bench/typed.py`): `(what ran it, seconds, median)`, the interpreters
    /// with Cython's shadow module on their path.
    #[serde(default)]
    pub typed: Vec<(String, f64)>,
    /// Real programs against a venv of CPython 3.13 (`bench/programs.toml`).
    #[serde(default)]
    pub programs: Vec<crate::programs::ProgramFigures>,
}

/// A numpy + pandas app, bundled from musllinux wheels and loaded by the binary's loader.
#[derive(Debug, Serialize, Deserialize)]
pub struct WheelsFigures {
    pub requirements: String,
    /// A build with every cache warm (no compiler runs for wheels).
    pub warm_build_seconds: f64,
    pub bytes: u64,
    /// `import numpy, pandas`, median: the binary, and the venv's python3.
    pub startup_ms: f64,
    pub venv_startup_ms: f64,
    /// Peak resident memory of that run, in KiB.
    pub peak_rss_kib: u64,
    pub venv_peak_rss_kib: u64,
    /// With two copies running, what the first shares with others (`Shared_*` of smaps_rollup),
    /// in KiB: the binary, and two venv python3s.
    pub shared_kib: u64,
    pub venv_shared_kib: u64,
}

/// What one toolchain profile gives.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProfileFigures {
    pub profile: String,
    pub test_py_bytes: u64,
    /// An empty script's binary (0 in reports from before it was measured).
    #[serde(default)]
    pub empty_bytes: u64,
    /// Warm builds of test.py (everything cached), median.
    pub build_seconds_median: f64,
    pub startup: Startup,
    /// The seconds the profile's toolchain took to build, as it recorded.
    pub toolchain_seconds: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Geomean {
    pub of: String,
    pub against: String,
    pub ratio: f64,
}

/// Building for a target of another architecture.
#[derive(Debug, Serialize, Deserialize)]
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

#[derive(Debug, Serialize, Deserialize)]
pub struct Size {
    pub what: String,
    pub bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
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

#[derive(Debug, Serialize, Deserialize)]
pub struct Benchmark {
    pub name: String,
    /// Seconds (median), one per [`Report::runners`] entry.
    pub seconds: Vec<f64>,
}

/// What runs a benchmark.
enum Runner {
    /// An interpreter given the benchmark's file: `(label, python)`.
    Interpreter(String, PathBuf),
    /// The benchmark built by pyelf in a profile (index into the profiles measured), compiled by
    /// Cython (pyelf's default for the app's own code) or, if `true`, as bytecode (`--no-cython`,
    /// the workload in a module the entry script imports).
    Binary(String, usize, bool),
}

impl Runner {
    fn label(&self) -> &str {
        match self {
            Runner::Interpreter(l, _) | Runner::Binary(l, _, _) => l,
        }
    }
}

/// Runs the benchmark and writes the JSON report to `json_out`. The quick mode measures the
/// default profile against the default-flags glibc CPython and the system python3; the full mode
/// every profile and every reference (building what is missing: the release toolchain and the
/// PGO+LTO reference take about 25 and 20 minutes on 2 cores).
pub fn run(home: &Home, mode: Mode, mode_name: &str, json_out: &Path) -> Result<Report> {
    let pins = Pins::builtin();
    let triple = pyelf::toolchain::pins::native_triple();
    let all = pyelf::toolchain::profile::Profiles::builtin();
    let profiles: Vec<&pyelf::toolchain::profile::Profile> = if mode.every_profile {
        // The default first: sizes and the composition are its.
        let mut v = vec![all.get(None)?];
        v.extend(all.all.values().filter(|p| !p.is_default()));
        v
    } else {
        vec![all.get(None)?]
    };
    let mut toolchains = Vec::new();
    for p in &profiles {
        let opts = toolchain::Options { profile: (*p).clone(), ..Default::default() };
        toolchains.push(toolchain::ensure(home, &pins, triple, &opts)?);
    }
    let references = if mode.every_profile { REFERENCES } else { &REFERENCES[..1] };
    let mut reference_pythons = Vec::new();
    for (id, label, configure) in references {
        reference_pythons.push((label.to_string(), reference_python(home, &pins, id, configure)?));
    }
    let work_root = home.root().join("work");
    ensure_dir(&work_root)?;
    // Locked while the run lives; those of killed runs are removed here (as app builds' are).
    pyelf::stale::sweep(&work_root, "bench-")?;
    let work = pyelf::stale::OwnedDir::new_in(&work_root, "bench-")?;
    let dir = work.path();
    let build_app =
        |name: &str, source: &str, profile: usize, extra: &dyn Fn(&mut BuildOptions)| -> Result<(build::Built, f64)> {
            let script = dir.join(format!("{name}.py"));
            fs::create_dir_all(script.parent().expect("a script has a directory"))?;
            fs::write(&script, source)?;
            let mut opts = BuildOptions::new(script);
            opts.target = Some(triple.to_string());
            opts.profile = Some(profiles[profile].name.clone());
            opts.output = Some(dir.join(format!("{name}-{}", profiles[profile].name)));
            extra(&mut opts);
            let t = Instant::now();
            let built = build::build(home, &opts)?;
            Ok((built, t.elapsed().as_secs_f64()))
        };
    let build = |name: &str, source: &str, extra: &dyn Fn(&mut BuildOptions)| -> Result<(PathBuf, f64)> {
        build_app(name, source, 0, extra).map(|(built, secs)| (built.path, secs))
    };
    let system_python = ["/usr/bin/python3", "/usr/local/bin/python3"].into_iter().find(|p| Path::new(p).exists());

    let mut sizes = Vec::new();
    let mut composition = Vec::new();
    let mut figures = Vec::new();
    for (i, p) in profiles.iter().enumerate() {
        pyelf::say!("{} profile: size, build time and start-up ({} runs each)", p.name, mode.startup_runs);
        let mut build_times = Vec::new();
        let mut test_bin = PathBuf::new();
        for _ in 0..mode.builds {
            let (built, secs) = build_app("test", TEST_PY, i, &|_| {})?;
            build_times.push(secs);
            test_bin = built.path;
        }
        let test_bytes = fs::metadata(&test_bin)?.len();
        if i == 0 {
            sizes.push(Size { what: "test.py".into(), bytes: test_bytes });
            // What test.py's bytes are, from the map of one more link (not timed: users' builds
            // write none).
            let test_map = dir.join("test.map");
            let (map, out) = (test_map.clone(), dir.join("test-mapped"));
            let (mapped, _) = build_app("test", TEST_PY, i, &move |o| {
                o.link_map = Some(map.clone());
                o.output = Some(out.clone());
            })?;
            anyhow::ensure!(
                mapped.sha256 == pyelf::toolchain::fetch::sha256_file(&test_bin)?,
                "test.py built with --link-map is not the same binary as test.py built without"
            );
            composition = pyelf::build::sizes::breakdown(&test_map, test_bytes)?
                .into_iter()
                .map(|(what, bytes)| Size { what, bytes })
                .collect();
        }
        let test_py = dir.join("test.py");
        let (pyelf_ms, sys_ms) = match system_python {
            Some(py) => startup_pair(&test_bin, &[], Path::new(py), &[test_py.as_os_str()], mode.startup_runs)?,
            None => (startup_pair(&test_bin, &[], &test_bin, &[], mode.startup_runs)?.0, f64::NAN),
        };
        // In a directory of its own: beside the bench's test.py, `test` would be that file
        // (the stdlib's `test.support` is reachable from multiprocessing), as under python.
        let (empty_bin, _) = build_app("empty/empty", "", i, &|_| {})?;
        let empty_bin = empty_bin.path;
        let bare = ["-I", "-S", "-c", "pass"].map(std::ffi::OsStr::new);
        let (empty_ms, bare_ms) = match system_python {
            Some(py) => startup_pair(&empty_bin, &[], Path::new(py), &bare, mode.startup_runs)?,
            None => (startup_pair(&empty_bin, &[], &empty_bin, &[], mode.startup_runs)?.0, f64::NAN),
        };
        figures.push(ProfileFigures {
            profile: p.name.clone(),
            test_py_bytes: test_bytes,
            empty_bytes: fs::metadata(&empty_bin)?.len(),
            build_seconds_median: warm_median(&mut build_times),
            startup: Startup {
                pyelf_ms_median: pyelf_ms,
                system_python: system_python.unwrap_or("none").to_string(),
                system_python_ms_median: sys_ms,
                ratio: pyelf_ms / sys_ms,
                empty_pyelf_ms_median: empty_ms,
                system_python_bare_ms_median: bare_ms,
                empty_ratio: empty_ms / bare_ms,
            },
            toolchain_seconds: toolchain::recorded_seconds(&toolchains[i].root)?,
        });
    }

    pyelf::say!("sizes of other builds");
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

    // The columns: references, the system python3, then each profile's interpreter and binary.
    let mut runners: Vec<Runner> =
        reference_pythons.iter().map(|(label, py)| Runner::Interpreter(label.clone(), py.clone())).collect();
    if let Some(py) = system_python {
        runners.push(Runner::Interpreter(format!("system {py}"), py.into()));
    }
    for (i, (p, tc)) in profiles.iter().zip(&toolchains).enumerate() {
        runners.push(Runner::Interpreter(format!("static python3 ({})", p.name), tc.python()));
        runners.push(Runner::Binary(format!("pyelf binary ({})", p.name), i, false));
        runners.push(Runner::Binary(format!("pyelf binary, bytecode ({})", p.name), i, true));
    }
    pyelf::say!("run-time benchmarks (scale {}, median of {} rounds of {})", mode.scale, mode.rounds, mode.repeat);
    let mut benchmarks = Vec::new();
    for (name, source) in BENCHMARKS {
        let source = format!("{source}{HARNESS}");
        // By profile: (compiled by Cython, bytecode).
        let mut bins = Vec::new();
        for i in 0..profiles.len() {
            let cython = build_app(name, &source, i, &|_| {})?.0.path;
            // As bytecode: the workload in a module of its own that the entry script imports
            // (`--no-cython` on it), as the figures before `--no-cython __main__` were measured.
            let module = format!("bench_{name}");
            fs::write(dir.join(format!("{module}.py")), &source)?;
            let main = format!("import {module}\n{module}._pyelf_bench_main()\n");
            let bytecode =
                build_app(&format!("{name}-bytecode"), &main, i, &|o| o.no_cython = vec![module.clone()])?.0.path;
            bins.push((cython, bytecode));
        }
        let script = dir.join(format!("{name}.py"));
        let seconds = in_turns(mode, &runners, name, |runner| match runner {
            Runner::Interpreter(_, py) => {
                let mut c = Command::new(py);
                c.arg("-I").arg(&script);
                c
            }
            Runner::Binary(_, i, false) => Command::new(&bins[*i].0),
            Runner::Binary(_, i, true) => Command::new(&bins[*i].1),
        })?;
        benchmarks.push(Benchmark { name: name.to_string(), seconds });
    }
    let typed = typed_figures(home, mode, dir, &runners, &build_app)?;
    let cross = cross_figures(home, &pins, mode, dir)?;
    let wheels = match wheels_figures(home, mode, dir) {
        Ok(w) => w,
        Err(e) => {
            pyelf::say!("  no figures for the wheels' app: {e:#}");
            None
        }
    };
    let programs = match program_figures(home, mode, dir) {
        Ok(p) => p,
        Err(e) => {
            pyelf::say!("  no figures for the real programs: {e:#}");
            Vec::new()
        }
    };
    let geomean = |of: usize, against: usize| {
        (benchmarks.iter().map(|b| (b.seconds[against] / b.seconds[of]).ln()).sum::<f64>() / benchmarks.len() as f64)
            .exp()
    };
    let mut geomeans = Vec::new();
    let baselines = reference_pythons.len() + usize::from(system_python.is_some());
    for of in baselines..runners.len() {
        for against in 0..baselines {
            geomeans.push(Geomean {
                of: runners[of].label().to_string(),
                against: runners[against].label().to_string(),
                ratio: geomean(of, against),
            });
        }
    }
    let report = Report {
        mode: mode_name.to_string(),
        host: host_description(),
        sizes,
        composition,
        profiles: figures,
        runners: runners.iter().map(|r| r.label().to_string()).collect(),
        benchmarks,
        geomeans,
        cross,
        wheels,
        typed,
        programs,
    };
    if let Some(parent) = json_out.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(json_out, serde_json::to_string_pretty(&report)?)?;
    Ok(report)
}

/// Builds an app (name, source, profile index, options to change) and times the build.
type BuildApp<'a> = dyn Fn(&str, &str, usize, &dyn Fn(&mut BuildOptions)) -> Result<(build::Built, f64)> + 'a;

/// The typed workload under each runner: the binaries compiled (with Cython's semantics: it
/// imports `cython`) and as bytecode (`--no-cython '*'`, on Cython's shadow module), the
/// interpreters with the shadow module on their path, as a user with Cython installed runs it.
fn typed_figures(
    home: &Home,
    mode: Mode,
    dir: &Path,
    runners: &[Runner],
    build_app: &BuildApp,
) -> Result<Vec<(String, f64)>> {
    let source = format!("{TYPED}{HARNESS}");
    let cython = build::cython::ensure(home, &build::cython::CythonPin::builtin())?;
    let shadow = build::cython::shadow(&cython, &dir.join("cython-shadow"))?;
    // By profile: (compiled by Cython, bytecode).
    let mut bins = std::collections::BTreeMap::new();
    for runner in runners {
        if let Runner::Binary(_, i, bytecode) = runner {
            let name = if *bytecode { "typed-bytecode" } else { "typed" };
            let no_cython = if *bytecode { vec!["*".to_string()] } else { Vec::new() };
            bins.insert((*i, *bytecode), build_app(name, &source, *i, &|o| o.no_cython = no_cython.clone())?.0.path);
        }
    }
    let script = dir.join("typed.py");
    fs::write(&script, &source)?;
    let seconds = in_turns(mode, runners, "typed (Cython)", |runner| match runner {
        Runner::Interpreter(_, py) => {
            let mut c = Command::new(py);
            c.arg("-s").arg(&script).env("PYTHONPATH", &shadow);
            c
        }
        Runner::Binary(_, i, bytecode) => Command::new(&bins[&(*i, *bytecode)]),
    })?;
    Ok(runners.iter().zip(seconds).map(|(r, s)| (r.label().to_string(), s)).collect())
}

/// Each runner's median time of one workload (`command` gives the runner's command line, to which
/// the scale and repeat count are added), printed on a line named `name`. They take turns,
/// several rounds, so that a busy moment of the machine does not fall on one of them only.
fn in_turns(mode: Mode, runners: &[Runner], name: &str, command: impl Fn(&Runner) -> Command) -> Result<Vec<f64>> {
    let args = [mode.scale.to_string(), mode.repeat.to_string()];
    let mut times = vec![Vec::new(); runners.len()];
    for _ in 0..mode.rounds {
        for (r, runner) in runners.iter().enumerate() {
            times[r].push(bench_time(command(runner).args(&args))?);
        }
    }
    let seconds: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    let shown: Vec<String> = runners.iter().zip(&seconds).map(|(r, s)| format!("{} {s:.3}s", r.label())).collect();
    pyelf::say!("  {name:<16} {}", shown.join("  "));
    Ok(seconds)
}

/// For each target of another architecture whose cross tools are here: its toolchain (built if
/// needed, timed), and test.py built for it with everything cached.
fn cross_figures(home: &Home, pins: &Pins, mode: Mode, dir: &Path) -> Result<Vec<CrossFigures>> {
    let mut out = Vec::new();
    for target in pins.targets.iter().filter(|t| !t.is_native()) {
        if let Err(e) = pyelf::toolchain::compiler::HostCompiler::for_target(target) {
            pyelf::say!("  no figures for {}: {}", target.triple, e.to_string().lines().next().unwrap_or(""));
            continue;
        }
        pyelf::say!("cross: {}", target.triple);
        let built = toolchain::is_built(home, target, &toolchain::Options::default().profile)?;
        let tc = toolchain::ensure(home, pins, &target.triple, &Default::default())?;
        let script = dir.join("test.py");
        let mut opts = BuildOptions::new(script);
        opts.target = Some(target.triple.clone());
        opts.output = Some(dir.join(format!("test-{}", target.triple)));
        let mut times = Vec::new();
        let mut path = PathBuf::new();
        for _ in 0..mode.builds.max(2) {
            let t = Instant::now();
            path = build::build(home, &opts)?.path;
            times.push(t.elapsed().as_secs_f64());
        }
        let warm = warm_median(&mut times);
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

/// The goals (issue 29: fast and small by default), `(what, goal)`, shown beside what was
/// measured.
const GOALS: &[(&str, &str)] = &[
    ("run time: binary and static python3 vs system python3 and vs glibc PGO+LTO (geomean)", ">= 1.00x"),
    ("run time: the binary's slowest workload vs those baselines", ">= 1.00x"),
    ("start-up: test.py binary / `python3 test.py` (wall time, paired runs)", "<= 0.80x"),
    ("start-up: empty script's binary / `python3 -I -S -c pass` (wall time, paired runs)", "<= 1.00x"),
    ("size: an empty script (no UPX)", "<= 8,000,000 bytes"),
    ("size: test.py (no UPX)", "<= 8,000,000 bytes"),
    ("warm build of test.py", "<= 3 s"),
];

/// The workload on which `runner` is slowest against the runners named in `baselines`: `(workload,
/// their time / its time, baseline)`.
fn slowest_workload<'a>(r: &'a Report, runner: &str, baselines: &[&str]) -> Option<(&'a str, f64, &'a str)> {
    let of = r.runners.iter().position(|n| n == runner)?;
    let at: Vec<usize> =
        r.runners.iter().enumerate().filter(|(_, n)| baselines.contains(&n.as_str())).map(|(i, _)| i).collect();
    r.benchmarks
        .iter()
        .flat_map(|b| at.iter().map(move |&i| (b.name.as_str(), b.seconds[i] / b.seconds[of], r.runners[i].as_str())))
        .filter(|(_, ratio, _)| ratio.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A size as the tables show it: `17.7 MiB (18581720 bytes)`.
fn size_cell(bytes: u64) -> String {
    format!("{} ({bytes} bytes)", pyelf::progress::human_bytes(bytes))
}

/// The report as Markdown tables.
pub fn table(r: &Report) -> String {
    let mut t = format!("pyelf bench ({} mode) on {}\n\n| figure | value |\n|---|---|\n", r.mode, r.host);
    for s in &r.sizes {
        t.push_str(&format!("| size: {} | {} |\n", s.what, size_cell(s.bytes)));
    }
    for s in &r.composition {
        t.push_str(&format!(
            "| test.py's bytes: {} | {} ({:.1} %) |\n",
            s.what,
            pyelf::progress::human_bytes(s.bytes),
            100.0 * s.bytes as f64 / r.sizes[0].bytes.max(1) as f64
        ));
    }
    for p in &r.profiles {
        let n = &p.profile;
        t.push_str(&format!("| {n}: toolchain build (as recorded) | {:.0} s |\n", p.toolchain_seconds));
        t.push_str(&format!("| {n}: size: test.py | {} |\n", size_cell(p.test_py_bytes)));
        t.push_str(&format!(
            "| {n}: start-up: test.py binary vs `{} test.py` (median) | {:.1} ms vs {:.1} ms = {:.2}x |\n",
            p.startup.system_python, p.startup.pyelf_ms_median, p.startup.system_python_ms_median, p.startup.ratio
        ));
        t.push_str(&format!(
            "| {n}: start-up: empty script's binary vs `{} -I -S -c pass` (median) | {:.1} ms vs {:.1} ms = {:.2}x |\n",
            p.startup.system_python,
            p.startup.empty_pyelf_ms_median,
            p.startup.system_python_bare_ms_median,
            p.startup.empty_ratio
        ));
        t.push_str(&format!("| {n}: warm build of test.py (median) | {:.1} s |\n", p.build_seconds_median));
    }
    for c in &r.cross {
        let how = if c.toolchain_built_now { "built by this run" } else { "as recorded when it was built" };
        t.push_str(&format!(
            "| {}: toolchain, build machine's cached ({how}) | {:.0} s |\n",
            c.triple, c.toolchain_seconds
        ));
        t.push_str(&format!("| {}: warm build of test.py | {:.1} s |\n", c.triple, c.warm_build_seconds));
        t.push_str(&format!("| {}: size: test.py | {} |\n", c.triple, size_cell(c.test_py_bytes)));
    }
    if let Some(w) = &r.wheels {
        let n = &w.requirements;
        t.push_str(&format!("| wheels ({n}): warm build | {:.1} s |\n", w.warm_build_seconds));
        t.push_str(&format!("| wheels ({n}): size | {} |\n", size_cell(w.bytes)));
        t.push_str(&crate::programs::against_venv_row(
            "wheels: `import numpy, pandas`, binary / venv python3",
            w.startup_ms,
            w.venv_startup_ms,
        ));
        t.push_str(&format!(
            "| wheels: peak RSS, binary / venv | {} KiB / {} KiB |\n",
            w.peak_rss_kib, w.venv_peak_rss_kib
        ));
        t.push_str(&format!(
            "| wheels: shared with a second copy, binary / venv | {} KiB / {} KiB |\n",
            w.shared_kib, w.venv_shared_kib
        ));
    }
    t.push_str(&crate::programs::rows(&r.programs));
    t.push_str("\n| benchmark (seconds, median) |");
    for r in &r.runners {
        t.push_str(&format!(" {r} |"));
    }
    t.push_str(&format!("\n|---|{}\n", "---|".repeat(r.runners.len())));
    for b in &r.benchmarks {
        t.push_str(&format!("| {} |", b.name));
        for s in &b.seconds {
            t.push_str(&format!(" {s:.3} |"));
        }
        t.push('\n');
    }
    if !r.typed.is_empty() {
        t.push_str(
            "\n| typed workload (bench/typed.py: Cython's pure-Python mode), seconds, median | value |\n|---|---|\n",
        );
        for (runner, seconds) in &r.typed {
            t.push_str(&format!("| {runner} | {seconds:.3} |\n"));
        }
    }
    t.push_str("\n| geometric mean of the speed-up (their time / its time; above 1: faster) | against | speed-up |\n|---|---|---|\n");
    for g in &r.geomeans {
        t.push_str(&format!("| {} | {} | {:.2}x |\n", g.of, g.against, g.ratio));
    }
    t.push_str("\n| goal | target | measured |\n|---|---|---|\n");
    let worst = |of: &str| {
        r.geomeans
            .iter()
            // The goals are against what users run: every baseline but the default-flags build.
            .filter(|g| g.of == of && g.against != REFERENCES[0].1)
            .map(|g| g.ratio)
            .fold(f64::NAN, f64::min)
    };
    for p in &r.profiles {
        let n = &p.profile;
        let binary = format!("pyelf binary ({n})");
        // The baselines this run measured (the quick mode has no PGO+LTO reference).
        let against: Vec<&str> = r
            .geomeans
            .iter()
            .filter(|g| g.of == binary && g.against != REFERENCES[0].1)
            .map(|g| g.against.as_str())
            .collect();
        let measured = [
            format!(
                "binary {:.2}x, static python3 {:.2}x (the lower of the ratios against {})",
                worst(&binary),
                worst(&format!("static python3 ({n})")),
                if against.is_empty() { "no baseline users run".to_string() } else { against.join(" and ") }
            ),
            match slowest_workload(r, &binary, &against) {
                Some((name, ratio, against)) => format!("{ratio:.2}x ({name}, against {against})"),
                None => "no baseline users run".into(),
            },
            format!("{:.2}x", p.startup.ratio),
            format!("{:.2}x", p.startup.empty_ratio),
            format!("{} bytes", p.empty_bytes),
            format!("{} bytes", p.test_py_bytes),
            format!("{:.1} s", p.build_seconds_median),
        ];
        for ((what, goal), m) in GOALS.iter().zip(measured) {
            t.push_str(&format!("| {n}: {what} | {goal} | {m} |\n"));
        }
        if let Some(m) = typed_speedup(r, n) {
            t.push_str(&format!("| {n}: {TYPED_GOAL} | >= 3.00x | {m} |\n"));
        }
    }
    // The real programs, built with the default profile.
    t.push_str(&crate::programs::goal_rows(&r.programs));
    t
}

/// Issue 30's goal for the typed workload.
const TYPED_GOAL: &str = "typed workload (Cython's pure-Python mode): binary vs python3";

/// The typed workload's speed-up in profile `n`: the lower of the binary's against the system
/// python3 and the profile's static python3, with what it is against and the binary as bytecode.
fn typed_speedup(r: &Report, n: &str) -> Option<String> {
    let seconds = |label: &str| r.typed.iter().find(|(l, _)| l == label).map(|(_, s)| *s);
    let binary = seconds(&format!("pyelf binary ({n})"))?;
    let static_python = format!("static python3 ({n})");
    let (against, ratio) = r
        .typed
        .iter()
        .filter(|(l, _)| l.starts_with("system ") || *l == static_python)
        .map(|(l, s)| (l.as_str(), s / binary))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let bytecode = seconds(&format!("pyelf binary, bytecode ({n})")).map(|b| b / binary).unwrap_or(f64::NAN);
    Some(format!("{ratio:.2}x (against {against}); as bytecode it is {bytecode:.2}x slower"))
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

/// The median of repeated builds' times but the first, which may be cold (the caches after a
/// toolchain or runtime change); of the only one if there is one.
fn warm_median(times: &mut [f64]) -> f64 {
    let first_warm = usize::from(times.len() > 1);
    median(&mut times[first_warm..])
}

pub fn median(v: &mut [f64]) -> f64 {
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

/// A glibc CPython of the toolchain's version, built from the same pinned source with `configure`'s
/// arguments (PGO with CPython's own training run, `-m test --pgo`), cached under
/// `$PYELF_HOME/bench/`. Returns its `python`.
pub fn reference_python(home: &Home, pins: &Pins, id: &str, configure: &[&str]) -> Result<PathBuf> {
    let pin = pins.source("cpython")?;
    let name = format!("cpython-{}-{id}-{}", pin.version, &pin.artifacts[0].sha256[..12]);
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
    pyelf::say!(
        "building the reference CPython {} (glibc, ./configure {}; once, logs in {})",
        pin.version,
        configure.join(" "),
        home.root().join("logs").join(format!("{name}.log")).display()
    );
    let started = Instant::now();
    let src = Fetcher::from_env(home).fetch(pin)?;
    let tmp = tempfile::Builder::new().prefix(&format!(".{name}.tmp-")).tempdir_in(&dir)?;
    let tree = pyelf::toolchain::unpack::unpack_source(&src, tmp.path())?;
    let step = Step::start("reference-cpython", home.root().join("logs").join(format!("{name}.log")))?;
    let sh = xshell::Shell::new()?;
    sh.change_dir(&tree);
    let jobs = toolchain::Options::default().jobs.to_string();
    step.run(xshell::cmd!(sh, "./configure --without-ensurepip {configure...}"))?;
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

/// The numpy + pandas app of [`WheelsFigures`].
const WHEELS_REQUIREMENTS: &str = "numpy==2.5.5\npandas==3.1.1\n";
const WHEELS_APP: &str = "import sys\nimport numpy, pandas\nif sys.argv[1:] == ['wait']:\n    print('ready', flush=True)\n    sys.stdin.read()\nif sys.argv[1:] == ['rss']:\n    print([l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].strip())\n";

/// The CPython 3.13 to compare wheels with: `PYELF_REFERENCE_PYTHON`, else pyenv's newest 3.13.
fn cpython313() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PYELF_REFERENCE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let versions = PathBuf::from(std::env::var("HOME").ok()?).join(".pyenv/versions");
    let mut found: Vec<PathBuf> = fs::read_dir(versions)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("3.13"))
        .map(|e| e.path().join("bin/python3"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// The peak resident memory of the app run as `argv` with `rss`, in KiB: the `VmHWM` it reads
/// of itself when it is done (a process's own high-water mark: what `wait4` reports also counts the
/// memory of the process that started it, until its exec).
fn peak_rss(argv: &[&std::ffi::OsStr]) -> Result<u64> {
    let out = Command::new(argv[0]).args(&argv[1..]).arg("rss").output()?;
    anyhow::ensure!(out.status.success(), "{argv:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
        .with_context(|| format!("{argv:?} printed no VmHWM"))
}

/// Starts two copies of `argv` (which print `ready` once imported, then wait for stdin) and
/// returns what the first shares with others, in KiB.
fn shared_with_a_second_copy(argv: &[&std::ffi::OsStr]) -> Result<u64> {
    use std::io::BufRead;
    let start = || -> Result<std::process::Child> {
        let mut c = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(c.stdout.as_mut().context("no stdout")?).read_line(&mut line)?;
        anyhow::ensure!(line.trim() == "ready", "{argv:?} said {line:?}");
        Ok(c)
    };
    let (mut a, mut b) = (start()?, start()?);
    let rollup = fs::read_to_string(format!("/proc/{}/smaps_rollup", a.id()))?;
    let shared = rollup
        .lines()
        .filter(|l| l.starts_with("Shared_"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    for c in [&mut a, &mut b] {
        drop(c.stdin.take());
        c.wait()?;
    }
    Ok(shared)
}

/// The real programs of `bench/programs.toml` (the quick ones, or all in the full mode) against
/// their venvs.
pub fn program_figures(home: &Home, mode: Mode, dir: &Path) -> Result<Vec<crate::programs::ProgramFigures>> {
    let Some(python) = cpython313() else {
        pyelf::say!("  no figures for the real programs: no CPython 3.13 to compare with (PYELF_REFERENCE_PYTHON)");
        return Ok(Vec::new());
    };
    pyelf::say!("real programs against a venv of {}", python.display());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("the repository")?;
    crate::programs::measure(home, repo, &python, mode.every_profile, mode.startup_runs.min(20), dir)
}

/// Builds the numpy + pandas app (twice: the second build is warm) and measures it against a venv
/// of CPython 3.13 with pip's wheels of the same versions.
fn wheels_figures(home: &Home, mode: Mode, dir: &Path) -> Result<Option<WheelsFigures>> {
    let Some(python) = cpython313() else {
        pyelf::say!("  no figures for the wheels' app: no CPython 3.13 to compare with (PYELF_REFERENCE_PYTHON)");
        return Ok(None);
    };
    pyelf::say!("wheels: numpy + pandas");
    let req = dir.join("wheels-requirements.txt");
    fs::write(&req, WHEELS_REQUIREMENTS)?;
    let script = dir.join("wheels_app.py");
    fs::write(&script, WHEELS_APP)?;
    let venv = home.root().join("bench/venv-wheels");
    let venv_python = venv.join("bin/python3");
    if !venv_python.exists() {
        let ok = Command::new(&python).args(["-m", "venv"]).arg(&venv).status()?.success()
            && Command::new(&venv_python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&req)
                .status()?
                .success();
        if !ok {
            let _ = fs::remove_dir_all(&venv);
            bail!("could not make the venv {}", venv.display());
        }
    }
    let mut opts = BuildOptions::new(script.clone());
    opts.requirements = Some(req);
    opts.output = Some(dir.join("wheels-app"));
    build::build(home, &opts)?;
    let t = Instant::now();
    let built = build::build(home, &opts)?;
    let warm = t.elapsed().as_secs_f64();
    let (startup_ms, venv_startup_ms) =
        startup_pair(&built.path, &[], &venv_python, &[script.as_os_str()], mode.startup_runs.min(20))?;
    let peak_rss_kib = peak_rss(&[built.path.as_os_str()])?;
    let venv_peak_rss_kib = peak_rss(&[venv_python.as_os_str(), script.as_os_str()])?;
    let wait = std::ffi::OsStr::new("wait");
    let shared_kib = shared_with_a_second_copy(&[built.path.as_os_str(), wait])?;
    let venv_shared_kib = shared_with_a_second_copy(&[venv_python.as_os_str(), script.as_os_str(), wait])?;
    Ok(Some(WheelsFigures {
        requirements: WHEELS_REQUIREMENTS.trim().replace('\n', ", "),
        warm_build_seconds: warm,
        bytes: built.size,
        startup_ms,
        venv_startup_ms,
        peak_rss_kib,
        venv_peak_rss_kib,
        shared_kib,
        venv_shared_kib,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of one profile whose run measured `baselines` (besides the default-flags build).
    fn report(baselines: &[&str]) -> Report {
        let mut geomeans = Vec::new();
        for of in ["pyelf binary (quick)", "static python3 (quick)"] {
            for (i, against) in [REFERENCES[0].1].iter().chain(baselines).enumerate() {
                geomeans.push(Geomean { of: of.into(), against: against.to_string(), ratio: 0.9 + i as f64 * 0.1 });
            }
        }
        let startup = Startup {
            pyelf_ms_median: 12.0,
            system_python: "/usr/bin/python3".into(),
            system_python_ms_median: 12.0,
            ratio: 1.0,
            empty_pyelf_ms_median: 9.0,
            system_python_bare_ms_median: 9.0,
            empty_ratio: 1.0,
        };
        Report {
            mode: "quick".into(),
            host: "test".into(),
            sizes: vec![Size { what: "test.py".into(), bytes: 100 }],
            composition: Vec::new(),
            profiles: vec![ProfileFigures {
                profile: "quick".into(),
                test_py_bytes: 100,
                empty_bytes: 90,
                build_seconds_median: 2.5,
                startup,
                toolchain_seconds: 1.0,
            }],
            runners: Vec::new(),
            benchmarks: Vec::new(),
            geomeans,
            cross: Vec::new(),
            wheels: None,
            typed: Vec::new(),
            programs: Vec::new(),
        }
    }

    #[test]
    fn the_slowest_workload_is_found_against_the_baselines_users_run() {
        let mut r = report(&["system /usr/bin/python3"]);
        r.runners = ["glibc CPython, ./configure defaults", "system /usr/bin/python3", "pyelf binary (quick)"]
            .map(String::from)
            .to_vec();
        r.benchmarks = vec![
            // The default-flags build is slower still on nbody: it is no baseline of the goal.
            Benchmark { name: "nbody".into(), seconds: vec![0.1, 0.2, 0.22] },
            Benchmark { name: "logs".into(), seconds: vec![0.1, 0.1, 0.125] },
        ];
        let (name, ratio, against) =
            slowest_workload(&r, "pyelf binary (quick)", &["system /usr/bin/python3"]).unwrap();
        assert_eq!((name, against), ("logs", "system /usr/bin/python3"));
        assert!((ratio - 0.8).abs() < 1e-9);
        assert!(table(&r).contains("| quick: run time: the binary's slowest workload vs those baselines | >= 1.00x | 0.80x (logs, against system /usr/bin/python3) |"), "{}", table(&r));
        assert!(table(&r).contains("| quick: size: an empty script (no UPX) | <= 8,000,000 bytes | 90 bytes |"));
    }

    #[test]
    fn the_typed_goal_takes_the_lower_speed_up_against_python3() {
        let mut r = report(&["system /usr/bin/python3"]);
        assert!(!table(&r).contains(TYPED_GOAL), "no typed figures, no row");
        r.typed = [
            ("glibc CPython, ./configure defaults", 0.02),
            ("system /usr/bin/python3", 0.08),
            ("static python3 (quick)", 0.10),
            ("pyelf binary (quick)", 0.005),
            ("pyelf binary, bytecode (quick)", 0.11),
        ]
        .iter()
        .map(|(l, s)| (l.to_string(), *s))
        .collect();
        let t = table(&r);
        assert!(
            t.contains(&format!(
                "| quick: {TYPED_GOAL} | >= 3.00x | 16.00x (against system /usr/bin/python3); as bytecode it is 22.00x slower |"
            )),
            "{t}"
        );
        assert!(t.contains("| pyelf binary (quick) | 0.005 |"), "{t}");
    }

    #[test]
    fn the_run_time_goal_names_the_baselines_measured_and_takes_the_lower_ratio() {
        let quick = table(&report(&["system /usr/bin/python3"]));
        assert!(
            quick.contains(
                "binary 1.00x, static python3 1.00x (the lower of the ratios against system /usr/bin/python3) |"
            ),
            "{quick}"
        );
        let full = table(&report(&["glibc CPython, PGO+LTO", "system /usr/bin/python3"]));
        assert!(
            full.contains("binary 1.00x, static python3 1.00x (the lower of the ratios against glibc CPython, PGO+LTO and system /usr/bin/python3) |"),
            "{full}"
        );
        let json = serde_json::to_string(&report(&[])).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert!(table(&back).contains("(the lower of the ratios against no baseline users run)"));
    }
}
