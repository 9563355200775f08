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
    Ok(facts_of(&elf))
}

fn facts_of(elf: &Elf) -> ElfFacts {
    ElfFacts {
        interpreter: elf.interpreter.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        is_64: elf.is_64,
        machine: elf.header.e_machine,
        pie: elf.header.e_type == goblin::elf::header::ET_DYN,
    }
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

/// Functions resolved at load time (GNU IFUNC: `STT_GNU_IFUNC` symbols, `IRELATIVE`
/// relocations), by name where the symbol table says it. A static musl binary never applies
/// IRELATIVE relocations, so such a function would be called at an unrelocated address: aarch64's
/// libatomic and glibc's string functions are built this way, and must never be linked.
pub fn ifunc_uses(elf: &Elf) -> Vec<String> {
    let irelative = match elf.header.e_machine {
        goblin::elf::header::EM_X86_64 => Some(goblin::elf::reloc::R_X86_64_IRELATIVE),
        goblin::elf::header::EM_AARCH64 => Some(goblin::elf::reloc::R_AARCH64_IRELATIVE),
        _ => None,
    };
    let mut out: Vec<String> = elf
        .syms
        .iter()
        .filter(|s| s.st_type() == goblin::elf::sym::STT_GNU_IFUNC)
        .map(|s| elf.strtab.get_at(s.st_name).unwrap_or("?").to_string())
        .collect();
    out.sort();
    out.dedup();
    let relocations = elf
        .dynrelas
        .iter()
        .chain(elf.pltrelocs.iter())
        .chain(elf.shdr_relocs.iter().flat_map(|(_, section)| section.iter()))
        .filter(|r| Some(r.r_type) == irelative)
        .count();
    if relocations > 0 && out.is_empty() {
        out.push(format!("{relocations} IRELATIVE relocations"));
    }
    out
}

/// Fails unless `path` is a 64-bit ELF for `machine` with no program interpreter, no needed
/// libraries and no function resolved at load time (IFUNC).
pub fn check_static(path: &Path, machine: u16) -> Result<ElfFacts> {
    let bytes = fs_err::read(path)?;
    let elf = Elf::parse(&bytes).with_context(|| format!("{} is not an ELF file", path.display()))?;
    let facts = facts_of(&elf);
    let glibc = glibc_only_symbols(&elf);
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
    let ifunc = ifunc_uses(&elf);
    if !ifunc.is_empty() {
        bail!(
            "{} has functions resolved at load time (IFUNC: {}), which a static musl binary cannot resolve: a glibc-built library or aarch64's libatomic was linked in",
            path.display(),
            ifunc.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        );
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
    fn ifunc_is_found_in_a_static_glibc_binary() {
        // glibc's static libc picks memcpy & co. by IFUNC: what check_static must refuse.
        let tmp = tempfile::tempdir().unwrap();
        let (c, exe) = (tmp.path().join("s.c"), tmp.path().join("s"));
        std::fs::write(&c, "int main(void){return 0;}\n").unwrap();
        let ok = std::process::Command::new("gcc")
            .arg("-static")
            .arg(&c)
            .arg("-o")
            .arg(&exe)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            crate::say!("no static glibc here (libc6-dev); skipped");
            return;
        }
        let bytes = std::fs::read(&exe).unwrap();
        let uses = super::ifunc_uses(&goblin::elf::Elf::parse(&bytes).unwrap());
        assert!(!uses.is_empty(), "glibc's static memcpy is an IFUNC");
        let err = super::check_static(&exe, goblin::elf::header::EM_X86_64).unwrap_err().to_string();
        assert!(err.contains("IFUNC"), "{err}");
    }

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
