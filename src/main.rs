//! The `pyelf` command: parses arguments and hands them to the library.
fn main() -> std::process::ExitCode {
    pyelf::cli::main("pyelf")
}
