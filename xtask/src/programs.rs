//! Real programs against a venv (issue 29): each program of `bench/programs.toml` is built from
//! its project with no other flag, its pinned requirements are installed by pip into a venv of
//! CPython 3.13, and the same command line is run by both: start-up (wall time, median of paired
//! runs) and peak RSS (GNU time's `%M`: `wait4`'s `ru_maxrss` of a child `time` forks, so no
//! memory of this process is counted).

use anyhow::{bail, ensure, Context, Result};
use fs_err as fs;
use pyelf::build::{self, BuildOptions};
use pyelf::home::Home;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use crate::bench::median;

const PROGRAMS: &str = include_str!("../../bench/programs.toml");

/// GNU time, which reports the peak RSS of the command it runs.
const GNU_TIME: &str = "/usr/bin/time";

/// The environment of every run (as the corpus tests'): a HOME that need not exist, and a PATH.
const ENV: &[(&str, &str)] = &[("HOME", "/nonexistent-home"), ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")];

#[derive(Debug, Deserialize)]
struct List {
    program: Vec<Program>,
}

/// One program of `bench/programs.toml`.
#[derive(Debug, Deserialize)]
pub struct Program {
    /// Its console script's name: the binary's argv[0], and the venv's `bin/NAME`.
    pub name: String,
    /// The project directory, relative to the repository.
    pub project: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Measured by `bench --quick` too.
    #[serde(default)]
    pub quick: bool,
}

/// The programs to measure: the `quick` ones, or all.
pub fn programs(all: bool) -> Result<Vec<Program>> {
    let list: List = toml::from_str(PROGRAMS).context("bench/programs.toml")?;
    Ok(list.program.into_iter().filter(|p| all || p.quick).collect())
}

/// What one program measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProgramFigures {
    pub name: String,
    /// The command line's arguments.
    pub args: Vec<String>,
    pub bytes: u64,
    /// Medians of the paired runs, in milliseconds: the binary, the venv.
    pub startup_ms: f64,
    pub venv_startup_ms: f64,
    /// Peak resident memory (median of three runs), in KiB.
    pub peak_rss_kib: u64,
    pub venv_peak_rss_kib: u64,
}

/// Measures every program (`all`, or the quick ones) against its venv, made with `python` (a
/// CPython 3.13) under `$PYELF_HOME/bench/` and kept while its requirements are unchanged. A
/// program that cannot be measured (its binary does not print what the venv prints, say: its
/// figures would not be of the same work) is reported and left out of the figures.
pub fn measure(
    home: &Home,
    repo: &Path,
    python: &Path,
    all: bool,
    runs: u32,
    dir: &Path,
) -> Result<Vec<ProgramFigures>> {
    ensure!(Path::new(GNU_TIME).is_file(), "{GNU_TIME} (GNU time, Debian's `time` package) is needed for peak RSS");
    let mut out = Vec::new();
    for p in programs(all)? {
        pyelf::say!("  {} {}", p.name, p.args.join(" "));
        match measure_one(home, repo, python, &p, runs, dir) {
            Ok(f) => out.push(f),
            Err(e) => pyelf::say!("  no figures for {}: {e:#}", p.name),
        }
    }
    Ok(out)
}

