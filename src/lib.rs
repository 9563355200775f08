//! pyelf: turn a Python script into one fully static Linux executable (x86_64, or aarch64 cross-compiled).
//!
//! The pipeline, one module per stage: [`pins`] (what to build) → [`fetch`] (verified sources) →
//! [`unpack`] (source trees) → [`recipes`] (musl, zlib, expat, CPython) → [`toolchain`] (a finished,
//! cached toolchain) → [`app`] ([`project`] and [`deps`] resolved, Cython C + [`launcher`] +
//! [`freeze`]d modules, [`link`]ed into one static ELF). [`stale`] cleans up after killed runs. [`cli`] is the command line shared by the `pyelf` binary and `cargo xtask`.

pub mod app;
pub mod cli;
pub mod compiler;
pub mod conformance;
pub mod cython;
pub mod deps;
pub mod elf;
pub mod error;
pub mod export;
pub mod fetch;
pub mod freeze;
pub mod home;
pub mod inittab;
pub mod launcher;
pub mod link;
pub mod manifest;
pub mod native;
pub mod objects;
pub mod options;
pub mod pins;
pub mod profile;
pub mod progress;
pub mod project;
pub mod recipes;
pub mod report;
pub mod sbom;
pub mod sizes;
pub mod stale;
pub mod stdlib;
pub mod steplog;
pub mod toolchain;
pub mod unpack;
pub mod verify;

pub use error::Error;
