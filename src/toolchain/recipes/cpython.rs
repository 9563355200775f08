//! CPython: a static libpython and a static `python3` against musl, with every stdlib C module
//! that can be built statically built in. Records the exact link line and the module states for
//! the toolchain's manifest.

use super::Ctx;
use crate::toolchain::lto;
use crate::toolchain::manifest::{CpythonPart, Link, ModuleState};
use anyhow::{Context, Result};
use fs_err as fs;
use std::collections::BTreeMap;
use std::path::Path;
use xshell::cmd;

/// A make fragment that prints the variables the final link needs.
const PRINT_LINK_MK: &str = "\
pyelf-print-link:
\t@echo 'MODLIBS=$(MODLIBS)'
\t@echo 'LIBS=$(LIBS)'
\t@echo 'SYSLIBS=$(SYSLIBS)'
\t@echo 'LIBRARY=$(LIBRARY)'
\t@echo 'LIBRARY_OBJS=$(LIBRARY_OBJS)'
";

/// Edits to the stdlib for a static executable: `(file, original, replacement)`. Each original must
/// be found, so that a version bump that changes them fails loudly.
const STATIC_PATCHES: &[(&str, &str, &str)] = &[
    (
        "Lib/ctypes/__init__.py",
        "else:\n    pythonapi = PyDLL(None)\n",
        "else:\n    try:\n        pythonapi = PyDLL(None)\n    except OSError:  # a static executable cannot dlopen, not even itself\n        pythonapi = None\n",
    ),
    (
        "Lib/ctypes/__init__.py",
        "            if handle is not None:\n                return handle\n            return _dlopen(name, mode)\n",
        "            if handle is not None:\n                return handle\n            try:\n                return _dlopen(name, mode)\n            except OSError as e:\n                if str(e) != \"Dynamic loading not supported\":\n                    raise\n                raise OSError(f\"cannot load {name!r}: this is a static executable, which cannot \"\n                              \"load shared libraries (ctypes works only with what is linked in)\") from None\n",
    ),
];

