//! pyelf: turn a Python program into one fully static Linux executable (x86_64, or aarch64
//! cross-compiled).
//!
//! The crate is laid out by where code runs:
//!
//! - [`runtime`]: what is compiled into or embedded in every binary pyelf builds (the launcher,
//!   the read-only file tree, the importer, semaphores, the C heap).
//! - [`build`]: the app pipeline at build time, stage by stage: the plan (project and toolchain),
//!   dependencies and native builds, the analysis, Cython, the bundle, the link, the SBOM.
//! - [`toolchain`]: pins, fetch, unpack, recipes, the compiler wrapper, the manifest, profiles
//!   and export/import of the cached toolchain every build links against.
//! - At the top: the command line ([`cli`], [`options`]), the commands that use the pipeline
//!   ([`verify`], [`conformance`]), what pyelf tells the user ([`report`], [`progress`],
//!   [`steplog`], [`error`]), its home ([`home`], [`stale`]) and what both pipelines share
//!   ([`elf`], [`fsutil`]).
//!
//! Dependencies point one way: `cli`, `verify`, `conformance` → `build` → `options`, `toolchain` →
//! the shared modules at the top.

pub mod build;
pub mod cli;
pub mod conformance;
pub mod elf;
pub mod error;
pub mod fsutil;
pub mod home;
pub mod options;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod stale;
pub mod steplog;
pub mod toolchain;
pub mod verify;

pub use error::Error;
