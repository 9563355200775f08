//! End-to-end: build real binaries and run them in root filesystems of other distributions and in
//! an empty one, with and without /proc. They need the toolchain (built on first use) and root
//! (for chroot), so they are ignored by a plain `cargo test`; `./test.sh` runs them.

mod common;

use common::roots::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn build(script: &Path, name: &str, extra: &[&str]) -> PathBuf {
    common::roots::build(env!("CARGO_BIN_EXE_pyelf"), script, name, extra)
}

fn test_py() -> &'static Path {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| build(&repo().join("test.py"), "test", &[]))
}

fn heavy() -> &'static Path {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| build(&repo().join("tests/e2e/heavy.py"), "heavy", &[]))
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn test_py_is_one_static_file() {
    let facts = pyelf::elf::check_static(test_py(), X86_64).unwrap();
    assert_eq!(facts.interpreter, None);
    assert!(facts.needed.is_empty());
    assert!(facts.pie, "a static PIE by default");
    // Its relative relocations packed (RELR): a short DT_RELR table, no RELATIVE entries in RELA.
    let bytes = std::fs::read(test_py()).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let dynamic = elf.dynamic.as_ref().expect("a static PIE has a dynamic section");
    let tag = |t: u64| dynamic.dyns.iter().find(|d| d.d_tag == t).map(|d| d.d_val);
    const DT_RELR: u64 = 36;
    const DT_RELRSZ: u64 = 35;
    assert!(tag(DT_RELR).is_some(), "DT_RELR");
    assert!(tag(DT_RELRSZ).unwrap() < 100_000, "{:?}", tag(DT_RELRSZ));
    assert_eq!(tag(goblin::elf::dynamic::DT_RELASZ), Some(0), "no RELA relocations left");
    let fixed = build(&repo().join("test.py"), "test-no-pie", &["--no-pie"]);
    assert!(!pyelf::elf::check_static(&fixed, X86_64).unwrap().pie);
    assert_eq!(text(&Command::new(&fixed).output().unwrap()), text(&Command::new(test_py()).output().unwrap()));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn test_py_prints_what_python_prints_in_every_root() {
    let want = host_python(&repo().join("test.py"), &[]);
    assert_eq!(text(&Command::new(test_py()).output().unwrap()), want, "on the host");
    for kind in ROOTS {
        let root = root_with(kind, test_py(), "test");
        let cases = [
            ("plain", in_root(&root, "/app", "/app", &[], false)),
            ("env -i", in_root(&root, "/app", "/app", &[], true)),
            ("symlink", in_root(&root, "/link", "/link", &[], false)),
            ("relative path", in_root(&root, "./app", "./app", &[], false)),
            ("exec -a", in_root(&root, "/app", "something-else", &[], true)),
            ("with /proc", in_root_with_proc(&root, "/app")),
            ("with /proc, env -i", in_root_with_proc_env(&root, "/app", true)),
            ("with /proc, symlink", in_root_with_proc(&root, "/link")),
        ];
        for (how, out) in cases {
            assert!(out.status.success(), "{kind}, {how}: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
            assert_eq!(text(&out), want, "{kind}, {how}");
        }
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn heavy_script_works_in_every_root() {
    let want_host = host_python(&repo().join("tests/e2e/heavy.py"), &["--name", "pyelf"]);
    for kind in ROOTS {
        let root = root_with(kind, heavy(), "heavy");
        for (how, out) in [
            ("no /proc", in_root(&root, "/app", "/app", &["--name", "pyelf"], true)),
            ("with /proc", in_root_with_proc(&root, "/app --name pyelf")),
        ] {
            assert!(out.status.success(), "{kind}, {how}: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
            let got = text(&out);
            let lines: Vec<&str> = got.lines().collect();
            assert_eq!(lines[0], "hello pyelf", "{kind} {how}");
            // Everything but subprocess and pwd is the same as python3 on the host, line for line.
            assert_eq!(got.lines().count(), want_host.lines().count(), "{kind}, {how}:\n{got}\nwant:\n{want_host}");
            for (g, w) in got.lines().zip(want_host.lines()) {
                if !g.starts_with("subprocess") && !g.starts_with("pwd") {
                    assert_eq!(g, w, "{kind}, {how}");
                }
            }
            let expect_sub = if kind == "empty" { "subprocess no /bin/true" } else { "subprocess 0" };
            assert!(got.contains(expect_sub), "{kind} {how}: {got}");
            let expect_pwd = if kind == "empty" { "pwd KeyError" } else { "pwd root" };
            assert!(got.contains(expect_pwd), "{kind} {how}: {got}");
            assert!(got.contains("thread [5000]"), "{kind} {how}: {got}");
        }
        let out = in_root(&root, "/app", "/app", &["--exit", "7"], true);
        assert_eq!(out.status.code(), Some(7), "{kind}: sys.exit(7)");
        let out = in_root(&root, "/app", "/app", &["--bogus"], true);
        assert_eq!(out.status.code(), Some(2), "{kind}: argparse error exits 2");
        assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized arguments"));
    }
}

/// The binding of the symbol `malloc` in an unstripped binary: GLOBAL when `runtime/malloc.c`
/// defines it (dlmalloc, mimalloc or the split heap), WEAK when it is musl's (lite_malloc's weak alias to
/// mallocng).
fn malloc_binding(binary: &Path) -> u8 {
    let bytes = std::fs::read(binary).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let sym = elf.syms.iter().find(|s| elf.strtab.get_at(s.st_name) == Some("malloc")).expect("a symbol table");
    sym.st_bind()
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_heap_is_dlmalloc_mimalloc_split_or_musls_and_all_run_the_same() {
    let script = repo().join("tests/e2e/heap.py");
    let want = host_python(&script, &[]);
    let default = build(&script, "heap", &["--no-strip"]);
    let dlmalloc = build(&script, "heap-dlmalloc", &["--no-strip", "--malloc", "dlmalloc"]);
    let mimalloc = build(&script, "heap-mimalloc", &["--no-strip", "--malloc", "mimalloc"]);
    let split = build(&script, "heap-split", &["--no-strip", "--malloc", "split"]);
    let musl = build(&script, "heap-musl", &["--no-strip", "--malloc", "musl"]);
    for (binary, how) in [(&default, "by default"), (&dlmalloc, "dlmalloc"), (&mimalloc, "mimalloc"), (&split, "split")]
    {
        assert_eq!(malloc_binding(binary), goblin::elf::sym::STB_GLOBAL, "malloc.c's malloc: {how}");
    }
    assert_eq!(malloc_binding(&musl), goblin::elf::sym::STB_WEAK, "musl's malloc with --malloc musl");
    assert!(std::fs::read(&default).unwrap() == std::fs::read(&dlmalloc).unwrap(), "the default heap is dlmalloc");
    for (binary, name) in
        [(&dlmalloc, "heap-dlmalloc"), (&mimalloc, "heap-mimalloc"), (&split, "heap-split"), (&musl, "heap-musl")]
    {
        for kind in ROOTS {
            let root = root_with(kind, binary, name);
            for (how, out) in [
                ("no /proc", in_root(&root, "/app", "/app", &[], true)),
                ("with /proc", in_root_with_proc(&root, "/app")),
            ] {
                assert!(
                    out.status.success(),
                    "{name}, {kind}, {how}: {:?}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(text(&out), want, "{name}, {kind}, {how}");
            }
        }
        // Address space too small for mimalloc's first arena (1 GiB): the split heap then serves
        // every block from dlmalloc, mimalloc and musl take mimalloc's segments from the OS (and
        // dlmalloc needs no arena).
        assert_eq!(run_with_address_space(binary, 512 << 20), want, "{name}, RLIMIT_AS 512 MiB");
    }
}

/// The stdout of `command`, which must succeed (`what` names it in the failure).
fn stdout_of(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{what}: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    text(&out)
}

/// The stdout of `binary` run with RLIMIT_AS at `bytes` (`prlimit`), which must succeed.
fn run_with_address_space(binary: &Path, bytes: u64) -> String {
    stdout_of(Command::new("prlimit").arg(format!("--as={bytes}")).arg("--").arg(binary), &format!("RLIMIT_AS {bytes}"))
}

/// With `--malloc split`, when mimalloc has filled its first arena and cannot reserve another
/// (here RLIMIT_AS leaves no room for a second GiB), the small blocks go on in dlmalloc, and each
/// block is still freed by the allocator that gave it (mimalloc, taking segments from the OS
/// instead, would hand out blocks that free() could not tell from dlmalloc's).
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_heap_goes_on_in_dlmalloc_when_mimalloc_cannot_grow() {
    let script = tmp().join("full_arena.py");
    std::fs::write(
        &script,
        r#"import hashlib
blocks = [bytes(900) + i.to_bytes(4, "little") for i in range(1_300_000)]
print(len(blocks), sum(b[-4] for b in blocks))
del blocks[::2]
blocks += [bytes(700) + i.to_bytes(4, "little") for i in range(300_000)]
print(len(blocks), hashlib.sha256(b"".join(b[-4:] for b in blocks)).hexdigest()[:16])
blocks.clear()
print("done")
"#,
    )
    .unwrap();
    let want = host_python(&script, &[]);
    let binary = build(&script, "full-arena", &["--malloc", "split"]);
    assert_eq!(run_with_address_space(&binary, 2 << 30), want, "RLIMIT_AS 2 GiB");
}

/// Memory freed in blocks of one size serves blocks of another, as under python3 (whose large
/// blocks are glibc's, which coalesces freed chunks): with the default heap (dlmalloc, which
/// coalesces freed chunks too) and with `--malloc mimalloc`. Without the toolchain's edit to mimalloc
/// (`HEAP_PATCHES` in `recipes/cpython.rs`) a block past 16 KiB sat in a page of its size class,
/// and a page that kept one block alive could not serve another size: 3 of the 8 new blocks below
/// reused that memory, and real CLIs resided in up to 8 % more memory than under python3.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn freed_blocks_serve_other_sizes_as_in_python3() {
    let script = tmp().join("reuse.py");
    std::fs::write(
        &script,
        r#"old = [bytes(65536) for _ in range(48)]
lo, hi = min(map(id, old)), max(map(id, old)) + 65536
kept = old[::6]
del old
new = [bytes(100000) for _ in range(8)]
print("freed blocks serve another size:", sum(lo <= id(b) < hi for b in new), "of", len(new))
"#,
    )
    .unwrap();
    let want = host_python(&script, &[]);
    assert_eq!(want, "freed blocks serve another size: 8 of 8\n", "python3 itself");
    for (name, extra) in [("reuse", &[][..]), ("reuse-mimalloc", &["--malloc", "mimalloc"][..])] {
        let binary = build(&script, name, extra);
        assert_eq!(stdout_of(&mut Command::new(&binary), name), want, "{name}");
    }
}

/// Threads that call malloc and free at once (ctypes lets go of the GIL around each call) keep
/// every block whole, with dlmalloc serving them (the default and `--malloc split`). The heap's
/// lock is taken only once a second thread was started (musl's flag, published by the toolchain's
/// musl patch): without the lock, each run of this script crashed.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn threads_that_allocate_at_once_keep_the_heap_whole() {
    let script = repo().join("tests/e2e/heap_threads.py");
    assert_eq!(host_python(&script, &[]), "ok\n", "python3 itself");
    for (name, extra) in [("heap-threads", &[][..]), ("heap-threads-split", &["--malloc", "split"][..])] {
        let binary = build(&script, name, extra);
        for round in 0..3 {
            assert_eq!(stdout_of(&mut Command::new(&binary), name), "ok\n", "{name}, run {round}");
        }
    }
}

/// A block freed twice stops the program with SIGABRT, as python3's heap (glibc's) does, at every
/// size: those the heap keeps for the next request (up to 1,128 bytes, where a mark in each kept
/// block finds it), and the larger ones dlmalloc checks itself.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_block_freed_twice_stops_the_program_as_in_python3() {
    use std::os::unix::process::ExitStatusExt;
    let script = tmp().join("free_twice.py");
    std::fs::write(
        &script,
        r#"import ctypes
import sys
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
p = libc.malloc(int(sys.argv[1]))
libc.free(p)
libc.free(p)
print("freed twice")
"#,
    )
    .unwrap();
    let binary = build(&script, "free-twice", &[]);
    for size in ["1", "100", "1100", "5000"] {
        let python = Command::new("python3").arg(&script).arg(size).output().unwrap();
        assert_eq!(python.status.signal(), Some(libc::SIGABRT), "python3, {size} bytes");
        let out = Command::new(&binary).arg(size).output().unwrap();
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{size} bytes: {:?}", out.status);
        assert_eq!(text(&out), "", "{size} bytes");
    }
}

/// Blocks from calloc (`bytes(n)`, and C code's) touch no more memory than python3's do, with the
/// default heap (dlmalloc) and with `--malloc mimalloc`. dlmalloc 2.8.3 zeroed every block it did
/// not map on its own, memory fresh from the kernel included: without the toolchain's calloc
/// (`DLMALLOC_UNIT` in `recipes/libffi.rs`; tests/dlmalloc.rs) the 40 KB blocks below resided in
/// 1.03 times their size, against python3's 0.89. mimalloc zeroed each block whole, and its blocks past 32 KiB are pages rounded up to 64 KiB, so a zeroed
/// 40 KB block touched 64 KiB; and it zeroed memory fresh from the kernel, which glibc's calloc
/// leaves untouched past 128 KiB. Without the toolchain's edits (`HEAP_PATCHES`), the 3 MB and
/// 40 MB blocks below resided whole, and the 40 KB ones in up to 1.6 times their size. The
/// blocks must read as zeros all the same, those in memory the program wrote and freed too.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn calloc_touches_no_more_memory_than_in_python3() {
    let script = tmp().join("calloc.py");
    std::fs::write(
        &script,
        r#"import os

page = os.sysconf("SC_PAGE_SIZE")


def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page


dirty = [b"\xff" * 50000 for _ in range(100)]
del dirty
reused = [bytes(40000) for _ in range(100)]
print("blocks in freed memory are zero:", all(b.count(0) == len(b) for b in reused))
grew = {}
kept = []
for n, count in [(40000, 300), (3_000_000, 4), (40_000_000, 1)]:
    before = resident()
    kept += [bytes(n) for _ in range(count)]
    grew[n] = (resident() - before) / (n * count)
print("new blocks are zero:", all(b.count(0) == len(b) for b in kept))
print("40 KB blocks resided in at most their size:", grew[40000] <= 1.0)
print("3 MB and 40 MB blocks were left untouched:", grew[3_000_000] < 0.1 and grew[40_000_000] < 0.1)
"#,
    )
    .unwrap();
    let want = host_python(&script, &[]);
    assert_eq!(
        want,
        "blocks in freed memory are zero: True\nnew blocks are zero: True\n\
         40 KB blocks resided in at most their size: True\n3 MB and 40 MB blocks were left untouched: True\n",
        "python3 itself"
    );
    for (name, extra) in [("calloc", &[][..]), ("calloc-mimalloc", &["--malloc", "mimalloc"][..])] {
        let binary = build(&script, name, extra);
        assert_eq!(stdout_of(&mut Command::new(&binary), name), want, "{name}");
    }
}

/// Where transparent huge pages are on for every mapping (`always`, RHEL's default), mimalloc's
/// arena, aligned to 32 MiB, took a 2 MiB page for each part of it the program touched: a CLI's
/// 6 MB heap resided in 10. Every mapping of the heap is marked MADV_NOHUGEPAGE, which the kernel
/// shows as `nh` in its VmFlags, whatever the machine's setting: with `--malloc dlmalloc`,
/// pymalloc's arenas (`launcher.c`) and dlmalloc's mappings (the toolchain's libdlmalloc.a);
/// with `--malloc mimalloc`, the arena (`runtime/malloc.c`), which holds every block; with
/// `--malloc split`, the arena for blocks up to 1 KiB and dlmalloc's mappings beyond. With
/// `--malloc musl` the C heap is musl's, and Python's objects and buffers are all in the arena.
/// Where each block lies also shows the heap's split (mimalloc's arena is one mapping where the
/// kernel overcommits, as by default; pymalloc's arenas and dlmalloc's mappings may merge, and so
/// are not told apart).
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_heap_takes_no_transparent_huge_pages() {
    let script = tmp().join("huge_pages.py");
    std::fs::write(
        &script,
        r#"import ctypes
objects = [object() for _ in range(100000)]
data = bytearray(1 << 20)
medium = bytearray(64 << 10)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
def address(buffer):
    return ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
where = {"an object": id(objects[-1]), "a buffer": address(data), "a medium buffer": address(medium),
         "malloc": libc.malloc(1 << 20), "a medium malloc": libc.malloc(5000), "a small malloc": libc.malloc(100)}
found = {}
with open("/proc/self/smaps") as f:
    lines = f.read().splitlines()
for i, line in enumerate(lines):
    head = line.split()[0]
    if "-" in head and all(c in "0123456789abcdef-" for c in head):
        lo, hi = (int(x, 16) for x in head.split("-"))
        for what, address in where.items():
            if lo <= address < hi:
                flags = next(l for l in lines[i + 1:] if l.startswith("VmFlags:")).split()[1:]
                # (no huge pages, in the mapping that holds the objects)
                found[what] = ("nh" in flags, lo <= where["an object"] < hi)
for what in where:
    print(f"{what}:", *found.get(what, ("not found",)))
"#,
    )
    .unwrap();
    // Each block: whether its mapping is marked `nh`, and whether the objects are in it too.
    // With --malloc mimalloc every block is in mimalloc's arena with the objects; with --malloc
    // split the blocks up to 1 KiB are, the larger ones in dlmalloc's mappings; with --malloc musl,
    // Python's buffers are in the arena too and the C heap is musl's. With --malloc dlmalloc every
    // mapping is marked, wherever it lies (None: not compared).
    let arena = (true, Some(true));
    let dlmalloc = (true, Some(false));
    let musl = (false, Some(false));
    let marked = (true, None);
    for (name, extra, [buffer, medium_buffer, medium_malloc, small_malloc, malloc]) in [
        ("huge-pages-dlmalloc", &["--malloc", "dlmalloc"][..], [marked, marked, marked, marked, marked]),
        ("huge-pages-mimalloc", &["--malloc", "mimalloc"][..], [arena, arena, arena, arena, arena]),
        ("huge-pages-split", &["--malloc", "split"][..], [dlmalloc, dlmalloc, dlmalloc, arena, dlmalloc]),
        ("huge-pages-musl", &["--malloc", "musl"][..], [arena, arena, musl, musl, musl]),
    ] {
        let binary = build(&script, name, extra);
        let got = stdout_of(&mut Command::new(&binary), name);
        let title = |b: bool| if b { "True" } else { "False" };
        let want = [
            ("an object", arena),
            ("a buffer", buffer),
            ("a medium buffer", medium_buffer),
            ("malloc", malloc),
            ("a medium malloc", medium_malloc),
            ("a small malloc", small_malloc),
        ];
        assert_eq!(got.lines().count(), want.len(), "{name}: {got}");
        for (line, (what, (nh, objects))) in got.lines().zip(want) {
            let mut expected = format!("{what}: {}", title(nh));
            if let Some(objects) = objects {
                expected.push_str(&format!(" {}", title(objects)));
            }
            let matches = line == expected || (objects.is_none() && line.starts_with(&format!("{expected} ")));
            assert!(matches, "{name}: {line:?}, expected {expected:?}\n{got}");
        }
    }
}

/// Started as python3 (`sys.executable`, as multiprocessing starts it), the binary keeps Python's
/// objects in pymalloc, as python3 does, and its arenas are marked `nh` as the app's heap is
/// (`launcher.c`, `run_python`): whatever the `malloc` setting.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_binary_run_as_python3_keeps_pymallocs_arenas_out_of_huge_pages() {
    let script = tmp().join("child_arenas.py");
    std::fs::write(
        &script,
        r#"import subprocess, sys
code = """
import sys
objects = [object() for _ in range(100000)]
where = id(objects[-1])
lines = open("/proc/self/smaps").read().splitlines()
for i, line in enumerate(lines):
    head = line.split()[0]
    if "-" in head and all(c in "0123456789abcdef-" for c in head):
        lo, hi = (int(x, 16) for x in head.split("-"))
        if lo <= where < hi:
            flags = next(l for l in lines[i + 1:] if l.startswith("VmFlags:")).split()[1:]
            print("nh", "nh" in flags, "blocks counted", sys.getallocatedblocks() > 0)
"""
subprocess.run([sys.executable, "-c", code], check=True)
"#,
    )
    .unwrap();
    for (name, extra) in [("child-arenas", &[][..]), ("child-arenas-mimalloc", &["--malloc", "mimalloc"][..])] {
        let binary = build(&script, name, extra);
        assert_eq!(stdout_of(&mut Command::new(&binary), name), "nh True blocks counted True\n", "{name}");
    }
}

/// A script that reads files next to itself (`Path(__file__).parent`) finds them in the binary when
/// they are added beside it (`--add-data SRC:.` and `SRC:./PATH`), as python3 finds them next to
/// the script, in an empty root too; a DEST outside the app is refused.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn files_added_beside_a_script_are_read_from_its_directory() {
    let dir = tmp().join("beside-src");
    std::fs::create_dir_all(dir.join("templates/mail")).unwrap();
    std::fs::write(dir.join("config.ini"), "[job]\nname = nightly\nkeep = 7\n").unwrap();
    std::fs::write(dir.join("templates/report.txt"), "Report for {name}\n").unwrap();
    std::fs::write(dir.join("templates/mail/body.txt"), "Kept {keep} days\n").unwrap();
    let script = dir.join("job.py");
    std::fs::write(
        &script,
        r#"import configparser
from pathlib import Path

here = Path(__file__).parent
config = configparser.ConfigParser()
config.read_string((here / "config.ini").read_text())
job = dict(config["job"])
for template in sorted((here / "templates").rglob("*.txt")):
    print(template.relative_to(here).as_posix(), template.read_text().format(**job), end="")
"#,
    )
    .unwrap();
    let want = host_python(&script, &[]);
    assert!(want.contains("Report for nightly") && want.contains("Kept 7 days"), "python3 itself: {want}");
    let config = format!("{}:.", dir.join("config.ini").display());
    let templates = format!("{}:./templates", dir.join("templates").display());
    let binary = build(&script, "beside", &["--add-data", &config, "--add-data", &templates]);
    assert_eq!(stdout_of(&mut Command::new(&binary), "the binary"), want);
    let root = root_with("empty", &binary, "beside");
    assert_eq!(text(&in_root(&root, "/app", "/app", &[], true)), want, "empty root");

    let out = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(&script)
        .args(["--add-data", &format!("{}:./../etc", dir.join("config.ini").display())])
        .arg("-o")
        .arg(tmp().join("beside-refused"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a DEST outside the app is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a plain path inside the app"));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn python_variables_and_a_hostile_cwd_change_nothing() {
    let evil = tmp().join("evil");
    std::fs::create_dir_all(evil.join("encodings")).unwrap();
    std::fs::write(evil.join("os.py"), "raise SystemExit('evil os imported')\n").unwrap();
    std::fs::write(evil.join("encodings/__init__.py"), "raise SystemExit('evil encodings imported')\n").unwrap();
    let want = text(&Command::new(test_py()).output().unwrap());
    let out = Command::new(test_py())
        .current_dir(&evil)
        .env("PYTHONPATH", &evil)
        .env("PYTHONHOME", &evil)
        .env("PYTHONSTARTUP", evil.join("os.py"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text(&out), want);
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn uncaught_exception_prints_a_traceback_and_exits_1() {
    let script = tmp().join("boom.py");
    std::fs::write(&script, "def f():\n    raise ValueError('boom')\n\nif __name__ == '__main__':\n    f()\n").unwrap();
    let bin = build(&script, "boom", &[]);
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Traceback") && err.contains("ValueError: boom"), "{err}");
    // It starts at the script, as python's does: no import machinery in front.
    let frames: Vec<&str> = err.lines().filter(|l| l.trim_start().starts_with("File ")).collect();
    assert_eq!(frames.len(), 2, "{err}");
    // As python names them: the script's path (in the binary's tree), `<module>`, the function.
    assert!(frames[0].contains("\"/__pyelf__/boom.py\", line 5, in <module>"), "{err}");
    assert!(frames[1].contains("\"/__pyelf__/boom.py\", line 2, in f"), "{err}");
    assert!(!err.contains("importlib") && !err.contains("pyelf importer"), "{err}");
    // With the source lines, as python shows them (the script's source travels in the binary).
    assert!(err.contains("\n    f()\n") && err.contains("\n    raise ValueError('boom')\n"), "{err}");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_syntax_error_fails_cleanly_and_leaves_no_output() {
    let script = tmp().join("broken.py");
    std::fs::write(&script, "print('ok')\ndef f(:\n    pass\n").unwrap();
    let out_path = tmp().join("broken");
    let out =
        Command::new(env!("CARGO_BIN_EXE_pyelf")).arg("build").arg(&script).arg("-o").arg(&out_path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.py:2"), "names file:line: {err}");
    assert!(!out_path.exists(), "no output file");
    let leftovers: Vec<_> = std::fs::read_dir(tmp())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".pyelf-partial"))
        .collect();
    assert!(leftovers.is_empty(), "no partial files");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_missing_script_is_one_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf")).args(["build", "/nonexistent/app.py"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such script: /nonexistent/app.py") && err.contains("hint"), "{err}");
}

/// A module the app's code imports that nothing provides (a requirement not given) is named at
/// build time, with the requirements.txt beside the script when there is one; an import of
/// another platform's stdlib module (`winreg`) and one a dependency makes are not. The binary
/// then fails at that import as python does where the package is not installed.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn an_import_found_nowhere_is_named_at_build_time() {
    let dir = tmp().join("found-nowhere");
    std::fs::create_dir_all(dir.join("helpers")).unwrap();
    let script = dir.join("tool.py");
    std::fs::write(
        &script,
        concat!(
            "import sys\n",
            "import helpers.util\n",
            "if sys.platform == 'win32':\n",
            "    import winreg\n",
            "if len(sys.argv) > 1:\n",
            "    from cookiecutter.main import cookiecutter\n",
            "print('ok')\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.join("helpers/__init__.py"), "").unwrap();
    let optional = "try:\n    import ujson_for_pyelf_test\nexcept ImportError:\n    pass\n";
    std::fs::write(dir.join("helpers/util.py"), optional).unwrap();
    std::fs::write(dir.join("requirements.txt"), "cookiecutter\n").unwrap();
    let out = dir.join("tool");
    let built =
        Command::new(env!("CARGO_BIN_EXE_pyelf")).arg("build").arg(&script).arg("-o").arg(&out).output().unwrap();
    let said = String::from_utf8_lossy(&built.stderr).replace(&dir.display().to_string(), "$DIR");
    assert!(built.status.success(), "{said}");
    let warning = "warning: modules the app imports are found nowhere (not the stdlib, the app, nor a bundled \
                   package): cookiecutter (imported by __main__), ujson_for_pyelf_test (imported by helpers.util). \
                   The binary raises ModuleNotFoundError where they are imported, as python does where they are \
                   not installed\nhint: $DIR/requirements.txt is not read unless given: add -r $DIR/requirements.txt\n";
    assert!(said.contains(warning), "{said}");
    assert_eq!(text(&Command::new(&out).output().unwrap()), "ok\n");
    let failed = Command::new(&out).arg("x").output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).ends_with("ModuleNotFoundError: No module named 'cookiecutter'\n"));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn ctrl_c_ends_the_app_like_python() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let script = tmp().join("sleeper.py");
    std::fs::write(&script, "import time\nprint('ready', flush=True)\ntime.sleep(60)\n").unwrap();
    let bin = build(&script, "sleeper", &[]);
    // As started from a terminal: SIGINT at its default, even where the tests were started in the
    // background by a shell without job control, which leaves it ignored (python then ignores it
    // too, and so does the binary).
    let mut command = Command::new(&bin);
    // SAFETY: between fork and exec only signal(2), which is async-signal-safe, is called.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(2), "killed by SIGINT, as python is: {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stderr).contains("KeyboardInterrupt"));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn dynamic_imports_need_include_module_or_the_full_stdlib() {
    let script = tmp().join("dynamic.py");
    std::fs::write(
        &script,
        "import importlib, sys\nm = importlib.import_module(sys.argv[1])\nprint(m.__name__, 'ok')\n",
    )
    .unwrap();
    let run = |bin: &Path, module: &str| Command::new(bin).arg(module).output().unwrap();

    // graphlib and wave: stdlib modules that nothing this script reaches imports, by any path.
    let plain = build(&script, "dynamic", &[]);
    let out = run(&plain, "graphlib");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No module named 'graphlib'"), "{err}");
    assert!(
        err.contains("File \"/__pyelf__/dynamic.py\", line 2"),
        "tracebacks name the script in the tree, not a build path: {err}"
    );

    let included = build(&script, "dynamic-included", &["--include-module", "graphlib", "--include-package", "email"]);
    assert_eq!(text(&run(&included, "graphlib")), "graphlib ok\n");
    assert_eq!(text(&run(&included, "email.mime.text")), "email.mime.text ok\n");

    // A traced run records what the app really imports with those arguments.
    let traced = build(&script, "dynamic-traced", &["--trace-imports", "--", "graphlib"]);
    assert_eq!(text(&run(&traced, "graphlib")), "graphlib ok\n");
    assert_eq!(run(&traced, "wave").status.code(), Some(1), "only what the traced run imported");

    let full = build(&script, "dynamic-full", &["--stdlib", "full"]);
    for m in ["sqlite3", "unittest", "xml.dom.minidom", "zoneinfo", "ctypes"] {
        assert_eq!(text(&run(&full, m)), format!("{m} ok\n"), "--stdlib full has {m}");
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_same_app_builds_to_the_same_bytes() {
    // Two builds, from different working directories into different outputs, with one toolchain.
    let first = build(&repo().join("tests/e2e/heavy.py"), "heavy-again-1", &[]);
    let out = tmp().join("heavy-again-2");
    let st = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(repo().join("tests/e2e/heavy.py"))
        .arg("-o")
        .arg(&out)
        .current_dir(tmp())
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&out).unwrap(), "builds differ");
    let bytes = std::fs::read(&first).unwrap();
    let home = pyelf::home::Home::from_env().unwrap();
    let work = home.root().join("work/build-").display().to_string();
    let work = work.as_bytes();
    assert!(
        !bytes.windows(work.len()).any(|w| w == work),
        "no temporary build path ({}) in the binary",
        String::from_utf8_lossy(work)
    );
}

/// The objects' cache gives the object a compile gives, byte for byte, in another work directory,
/// and compiles again when a header the source includes changes, or when the source does.
#[test]
#[ignore = "compiles with the toolchain; run by ./test.sh"]
fn the_objects_cache_gives_the_object_a_compile_gives() {
    use pyelf::build::objects::compile_each;
    let tc = toolchain();
    let base = tmp().join("objects-cache");
    let _ = std::fs::remove_dir_all(&base);
    let cache = base.join("cache");
    let compile = |name: &str, header: &str, body: &str, cache: Option<&Path>| -> (Vec<u8>, bool) {
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gen.h"), header).unwrap();
        let c = dir.join("m.c");
        std::fs::write(&c, format!("#include <Python.h>\n#include \"gen.h\"\nint m(void) {{ {body} }}\n")).unwrap();
        let obj = compile_each(&tc, &dir, &[c], &dir.join("logs"), cache).unwrap().remove(0).unwrap();
        // A compile writes the dependency list beside its object; an object from the cache has none.
        (std::fs::read(&obj).unwrap(), obj.with_extension("d").exists())
    };
    let plain = compile("plain", "#define N 1", "return N;", None);
    assert!(plain.1);
    assert_eq!(compile("cold", "#define N 1", "return N;", Some(&cache)), plain, "a compile that fills the cache");
    assert_eq!(compile("warm", "#define N 1", "return N;", Some(&cache)), (plain.0.clone(), false), "from the cache");
    let header = compile("header", "#define N 2", "return N;", Some(&cache));
    assert!(header.1, "a changed header compiles again");
    assert_ne!(header.0, plain.0);
    assert_eq!(header, compile("header-plain", "#define N 2", "return N;", None));
    let body = compile("body", "#define N 2", "return N + 1;", Some(&cache));
    assert!(body.1, "a changed source compiles again");
    assert_eq!(body, compile("body-plain", "#define N 2", "return N + 1;", None));
    assert_eq!(compile("warm-again", "#define N 1", "return N;", Some(&cache)), (plain.0, false));
}

/// The freezer's cache (compiled shares of modules, data archives) gives the bytes a run without it
/// gives, and its keys follow the inputs: one changed module recompiles its share only.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_frozen_cache_gives_the_bytes_a_run_without_it_gives() {
    use pyelf::build::freeze::{emit, BundleFile, ToFreeze};
    let tc = toolchain();
    let stdlib = tc.root.join("lib/python3.13");
    let base = tmp().join("frozen-cache");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let app = base.join("mine.py");
    std::fs::write(&app, "X = 1\n").unwrap();
    let module = |name: &str, file: PathBuf, packed: bool| ToFreeze {
        name: name.into(),
        file,
        package: false,
        filename: None,
        source: None,
        packed,
        pyc: Some(format!("{name}.py")),
        pyc_only: false,
    };
    let mut modules: Vec<ToFreeze> =
        ["json.decoder", "json.encoder", "json.scanner", "argparse", "textwrap", "gettext", "shlex"]
            .iter()
            .enumerate()
            .map(|(i, n)| module(n, stdlib.join(format!("{}.py", n.replace('.', "/"))), i % 2 == 0))
            .collect();
    modules.push(module("mine", app.clone(), false));
    // Files compiled for their .pyc alone, one of which does not compile (it gets none).
    let broken = base.join("broken.py");
    std::fs::write(&broken, "X = (\n").unwrap();
    modules.push(ToFreeze::pyc_only("plugins/broken.py", &broken));
    modules.push(ToFreeze::pyc_only("lib/python3.13/json/tool.py", &stdlib.join("json/tool.py")));
    let bundle = vec![
        BundleFile { arc: "lib/python3.13/shlex.py".into(), file: stdlib.join("shlex.py") },
        BundleFile { arc: "mine.py".into(), file: app.clone() },
    ];
    let outputs = ["frozen.bin", "packed.bin", "frozen.c", "frozen.txt", "bundle.zip"];
    let run = |name: &str, cache: Option<&Path>| -> Vec<Vec<u8>> {
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        emit(&tc, &dir, &modules, &bundle, &Default::default(), cache).unwrap();
        outputs.iter().map(|o| std::fs::read(dir.join(o)).unwrap()).collect()
    };
    let cache = base.join("cache");
    let entries = || std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    let plain = run("plain", None);
    assert_eq!(entries(), 0, "no cache given, none written");
    let table = String::from_utf8_lossy(&plain[2]).into_owned();
    assert!(table.contains("{\"lib/python3.13/json/tool.py\", pyelf_packed_blob + "), "{table}");
    assert!(!table.contains("broken"), "{table}");
    assert!(!String::from_utf8_lossy(&plain[3]).contains("tool"), "a file compiled for its .pyc is no module");
    assert_eq!(run("cold", Some(&cache)), plain, "a run that fills the cache");
    assert_eq!(entries(), 5, "four shares of modules and one data archive");
    assert_eq!(run("warm", Some(&cache)), plain, "a run that takes everything from the cache");
    assert_eq!(entries(), 5);
    std::fs::write(&app, "X = 2\n").unwrap();
    let changed = run("changed", Some(&cache));
    assert_ne!(changed, plain);
    assert_eq!(entries(), 7, "the changed module's share and the data archive are new");
    assert_eq!(run("changed-plain", None), changed);
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn verify_passes_on_a_default_build_and_reports_violations() {
    let pyelf = |args: &[&std::ffi::OsStr]| Command::new(env!("CARGO_BIN_EXE_pyelf")).args(args).output().unwrap();
    let out = pyelf(&["verify".as_ref(), test_py().as_os_str()]);
    assert!(out.status.success(), "{}{}", text(&out), String::from_utf8_lossy(&out.stderr));
    for check in ["static PIE", "full RELRO", "non-executable stack", "SBOM", "no program interpreter", "(IFUNC)"] {
        assert!(text(&out).lines().any(|l| l.starts_with("ok") && l.contains(check)), "{check}: {}", text(&out));
    }
    // The target is the one its SBOM names.
    assert!(text(&out).contains("checked as a binary for x86_64-unknown-linux-musl"), "{}", text(&out));
    let sbom: serde_json::Value = serde_json::from_str(&pyelf::build::sbom::read(test_py()).unwrap()).unwrap();
    assert_eq!(pyelf::build::sbom::target(&sbom).as_deref(), Some("x86_64-unknown-linux-musl"));
    let fixed = build(&repo().join("test.py"), "test-no-pie-verify", &["--no-pie"]);
    let out = pyelf(&["verify".as_ref(), fixed.as_os_str()]);
    assert!(!out.status.success());
    assert!(text(&out).lines().any(|l| l.starts_with("FAIL") && l.contains("static PIE")), "{}", text(&out));
    // A glibc executable is checked as one of its machine's target, and fails.
    let out = pyelf(&["verify".as_ref(), "/bin/true".as_ref()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("FAIL no program interpreter"), "{}", text(&out));
    assert!(text(&out).contains("FAIL SBOM"), "{}", text(&out));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_sbom_lists_what_is_inside() {
    let sbom_file = tmp().join("heavy-sbom.json");
    let bin = build(&repo().join("tests/e2e/heavy.py"), "heavy-sbom", &["--sbom", sbom_file.to_str().unwrap()]);
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf")).arg("sbom").arg(&bin).output().unwrap();
    assert!(out.status.success());
    let printed = text(&out);
    assert_eq!(
        printed.trim(),
        std::fs::read_to_string(&sbom_file).unwrap().trim(),
        "--sbom writes what the binary carries"
    );
    let doc = pyelf::build::sbom::validate(&printed).unwrap();
    let names: Vec<&str> = doc["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in ["musl", "cpython", "openssl", "zlib", "expat", "mpdecimal", "cython"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.contains(&"sqlite"), "heavy.py does not use sqlite3: {names:?}");
    assert_eq!(doc["metadata"]["component"]["name"], "heavy");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn runs_on_a_read_only_root_as_an_unknown_user_and_writes_nothing() {
    let root = root_with("empty", test_py(), "readonly");
    let want = text(&Command::new(test_py()).output().unwrap());
    let out = in_read_only_root(&root, "/app");
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(text(&out), want);
    let entries: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries.len(), 3, "nothing written next to the binary: {entries:?}");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn odd_argv_does_not_change_or_crash_it() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let script = tmp().join("argv.py");
    std::fs::write(&script, "import sys\nprint(len(sys.argv), [len(a) for a in sys.argv[1:]], ascii(sys.argv[1:2]))\n")
        .unwrap();
    let bin = build(&script, "argv", &[]);
    let long = "x".repeat(100_000);
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let out = Command::new(&bin).arg0("").arg(bad).arg(&long).arg("").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text(&out), "4 [4, 100000, 0] ['caf\\udce9']\n", "non-UTF-8 bytes arrive surrogate-escaped");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_import_analysis_runs_no_package_code() {
    // test/test_import/__init__.py raises unittest.SkipTest when imported: the analysis locates
    // modules without importing their packages, so the build neither runs nor trips over it.
    let script = tmp().join("runs_nothing.py");
    std::fs::write(&script, "import sys\nprint('test.test_import' in sys.modules)\n").unwrap();
    let bin = build(&script, "runs-nothing", &["--include-package", "test.test_import"]);
    assert_eq!(text(&Command::new(&bin).output().unwrap()), "False\n");
}

/// The C library's messages read as python3's on a Linux distribution, glibc's: every error
/// number's (`os.strerror`, each OSError), getaddrinfo's (`socket.gaierror`) and the signals'
/// (`signal.strsignal`). musl words 89 of the lines below otherwise ("[Errno 5] I/O error",
/// "Name does not resolve"); `runtime/messages.c` holds glibc's words. The real-time signals are
/// compared by their distance from SIGRTMIN, which is 34 under glibc and 35 under musl.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn error_messages_are_worded_as_python3_words_them() {
    let script = tmp().join("messages.py");
    std::fs::write(
        &script,
        r#"import errno
import os
import signal
import socket

for e in range(-1, 140):
    print(e, os.strerror(e))
for s in range(1, signal.NSIG):
    if s < 32 or s - signal.SIGRTMIN in (0, 1, 5):
        print("signal", s - signal.SIGRTMIN if s >= signal.SIGRTMIN else s, signal.strsignal(s))
for host, port, kw in [(None, None, {}), ("127.0.0.1", 80, {"family": 12345}), ("127.0.0.1", 80, {"flags": 0x7fff})]:
    try:
        socket.getaddrinfo(host, port, **kw)
    except socket.gaierror as e:
        print("gaierror", e)
try:
    open("/nonexistent/dir/file")
except OSError as e:
    print(e)
try:
    os.open("/", os.O_WRONLY)
except OSError as e:
    print(e)
"#,
    )
    .unwrap();
    let want = host_python(&script, &[]);
    assert!(want.contains("5 Input/output error\n") && want.contains("[Errno -2] Name or service not known"), "{want}");
    let binary = build(&script, "messages", &[]);
    assert_eq!(stdout_of(&mut Command::new(&binary), "the binary"), want);
}

/// A `--site-packages` inside the script's directory (a project's `.venv`) holds dependencies,
/// not the app's own modules: they were compiled by Cython as the app's, and their files went
/// under the site's path in the tree (`/__pyelf__/site/helperlib/`). And with the dependencies
/// given so, a missing one is to be installed there, not given by a requirements.txt.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_site_packages_inside_the_app_directory_holds_dependencies() {
    let dir = tmp().join("nested-site");
    std::fs::create_dir_all(dir.join("site/helperlib")).unwrap();
    std::fs::write(dir.join("site/helperlib/__init__.py"), "def f():\n    return 1\n").unwrap();
    std::fs::write(dir.join("requirements.txt"), "helperlib\n").unwrap();
    let script = dir.join("app.py");
    std::fs::write(
        &script,
        "import helperlib\ntry:\n    import notinstalledanywhere\nexcept ImportError:\n    pass\nprint(helperlib.f(), helperlib.__file__)\n",
    )
    .unwrap();
    let binary = tmp().join("nested-site-app");
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(&script)
        .arg("--site-packages")
        .arg(dir.join("site"))
        .arg("-o")
        .arg(&binary)
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains(", 1 module compiled by Cython,"), "only the script is the app's: {said}");
    assert!(said.contains("notinstalledanywhere") && !said.contains("is not read unless given"), "{said}");
    assert!(said.contains("hint: install the packages that provide them into"), "{said}");
    let run = Command::new(&binary).output().unwrap();
    assert_eq!(text(&run), "1 /__pyelf__/helperlib/__init__.py\n", "{}", String::from_utf8_lossy(&run.stderr));
}

/// Full RELRO holds at run time, not only in the headers: the relocated read-only data is mapped
/// read-only and a write to it kills the process (SIGSEGV). musl applies RELRO only in its
/// dynamic linker, so a static PIE's stayed writable until the launcher protected it.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn relro_is_read_only_at_run_time() {
    use std::os::unix::process::ExitStatusExt;
    let script = tmp().join("relro.py");
    std::fs::write(
        &script,
        r#"import ctypes
import os
import struct
import sys

PT_GNU_RELRO = 0x6474E552
with open("/proc/self/exe", "rb") as f:
    elf = f.read(1 << 16)
phoff, = struct.unpack_from("<Q", elf, 0x20)
phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
relro = None
for i in range(phnum):
    p_type, _, _, p_vaddr, _, _, p_memsz, _ = struct.unpack_from("<IIQQQQQQ", elf, phoff + i * phentsize)
    if p_type == PT_GNU_RELRO:
        relro = (p_vaddr, p_memsz)
e_type, = struct.unpack_from("<H", elf, 0x10)
maps = [line.split() for line in open("/proc/self/maps")]
path = os.readlink("/proc/self/exe")
exe = [m for m in maps if len(m) > 5 and m[5] == path and m[2] == "00000000"]
base = int(exe[0][0].split("-")[0], 16) if e_type == 3 else 0  # ET_DYN: the first page is the header
addr = base + relro[0]
perms = next(m[1] for m in maps if int(m[0].split("-")[0], 16) <= addr < int(m[0].split("-")[1], 16))
print("RELRO", "read-only" if perms.startswith("r-") else "writable", perms)
sys.stdout.flush()
if sys.argv[1:] == ["write"]:
    byte = ctypes.c_ubyte.from_address(addr)
    byte.value = byte.value
    print("written")
"#,
    )
    .unwrap();
    for (name, flags) in [("relro", &[][..]), ("relro-no-pie", &["--no-pie"][..])] {
        let binary = build(&script, name, flags);
        assert_eq!(stdout_of(&mut Command::new(&binary), name), "RELRO read-only r--p\n", "{name}");
        let mut write = Command::new(&binary);
        write.arg("write");
        // SAFETY: between fork and exec only setrlimit(2), which is async-signal-safe: no core
        // file for the crash the test expects.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut write, || {
                let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                Ok(())
            });
        }
        let write = write.output().unwrap();
        assert_eq!(write.status.signal(), Some(libc::SIGSEGV), "{name}: {:?}: {}", write.status, text(&write));
        assert_eq!(text(&write), "RELRO read-only r--p\n", "{name}");
    }
}