fn measure_one(home: &Home, repo: &Path, python: &Path, p: &Program, runs: u32, dir: &Path) -> Result<ProgramFigures> {
    let project = repo.join(&p.project);
    let venv = venv(home, python, &p.name, &project.join("requirements.txt"))?;
    let script = venv.join("bin").join(&p.name);
    ensure!(script.is_file(), "the venv {} has no console script {}", venv.display(), p.name);
    let mut opts = BuildOptions::new(project.clone());
    let bin = dir.join("programs").join(&p.name);
    fs::create_dir_all(bin.parent().unwrap())?;
    opts.output = Some(bin.clone());
    let built = build::build(home, &opts).with_context(|| format!("building {}", project.display()))?;
    let work = dir.join("programs").join(format!("{}-work", p.name));
    fs::create_dir_all(&work)?;
    for (file, text) in &p.files {
        fs::write(work.join(file), text)?;
    }
    let (a, b) = (run(&bin, &p.args, &work)?, run(&script, &p.args, &work)?);
    if a.status.code() != b.status.code() || a.stdout != b.stdout {
        bail!(
            "{}'s binary does not do what its venv does (exit {:?} against {:?}):\n{}\n---- the venv:\n{}",
            p.name,
            a.status.code(),
            b.status.code(),
            String::from_utf8_lossy(&a.stdout) + String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stdout) + String::from_utf8_lossy(&b.stderr)
        );
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ta.push(wall_ms(&bin, &p.args, &work)?);
        tb.push(wall_ms(&script, &p.args, &work)?);
    }
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ra.push(peak_rss_kib(&bin, &p.args, &work)?);
        rb.push(peak_rss_kib(&script, &p.args, &work)?);
    }
    ra.sort();
    rb.sort();
    Ok(ProgramFigures {
        name: p.name.clone(),
        args: p.args.clone(),
        bytes: built.size,
        startup_ms: median(&mut ta),
        venv_startup_ms: median(&mut tb),
        peak_rss_kib: ra[1],
        venv_peak_rss_kib: rb[1],
    })
}

