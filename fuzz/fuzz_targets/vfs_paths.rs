//! Feeds paths to the binary's file tree (`src/runtime/vfs.c`, compiled as it is into every
//! binary) over a small archive, and checks every answer against a model of the kernel's path
//! walk: the node reached or the errno (ENOENT, ENOTDIR, ENAMETOOLONG), or the host path handed on
//! to libc when the path is not the tree's (`..` out of the tree included). `tests/vfs.rs` checks
//! the same rules against the kernel itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::{Mutex, Once};

const DIRS: &[&str] = &["", "a", "a/b", "lib", "lib/python3.13"];
const FILES: &[(&str, &[u8])] =
    &[("f", b"f"), ("a/g", b"g"), ("a/b/h", b"hh"), ("lib/python3.13/os.py", b"import sys\n")];

/// The frozen code of `lib/python3.13/os.py`, whose `.pyc` vfs.c adds to the tree beside it (the
/// table freeze.py writes into frozen.c, here uncompressed), and another whose source is not there.
const CODE: &[u8] = b"code";
const PYC_DIR: &str = "lib/python3.13/__pycache__";
const PYC: &str = "lib/python3.13/__pycache__/os.cpython-313.pyc";

#[repr(C)]
pub struct Pyc {
    source: *const c_char,
    data: *const u8,
    size: u32,
    usize: u32,
}
// SAFETY: the table points at constant bytes only.
unsafe impl Sync for Pyc {}

#[no_mangle]
pub static pyelf_pyc_magic: [u8; 4] = [0xf3, 0x0d, 0x0d, 0x0a];
#[no_mangle]
pub static pyelf_pyc_tag: [u8; 12] = *b"cpython-313\0";
#[no_mangle]
pub static pyelf_pyc_count: u32 = 2;
#[no_mangle]
pub static pyelf_pyc_files: [Pyc; 2] = [
    Pyc { source: c"lib/python3.13/os.py".as_ptr(), data: CODE.as_ptr(), size: 4, usize: 0 },
    Pyc { source: c"lib/python3.13/missing.py".as_ptr(), data: CODE.as_ptr(), size: 4, usize: 0 },
];

// The blobs the frozen code is in (the build's frozen_blob.S and packed_blob.S): bounds only.
std::arch::global_asm!(
    ".section .rodata",
    ".global pyelf_frozen_blob", ".global pyelf_frozen_blob_end",
    ".global pyelf_packed_blob", ".global pyelf_packed_blob_end",
    "pyelf_frozen_blob:", "pyelf_frozen_blob_end:", "pyelf_packed_blob:", "pyelf_packed_blob_end:",
    ".byte 0",
    ".text",
);

extern "C" {
    fn pyelf_vfs_init(zip: *const u8, size: usize);
    fn __wrap_stat(path: *const c_char, st: *mut libc::stat) -> c_int;
    fn __wrap_open(path: *const c_char, flags: c_int, ...) -> c_int;
}

/// The last path the tree handed on to libc.
static HOST: Mutex<Option<Vec<u8>>> = Mutex::new(None);

fn handed_on(path: *const c_char) -> c_int {
    // SAFETY: vfs.c passes a NUL-terminated path.
    let p = unsafe { CStr::from_ptr(path) }.to_bytes().to_vec();
    *HOST.lock().unwrap() = Some(p);
    // SAFETY: setting errno.
    unsafe { *libc::__errno_location() = libc::ENOSYS };
    -1
}

macro_rules! host_only {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $fail:expr;)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($($arg: $ty),*) -> $ret {
            let _ = ($($arg,)*);
            $fail
        }
    )*};
}

#[no_mangle]
pub extern "C" fn __real_stat(path: *const c_char, _st: *mut libc::stat) -> c_int {
    handed_on(path)
}

#[no_mangle]
pub extern "C" fn __real_open(path: *const c_char, _flags: c_int, _mode: c_int) -> c_int {
    handed_on(path)
}