/// OpenSSL's read-only data is relocated when a module that links OpenSSL is first imported, not
/// at every start: until then its pages are inaccessible and not resident, as python3's
/// libcrypto.so is not loaded before `_hashlib` or `_ssl` is. Then hashlib and ssl work, and the
/// data is read-only. With `--no-pie` there is nothing to relocate, and the same holds.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn openssl_data_is_relocated_when_first_used() {
    let script = tmp().join("lazy-openssl.py");
    std::fs::write(
        &script,
        r#"import os
import struct
import sys

def openssl_data():
    """The permissions and resident KiB of the mapping of the binary's .data.pyelf_lazy."""
    with open("/proc/self/exe", "rb") as f:
        elf = f.read()
    e_type, = struct.unpack_from("<H", elf, 0x10)
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    def section(i):
        return struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
    names = section(shstrndx)[4]
    for i in range(shnum):
        name, _, _, addr, _, size = section(i)
        if elf[names + name:].split(b"\0")[0] == b".data.pyelf_lazy":
            break
    else:
        return "no section"
    path = os.readlink("/proc/self/exe")
    maps = [line.split() for line in open("/proc/self/maps")]
    exe = [m for m in maps if len(m) > 5 and m[5] == path and m[2] == "00000000"]
    base = int(exe[0][0].split("-")[0], 16) if e_type == 3 else 0
    start = base + addr
    found, mapping, rss = None, "no mapping", 0
    for line in open("/proc/self/smaps"):
        head = line.split()
        if "-" in head[0] and len(head) > 4:
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            found = head[1] if lo <= start < hi else None
            mapping = found
        elif found and head[0] == "Rss:":
            rss = int(head[1])
            break
    return f"{mapping} {'resident' if rss else 'not resident'} ({size // 1024} KiB)"

print("before", openssl_data())
import hashlib
import ssl
print(hashlib.sha256(b"abc").hexdigest(), hashlib.new("md5", b"abc").hexdigest())
print(hashlib.pbkdf2_hmac("sha512", b"password", b"salt", 1000).hex()[:32])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
print(ssl.OPENSSL_VERSION.split()[0], ctx.verify_mode, ctx.minimum_version)
print("after", openssl_data())
"#,
    )
    .unwrap();
    let hashes = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 900150983cd24fb0d6963f7d28e17f72\n\
                  afe6c5530785b6cc6b1c6453384731bd\n\
                  OpenSSL 2 771\n";
    for (name, flags, before, after) in [
        ("lazy-openssl", &[][..], "---p not resident", "r--p resident"),
        ("lazy-openssl-no-pie", &["--no-pie"][..], "---p not resident", "r--p resident"),
    ] {
        let binary = build(&script, name, flags);
        let out = stdout_of(&mut Command::new(&binary), name);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with(&format!("before {before} (")), "{name}: {out}");
        // About half a megabyte: libcrypto's and libssl's read-only data with pointers.
        let kib: u64 = lines[0].rsplit('(').next().unwrap().trim_end_matches(" KiB)").parse().unwrap();
        assert!((256..2048).contains(&kib), "{name}: {out}");
        assert_eq!(lines[1..4].join("\n") + "\n", hashes, "{name}");
        assert!(lines[4].starts_with(&format!("after {after} (")), "{name}: {out}");
    }
}

