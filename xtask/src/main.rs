//! `cargo xtask …`: the same commands as the `pyelf` binary, from anywhere in the repository.
fn main() -> std::process::ExitCode {
    pyelf::cli::main("cargo xtask")
}
