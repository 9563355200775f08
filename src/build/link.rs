//! The final link: the app's objects and the toolchain's archives into one static ELF.

use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::Path;
use std::process::Command;

/// Links `app_archive` (holding `main`) with the toolchain's libraries into `out`, fully static:
/// a static PIE (loaded at a random address, relocating itself) unless `pie` is false.
/// `eh_frame_hdr`: with the table LLVM's unwinder finds unwind information through
/// (`PT_GNU_EH_FRAME`; gcc leaves it out of static links), for C++ code that throws. `map`: where
/// to write the linker's map, if anywhere (what each library puts in: `sizes::breakdown`).
pub fn link_static(
    tc: &Toolchain,
    app_archive: &Path,
    out: &Path,
    log: &Path,
    pie: bool,
    eh_frame_hdr: bool,
    map: Option<&Path>,
) -> Result<()> {
    let record = tc.manifest()?.link;
    let static_flag = if pie { "-static-pie" } else { "-static" };
    let mut cmd = Command::new(tc.cc());
    cmd.arg(static_flag).arg("-o").arg(out);
    // libpython holds fat LTO objects (machine code and GCC's IR): all of it in a release
    // toolchain, the members left out of `libpython-lto.o` in a `pgo` one (toolchain::lto). The
    // app links their machine code, already optimised with the profile. Without -fno-lto the
    // linker plugin would optimise them again at every link, for minutes.
    cmd.arg("-fno-lto");
    cmd.arg("-Wl,--whole-archive").arg(app_archive).arg("-Wl,--no-whole-archive");
    // A group: the archives refer to each other in both directions.
    cmd.arg("-Wl,--start-group");
    for lib in &record.libs {
        if lib.starts_with("lib/") {
            cmd.arg(tc.root.join(lib));
        } else {
            cmd.arg(lib);
        }
    }
    // dlmalloc (runtime/malloc.c, `--malloc dlmalloc` and `split`; nothing of it is linked
    // otherwise, as nothing refers to it).
    cmd.arg(tc.root.join("lib/libdlmalloc.a"));
    cmd.arg("-Wl,--end-group");
    // What nothing references is left out: the toolchain's code is compiled with a section per
    // function and variable (the target's cflags), so this drops unused functions of libraries
    // whose objects are linked for others.
    cmd.arg("-Wl,--gc-sections");
    // Hardening: relocations read-only after start (full RELRO), no executable stack.
    cmd.args(["-Wl,-z,relro", "-Wl,-z,now", "-Wl,-z,noexecstack"]);
    // Relative relocations packed (RELR: musl >= 1.2.4 applies them in a static PIE's start-up,
    // binutils >= 2.38 writes them for x86_64, >= 2.41 for aarch64; Debian 12's cross ld, 2.40,
    // ignores the option): a static PIE's 1.3 MB .rela.dyn becomes 19 KB.
    if pie {
        cmd.arg("-Wl,-z,pack-relative-relocs");
    }
    if eh_frame_hdr {
        cmd.arg("-Wl,--eh-frame-hdr");
    }
    // Only when asked: writing it takes a fifth of the link's time.
    if let Some(map) = map {
        cmd.arg(format!("-Wl,-Map={}", map.display()));
    }
    // OpenSSL's read-only data with pointers in a section of its own, relocated on first use
    // (`lazyreloc`).
    let script = app_archive.with_file_name("openssl-lazy.ld");
    fs::write(&script, crate::build::lazyreloc::LINKER_SCRIPT)?;
    cmd.arg(format!("-Wl,-T,{}", script.display()));
    for f in crate::runtime::WRAPPED {
        cmd.arg(format!("-Wl,--wrap={f}"));
    }
    cmd.args(record.ldflags.iter().map(|f| if f == "-static" { static_flag } else { f.as_str() }));
    let output = cmd.output().context("cannot run the musl compiler wrapper")?;
    fs::write(log, [format!("{cmd:?}\n").as_bytes(), &output.stdout, &output.stderr].concat())?;
    if !output.status.success() {
        bail!(
            "linking failed:\n{}\n(full log: {})",
            crate::steplog::tail(log, crate::steplog::TAIL_LINES),
            log.display()
        );
    }
    Ok(())
}

/// Strips symbols and debug information, with the target's `strip` (the host's cannot read
/// another architecture's objects).
pub fn strip(tc: &Toolchain, path: &Path) -> Result<()> {
    let strip = tc.tool("strip");
    let status = Command::new(&strip).arg(path).status().with_context(|| format!("cannot run {strip} (binutils)"))?;
    if !status.success() {
        bail!("strip {} failed", path.display());
    }
    Ok(())
}
