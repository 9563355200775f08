//! Compiles the binary's file tree (`src/runtime/vfs.c`) for the `vfs_paths` target, with the
//! root every binary uses.

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("launcher.h"), "#define PYELF_VFS_ROOT \"/__pyelf__\"\n").unwrap();
    println!("cargo:rerun-if-changed=../src/runtime/vfs.c");
    cc::Build::new().file("../src/runtime/vfs.c").include(&out).warnings(false).compile("pyelf_vfs");
    println!("cargo:rustc-link-lib=z");
}
