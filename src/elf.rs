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

/// Whether a symbol is one that only glibc has (its fortified `__*_chk` functions, C23's
/// `__isoc23_*` scanf and strtol): code that needs it was compiled against glibc's headers, or is
/// a glibc-built archive, and cannot work with musl.
pub fn is_glibc_only(symbol: &str) -> bool {
    (symbol.starts_with("__") && symbol.ends_with("_chk")) || symbol.starts_with("__isoc23_")
}

/// The glibc-only symbols an ELF file's symbol tables name (none when it is stripped).
pub fn glibc_only_symbols(elf: &Elf) -> Vec<String> {
    let mut out: Vec<String> = elf
        .syms
        .iter()
        .filter_map(|s| elf.strtab.get_at(s.st_name))
        .chain(elf.dynsyms.iter().filter_map(|s| elf.dynstrtab.get_at(s.st_name)))
        .filter(|n| is_glibc_only(n))
        .map(String::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Fails unless `path` is a 64-bit ELF for `machine` with no program interpreter and no needed
/// libraries.
pub fn check_static(path: &Path, machine: u16) -> Result<ElfFacts> {
    let facts = inspect(path)?;
    let bytes = fs_err::read(path)?;
    let glibc = glibc_only_symbols(&Elf::parse(&bytes)?);
    if !glibc.is_empty() {
        bail!(
            "{} names symbols only glibc has ({}): some of its code was compiled against glibc's headers or is a glibc-built library, and would not work with musl",
            path.display(),
            glibc.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(interp) = &facts.interpreter {
        bail!("{} has a program interpreter ({interp}): it is not static", path.display());
    }
    if !facts.needed.is_empty() {
        bail!("{} needs shared libraries ({}): it is not static", path.display(), facts.needed.join(", "));
    }
    if !facts.is_64 || facts.machine != machine {
        bail!(
            "{} is not a 64-bit {} ELF (machine {})",
            path.display(),
            machine_name(machine),
            machine_name(facts.machine)
        );
    }
    Ok(facts)
}

/// A readable name of an ELF machine (`x86_64`, `aarch64`, else its number).
pub fn machine_name(machine: u16) -> String {
    match machine {
        goblin::elf::header::EM_X86_64 => "x86_64".into(),
        goblin::elf::header::EM_AARCH64 => "aarch64".into(),
        m => format!("machine {m}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_only_symbols_are_told_from_musls() {
        for s in ["__printf_chk", "__memcpy_chk", "__isoc23_sscanf", "__isoc23_strtol"] {
            assert!(super::is_glibc_only(s), "{s}");
        }
        for s in ["printf", "__stack_chk_fail", "__stack_chk_guard", "__isoc99_sscanf", "__libc_start_main", "_chk"] {
            assert!(!super::is_glibc_only(s), "{s}");
        }
    }

    #[test]
    fn a_dynamic_binary_is_not_static() {
        // The test binary itself is linked against the host's libc.
        let me = std::env::current_exe().unwrap();
        let facts = super::inspect(&me).unwrap();
        assert!(facts.interpreter.is_some() || !facts.needed.is_empty());
        assert!(super::check_static(&me, goblin::elf::header::EM_X86_64).is_err());
    }
}
