//! pyelf: turn a Python script into one fully static x86_64 Linux executable.
//!
//! The pipeline, one module per stage: [`pins`] (what to build) → [`fetch`] (verified sources) →
//! [`unpack`] (source trees) → [`recipes`] (musl, zlib, expat, CPython) → [`toolchain`] (a finished,
//! cached toolchain). [`cli`] is the command line shared by the `pyelf` binary and `cargo xtask`.

pub mod cli;
pub mod compiler;
pub mod elf;
pub mod error;
pub mod fetch;
pub mod home;
pub mod pins;
pub mod progress;
pub mod recipes;
pub mod steplog;
pub mod toolchain;
pub mod unpack;

pub use error::Error;
