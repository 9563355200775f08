//! Compiles every `toolchains/targets/*.toml` into pyelf: a target is added by adding its file.

use std::path::Path;

fn main() {
    let dir = Path::new("toolchains/targets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("toolchains/targets")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let mut out = String::from("&[\n");
    for n in &names {
        let triple = n.trim_end_matches(".toml");
        let path = std::fs::canonicalize(dir.join(n)).expect("target file");
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!("    ({triple:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    out.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("targets.rs");
    std::fs::write(dest, out).expect("writing targets.rs");
}
