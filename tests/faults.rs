//! Robustness of pyelf itself under faults: processes killed with SIGKILL at real points of a
//! download, of every toolchain step and of an app build; two builds at once; a full disk and an
//! unwritable PYELF_HOME. And reproducibility: a toolchain built (through all those kills) in a
//! second PYELF_HOME gives byte-identical binaries.
//!
//! They run the pyelf binary with sources from `PYELF_MIRROR` (`.ci/run` sets it), so they are
//! ignored by a plain `cargo test`; `./test.sh` runs them. The toolchain one builds a whole second
//! toolchain (about ten minutes).

mod common;

use common::roots::{repo, tmp};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PYELF: &str = env!("CARGO_BIN_EXE_pyelf");

fn mirror() -> String {
    std::env::var("PYELF_MIRROR").expect("PYELF_MIRROR must name the source mirror (./test.sh and .ci/run set it)")
}

/// `pyelf ARGS` with PYELF_HOME at `home`, stdout and stderr into `log`.
fn spawn(home: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
    spawn_with(home, args, env, log, |_| {})
}

/// [`spawn`], with `setup` applied to the command first.
fn spawn_with(home: &Path, args: &[&str], env: &[(&str, &str)], log: &Path, setup: fn(&mut Command)) -> Child {
    let out = fs::File::create(log).unwrap();
    let mut command = Command::new(PYELF);
    setup(&mut command);
    command
        .args(args)
        .env("PYELF_HOME", home)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// Starts pyelf in another state than this process': SIGHUP and SIGINT ignored (as under nohup
/// or in a shell's background job) and a descriptor left open (as a CI runner or a jobserver
/// leaves them), all of which its children inherit.
fn unlike_this_process(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec, only async-signal-safe calls.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            if libc::dup2(2, 200) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(PYELF).args(args).env("PYELF_HOME", home).envs(env.iter().copied()).output().unwrap()
}

fn kill9(child: &mut Child) {
    let st = Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    child.wait().unwrap();
}

/// Waits (up to `limit`) until `cond` holds, panicking with `what` otherwise.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn sha256_of(path: &Path) -> String {
    common::sha256(&fs::read(path).unwrap())
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = tmp().join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
#[ignore = "runs pyelf against the source mirror; run by ./test.sh"]
fn a_download_killed_halfway_leaves_nothing_that_is_used() {
    let home = fresh_dir("home-killed-download");
    let served = common::Server::start(Path::new(&mirror()));
    let slow = format!("{}/slow/", served.base);
    let log = home.join("first.log");
    let mut first = spawn(&home, &["fetch"], &[("PYELF_MIRROR", &slow), ("PYELF_OFFLINE", "1")], &log);
    let sources = home.join("sources");
    // Killed while the first archive is half written.
    wait_for("a partly written download", Duration::from_secs(30), || {
        names_in(&sources)
            .iter()
            .any(|n| n.starts_with(".partial-") && fs::metadata(sources.join(n)).map(|m| m.len() > 0).unwrap_or(false))
    });
    kill9(&mut first);
    let left = names_in(&sources);
    assert!(left.iter().any(|n| n.starts_with(".partial-")), "the kill left a partial file: {left:?}");
    assert!(left.iter().all(|n| n.starts_with(".partial-")), "nothing was cached: {left:?}");

    // The next run fetches everything, verified, and removes what the killed one left.
    let again = run(&home, &["fetch"], &[("PYELF_MIRROR", &mirror()), ("PYELF_OFFLINE", "1")]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let cached = names_in(&sources);
    assert!(cached.iter().all(|n| !n.starts_with('.')), "leftovers: {cached:?}");
    assert_eq!(cached.len(), steps().len(), "every pinned source of the target: {cached:?}");
    for n in &cached {
        assert_eq!(&sha256_of(&sources.join(n)), n, "cached file is what its name says");
    }
}

/// The sources of the target, in build order (the toolchain's steps).
fn steps() -> Vec<String> {
    let pins = pyelf::toolchain::pins::Pins::builtin();
    pins.target("x86_64-unknown-linux-musl").unwrap().sources.clone()
}

/// The log directory of the toolchain build under `home` (one directory per toolchain key).
fn toolchain_logs(home: &Path) -> Option<PathBuf> {
    fs::read_dir(home.join("logs")).ok()?.flatten().map(|e| e.path()).next()
}

#[test]
#[ignore = "builds a second toolchain (about ten minutes); run by ./test.sh"]
fn toolchain_killed_in_every_step_resumes_and_gives_identical_binaries() {
    // A second PYELF_HOME, at another path, and the toolchain of the first (the usual one).
    let home = fresh_dir("second-home/pyelf");
    let env = [("PYELF_MIRROR", mirror()), ("PYELF_OFFLINE", "1".to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first_home = pyelf::home::Home::from_env().unwrap();
    let usual = Command::new(PYELF).args(["toolchain"]).output().unwrap();
    assert!(usual.status.success(), "{}", String::from_utf8_lossy(&usual.stderr));

    // Kill pyelf (only pyelf: its make and compilers are orphaned and go on) half a second into
    // each step; every next run resumes where the last one was killed. Every run here starts in
    // another state than the usual toolchain's build did (the PGO training must not see it).
    let stamps = || -> Vec<String> {
        let dir = fs::read_dir(home.join("toolchains"))
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".partial"));
        dir.map(|d| names_in(&d.join(".pyelf-steps"))).unwrap_or_default()
    };
    let steps = steps();
    for (i, step) in steps.iter().enumerate() {
        let done_before = stamps();
        let log = home.join(format!("run-{i}.log"));
        let started = std::time::SystemTime::now();
        let mut child = spawn_with(&home, &["toolchain"], &env, &log, unlike_this_process);
        // The step's log is written afresh by this run when the step starts.
        wait_for(&format!("step {step} to start"), Duration::from_secs(900), || {
            let this_run = |l: PathBuf| {
                fs::metadata(l.join(format!("{step}.log"))).and_then(|m| m.modified()).is_ok_and(|t| t >= started)
            };
            toolchain_logs(&home).is_some_and(this_run) || child.try_wait().unwrap().is_some()
        });
        assert!(
            child.try_wait().unwrap().is_none(),
            "pyelf ended before step {step}: {}",
            fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(500));
        kill9(&mut child);
        let said = fs::read_to_string(&log).unwrap();
        assert!(!said.contains("panicked"), "{said}");
        let kept = said.matches("done by an interrupted build; kept").count();
        assert_eq!(
            kept,
            done_before.len(),
            "run {i} kept the {} steps done before it ({done_before:?}):\n{said}",
            done_before.len()
        );
        assert!(!stamps().contains(step), "run {i} was killed inside step {step}, which is not marked done");
    }

    // Two at once: one finishes the build, the other waits for it; both succeed.
    let (log_a, log_b) = (home.join("final-a.log"), home.join("final-b.log"));
    let mut a = spawn_with(&home, &["toolchain"], &env, &log_a, unlike_this_process);
    std::thread::sleep(Duration::from_millis(500));
    let mut b = spawn_with(&home, &["toolchain"], &env, &log_b, unlike_this_process);
    let (sa, sb) = (a.wait().unwrap(), b.wait().unwrap());
    let (ta, tb) = (fs::read_to_string(&log_a).unwrap(), fs::read_to_string(&log_b).unwrap());
    assert!(sa.success() && sb.success(), "first:\n{ta}\nsecond:\n{tb}");
    assert!(ta.contains("done by an interrupted build; kept"), "the final run resumed:\n{ta}");
    assert!(tb.contains("waiting for another pyelf"), "the second waited:\n{tb}");
    let toolchains = home.join("toolchains");
    let left: Vec<String> = names_in(&toolchains).into_iter().filter(|n| !n.ends_with(".lock")).collect();
    assert_eq!(left.len(), 1, "one finished toolchain and nothing half-built: {left:?}");
    let manifest = |toolchains: &Path| pyelf::toolchain::manifest::Manifest::read(&toolchains.join(&left[0])).unwrap();
    assert!(
        first_home.toolchains().join(&left[0]).join("toolchain.toml").is_file(),
        "the same key as the usual toolchain: {left:?}"
    );
    // The PGO training counted the same (when the profile has one): the machine code compiled
    // from its counts is then the same too, whatever a small difference would have flipped.
    let (usual, second) = (manifest(&first_home.toolchains()), manifest(&toolchains));
    let trained = pyelf::toolchain::profile::Profiles::builtin().get(Some(&usual.profile)).unwrap().pgo;
    assert_eq!(usual.pgo_profile.is_some(), trained, "the {} profile's toolchain names its counts", usual.profile);
    assert_eq!(usual.pgo_profile, second.pgo_profile, "the PGO training's counts in two homes and two states");

    // The same app, from two checkouts, with the two toolchains: the same bytes. stdlib.py links
    // every library of the toolchain.
    let mut digests = Vec::new();
    for (n, h) in [(1, first_home.root().to_path_buf()), (2, home.clone())] {
        let checkout = fresh_dir(&format!("checkout-{n}{}", "/deeper".repeat(n)));
        let script = checkout.join("stdlib.py");
        fs::copy(repo().join("tests/e2e/stdlib.py"), &script).unwrap();
        let out = checkout.join("app");
        let built =
            Command::new(PYELF).arg("build").arg(&script).arg("-o").arg(&out).env("PYELF_HOME", &h).output().unwrap();
        assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        let bytes = fs::read(&out).unwrap();
        for path in [h.to_string_lossy(), checkout.to_string_lossy()] {
            assert!(!bytes.windows(path.len()).any(|w| w == path.as_bytes()), "the binary names {path}");
        }
        digests.push(common::sha256(&bytes));
    }
    assert_eq!(digests[0], digests[1], "two homes, two checkouts: the same binary");
    eprintln!("sha256 of both builds: {}", digests[0]);
}

#[test]
#[ignore = "builds real binaries; run by ./test.sh"]
fn an_app_build_killed_at_each_stage_leaves_the_old_output_and_the_next_build_succeeds() {
    let home = pyelf::home::Home::from_env().unwrap();
    let dir = fresh_dir("killed-build");
    let out = dir.join("app");
    fs::write(&out, b"the previous binary").unwrap();
    let script = repo().join("tests/e2e/stdlib.py");
    let work = home.root().join("work");
    let args = ["build", script.to_str().unwrap(), "-o", out.to_str().unwrap()];
    // A `strip` first on PATH that says when the link is done and waits a little: a kill point
    // with the linked binary written and not yet installed.
    let shim = dir.join("shim");
    fs::create_dir_all(&shim).unwrap();
    let mark = dir.join("strip-started");
    fs::write(
        shim.join("strip"),
        format!(
            "#!/bin/sh
touch '{}'
sleep 5
exec /usr/bin/strip \"$@\"\n",
            mark.display()
        ),
    )
    .unwrap();
    pyelf::toolchain::compiler::set_executable(&shim.join("strip")).unwrap();
    let path = format!("{}:{}", shim.display(), std::env::var("PATH").unwrap());

    // (stage, how to tell the build has got there, from its work directory)
    type Reached<'a> = &'a dyn Fn(&Path) -> bool;
    let stages: [(&str, Reached); 3] = [
        ("freezing", &|w: &Path| w.join("app.c").exists()),
        ("compiling", &|w: &Path| w.join("frozen.c").exists()),
        ("stripping", &|_: &Path| mark.exists()),
    ];
    for (stage, reached) in stages {
        let before = names_in(&work);
        let log = dir.join(format!("{stage}.log"));
        let mut child = spawn(home.root(), &args, &[("PATH", &path)], &log);
        let mut mine = None;
        let start = Instant::now();
        while mine.is_none() && child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(120) {
            mine = names_in(&work).into_iter().find(|n| !before.contains(n) && reached(&work.join(n)));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before {stage}: {}",
            fs::read_to_string(&log).unwrap()
        );
        let Some(mine) = mine else {
            kill9(&mut child);
            panic!("the build did not reach {stage} in 120 s: {}", fs::read_to_string(&log).unwrap());
        };
        kill9(&mut child);
        assert_eq!(fs::read(&out).unwrap(), b"the previous binary", "killed while {stage}: the output is untouched");
        assert!(work.join(&mine).exists(), "the killed build left its work directory");
        let _ = fs::remove_file(&mark);
    }
    let left_before: Vec<String> = names_in(&work);
    let done = Command::new(PYELF).args(args).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let ran = Command::new(&out).output().unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let still: Vec<String> = names_in(&work).into_iter().filter(|n| left_before.contains(n)).collect();
    // Other tests build at the same time: only directories whose builds are alive may remain, and
    // one whose build is just ending may be on its way out (its lock file already unlinked).
    for n in still {
        let d = work.join(&n);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state = match fs::OpenOptions::new().write(true).open(d.join(".owner.lock")) {
                Ok(f) if f.try_lock().is_err() => "alive",
                Ok(_) => "abandoned",
                Err(_) if !d.exists() => "gone",
                Err(_) => "without a lock file",
            };
            if state == "alive" || state == "gone" {
                break;
            }
            assert!(Instant::now() < deadline, "{n}: left by a killed build and not removed ({state})");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(names_in(&dir).iter().all(|n| !n.starts_with(".pyelf-partial-")), "{:?}", names_in(&dir));
}

#[test]
#[ignore = "builds real binaries; run by ./test.sh"]
fn two_builds_at_once_both_succeed() {
    let dir = fresh_dir("concurrent-builds");
    let script = repo().join("test.py");
    let outs = [dir.join("same"), dir.join("same"), dir.join("other")];
    let children: Vec<(Child, PathBuf)> = outs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let log = dir.join(format!("build-{i}.log"));
            let child = Command::new(PYELF)
                .arg("build")
                .arg(&script)
                .arg("-o")
                .arg(out)
                .stdout(fs::File::create(&log).unwrap())
                .stderr(fs::File::create(dir.join(format!("build-{i}.err"))).unwrap())
                .spawn()
                .unwrap();
            (child, dir.join(format!("build-{i}.err")))
        })
        .collect();
    for (mut c, err) in children {
        let st = c.wait().unwrap();
        assert!(st.success(), "{}", fs::read_to_string(err).unwrap());
    }
    assert_eq!(sha256_of(&outs[0]), sha256_of(&outs[2]));
    assert!(Command::new(&outs[0]).output().unwrap().status.success());
    assert!(names_in(&dir).iter().all(|n| !n.starts_with(".pyelf-partial-")), "{:?}", names_in(&dir));
}

/// Mounts a tmpfs at `dir` with `options` for the life of the guard (the tests run as root).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, options: &str) -> Mount {
        fs::create_dir_all(dir).unwrap();
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(dir).status().unwrap();
        assert!(st.success(), "mount -t tmpfs -o {options} {} (needs root)", dir.display());
        Mount(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn assert_clear_failure(out: &Output, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "fails with status 1:\n{err}");
    assert!(!err.contains("panicked"), "no panic:\n{err}");
    assert!(err.contains(says), "says {says:?}:\n{err}");
}

#[test]
fn a_pyelf_home_that_make_cannot_use_is_refused_before_building() {
    let home = tmp().join("a home with spaces");
    let out = run(&home, &["toolchain"], &[("PYELF_OFFLINE", "1")]);
    assert_clear_failure(&out, "paths with spaces");
    assert_clear_failure(&out, "hint: set PYELF_HOME");
    assert!(!home.join("toolchains").exists(), "nothing was started");
}

#[test]
#[ignore = "mounts file systems (root); run by ./test.sh"]
fn a_full_disk_gives_a_clear_error() {
    let dir = tmp().join("full-disk");
    let _m = Mount::tmpfs(&dir, "size=512k");
    let home = dir.join("home");
    let out = run(&home, &["fetch"], &[("PYELF_MIRROR", &mirror()), ("PYELF_OFFLINE", "1")]);
    assert_clear_failure(&out, "No space left on device");
    assert_clear_failure(&out, "source cache");
    // Nothing half-written is kept in the cache.
    let left = names_in(&home.join("sources"));
    assert!(left.iter().all(|n| !n.starts_with(".partial-")), "{left:?}");
    for n in &left {
        assert_eq!(&sha256_of(&home.join("sources").join(n)), n);
    }
}

#[test]
#[ignore = "mounts file systems (root); run by ./test.sh"]
fn an_unwritable_pyelf_home_gives_a_clear_error() {
    let dir = tmp().join("read-only-home");
    let _m = Mount::tmpfs(&dir, "ro,size=64k");
    let (mirror, script) = (mirror(), repo().join("test.py"));
    let env = [("PYELF_MIRROR", mirror.as_str()), ("PYELF_OFFLINE", "1")];
    for args in [&["fetch"][..], &["toolchain"], &["build", script.to_str().unwrap(), "-o", "/dev/null"]] {
        let out = run(&dir, args, &env);
        assert_clear_failure(&out, "Read-only file system");
        assert_clear_failure(&out, "PYELF_HOME");
    }
}
