//! The names the app's main module gets inside the binary, shared by the stages that compile,
//! freeze and register it.

/// The built-in module name of the app's script inside the binary: fixed, so that a script called
/// `json.py` does not shadow the stdlib's json. It runs as `__main__`.
pub const APP_MODULE: &str = "_pyelf_main";

/// The name Cython compiles the script as: what its classes and functions give as `__module__`,
/// as in `python app.py`.
pub const SCRIPT_CYTHON_NAME: &str = "__main__";
