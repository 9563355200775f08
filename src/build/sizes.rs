//! What a binary's bytes are: the final link's map (`ld -Map`, written beside the link log) read
//! back and its input sections summed by component: the interpreter, musl, each C library, the
//! frozen bytecode, the data tree, the app's own code. `bench` prints it, so that the next cut is
//! obvious.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Bytes by component, largest first; the last entry is what the linker made itself (headers,
/// relocations, the dynamic section, alignment), the file's size less the rest.
pub fn breakdown(map: &Path, file_size: u64) -> Result<Vec<(String, u64)>> {
    let text = fs_err::read_to_string(map).context("the link map (written by a build with --link-map)")?;
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for (file, size) in input_sections(&text) {
        *by.entry(component(&file)).or_default() += size;
    }
    let mut out: Vec<(String, u64)> = by.into_iter().filter(|(_, n)| *n > 0).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let counted: u64 = out.iter().map(|(_, n)| n).sum();
    out.push(("made by the linker (headers, relocations, alignment)".into(), file_size.saturating_sub(counted)));
    Ok(out)
}

/// The allocated input sections of a GNU ld map: `(file, size)`. An input section's line is
/// ` .name 0xADDRESS 0xSIZE file`, its name alone on the line before when it is long.
fn input_sections(map: &str) -> Vec<(String, u64)> {
    let Some(start) = map.find("Linker script and memory map") else { return Vec::new() };
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for line in map[start..].lines() {
        // Output sections start in column 0; input sections are indented by one space.
        if !line.starts_with(' ') {
            pending = None;
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (name, rest) = match (line.as_bytes().get(1), pending.take()) {
            (Some(b'.'), _) if tokens.len() == 1 => {
                pending = Some(tokens[0].to_string());
                continue;
            }
            (Some(b'.'), _) => (tokens[0].to_string(), &tokens[1..]),
            (_, Some(name)) if tokens.first().is_some_and(|t| t.starts_with("0x")) => (name, &tokens[..]),
            _ => continue,
        };
        if rest.len() < 3 || !rest[0].starts_with("0x") || !rest[1].starts_with("0x") {
            continue;
        }
        if !is_loaded(&name) {
            continue;
        }
        let Ok(size) = u64::from_str_radix(rest[1].trim_start_matches("0x"), 16) else { continue };
        out.push((rest[2..].join(" "), size));
    }
    out
}

/// Whether an input section ends up as bytes of the stripped file (not debug information or notes
/// of the toolchain, which `strip` removes, nor zero-initialised data: .bss takes memory only).
fn is_loaded(section: &str) -> bool {
    ![".debug", ".comment", ".note.GNU-stack", ".gnu.warning", ".gnu_debuglink", ".stab", ".bss", ".tbss"]
        .iter()
        .any(|p| section.starts_with(p))
}

/// The component an input file belongs to.
fn component(file: &str) -> String {
    let (archive, member) = match file.split_once('(') {
        Some((a, m)) => (a, m.trim_end_matches(')')),
        None => (file, ""),
    };
    let archive_name = Path::new(archive).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let name = match archive_name.as_str() {
        "libpython3.13.a" | "libHacl_Hash_SHA2.a" => "CPython (interpreter and built-in modules)",
        "libc.a" | "crt1.o" | "rcrt1.o" | "Scrt1.o" | "crti.o" | "crtn.o" => "musl libc",
        "libssl.a" | "libcrypto.a" => "OpenSSL",
        "libsqlite3.a" => "SQLite",
        "libz.a" => "zlib",
        "libexpat.a" => "expat",
        "libbz2.a" => "bzip2",
        "liblzma.a" => "xz",
        "libmpdec.a" => "libmpdec",
        "libncursesw.a" | "libpanelw.a" | "libformw.a" | "libmenuw.a" => "ncurses",
        "libffi.a" => "libffi",
        "libyaml.a" => "libyaml",
        "libgcc.a" | "libgcc_eh.a" | "crtbegin.o" | "crtend.o" | "crtbeginS.o" | "crtendS.o" | "crtbeginT.o" => {
            "gcc runtime"
        }
        "libpyelfapp.a" => {
            // Members are numbered: `0005-frozen_blob.o`.
            let member = member
                .split_once('-')
                .filter(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
                .map_or(member, |(_, m)| m);
            return if member.starts_with("frozen") || member.contains("blob") {
                "frozen bytecode".into()
            } else if member.starts_with("bundle") {
                "data tree (sources, data files, metadata)".into()
            } else if member.starts_with("sbom") || member.starts_with("ca_bundle") {
                "SBOM and CA bundle".into()
            } else if member.starts_with("launcher")
                || member.starts_with("vfs")
                || member.starts_with("semaphores")
                || member.starts_with("inittab")
            {
                "launcher, file tree and inittab".into()
            } else {
                "app and extension modules (compiled C)".into()
            };
        }
        _ if archive_name.ends_with(".a") => return format!("other library ({archive_name})"),
        _ => "other objects",
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
Discarded input sections

 .text          0x0000000000000000       0x10 /lib/libc.a(gone.o)

Linker script and memory map

LOAD /tc/lib/libpython3.13.a
.text           0x0000000000401000   0x200000
 .text          0x0000000000401000      0x100 /tc/lib/libpython3.13.a(ceval.o)
 .text.unlikely
                0x0000000000401100       0x20 /tc/lib/libc.a(printf.o)
 *(.text.hot .text.hot.*)
 .text          0x0000000000401200       0x40 /w/obj/libpyelfapp.a(launcher.o)
.rodata         0x0000000000601000     0x1000
 .rodata        0x0000000000601000      0x800 /w/obj/libpyelfapp.a(0005-frozen_blob.o)
 .rodata        0x0000000000601800      0x300 /w/obj/libpyelfapp.a(0000-bundle.o)
 .rodata        0x0000000000601b00       0x10 /tc/lib/libssl.a(ssl_lib.o)
.bss            0x0000000000700000     0x9000
 .bss           0x0000000000700000     0x9000 /tc/lib/libpython3.13.a(obmalloc.o)
.debug_info     0x0000000000000000     0x5000
 .debug_info    0x0000000000000000     0x5000 /tc/lib/libpython3.13.a(ceval.o)
";

    #[test]
    fn sections_are_summed_by_component() {
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("link.map");
        std::fs::write(&map, MAP).unwrap();
        let b = breakdown(&map, 0x1000).unwrap();
        let get = |k: &str| b.iter().find(|(n, _)| n.starts_with(k)).map(|(_, v)| *v);
        assert_eq!(get("frozen bytecode"), Some(0x800));
        assert_eq!(get("data tree"), Some(0x300));
        assert_eq!(get("CPython"), Some(0x100), "debug information is not counted");
        assert_eq!(get("musl"), Some(0x20), "a long name on its own line; discarded sections are not counted");
        assert_eq!(get("launcher"), Some(0x40));
        assert_eq!(get("OpenSSL"), Some(0x10));
        assert_eq!(b.last().unwrap().1, 0x1000 - (0x800 + 0x300 + 0x100 + 0x20 + 0x40 + 0x10));
        assert_eq!(b[0].0, "frozen bytecode", "largest first");
    }
}