/// Edits to CPython's bundled mimalloc (2.1.2), for the memory a program resides in.
///
/// mimalloc keeps blocks of 16 KiB to 128 KiB ("medium") in 512 KiB pages of one size class each,
/// and a block freed there is reused only for that class, until every block of the page is free.
/// CLIs resided in up to 8 % more memory than under python3, most of it in the 64 and 80 KiB
/// classes with no block in use (dict tables outgrown by a resize, buffers of decompressed
/// modules). With 128 KiB medium pages the medium classes end at 32 KiB; a larger block gets a
/// page of its own, which goes back to its segment when the block is freed, where the free spans
/// coalesce and serve pages of any size (as glibc's malloc reuses a freed chunk for any size).
/// Such a block costs about 1,500 more instructions to allocate and free; blocks up to 32 KiB, and
/// the `bench/` workloads, are as fast as before (docs/performance.md).
///
/// A block with a page of its own is the whole page (rounded up to 64 KiB, and past 128 KiB to
/// 128 KiB), and mimalloc zeroed the whole block for calloc: a zeroed 40 KB block touched 64 KiB.
/// So calloc zeroes such a block only as far as asked. Nothing calls the reallocs that assume the
/// rest is zero too (`mi_rezalloc`, `mi_recalloc`, their `mi_heap_*` and aligned forms, and
/// `mi_aligned_recalloc`): CPython uses malloc, calloc, realloc and free, and so does
/// `runtime/malloc.c`. And mimalloc 2.1.2 never knew memory to be zero (`is_zero_init` was only
/// ever set false), so calloc wrote zeros over memory fresh from the kernel, which glibc's calloc
/// leaves untouched past 128 KiB (a 100 MB `bytes(n)` or numpy's `zeros` resided whole). Each
/// segment now keeps a high-water mark, as glibc's heap does: the slices past it have been in no
/// page since the segment was mapped, zeroed (`memid.initially_zero`). A page made of such slices
/// is zero (`is_zero_init`), and mimalloc's own `free_is_zero` then skips the zeroing. This holds
/// for memory's first use only: arena blocks used once stay dirty, so a segment mapped again
/// there, or a purged span below the mark, is zeroed as before.
const HEAP_PATCHES: &[(&str, &str, &str)] = &[
    (
        "Include/internal/mimalloc/mimalloc/types.h",
        "#define MI_MEDIUM_PAGE_SHIFT              ( 3 + MI_SMALL_PAGE_SHIFT)     // 512KiB",
        "#define MI_MEDIUM_PAGE_SHIFT              ( 1 + MI_SMALL_PAGE_SHIFT)     // 128KiB (pyelf)",
    ),
    (
        "Include/internal/mimalloc/mimalloc/types.h",
        "  size_t            segment_info_slices; // initial slices we are using segment info and possible guard pages.\n",
        "  size_t            segment_info_slices; // initial slices we are using segment info and possible guard pages.\n  size_t            zero_from_slice;     // (pyelf) the slices from here on were never in a page and are zero\n",
    ),
    (
        "Objects/mimalloc/segment.c",
        "  segment->segment_info_slices = info_slices;\n",
        "  segment->segment_info_slices = info_slices;\n  segment->zero_from_slice = (segment->memid.initially_zero ? 0 : SIZE_MAX);  // (pyelf)\n",
    ),
    (
        "Objects/mimalloc/segment.c",
        "  // and initialize the page\n  page->is_committed = true;\n",
        "  // and initialize the page\n  page->is_committed = true;\n  page->is_zero_init = (slice_index >= segment->zero_from_slice);  // (pyelf)\n  if (slice_index + slice_count > segment->zero_from_slice) segment->zero_from_slice = slice_index + slice_count;\n",
    ),
    (
        "Objects/mimalloc/alloc.c",
        "      _mi_memzero_aligned(block, page->xblock_size - MI_PADDING_SIZE);\n",
        "      // (pyelf) a block with a page of its own is zeroed as far as asked, not to the page's end\n      _mi_memzero_aligned(block, (page->xblock_size > MI_MEDIUM_OBJ_SIZE_MAX ? size : page->xblock_size) - MI_PADDING_SIZE);\n",
    ),
];

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.patch(STATIC_PATCHES, "for a static build")?;
    ctx.patch(HEAP_PATCHES, "for less resident memory")?;
    let sh = ctx.shell()?;
    let root = ctx.root;
    // Configured for the final location (the interpreter's fallback prefix is compiled in) and
    // installed into the temporary one.
    let final_root = ctx.final_root;
    let lib = root.join("lib");
    let include = root.join("include");
    let stack = ctx.target.thread_stack_size.to_string();
    let cc = ctx.cc();
    let jobs = ctx.jobs.to_string();
    // Across architectures: the build machine's python3 of the same version runs the build's
    // own steps, and the run tests configure cannot do are answered from the target's data.
    let mut cross = ctx.cross_args();
    let config_site = ctx.work.join("config.site");
    if let Some(python) = ctx.build_python {
        cross.push(format!("--with-build-python={}", python.display()));
        let answers: String = ctx.target.configure.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        fs::create_dir_all(&ctx.work)?;
        fs::write(&config_site, answers)?;
        ctx.step.note(&format!(
            "configure's answers for {} (CONFIG_SITE):\n{}",
            ctx.target.triple,
            fs::read_to_string(&config_site)?
        ))?;
    }
    // The profile's own arguments; PGO is driven below, step by step.
    let mut profile = ctx.profile.configure.clone();
    if ctx.profile.pgo {
        profile.push("--enable-optimizations".into());
    }
    let mut configure = cmd!(
        sh,
        "./configure --prefix={final_root} --disable-shared --disable-test-modules --with-system-expat
         --with-system-libmpdec --with-openssl={root} --with-openssl-rpath=no --without-readline
         --without-ensurepip --with-mimalloc {cross...} {profile...}"
    );
    if ctx.build_python.is_some() {
        configure = configure.env("CONFIG_SITE", &config_site);
    }
    ctx.step.run(
        configure
            .env("CC", &cc)
            .env("AR", ctx.target.tool("ar"))
            .env("CPPFLAGS", format!("-I{}", include.display()))
            .env("CFLAGS", ctx.target.cpython_cflags.join(" "))
            // Every configure test links statically: musl-gcc links dynamically unless told, and
            // the run tests then fail.
            .env("LDFLAGS", format!("-static -L{} -Wl,-z,stack-size={stack}", lib.display()))
            // Build every stdlib C module into libpython; nothing is loaded with dlopen.
            .env("MODULE_BUILDTYPE", "static")
            .env("LINKFORSHARED", " ")
            // Only our own .pc files: the host's glibc ones must not leak in.
            .env("PKG_CONFIG_LIBDIR", lib.join("pkgconfig"))
            .env("PKG_CONFIG_PATH", ""),
    )?;
    check_pyconfig(ctx)?;
    let pgo_profile = if ctx.profile.pgo {
        pgo_build(ctx, &sh)?
    } else if ctx.profile.libpython_lto {
        let (cflags, ldflags) =
            (format!("CFLAGS_NODIST={}", lto::COMPILE_FLAGS), format!("LDFLAGS_NODIST={}", lto::LINK_FLAG));
        ctx.step.run(cmd!(sh, "make -j{jobs} {cflags} {ldflags}"))?;
        None
    } else {
        ctx.step.run(cmd!(sh, "make -j{jobs}"))?;
        None
    };
    if ctx.profile.libpython_lto {
        optimise_libpython(ctx, &sh)?;
    }
    let prefix = format!("prefix={}", root.display());
    // Whatever `make install` would link again takes the objects' machine code.
    let link: Vec<String> =
        ctx.profile.libpython_lto.then(|| format!("LDFLAGS_NODIST={}", lto::LINK_FLAG)).into_iter().collect();
    ctx.step.run(cmd!(sh, "make install {prefix} COMPILEALL_OPTS=-j{jobs} {link...}"))?;

    // `--disable-test-modules` also leaves the test package uninstalled; the toolchain keeps it
    // so that CPython's own regression tests can run under the static interpreter.
    // (Copied afresh: a build killed while copying may have left part of it.)
    let test_dir = root.join("lib/python3.13/test");
    crate::fsutil::remove_dir_if_present(&test_dir)?;
    let (from, to) = (ctx.src.join("Lib/test"), root.join("lib/python3.13"));
    ctx.step.run(cmd!(sh, "cp -R {from} {to}"))?;

    // The generated inittab and the modules CPython itself always needs: an app's own inittab is
    // made from these, with only the C modules the app uses.
    for (from, to) in
        [("Modules/config.c", "lib/python-inittab.c"), ("Modules/Setup.bootstrap", "lib/python-setup-bootstrap")]
    {
        fs::copy(ctx.src.join(from), root.join(to))?;
    }

    let states = module_states(&ctx.src.join("Makefile"))?;
    let link = link_line(ctx, &sh)?;
    neutral_getpath(ctx, &sh)?;
    write_records(ctx, &states, &link, pgo_profile)?;
    ctx.expect_installed(&[
        "bin/python3",
        "lib/libpython3.13.a",
        "include/python3.13/Python.h",
        "lib/python3.13/os.py",
        "lib/python-inittab.c",
    ])
}