host_only! {
    __real_openat(d: c_int, p: *const c_char, f: c_int, m: c_int) -> c_int = -1;
    __real_lstat(p: *const c_char, s: *mut libc::stat) -> c_int = -1;
    __real_fstatat(d: c_int, p: *const c_char, s: *mut libc::stat, f: c_int) -> c_int = -1;
    __real_access(p: *const c_char, m: c_int) -> c_int = -1;
    __real_faccessat(d: c_int, p: *const c_char, m: c_int, f: c_int) -> c_int = -1;
    __real_opendir(p: *const c_char) -> *mut libc::DIR = std::ptr::null_mut();
    __real_readdir(d: *mut libc::DIR) -> *mut libc::dirent = std::ptr::null_mut();
    __real_closedir(d: *mut libc::DIR) -> c_int = -1;
    __real_rewinddir(d: *mut libc::DIR) -> () = ();
    __real_dirfd(d: *mut libc::DIR) -> c_int = -1;
    __real_readlink(p: *const c_char, b: *mut c_char, n: usize) -> isize = -1;
    __real_readlinkat(d: c_int, p: *const c_char, b: *mut c_char, n: usize) -> isize = -1;
    __real_fopen(p: *const c_char, m: *const c_char) -> *mut libc::FILE = std::ptr::null_mut();
    __real_mkdir(p: *const c_char, m: libc::mode_t) -> c_int = -1;
    __real_mkdirat(d: c_int, p: *const c_char, m: libc::mode_t) -> c_int = -1;
    __real_unlink(p: *const c_char) -> c_int = -1;
    __real_unlinkat(d: c_int, p: *const c_char, f: c_int) -> c_int = -1;
    __real_rmdir(p: *const c_char) -> c_int = -1;
    __real_rename(a: *const c_char, b: *const c_char) -> c_int = -1;
    __real_renameat(a: c_int, b: *const c_char, c: c_int, d: *const c_char) -> c_int = -1;
    __real_statvfs(p: *const c_char, s: *mut libc::statvfs) -> c_int = -1;
    __real_chdir(p: *const c_char) -> c_int = -1;
    __real_fchdir(d: c_int) -> c_int = -1;
    __real_getcwd(b: *mut c_char, n: usize) -> *mut c_char = std::ptr::null_mut();
}

/// A zip archive of the tree, every file stored.
fn archive() -> &'static [u8] {
    static mut ZIP: Vec<u8> = Vec::new();
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let (mut zip, mut central) = (Vec::new(), Vec::new());
        let mut entries: Vec<(String, &[u8])> =
            DIRS.iter().filter(|d| !d.is_empty()).map(|d| (format!("{d}/"), &b""[..])).collect();
        entries.extend(FILES.iter().map(|(n, b)| (n.to_string(), *b)));
        for (name, data) in &entries {
            let offset = zip.len() as u32;
            let crc = crc32(data);
            let fixed = |sig: u32, central: bool| {
                let mut h = sig.to_le_bytes().to_vec();
                if central {
                    h.extend(20u16.to_le_bytes());
                }
                h.extend(20u16.to_le_bytes()); // version needed
                h.extend([0, 0, 0, 0, 0, 0, 0, 0]); // flags, method (stored), time, date
                h.extend(crc.to_le_bytes());
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((name.len() as u16).to_le_bytes());
                h.extend(0u16.to_le_bytes()); // extra
                h
            };
            zip.extend(fixed(0x0403_4b50, false));
            zip.extend(name.as_bytes());
            zip.extend(*data);
            central.extend(fixed(0x0201_4b50, true));
            central.extend([0u8; 10]); // comment length, disk, internal and external attributes
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let start = zip.len() as u32;
        let size = central.len() as u32;
        zip.extend(central);
        zip.extend(0x0605_4b50u32.to_le_bytes());
        zip.extend([0u8; 4]);
        zip.extend((entries.len() as u16).to_le_bytes());
        zip.extend((entries.len() as u16).to_le_bytes());
        zip.extend(size.to_le_bytes());
        zip.extend(start.to_le_bytes());
        zip.extend(0u16.to_le_bytes());
        // SAFETY: written once, before any reader.
        unsafe {
            ZIP = zip;
            pyelf_vfs_init((*std::ptr::addr_of!(ZIP)).as_ptr(), (*std::ptr::addr_of!(ZIP)).len());
        }
    });
    // SAFETY: never written again.
    unsafe { &*std::ptr::addr_of!(ZIP) }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// What the kernel would make of `path` with the tree mounted at /__pyelf__.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A node: a directory, or a file of this many bytes.
    Dir,
    File(usize),
    Error(c_int),
    /// Not the tree's: this path goes to libc.
    Host(Vec<u8>),
}

