//! The stages of a build, in order, each a function of the earlier stages' results that returns
//! its own: the [`plan`] (options settled, project, toolchain, work directory; no later stage
//! reads the options), the app's [`dependencies`] and main module, the main script's C
//! ([`compile::script`], first, so that its errors stop the build), the [`analysis`] of what the
//! app imports, the modules [`compile`]d by Cython, the [`bundle`] (frozen modules, data,
//! inittab, launcher, SBOM) and the linked [`binary`].

pub mod analysis;
pub mod binary;
pub mod bundle;
pub mod compile;
pub mod dependencies;
pub mod plan;