/// The venv of one program: made by `python -m venv`, its requirements installed by pip as a user
/// would (bytecode compiled); complete only once marked so, and made again when its requirements
/// change.
fn venv(home: &Home, python: &Path, name: &str, requirements: &Path) -> Result<PathBuf> {
    let venv = home.root().join("bench").join(format!("venv-program-{name}"));
    let wanted = fs::read_to_string(requirements)?;
    let mark = venv.join("pyelf-requirements.txt");
    if fs::read_to_string(&mark).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv)?;
    }
    let log = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();
    let made = Command::new(python).args(["-m", "venv"]).arg(&venv).output()?;
    ensure!(made.status.success(), "could not make the venv {}: {}", venv.display(), log(&made));
    let pip = Command::new(venv.join("bin/python3"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes", "-r"])
        .arg(requirements)
        .output()?;
    if !pip.status.success() {
        let _ = fs::remove_dir_all(&venv);
        bail!("pip could not install {} into a venv: {}", requirements.display(), log(&pip));
    }
    fs::write(&mark, wanted)?;
    Ok(venv)
}

fn command(exe: &Path, args: &[String], cwd: &Path) -> Command {
    let mut c = Command::new(exe);
    c.args(args).current_dir(cwd).env_clear().envs(ENV.iter().copied());
    c
}

fn run(exe: &Path, args: &[String], cwd: &Path) -> Result<Output> {
    command(exe, args, cwd).output().with_context(|| format!("cannot run {}", exe.display()))
}

fn wall_ms(exe: &Path, args: &[String], cwd: &Path) -> Result<f64> {
    let t = Instant::now();
    run(exe, args, cwd)?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

/// The peak RSS of one run, in KiB, as GNU time reports it (into a file of its own: the program's
/// stderr stays the program's).
fn peak_rss_kib(exe: &Path, args: &[String], cwd: &Path) -> Result<u64> {
    let report = cwd.join("pyelf-peak-rss.txt");
    let mut c = Command::new(GNU_TIME);
    c.args(["-f", "%M", "-o"]).arg(&report).arg(exe).args(args).current_dir(cwd).env_clear().envs(ENV.iter().copied());
    c.output().with_context(|| format!("cannot run {GNU_TIME}"))?;
    let text = fs::read_to_string(&report)?;
    fs::remove_file(&report)?;
    parse_time_report(&text).with_context(|| format!("{GNU_TIME} on {} reported {text:?}", exe.display()))
}

/// The `%M` figure of a GNU time report: its last line (a program that exits with a status other
/// than 0 gets a `Command exited with non-zero status N` line first).
fn parse_time_report(text: &str) -> Option<u64> {
    text.lines().rev().find(|l| !l.trim().is_empty())?.trim().parse().ok()
}

/// The figures table's rows of each program.
pub fn rows(figures: &[ProgramFigures]) -> String {
    let mut t = String::new();
    for p in figures {
        let what = format!("`{} {}`", p.name, p.args.join(" "));
        t.push_str(&against_venv_row(
            &format!("program {what}: start-up, binary / venv (median)"),
            p.startup_ms,
            p.venv_startup_ms,
        ));
        t.push_str(&format!(
            "| program {what}: peak RSS, binary / venv | {} KiB / {} KiB ({:.2}x) |\n",
            p.peak_rss_kib,
            p.venv_peak_rss_kib,
            p.peak_rss_kib as f64 / p.venv_peak_rss_kib as f64
        ));
        t.push_str(&format!("| program {}: size | {} bytes |\n", p.name, p.bytes));
    }
    t
}

/// A figures table's row of a time in the binary against the same in a venv: `a ms / b ms (a/b)`.
pub fn against_venv_row(what: &str, binary_ms: f64, venv_ms: f64) -> String {
    format!("| {what} | {binary_ms:.0} ms / {venv_ms:.0} ms ({:.2}x) |\n", binary_ms / venv_ms)
}

/// The goals' rows: the program furthest from each.
pub fn goal_rows(figures: &[ProgramFigures]) -> String {
    let startup = worst(figures, |p| p.startup_ms / p.venv_startup_ms);
    let rss = worst(figures, |p| p.peak_rss_kib as f64 / p.venv_peak_rss_kib as f64);
    let mut t = String::new();
    for (what, worst) in [("start-up (wall time)", startup), ("peak RSS", rss)] {
        if let Some((name, ratio)) = worst {
            t.push_str(&format!(
                "| real programs ({}): {what}, binary / venv of CPython 3.13, the highest | <= 1.00x | {ratio:.2}x ({name}) |\n",
                figures.len()
            ));
        }
    }
    t
}

/// The program furthest from its goal by `ratio` (the binary's figure over the venv's): `(name,
/// ratio)`.
pub fn worst(figures: &[ProgramFigures], ratio: impl Fn(&ProgramFigures) -> f64) -> Option<(&str, f64)> {
    figures.iter().map(|f| (f.name.as_str(), ratio(f))).max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_is_a_project_of_the_repository_with_pinned_requirements() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let all = programs(true).unwrap();
        assert!(all.len() > programs(false).unwrap().len(), "the quick list is a part of the whole");
        assert!(programs(false).unwrap().iter().any(|p| p.name == "flake8"), "flake8 is measured by CI");
        for p in all {
            let project = repo.join(&p.project);
            let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
            assert!(pyproject.contains(&format!("\n{} = ", p.name)), "{}: no console script {}", p.project, p.name);
            let req = std::fs::read_to_string(project.join("requirements.txt")).unwrap();
            assert!(req.contains("--hash=sha256:"), "{}: requirements without hashes", p.project);
        }
    }

    #[test]
    fn gnu_times_report_is_read_from_its_last_line() {
        assert_eq!(parse_time_report("21344\n"), Some(21344));
        assert_eq!(parse_time_report("Command exited with non-zero status 1\n26412\n"), Some(26412));
        assert_eq!(parse_time_report(""), None);
    }

    #[test]
    fn the_worst_program_is_the_one_with_the_highest_ratio() {
        let f = |name: &str, a: f64, b: f64| ProgramFigures {
            name: name.into(),
            args: Vec::new(),
            bytes: 1,
            startup_ms: a,
            venv_startup_ms: b,
            peak_rss_kib: 1,
            venv_peak_rss_kib: 1,
        };
        let figures = [f("a", 10.0, 20.0), f("b", 30.0, 20.0), f("c", 20.0, 20.0)];
        assert_eq!(worst(&figures, |f| f.startup_ms / f.venv_startup_ms), Some(("b", 1.5)));
        assert_eq!(worst(&[], |f| f.startup_ms), None);
        let goals = goal_rows(&figures);
        assert!(goals.contains("| real programs (3): start-up (wall time), binary / venv of CPython 3.13, the highest | <= 1.00x | 1.50x (b) |"), "{goals}");
        assert!(goal_rows(&[]).is_empty(), "no programs measured, no goal rows");
    }
}
