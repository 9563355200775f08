//! Reading a finished ELF file: is it really static?

use anyhow::{bail, Context, Result};
use goblin::elf::Elf;
use std::path::Path;

/// What matters about an executable for running on any Linux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFacts {
    /// The program interpreter (`PT_INTERP`), which a static binary has none of.
    pub interpreter: Option<String>,
    /// Needed shared libraries (`DT_NEEDED`).
    pub needed: Vec<String>,
    pub is_64: bool,
    /// `e_machine` (62 = x86_64).
    pub machine: u16,
    /// Position independent (ET_DYN), i.e. static-pie when there is no interpreter.
    pub pie: bool,
}

pub fn inspect(path: &Path) -> Result<ElfFacts> {
    let bytes = fs_err::read(path)?;
    let elf = Elf::parse(&bytes).with_context(|| format!("{} is not an ELF file", path.display()))?;
    Ok(ElfFacts {
        interpreter: elf.interpreter.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        is_64: elf.is_64,
        machine: elf.header.e_machine,
        pie: elf.header.e_type == goblin::elf::header::ET_DYN,
    })
}

/// Fails unless `path` is an x86_64 ELF with no program interpreter and no needed libraries.
pub fn check_static(path: &Path) -> Result<ElfFacts> {
    let facts = inspect(path)?;
    if let Some(interp) = &facts.interpreter {
        bail!("{} has a program interpreter ({interp}): it is not static", path.display());
    }
    if !facts.needed.is_empty() {
        bail!("{} needs shared libraries ({}): it is not static", path.display(), facts.needed.join(", "));
    }
    if !facts.is_64 || facts.machine != goblin::elf::header::EM_X86_64 {
        bail!("{} is not an x86_64 ELF (machine {})", path.display(), facts.machine);
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dynamic_binary_is_not_static() {
        // The test binary itself is linked against the host's libc.
        let me = std::env::current_exe().unwrap();
        let facts = super::inspect(&me).unwrap();
        assert!(facts.interpreter.is_some() || !facts.needed.is_empty());
        assert!(super::check_static(&me).is_err());
    }
}