/// Where the PGO training run finds the instrumented interpreter, its stdlib and its script: one
/// path on every machine, whatever the home or build directory. The training handles its own
/// paths (`sys.path`, `__file__`, the working directory) as strings, and their lengths would
/// otherwise change the profile's counts, and so the machine code built from it.
const TRAINING_DIR: &str = "/tmp/pyelf-pgo-training";

/// The install prefix compiled into the instrumented interpreter: the real one (the toolchain's
/// directory) would be a string the training handles too. The rebuild with the profile compiles
/// the real one back in.
const TRAINING_PREFIX: &str = "/pyelf";

/// CPython's `make profile-opt`, with the training run ours: an instrumented python3 is built,
/// runs `toolchains/pgo/train.py` (through the target's runner when cross-compiling), and
/// everything is rebuilt with the profile it wrote. The run is checked (it must complete; make
/// cannot tell) and deterministic, so that the same pins and training set give the same profile
/// and the same bytes in any home: one thread, a fixed hash seed, clock and environment, no
/// address randomisation, and an instrumented interpreter that is the same program in every home
/// (the prefix [`TRAINING_PREFIX`], and its profile files named under [`TRAINING_DIR`] rather than
/// under the build directory: the lengths of those strings would move its static objects, whose
/// addresses are the hashes of types and the keys of pickle's memo), run from [`TRAINING_DIR`]
/// with no bytecode cached. Only the training's counts make the profile, not those of the
/// interpreter's runs while it was built.
fn pgo_build(ctx: &Ctx, sh: &xshell::Shell) -> Result<Option<String>> {
    let jobs = ctx.jobs.to_string();
    let dir = Path::new(TRAINING_DIR);
    let profile_dir = dir.join("profile");
    // The profile files are named relative to the build directory, as the compiler sees it.
    let src = fs::canonicalize(&ctx.src)?;
    let prefix_path = format!("-fprofile-prefix-path={}", src.display());
    let gen =
        format!("PGO_PROF_GEN_FLAG=-fprofile-generate={} {prefix_path} -fprofile-update=atomic", profile_dir.display());
    let prefix = [format!("prefix={TRAINING_PREFIX}"), format!("exec_prefix={TRAINING_PREFIX}")];
    // What the build's own runs of the instrumented interpreter count goes elsewhere (and away).
    let build_counts = ctx.work.join("pgo-build-counts");
    ctx.step.run(cmd!(sh, "make -j{jobs} profile-gen-stamp {prefix...} {gen}").env("GCOV_PREFIX", &build_counts))?;
    crate::fsutil::remove_dir_if_present(&build_counts)?;
    for file in crate::fsutil::walk(&ctx.src)? {
        if file.extension().is_some_and(|x| x == "pyc") {
            fs::remove_file(&file)?;
        }
    }

    // One training at a time on this machine uses the directory.
    let lock_path = dir.with_extension("lock");
    let lock = crate::toolchain::lock_exclusive(&lock_path, "PGO training run")
        .with_context(|| format!("the PGO training needs {TRAINING_DIR} and its lock {}", lock_path.display()))?;
    crate::fsutil::remove_dir_if_present(dir).context("cannot clear the PGO training run's directory")?;
    fs::create_dir_all(dir)?;
    // The build directory's layout, as the interpreter finds it from its own location: the
    // executable and pybuilddir.txt copied, the directories linked.
    for file in ["python", "pybuilddir.txt"] {
        fs::copy(ctx.src.join(file), dir.join(file))?;
    }
    for sub in ["Lib", "Modules", "build"] {
        std::os::unix::fs::symlink(ctx.src.join(sub), dir.join(sub))?;
    }
    let script = dir.join("train.py");
    fs::write(&script, crate::toolchain::profile::TRAINING_PY)?;
    let done = dir.join("trained");
    let mut run = std::process::Command::new("setarch");
    run.arg("-R").args(ctx.target.runner()).arg(dir.join("python")).arg(&script).arg(&done);
    run.arg(crate::toolchain::profile::TRAINING_ROUNDS.to_string());
    run.current_dir(dir).env_clear().env("PATH", "/usr/bin:/bin");
    run.env("PYTHONHASHSEED", "0").env("LC_ALL", "C.UTF-8");
    inherit_nothing(&mut run);
    let started = std::time::Instant::now();
    ctx.step.run_command(&format!("setarch -R python train.py in {TRAINING_DIR} (the PGO training run)"), &mut run)?;
    if !done.is_file() {
        anyhow::bail!(ctx.step.failure("the PGO training run did not complete (toolchains/pgo/train.py)"));
    }
    // The profile moves into the build directory; the training directory is free again.
    let profile = ctx.work.join("pgo-profile");
    crate::fsutil::remove_dir_if_present(&profile)?;
    fs::create_dir_all(&profile)?;
    let mut profiles = Vec::new();
    for entry in fs::read_dir(&profile_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "gcda") {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            fs::copy(&path, profile.join(&name))?;
            profiles.push((name, fs::read(&path)?));
        }
    }
    fs::remove_dir_all(dir)?;
    drop(lock);
    // The digest is a record, not a condition of the build: a compiler whose files are not read
    // gives a toolchain without it.
    let digest = crate::toolchain::gcda::counts_digest(&profiles)
        .inspect_err(|e| {
            let _ = ctx.step.note(&format!("the training's counts are not recorded in the manifest: {e:#}"));
        })
        .ok();
    ctx.step.note(&format!(
        "training run: {:.1}s, {} profile files (.gcda), counts {}",
        started.elapsed().as_secs_f64(),
        profiles.len(),
        digest.as_deref().unwrap_or("not read")
    ))?;
    anyhow::ensure!(
        profiles.len() > 100,
        ctx.step.failure(&format!("the training run left only {} .gcda files", profiles.len()))
    );

    // As `make profile-run-stamp` ends: the objects go, the profile stays; then `make` is
    // `profile-opt`, which rebuilds with the profile (and the real prefix). The compiler's
    // options, the profile's path among them, are not recorded in the debug information.
    ctx.step.run(cmd!(sh, "make clean-retain-profile"))?;
    // What else the instrumented build wrote with the training prefix in it, and the rebuild
    // would keep: the scripts' `#!` lines (python-config.py is made with python-config).
    for entry in fs::read_dir(ctx.src.join("build"))? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("scripts-")) {
            fs::remove_dir_all(&path)?;
        }
    }
    for made in ["python-config", "python-config.py"] {
        let path = ctx.src.join(made);
        if path.exists() {
            fs::remove_file(&path)?;
        }
    }
    fs::write(ctx.src.join("profile-run-stamp"), "")?;
    let mut use_flag = format!(
        "PGO_PROF_USE_FLAG=-fprofile-use={} {prefix_path} -fprofile-correction -gno-record-gcc-switches",
        profile.display()
    );
    // With `libpython-lto`, the objects carry GCC's IR too, and CPython's own links take their
    // machine code.
    let mut link = Vec::new();
    if ctx.profile.libpython_lto {
        use_flag.push_str(&format!(" {}", lto::COMPILE_FLAGS));
        link.push(format!("LDFLAGS_NODIST={}", lto::LINK_FLAG));
    }
    ctx.step.run(cmd!(sh, "make -j{jobs} {use_flag} {link...}"))?;
    Ok(digest)
}