/// A package whose `__init__.py` does not compile (Python 2 code, say) is left out with its
/// submodules, which python cannot import either, and one note names the file. modulefinder
/// registers a package before it compiles its `__init__`: the package stayed, without code, when
/// it had two submodules or more, and the build failed on it ("a module could not be compiled").
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_package_that_does_not_compile_is_left_out_with_its_submodules() {
    let dir = tmp().join("py2-package");
    std::fs::create_dir_all(dir.join("py2pkg")).unwrap();
    std::fs::write(dir.join("py2pkg/__init__.py"), "print 'python 2'\n").unwrap();
    std::fs::write(dir.join("py2pkg/a.py"), "A = 1\n").unwrap();
    std::fs::write(dir.join("py2pkg/b.py"), "B = 2\n").unwrap();
    // A package that compiles, with a Python 2 submodule imported on a path python 3 never takes:
    // it stays.
    std::fs::create_dir_all(dir.join("okpkg")).unwrap();
    std::fs::write(
        dir.join("okpkg/__init__.py"),
        "import sys\nif sys.version_info[0] == 2:\n    from . import legacy\nOK = 1\n",
    )
    .unwrap();
    std::fs::write(dir.join("okpkg/legacy.py"), "print 'python 2'\n").unwrap();
    let script = dir.join("app.py");
    std::fs::write(
        &script,
        r#"import importlib
import okpkg
print("okpkg", okpkg.OK)
for name in ("py2pkg", "py2pkg.a", "py2pkg.b"):
    try:
        importlib.import_module(name)
    except (ImportError, SyntaxError):
        print(name, "cannot be imported")
"#,
    )
    .unwrap();
    let binary = tmp().join("py2-package-app");
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(&script)
        .args(["--include-package", "py2pkg", "-o"])
        .arg(&binary)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("leaving out py2pkg").count(), 1, "{err}");
    assert!(err.contains("py2pkg/__init__.py:1"), "{err}");
    let run = Command::new(&binary).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(text(&run), host_python(&script, &[]));
}

