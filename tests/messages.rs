//! Error messages compared whole, where the message is the product: what a user reads when a
//! command cannot do what was asked, with the hint that says what to do.

use std::path::Path;
use std::process::Command;

fn pyelf(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .args(args)
        .current_dir(dir)
        .env("PYELF_HOME", dir.join("home"))
        .env("PYELF_OFFLINE", "1")
        .env_remove("PYELF_MIRROR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "$DIR");
    (out.status.code(), err)
}

#[test]
fn a_wrong_setting_in_tool_pyelf() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\nversion = \"1\"\n[project.scripts]\nx = \"x:main\"\n[tool.pyelf]\nstrip = \"no\"\n",
    )
    .unwrap();
    assert_eq!(
        pyelf(dir.path(), &["build", "."]),
        (
            Some(1),
            "error: ./pyproject.toml: [tool.pyelf] is not right\n  caused by: invalid type: string \"no\", expected a boolean\n    in `strip`\n".into()
        )
    );
    std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = \"x\"\n[tool.pyelf]\nno-strip = true\n")
        .unwrap();
    let (code, err) = pyelf(dir.path(), &["build", "."]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("error: ./pyproject.toml: [tool.pyelf] is not right\n  caused by: unknown field `no-strip`, expected one of `target`, `profile`, `output`, `entry`, "),
        "{err}"
    );
}

#[test]
fn a_script_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        pyelf(dir.path(), &["build", "nothere.py"]),
        (
            Some(1),
            "error: no such script: nothere.py\nhint: give the path of a Python file, a package directory with __main__.py, or a project directory with pyproject.toml\n".into()
        )
    );
}

#[test]
fn an_unknown_target() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        pyelf(dir.path(), &["fetch", "--target", "riscv64"]),
        (
            Some(1),
            "error: unknown target 'riscv64'; known targets: aarch64-unknown-linux-musl, x86_64-unknown-linux-musl\n"
                .into()
        )
    );
}

#[test]
fn a_file_that_is_not_a_toolchain_archive() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tc.tar.gz"), "not an archive").unwrap();
    assert_eq!(
        pyelf(dir.path(), &["toolchain", "--import", "tc.tar.gz"]),
        (
            Some(1),
            "error: tc.tar.gz is not a pyelf toolchain archive (pyelf toolchain --export writes them)\n  caused by: invalid gzip header\n".into()
        )
    );
}