/// Starts `command` in a state of its own rather than the one pyelf was started in: the
/// training's counts depend on it. A child started by `subprocess` walks `/proc/self/fd` in the
/// vfork'ed parent's memory, so every descriptor pyelf inherited (a CI runner's, a make
/// jobserver's) adds to the parent's counts, and the `signal` module does more for each signal
/// found ignored (a shell's background jobs ignore SIGINT and SIGQUIT, `nohup` SIGHUP). So every
/// descriptor but 0-2 is closed at exec, every signal is at its default and none is blocked, the
/// umask is 022, and the stack limit 8 MiB (an unlimited one gives the kernel's legacy address
/// layout, and addresses are hashes). Other resource limits are left as they are.
fn inherit_nothing(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    const STACK: libc::rlim_t = 8 << 20;
    // SAFETY: between fork and exec, only async-signal-safe calls (rt_sigaction, sigprocmask,
    // umask, getrlimit, setrlimit, close_range, fcntl) on memory of this closure's own.
    unsafe {
        command.pre_exec(|| {
            // The kernel's own call: glibc's sigaction refuses the signals it keeps for itself
            // (32 and 33), which musl's programs see as any other. Four zero words are at least the
            // kernel's structure (handler: SIG_DFL is 0, flags, restorer, mask) and an empty one.
            // SIGKILL and SIGSTOP refuse; they are at their default anyway.
            let default = [0u64; 4];
            let set_size: libc::size_t = 8;
            for signal in 1..=64 as libc::c_long {
                libc::syscall(libc::SYS_rt_sigaction, signal, default.as_ptr(), std::ptr::null_mut::<u64>(), set_size);
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::umask(0o022);
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_STACK, &mut limit) == 0 {
                limit.rlim_cur = STACK.min(limit.rlim_max);
                libc::setrlimit(libc::RLIMIT_STACK, &limit);
            }
            // Close-on-exec rather than closed: the pipe that reports a failed exec is among them.
            let (first, last, flags) = (3 as libc::c_uint, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC);
            if libc::syscall(libc::SYS_close_range, first, last, flags) != 0 {
                // Before Linux 5.11: each descriptor the hard limit allows (one may be above the
                // soft limit, if it was lowered after the descriptor was opened).
                let mut files: libc::rlimit = std::mem::zeroed();
                let end = match libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) {
                    0 => files.rlim_max.clamp(1024, 1 << 20) as libc::c_int,
                    _ => 1 << 16,
                };
                for fd in 3..end {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                    }
                }
            }
            Ok(())
        });
    }
}