/// freeze.py scans bytecode for imports in its own way (one pass over the bytes, most code
/// objects skipped at once): what it finds must be what modulefinder's dis-based scan finds, for
/// every code object of the stdlib.
/// Each module imports the next as it is imported, 123 deep, the deepest such chain CPython 3.13
/// imports within its default recursion limit (124 fails there). The import analysis follows
/// such a chain by recursion too, a few frames a module more than the import does: it failed
/// from 122 deep (sympy's chain is as deep), so no app that imports sympy could be built.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_chain_of_imports_as_deep_as_python_imports_is_followed() {
    let dir = tmp().join("deep-imports-app");
    let pkg = dir.join("chain");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "from . import m0\n").unwrap();
    const DEPTH: usize = 123;
    for i in 0..DEPTH {
        let text = if i + 1 < DEPTH {
            format!("from . import m{}\nDEPTH = m{}.DEPTH + 1\n", i + 1, i + 1)
        } else {
            "DEPTH = 1\n".into()
        };
        std::fs::write(pkg.join(format!("m{i}.py")), text).unwrap();
    }
    let script = dir.join("app.py");
    std::fs::write(&script, "import chain\nprint(chain.m0.DEPTH)\n").unwrap();
    let binary = build(&script, "deep-imports", &[]);
    assert_eq!(stdout_of(&mut Command::new(&binary), "deep-imports"), format!("{DEPTH}\n"));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_analysis_scans_bytecode_as_modulefinder_does() {
    let facts = tmp().join("scan-facts.json");
    std::fs::write(&facts, pyelf::build::freeze::facts_for_analysis().to_string()).unwrap();
    let check = r#"
import glob, importlib.util, modulefinder, os, sys, types
spec = importlib.util.spec_from_file_location("freeze", sys.argv[1])
freeze = importlib.util.module_from_spec(spec)
spec.loader.exec_module(freeze)
finder = modulefinder.ModuleFinder()
count = found = 0
for path in sorted(glob.glob(os.path.dirname(os.__file__) + "/**/*.py", recursive=True)):
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
    except SyntaxError:
        continue  # lib2to3's and the tests' deliberately broken files
    stack = [code]
    while stack:
        co = stack.pop()
        stack.extend(c for c in co.co_consts if isinstance(c, types.CodeType))
        want = list(modulefinder.ModuleFinder.scan_opcodes(finder, co))
        got = list(freeze.scan_opcodes(co))
        if got != want:
            sys.exit(f"{path}: {co.co_qualname}: {got} != {want}")
        count += 1
        found += len(want)
print(count, found)
"#;
    let out = Command::new(toolchain_python())
        .args(["-I", "-c", check])
        .arg(repo().join("src/build/freeze.py"))
        .env("PYELF_STDLIB_FACTS", &facts)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = text(&out);
    let counts: Vec<usize> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert!(counts[0] > 50_000 && counts[1] > 20_000, "code objects and imports or stores compared: {text}");
}

