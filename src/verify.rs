//! `pyelf verify BINARY`: audits a built binary (static, position independent, hardened, with a
//! well-formed SBOM) and reports every violation. The target is the one asked for, or else the
//! binary's own: the one its SBOM names, else the one of its ELF machine.

use crate::toolchain::pins::{Pins, Target};
use anyhow::{bail, Context, Result};
use goblin::elf::dynamic::{DF_1_NOW, DF_BIND_NOW, DT_FLAGS, DT_FLAGS_1};
use goblin::elf::header::ET_DYN;
use goblin::elf::program_header::{PF_X, PT_GNU_RELRO, PT_GNU_STACK, PT_INTERP};
use goblin::elf::Elf;
use std::path::Path;

/// One check and whether the binary passed it.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The target `binary` says it was built for: the one its SBOM names (`pyelf:target`), else the
/// only target of its ELF machine.
pub fn target_of<'p>(binary: &Path, pins: &'p Pins) -> Result<&'p Target> {
    if let Some(triple) = crate::build::sbom::read(binary)
        .ok()
        .and_then(|t| crate::build::sbom::validate(&t).ok())
        .and_then(|v| crate::build::sbom::target(&v))
    {
        return pins.target(&triple).with_context(|| {
            format!("{}'s SBOM names the target {triple}, which this pyelf has no pins for", binary.display())
        });
    }
    let bytes = fs_err::read(binary)?;
    let elf = Elf::parse(&bytes).with_context(|| format!("{} is not an ELF file", binary.display()))?;
    let machine = elf.header.e_machine;
    let mut of_machine = pins.targets.iter().filter(|t| t.elf_machine == machine);
    match (of_machine.next(), of_machine.next()) {
        (Some(t), None) => Ok(t),
        (None, _) => bail!(
            "{} is an ELF for {}, which no target of this pyelf builds (toolchains/targets/)",
            binary.display(),
            crate::elf::machine_name(machine)
        ),
        (Some(_), Some(_)) => bail!(
            "{} is an ELF for {}, and several targets build for it: name one with --target",
            binary.display(),
            crate::elf::machine_name(machine)
        ),
    }
}

/// Runs every check on `binary`, built for `target`.
pub fn checks(binary: &Path, target: &Target) -> Result<Vec<Check>> {
    let bytes = fs_err::read(binary)?;
    let elf = Elf::parse(&bytes).with_context(|| format!("{} is not an ELF file", binary.display()))?;
    let mut out = Vec::new();
    let mut check = |name, ok, detail: String| out.push(Check { name, ok, detail });

    let machine_ok = elf.is_64 && elf.header.e_machine == target.elf_machine;
    check(
        "ELF for the target",
        machine_ok,
        format!("{}: 64-bit: {}, {}", target.triple, elf.is_64, crate::elf::machine_name(elf.header.e_machine)),
    );
    let interp = elf.program_headers.iter().any(|p| p.p_type == PT_INTERP);
    check("no program interpreter", !interp, elf.interpreter.unwrap_or("none").to_string());
    check("no needed libraries", elf.libraries.is_empty(), elf.libraries.join(", "));
    check("static PIE (ASLR)", elf.header.e_type == ET_DYN && !interp, format!("e_type {}", elf.header.e_type));
    let relro = elf.program_headers.iter().any(|p| p.p_type == PT_GNU_RELRO);
    let now = elf.dynamic.as_ref().is_some_and(|d| {
        d.dyns.iter().any(|e| {
            (e.d_tag == DT_FLAGS && e.d_val & DF_BIND_NOW != 0) || (e.d_tag == DT_FLAGS_1 && e.d_val & DF_1_NOW != 0)
        })
    });
    check("full RELRO", relro && now, format!("PT_GNU_RELRO: {relro}, BIND_NOW: {now}"));
    let stack = elf.program_headers.iter().find(|p| p.p_type == PT_GNU_STACK);
    let nx = stack.is_some_and(|p| p.p_flags & PF_X == 0);
    check(
        "non-executable stack",
        nx,
        format!("PT_GNU_STACK: {}", stack.map(|p| format!("flags {:#x}", p.p_flags)).unwrap_or("missing".into())),
    );
    let ifunc = crate::elf::ifunc_uses(&elf);
    check(
        "no load-time resolved functions (IFUNC)",
        ifunc.is_empty(),
        if ifunc.is_empty() { "none".into() } else { ifunc.iter().take(8).cloned().collect::<Vec<_>>().join(", ") },
    );
    let glibc = crate::elf::glibc_only_symbols(&elf);
    let symbols = if elf.syms.is_empty() {
        "none (stripped; the build checks them before stripping)".to_string()
    } else {
        glibc.join(", ")
    };
    check("no glibc-only symbols", glibc.is_empty(), symbols);
    let objects = embedded_objects(&bytes);
    let foreign: Vec<&(String, u16)> = objects.iter().filter(|(_, m)| *m != target.elf_machine).collect();
    check(
        "embedded shared objects for the target",
        foreign.is_empty(),
        if objects.is_empty() {
            "none".into()
        } else {
            let mut by_machine = std::collections::BTreeMap::<String, usize>::new();
            for (_, m) in &objects {
                *by_machine.entry(crate::elf::machine_name(*m)).or_default() += 1;
            }
            let counts: Vec<String> = by_machine.iter().map(|(m, n)| format!("{n} {m}")).collect();
            let names: Vec<String> =
                objects.iter().map(|(n, m)| format!("{n} ({})", crate::elf::machine_name(*m))).collect();
            format!("{}: {}", counts.join(", "), names.join(", "))
        },
    );
    match crate::build::sbom::read(binary).and_then(|t| crate::build::sbom::validate(&t)) {
        Ok(v) => check("SBOM", true, format!("{} components", v["components"].as_array().map_or(0, |c| c.len()))),
        Err(e) => check("SBOM", false, format!("{e:#}")),
    }
    Ok(out)
}

/// The shared objects stored in the binary's file tree for its loader: (path in the tree, ELF
/// machine). They are the archive's entries stored as they are whose bytes are an ELF file.
pub fn embedded_objects(bytes: &[u8]) -> Vec<(String, u16)> {
    let u16_at = |i: usize| bytes.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |i: usize| bytes.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(4).position(|w| w == b"PK\x03\x04") {
        let h = i + at;
        i = h + 4;
        let (Some(method), Some(csize), Some(usize_), Some(name_len), Some(extra_len)) =
            (u16_at(h + 8), u32_at(h + 18), u32_at(h + 22), u16_at(h + 26), u16_at(h + 28))
        else {
            break;
        };
        let data = h + 30 + name_len as usize + extra_len as usize;
        if method != 0 || csize != usize_ || bytes.get(data..data + 4) != Some(b"\x7fELF") {
            continue;
        }
        let Some(name) = bytes.get(h + 30..h + 30 + name_len as usize).and_then(|n| std::str::from_utf8(n).ok()) else {
            continue;
        };
        if let Some(machine) = u16_at(data + 18) {
            out.push((name.to_string(), machine));
            i = data + csize as usize;
        }
    }
    out
}