/// Facts of `pyconfig.h` that configure gets wrong, without failing, when it cannot run its test
/// programs (cross-compiling): `(macro, defined?, what goes wrong otherwise)`. Checked for every
/// target, so that a cross build is the interpreter a native one is.
const PYCONFIG_FACTS: &[(&str, bool, &str)] = &[
    ("HAVE_COMPUTED_GOTOS", true, "the eval loop would dispatch with a switch (slower)"),
    ("HAVE_WORKING_TZSET", true, "time.tzset would be missing"),
    ("HAVE_ALIGNED_REQUIRED", false, "str hashes would use FNV instead of siphash13"),
    ("HAVE_BROKEN_SEM_GETVALUE", false, "multiprocessing's Queue.qsize() would raise NotImplementedError"),
    ("HAVE_BROKEN_POSIX_SEMAPHORES", false, "multiprocessing would have no semaphores"),
    ("HAVE_BROKEN_POLL", false, "select.poll would be missing"),
    ("PTHREAD_SYSTEM_SCHED_SUPPORTED", true, "threads would not get system scheduling scope"),
];

/// Fails if configure left any of [`PYCONFIG_FACTS`] wrong.
fn check_pyconfig(ctx: &Ctx) -> Result<()> {
    let text = fs::read_to_string(ctx.src.join("pyconfig.h"))?;
    let mut wrong = Vec::new();
    for (name, want, why) in PYCONFIG_FACTS {
        if pyconfig_defines(&text, name) != *want {
            wrong.push(format!("{name} is {} ({why})", if *want { "not defined" } else { "defined" }));
        }
    }
    if !wrong.is_empty() {
        ctx.step.note(&wrong.join("\n"))?;
        anyhow::bail!(ctx.step.failure(&format!(
            "configure got pyconfig.h wrong for {}: {}\nhint: answer it in the [configure] table of toolchains/targets/{}.toml",
            ctx.target.triple,
            wrong.join("; "),
            ctx.target.triple
        )));
    }
    Ok(())
}