/// A package whose `__init__` is an extension module (mypyc compiles pytokens' `__init__.py`): the
/// analysis takes the extension as the package's module, as python does, instead of recursing
/// until Python's stack runs out.
#[test]
#[ignore = "needs the toolchain; run by ./test.sh"]
fn a_package_whose_init_is_an_extension_module_is_analysed() {
    let facts = tmp().join("init-ext-facts.json");
    std::fs::write(&facts, pyelf::build::freeze::facts_for_analysis().to_string()).unwrap();
    let site = tmp().join("init-ext-site");
    let pkg = site.join("compiledpkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "from compiledpkg import helper\n").unwrap();
    std::fs::write(pkg.join("helper.py"), "import json\n").unwrap();
    let script = tmp().join("init-ext.py");
    std::fs::write(&script, "import compiledpkg\n").unwrap();
    let check = r#"
import importlib.machinery, importlib.util, os, sys
spec = importlib.util.spec_from_file_location("freeze", sys.argv[1])
freeze = importlib.util.module_from_spec(spec)
spec.loader.exec_module(freeze)
site, script = sys.argv[2], sys.argv[3]
# The compiled __init__ (never loaded by the analysis: its bytes do not matter).
with open(os.path.join(site, "compiledpkg", "__init__" + importlib.machinery.EXTENSION_SUFFIXES[0]), "wb") as f:
    f.write(b"ELF")
sys.path.insert(0, site)
names, imported, _codes, _missing = freeze.analyse(script, [])
print(sorted(n for n in names if n.startswith("compiledpkg")), "compiledpkg" in imported)
"#;
    let out = Command::new(toolchain_python())
        .args(["-I", "-c", check])
        .arg(repo().join("src/build/freeze.py"))
        .arg(&site)
        .arg(&script)
        .env("PYELF_STDLIB_FACTS", &facts)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text(&out), "['compiledpkg'] True\n");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn an_installed_pyelf_builds_from_any_directory() {
    // What `cargo install --path .` puts on PATH: the binary alone, away from the repository,
    // run in a project directory of its own (pins, recipes and helper scripts are compiled in).
    let bin = tmp().join("installed/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_pyelf"), bin.join("pyelf")).unwrap();
    let project = tmp().join("installed/work");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("hi.py"), "import sys, json\nprint(json.dumps({'argv': sys.argv[1:]}))\n").unwrap();
    let out = Command::new(bin.join("pyelf"))
        .args(["build", "hi.py"])
        .current_dir(&project)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exe = project.join("target/pyelf/x86_64-unknown-linux-musl/hi");
    assert_eq!(text(&out).trim(), "target/pyelf/x86_64-unknown-linux-musl/hi", "prints what it wrote");
    let run = Command::new(&exe).args(["a", "b"]).output().unwrap();
    assert_eq!(text(&run), "{\"argv\": [\"a\", \"b\"]}\n");
}

