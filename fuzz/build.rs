//! Compiles the binary's file tree (`src/runtime/vfs.c`) for the `vfs_paths` target, with the
//! root every binary uses.

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("launcher.h"), "#define PYELF_VFS_ROOT \"/__pyelf__\"\n").unwrap();
    println!("cargo:rerun-if-changed=../src/runtime/vfs.c");
    cc::Build::new().file("../src/runtime/vfs.c").include(&out).warnings(false).compile("pyelf_vfs");
    // The loader, under other names than libc's (the fuzzer's own process uses the host's
    // dlopen and dl_iterate_phdr), with the fuzzer's tree and table of exports (the target's).
    println!("cargo:rerun-if-changed=../src/runtime/loader.c");
    let mut loader = cc::Build::new();
    loader.file("../src/runtime/loader.c").include(&out).warnings(false).define("PYELF_LOADER_FUZZ", None);
    for (name, renamed) in [
        ("dlopen", "pyelf_fuzz_dlopen"),
        ("__dlsym", "pyelf_fuzz_dlsym"),
        ("dladdr", "pyelf_fuzz_dladdr"),
        ("dl_iterate_phdr", "pyelf_fuzz_dl_iterate_phdr"),
        ("__dl_invalid_handle", "pyelf_fuzz_invalid_handle"),
        ("__dl_seterr", "pyelf_fuzz_seterr"),
        ("pyelf_vfs_stored", "pyelf_fuzz_stored"),
        ("pyelf_vfs_archive", "pyelf_fuzz_archive"),
        ("pyelf_vfs_release", "pyelf_fuzz_release"),
    ] {
        loader.define(name, renamed);
    }
    loader.compile("pyelf_loader");
    println!("cargo:rustc-link-lib=z");
    println!("cargo:rustc-link-lib=lzma");
}