/// Whether `pyconfig.h` text defines `name` (to anything but 0).
fn pyconfig_defines(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some("#define") && w.next() == Some(name) && w.next() != Some("0")
    })
}

/// The state configure gave each stdlib extension module.
pub fn module_states(makefile: &Path) -> Result<BTreeMap<String, ModuleState>> {
    let text = fs::read_to_string(makefile)?;
    parse_module_states(&text)
}

fn parse_module_states(makefile: &str) -> Result<BTreeMap<String, ModuleState>> {
    makefile
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("MODULE_")?;
            let (name, state) = rest.split_once("_STATE=")?;
            Some(ModuleState::parse(state.trim()).map(|s| (name.to_ascii_lowercase(), s)))
        })
        .collect()
}

/// The libraries the final link needs, taken from the build's Makefile (python3-config leaves out
/// module archives such as libmpdec.a and libHacl_Hash_SHA2.a). Archives of the build tree are
/// copied to `lib/`; the result names them relative to the toolchain root.
fn link_line(ctx: &Ctx, sh: &xshell::Shell) -> Result<Vec<String>> {
    let var = make_vars(ctx, sh)?;
    let lib = ctx.root.join("lib");
    let libpython = var("LIBRARY");
    let mut args = Vec::new();
    for archive in std::iter::once(libpython.as_str()).chain(var("MODLIBS").split_whitespace()) {
        if archive.ends_with(".a") {
            let name = Path::new(archive).file_name().context("archive without a name")?;
            let from = if Path::new(archive).is_absolute() { archive.into() } else { ctx.src.join(archive) };
            fs::copy(&from, lib.join(name))?;
            args.push(format!("lib/{}", name.to_string_lossy()));
        } else {
            args.push(archive.to_string());
        }
    }
    args.extend(var("LIBS").split_whitespace().map(String::from));
    args.extend(var("SYSLIBS").split_whitespace().map(String::from));
    // -L into this toolchain is implied by the wrapper (and names the temporary build path). A
    // library named twice is kept at its last place: static libraries must come after their users
    // (-lpanelw before -lncursesw, -lssl before -lcrypto).
    let own = format!("-L{}", ctx.root.display());
    let mut kept: Vec<String> = Vec::new();
    for a in args.into_iter().filter(|a| !a.starts_with(&own)) {
        if a.starts_with("-l") {
            kept.retain(|k| k != &a);
        }
        kept.push(a);
    }
    Ok(kept)
}

/// The build's Makefile variables the final link needs ([`PRINT_LINK_MK`]), noted in the log: a
/// lookup by name (empty when the Makefile has no such variable).
fn make_vars(ctx: &Ctx, sh: &xshell::Shell) -> Result<impl Fn(&str) -> String> {
    let mk = ctx.work.join("print-link.mk");
    fs::create_dir_all(&ctx.work)?;
    fs::write(&mk, PRINT_LINK_MK)?;
    let out = cmd!(sh, "make -s -f Makefile -f {mk} pyelf-print-link").quiet().read()?;
    ctx.step.note(&out)?;
    Ok(move |name: &str| -> String {
        out.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or("").to_string()
    })
}

