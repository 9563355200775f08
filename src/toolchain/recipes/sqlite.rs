//! SQLite, static, for `_sqlite3`. The upstream autoconf archive carries the amalgamation
//! (sqlite3.c); from a full source tree it is generated first, with the host compiler (the
//! generators are helper programs that run on the build machine).

use super::{install_files, write_pkg_config, Ctx};
use anyhow::Result;
use xshell::cmd;

const DEFINES: &[(&str, &str)] = &[
    ("SQLITE_THREADSAFE", "1"),
    ("SQLITE_ENABLE_FTS3", "1"),
    ("SQLITE_ENABLE_FTS4", "1"),
    ("SQLITE_ENABLE_FTS5", "1"),
    ("SQLITE_ENABLE_RTREE", "1"),
    ("SQLITE_ENABLE_MATH_FUNCTIONS", "1"),
    ("SQLITE_ENABLE_COLUMN_METADATA", "1"),
    ("SQLITE_OMIT_LOAD_EXTENSION", "1"),
];

pub fn build(ctx: &Ctx) -> Result<()> {
    let amalgamation = if ctx.src.join("sqlite3.c").is_file() {
        ctx.src.clone()
    } else {
        let sh = ctx.shell()?;
        let host = ctx.build_cc();
        ctx.step.run(cmd!(sh, "./configure --disable-shared --disable-tcl").env("CC", &host))?;
        ctx.step.run(cmd!(sh, "make sqlite3.c").env("CC", &host))?;
        ctx.src.clone()
    };
    let mut b = ctx.cc_build();
    for (k, v) in DEFINES {
        b.define(k, *v);
    }
    b.file(amalgamation.join("sqlite3.c"));
    let lib = ctx.compile_archive(&b, "sqlite3")?;
    fs_err::copy(&lib, ctx.root.join("lib/libsqlite3.a"))?;
    install_files(&amalgamation, &["sqlite3.h", "sqlite3ext.h"], &ctx.root.join("include"))?;
    write_pkg_config(ctx.root, "sqlite3", &ctx.version, "-lsqlite3")?;
    ctx.expect_installed(&["lib/libsqlite3.a", "include/sqlite3.h"])
}
