//! Feeds shared objects to the binary's loader (`src/runtime/loader.c`, compiled as it is into
//! binaries with wheels, under other names): any bytes are mapped, read and relocated, or refused
//! with a message, never a crash. Objects whose ELF header parses also go through the build's
//! checks (`loadable::refusal`), which must not panic either. The objects' code never runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

thread_local! {
    static OBJECT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

const PATH: &[u8] = b"/__pyelf__/fuzz.so\0";

extern "C" {
    fn pyelf_fuzz_dlopen(file: *const c_char, mode: c_int) -> *mut c_void;
    fn pyelf_loader_fuzz_reset();
}

/// The tree: one object, at PATH.
#[no_mangle]
pub extern "C" fn pyelf_fuzz_stored(
    path: *const c_char,
    data: *mut *const u8,
    size: *mut usize,
    name: *mut c_char,
    cap: usize,
) -> c_int {
    // SAFETY: the loader passes NUL-terminated paths and room for `cap` bytes of name.
    unsafe {
        if CStr::from_ptr(path).to_bytes_with_nul() != PATH || cap < PATH.len() {
            *libc::__errno_location() = libc::ENOENT;
            return -1;
        }
        OBJECT.with(|o| {
            let o = o.borrow();
            *data = o.as_ptr();
            *size = o.len();
        });
        std::ptr::copy_nonoverlapping(PATH.as_ptr().cast(), name, PATH.len());
    }
    0
}

/// No archive: objects are copied, not mapped from a file.
#[no_mangle]
pub extern "C" fn pyelf_fuzz_archive(zip: *mut *const u8, size: *mut usize) {
    // SAFETY: the loader passes two places to write.
    unsafe {
        *zip = std::ptr::null();
        *size = 0;
    }
}

/// Nothing is mapped from a file: nothing to drop.
#[no_mangle]
pub extern "C" fn pyelf_fuzz_release(_lo: *const u8, _hi: *const u8, _p: *const u8, _n: usize) {}

#[no_mangle]
pub extern "C" fn pyelf_fuzz_seterr(_fmt: *const c_char) {}

#[repr(C)]
pub struct Export {
    name: *const c_char,
    addr: *const c_void,
    zlib: c_int,
}
// SAFETY: static, read-only data.
unsafe impl Sync for Export {}

#[no_mangle]
pub static pyelf_exports: [Export; 1] = [Export { name: c"malloc".as_ptr(), addr: c"malloc".as_ptr().cast(), zlib: 0 }];
#[no_mangle]
pub static pyelf_export_count: usize = 1;

fuzz_target!(|data: &[u8]| {
    if let Ok(elf) = goblin::elf::Elf::parse(data) {
        let _ = pyelf::build::loadable::refusal(&elf, goblin::elf::header::EM_X86_64);
    }
    OBJECT.with(|o| *o.borrow_mut() = data.to_vec());
    // SAFETY: a NUL-terminated path; then what loaded is unmapped (the loader itself never
    // unloads), so that each input is loaded afresh.
    unsafe {
        pyelf_fuzz_dlopen(PATH.as_ptr().cast(), libc::RTLD_NOW);
        pyelf_loader_fuzz_reset();
    }
});