/// `libpython-lto` ([`lto`]): optimises libpython's objects together into [`lto::MERGED`], makes
/// the build's archive of it and the members left out, and links the toolchain's `python3` with
/// that archive, so that it runs the machine code apps get.
fn optimise_libpython(ctx: &Ctx, sh: &xshell::Shell) -> Result<()> {
    let var = make_vars(ctx, sh)?;
    let objects: Vec<String> = var("LIBRARY_OBJS").split_whitespace().map(String::from).collect();
    let library = var("LIBRARY");
    anyhow::ensure!(objects.len() > 100 && !library.is_empty(), "the Makefile names no LIBRARY_OBJS or LIBRARY");
    let (nm, ar, cc) = (ctx.target.tool("nm"), ctx.target.tool("ar"), ctx.cc());
    let all = &objects;
    // (nm says on stderr which objects have no symbols.)
    let symbols = lto::parse_nm(&cmd!(sh, "{nm} -A -P -g {all...}").quiet().ignore_stderr().read()?)?;
    let libc = ctx.root.join("lib/libc.a");
    let libgcc = cmd!(sh, "{cc} -print-libgcc-file-name").quiet().read()?;
    let system: std::collections::BTreeSet<String> =
        lto::parse_nm(&cmd!(sh, "{nm} -A -P -g --defined-only {libc} {libgcc}").quiet().ignore_stderr().read()?)?
            .into_values()
            .flat_map(|s| s.defined)
            .collect();
    // The inittab: an app links its own. getpath.o: rebuilt without the toolchain's path below.
    let replaced = ["Modules/config.o", "Modules/getpath.o"];
    let (merged, kept) = lto::choose(&objects, &symbols, &system, &replaced, crate::runtime::WRAPPED);
    let wrapped = (crate::runtime::WRAPPED, &system);
    lto::check_choice(&objects, &symbols, (&merged, &kept), &replaced, wrapped, "Python/ceval.o")
        .map_err(|e| ctx.step.failure(&format!("{e:#}")))?;
    let left: String = kept.iter().map(|(o, why)| format!("  {o}: {why}\n")).collect();
    ctx.step.note(&format!(
        "libpython's link-time optimisation: {} objects into {}; {} left as they are:\n{left}",
        merged.len(),
        lto::MERGED,
        kept.len()
    ))?;
    let out = ctx.src.join(lto::MERGED);
    let jobs = format!("-flto={}", ctx.jobs);
    // CPython's own optimisation level; a section per function and variable, no unwind tables,
    // as the objects were compiled (the target's cpython_cflags).
    let (flags, inputs) = (&ctx.target.cpython_cflags, &merged);
    ctx.step.run(cmd!(sh, "{cc} -r -nostdlib {jobs} -flinker-output=nolto-rel -O3 {flags...} -o {out} {inputs...}"))?;
    let result =
        lto::parse_nm(&cmd!(sh, "{nm} -A -P -g {out}").quiet().read()?)?.into_values().next().unwrap_or_default();
    let inputs: Vec<&lto::Symbols> = merged.iter().filter_map(|o| symbols.get(o)).collect();
    lto::check_merged(&inputs, &result, &system).map_err(|e| ctx.step.failure(&format!("{e:#}")))?;

    let lib = ctx.src.join(&library);
    fs::remove_file(&lib)?;
    let kept: Vec<&String> = kept.iter().map(|(o, _)| o).collect();
    ctx.step.run(cmd!(sh, "{ar} rcsD {lib} {out} {kept...}"))?;
    // python3 from the archive, as an app links it (make links the objects themselves), and the
    // other program linked with libpython: the new archive is newer than both, and `make install`
    // would link them again (for _testembed, a test program, from the objects' IR unless told
    // -fno-lto: a whole-program optimisation of minutes).
    let programs = ["python", "Programs/_testembed"];
    for program in programs {
        let path = ctx.src.join(program);
        if path.exists() {
            fs::remove_file(&path)?;
        }
    }
    let (objs, ldflags) = (format!("LINK_PYTHON_OBJS={library}"), format!("LDFLAGS_NODIST={}", lto::LINK_FLAG));
    ctx.step.run(cmd!(sh, "make {programs...} {objs} {ldflags}"))
}

/// The prefix compiled into the libpython that apps link (the toolchain's own python3 keeps the
/// real one, which it needs when started by a name it cannot resolve).
pub const APP_PREFIX: &str = "/pyelf";

/// Rebuilds `getpath.o` with [`APP_PREFIX`] in place of the toolchain's directory and puts it into
/// the `lib/libpython3.13.a` that apps link, so that no binary records where its toolchain was.
fn neutral_getpath(ctx: &Ctx, sh: &xshell::Shell) -> Result<()> {
    let obj = ctx.src.join("Modules/getpath.o");
    fs::remove_file(&obj)?;
    let prefix = format!("prefix={APP_PREFIX}");
    let exec_prefix = format!("exec_prefix={APP_PREFIX}");
    ctx.step.run(cmd!(sh, "make Modules/getpath.o {prefix} {exec_prefix}"))?;
    let lib = ctx.root.join("lib/libpython3.13.a");
    let ar = ctx.target.tool("ar");
    ctx.step.run(cmd!(sh, "{ar} rD {lib} {obj}"))?;
    let members = cmd!(sh, "{ar} t {lib}").quiet().read()?;
    anyhow::ensure!(
        members.lines().filter(|m| *m == "getpath.o").count() == 1,
        "libpython3.13.a should hold one getpath.o"
    );
    Ok(())
}

