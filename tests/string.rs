//! The binary's memcpy, memmove, memset, memcmp and strlen (`src/runtime/string.c`), which replace
//! musl's in every binary: compiled with the host's C compiler under other names and checked against
//! plain byte loops (`tests/c/string_check.c`) for every length, alignment and overlap up to 300
//! bytes, and strlen on strings that end at a page followed by an unmapped one.

use std::path::Path;
use std::process::Command;

#[test]
fn the_binarys_string_functions_give_what_byte_loops_give() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("string_check");
    for opt in ["-O2", "-O0"] {
        let cc = Command::new("cc")
            .args([opt, "-std=gnu11", "-Wall", "-Werror", "-DPYELF_STRING_TEST", "-o"])
            .arg(&exe)
            .arg(repo.join("src/runtime/string.c"))
            .arg(repo.join("tests/c/string_check.c"))
            .output()
            .expect("cc runs");
        assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
        let out = Command::new(&exe).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.ends_with("0 failures\n"), "{opt}: {text}");
    }
}