/// The release profile (PGO+LTO) gives the same program: test.py built with it prints what python
/// prints, in every root with and without /proc, and it is the optimised CPython. The release
/// toolchain takes about 25 minutes to build, more than CI's budget for a cold run allows, so
/// this test uses it when it is built (`pyelf toolchain --profile release`, or `cargo xtask
/// bench`) and says so when it is not.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_release_profile_builds_the_same_program() {
    let home = pyelf::home::Home::from_env().unwrap();
    let pins = pyelf::toolchain::pins::Pins::builtin();
    let target = pins.target("x86_64-unknown-linux-musl").unwrap();
    let release = pyelf::toolchain::profile::Profiles::builtin().get(Some("release")).unwrap();
    if !pyelf::toolchain::is_built(&home, target, release).unwrap() {
        eprintln!("SKIPPED: the release toolchain is not built here (pyelf toolchain --profile release)");
        return;
    }
    let bin = build(&repo().join("test.py"), "test-release", &["--profile", "release"]);
    let want = host_python(&repo().join("test.py"), &[]);
    assert_eq!(text(&Command::new(&bin).output().unwrap()), want, "on the host");
    for kind in ["empty", "alpine"] {
        let root = root_with(kind, &bin, "release");
        assert_eq!(text(&in_root(&root, "/app", "/app", &[], true)), want, "{kind}, no /proc");
        assert_eq!(text(&in_root_with_proc(&root, "/app")), want, "{kind}, /proc");
    }
    // The optimised CPython, as its build recorded (test.py's binary embeds sysconfig's data when
    // something imports sysconfig; the toolchain's python3 answers for the same build).
    let tc = pyelf::toolchain::ensure(
        &home,
        &pins,
        "x86_64-unknown-linux-musl",
        &pyelf::toolchain::Options { profile: release.clone(), ..Default::default() },
    )
    .unwrap();
    let out = Command::new(tc.python())
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('CONFIG_ARGS'))"])
        .output()
        .unwrap();
    let args = text(&out);
    assert!(args.contains("--enable-optimizations") && args.contains("--with-lto"), "{args}");
    assert_eq!(tc.manifest().unwrap().profile, "release");
    // The instrumented build that the training ran had a neutral prefix compiled in (so that its
    // counts do not depend on the home); everything installed has the toolchain's own again.
    let out = Command::new(tc.python())
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('prefix')); print(sysconfig.get_config_var('BINDIR'))",
        ])
        .output()
        .unwrap();
    let root = tc.root.display().to_string();
    assert_eq!(text(&out), format!("{root}\n{root}/bin\n"));
    let config = tc.root.join("lib/python3.13/config-3.13-x86_64-linux-musl/python-config.py");
    for script in [tc.root.join("bin/pydoc3.13"), tc.root.join("bin/idle3.13"), config] {
        let first = std::fs::read_to_string(&script).unwrap().lines().next().unwrap_or_default().to_string();
        assert_eq!(first, format!("#!{root}/bin/python3.13"), "{}", script.display());
    }
    let facts = pyelf::elf::check_static(&bin, X86_64).unwrap();
    assert!(facts.pie && facts.needed.is_empty() && facts.interpreter.is_none());
}