/// Hands the final link's libraries and flags, the module states and the PGO profile's digest to
/// the manifest.
fn write_records(
    ctx: &Ctx,
    states: &BTreeMap<String, ModuleState>,
    libs: &[String],
    pgo_profile: Option<String>,
) -> Result<()> {
    let ldflags = vec!["-static".to_string(), format!("-Wl,-z,stack-size={}", ctx.target.thread_stack_size)];
    CpythonPart { link: Link { libs: libs.to_vec(), ldflags }, modules: states.clone(), pgo_profile }.write(ctx.root)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_training_inherits_no_descriptor_signal_state_or_stack_limit() {
        use std::os::unix::process::CommandExt;
        // What a program started after `command` finds, read from outside it.
        let state = |command: &mut std::process::Command| {
            let mut child = command.spawn().unwrap();
            let proc = format!("/proc/{}", child.id());
            let status = std::fs::read_to_string(format!("{proc}/status")).unwrap();
            let signals: Vec<&str> =
                status.lines().filter(|l| l.starts_with("SigIgn") || l.starts_with("SigBlk")).collect();
            let mut fds: Vec<u32> = std::fs::read_dir(format!("{proc}/fd"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
                .collect();
            fds.sort();
            let limits = std::fs::read_to_string(format!("{proc}/limits")).unwrap();
            let stack = limits
                .lines()
                .find(|l| l.starts_with("Max stack size"))
                .unwrap()
                .split_whitespace()
                .nth(3)
                .unwrap()
                .to_string();
            child.kill().unwrap();
            child.wait().unwrap();
            format!("{} {fds:?} stack {stack}", signals.join(" "))
        };
        // spawn() returns once `sleep` runs: what it has is what the training would have.
        let mut sleep = std::process::Command::new("sleep");
        sleep.arg("30").stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
        sleep.stderr(std::process::Stdio::null());
        // What a background job under a CI runner may get: SIGINT and SIGHUP ignored, SIGTERM
        // blocked, a descriptor open without close-on-exec, no stack limit.
        // SAFETY: async-signal-safe calls only, between fork and exec.
        unsafe {
            sleep.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                let mut term: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut term);
                libc::sigaddset(&mut term, libc::SIGTERM);
                libc::sigprocmask(libc::SIG_BLOCK, &term, std::ptr::null_mut());
                libc::dup2(2, 9);
                let mut limit: libc::rlimit = std::mem::zeroed();
                libc::getrlimit(libc::RLIMIT_STACK, &mut limit);
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_STACK, &limit);
                Ok(())
            });
        }
        let before = state(&mut sleep);
        let nine = before.contains(", 9,") || before.contains(", 9]");
        assert!(before.contains("SigBlk:\t0000000000004000") && nine, "{before}");
        let ignored = before.split("SigIgn:\t").nth(1).unwrap().split_whitespace().next().unwrap();
        assert!(u64::from_str_radix(ignored, 16).unwrap() & 0b11 == 0b11, "{before}");
        super::inherit_nothing(&mut sleep);
        let after = state(&mut sleep);
        assert_eq!(after, "SigBlk:\t0000000000000000 SigIgn:\t0000000000000000 [0, 1, 2] stack 8388608", "{before}");
    }

    #[test]
    fn pyconfig_defines_are_read() {
        let h = "#define HAVE_COMPUTED_GOTOS 1\n/* #undef HAVE_ALIGNED_REQUIRED */\n#define X 0\n";
        assert!(super::pyconfig_defines(h, "HAVE_COMPUTED_GOTOS"));
        assert!(!super::pyconfig_defines(h, "HAVE_ALIGNED_REQUIRED"));
        assert!(!super::pyconfig_defines(h, "X"));
    }

    #[test]
    fn module_states_are_read_from_the_makefile() {
        let mk =
            "MODULE__SSL_STATE=missing\nMODULE_ZLIB_STATE=yes\nMODULE_ZLIB_LDFLAGS=-lz\nMODULE__CTYPES_STATE=missing\n";
        let s = super::parse_module_states(mk).unwrap();
        assert_eq!(s["_ssl"], super::ModuleState::Missing);
        assert_eq!(s["zlib"], super::ModuleState::Yes);
        assert_eq!(s.len(), 3);
    }
}