fn model(path: &[u8]) -> Outcome {
    if path.first() != Some(&b'/') || path.len() >= 4096 {
        return Outcome::Host(path.to_vec());
    }
    let mut current: Vec<u8> = path.to_vec();
    loop {
        let comps: Vec<&[u8]> = current.split(|&c| c == b'/').collect();
        // Past the host's root: empty parts, `.` and `..` stay there.
        let mut i = 0;
        while i < comps.len() && matches!(comps[i], b"" | b"." | b"..") {
            i += 1;
        }
        if i == comps.len() || comps[i] != b"__pyelf__" {
            return Outcome::Host(current);
        }
        let mut node: Option<String> = Some(String::new()); // the directory or file we are at
        let mut is_dir = true;
        let mut j = i + 1;
        let mut slash = false;
        let mut left = None;
        while j < comps.len() {
            let c = comps[j];
            j += 1;
            if c.is_empty() {
                slash = true;
                continue;
            }
            if !is_dir {
                return Outcome::Error(libc::ENOTDIR);
            }
            slash = false;
            let here = node.clone().unwrap();
            match c {
                b"." => {}
                b".." if here.is_empty() => {
                    // The rest, from the host's root.
                    let rest: Vec<u8> = comps[j..].join(&b'/');
                    let mut host = b"/".to_vec();
                    if j < comps.len() || path.ends_with(b"/") {
                        host.push(b'/');
                    }
                    host.extend(rest);
                    left = Some(host);
                    break;
                }
                b".." => node = Some(here.rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default()),
                name => {
                    if name.len() > 255 {
                        return Outcome::Error(libc::ENAMETOOLONG);
                    }
                    let Ok(name) = std::str::from_utf8(name) else { return Outcome::Error(libc::ENOENT) };
                    let child = if here.is_empty() { name.to_string() } else { format!("{here}/{name}") };
                    if DIRS.contains(&child.as_str()) || child == PYC_DIR {
                        is_dir = true;
                    } else if FILES.iter().any(|(n, _)| *n == child) || child == PYC {
                        is_dir = false;
                    } else {
                        return Outcome::Error(libc::ENOENT);
                    }
                    node = Some(child);
                }
            }
        }
        if let Some(host) = left {
            current = host;
            continue;
        }
        let n = node.unwrap();
        return if is_dir {
            Outcome::Dir
        } else if slash {
            Outcome::Error(libc::ENOTDIR)
        } else if n == PYC {
            Outcome::File(16 + CODE.len())
        } else {
            Outcome::File(FILES.iter().find(|(f, _)| *f == n).unwrap().1.len())
        };
    }
}

/// Paths compared as the kernel would see them: the same components from the host's root.
fn same_host_path(a: &[u8], b: &[u8]) -> bool {
    let norm = |p: &[u8]| -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = p.split(|&c| c == b'/').map(|c| c.to_vec()).collect();
        let trailing = p.ends_with(b"/");
        v.retain(|c| !c.is_empty());
        if trailing {
            v.push(Vec::new());
        }
        v
    };
    norm(a) == norm(b)
}

fuzz_target!(|data: &[u8]| {
    archive();
    let mut path: Vec<u8> = data.iter().copied().filter(|&c| c != 0).collect();
    if data.first().is_some_and(|b| b % 2 == 0) {
        let mut p = b"/__pyelf__/".to_vec();
        p.extend(&path[1.min(path.len())..]);
        path = p;
    }
    let want = model(&path);
    let c = CString::new(path.clone()).unwrap();
    *HOST.lock().unwrap() = None;
    // SAFETY: a NUL-terminated path and a stat buffer of the right type.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = unsafe { __wrap_stat(c.as_ptr(), &mut st) };
    let errno = unsafe { *libc::__errno_location() };
    let host = HOST.lock().unwrap().take();
    match &want {
        Outcome::Host(p) => {
            let got = host.unwrap_or_else(|| panic!("{path:?}: the tree answered ({r}, {errno}) for a host path"));
            assert!(same_host_path(&got, p), "{path:?}: handed on {got:?}, not {p:?}");
        }
        Outcome::Error(e) => assert!(host.is_none() && r == -1 && errno == *e, "{path:?}: {r} {errno}, not {e}"),
        Outcome::Dir => assert!(r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFDIR, "{path:?}: not a directory"),
        Outcome::File(n) => assert!(r == 0 && st.st_size as usize == *n, "{path:?}: not the file of {n} bytes"),
    }
    // Opening it agrees with stat, and a file reads as its bytes.
    // SAFETY: a NUL-terminated path; the descriptor is ours to close.
    let fd = unsafe { __wrap_open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if let Outcome::File(n) = want {
        assert!(fd >= 0, "{path:?}: a file that does not open");
        let mut buf = vec![0u8; n + 1];
        let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(got as usize, n);
    }
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
});