/// Cython's cache of C files leaves their order alone: modules whose C comes from the cache and
/// modules compiled now come back in the order they were given, so the objects' order and the
/// modules' init numbering (and the binary's bytes) do not follow what happened to be cached.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn cythons_cache_keeps_the_modules_in_their_order() {
    use pyelf::build::cython::{compile_modules, ensure, CythonPin, ModuleSource, Semantics};
    let tc = toolchain();
    let cython = ensure(&pyelf::home::Home::from_env().unwrap(), &CythonPin::builtin()).unwrap();
    let src = tmp().join("cython-order");
    std::fs::create_dir_all(&src).unwrap();
    // Sources of their own (the time in them), so that no other build has cached them.
    let stamp = format!("{:?}", std::time::SystemTime::now());
    let modules: Vec<ModuleSource> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|n| {
            std::fs::write(src.join(format!("{n}.py")), format!("NAME = {n:?}\nSTAMP = {stamp:?}\n")).unwrap();
            // gamma in a share of its own (Cython's semantics), whose C still comes last.
            let semantics = if *n == "gamma" { Semantics::Cython } else { Semantics::Python };
            ModuleSource { name: n.to_string(), root: src.clone(), rel: format!("{n}.py").into(), semantics }
        })
        .collect();
    let names = |c: &pyelf::build::cython::Compiled| c.c_files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    // beta alone first: its C is cached, then the three with alpha and gamma compiled anew.
    let first = compile_modules(&tc, &cython, &modules[1..2], &[], &tmp().join("cython-order-1")).unwrap();
    assert_eq!(names(&first), ["beta"]);
    let all = compile_modules(&tc, &cython, &modules, &[], &tmp().join("cython-order-2")).unwrap();
    assert!(all.failed.is_empty(), "{:?}", all.failed);
    assert_eq!(names(&all), ["alpha", "beta", "gamma"]);
}
