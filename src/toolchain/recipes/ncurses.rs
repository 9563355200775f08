//! ncurses (wide-character), static, with the panel library, for `_curses` and `_curses_panel`.
//! Terminal descriptions are read at run time from the host's usual terminfo directories.

use super::Ctx;
use anyhow::Result;

pub fn build(ctx: &Ctx) -> Result<()> {
    let pc_dir = format!("--with-pkg-config-libdir={}", ctx.root.join("lib/pkgconfig").display());
    // Its build runs programs of its own (the tables generators): built for the build machine.
    let build_cc = format!("--with-build-cc={}", ctx.build_cc());
    ctx.autotools(&[
        &build_cc,
        "--with-normal",
        "--without-shared",
        "--without-debug",
        "--without-cxx",
        "--without-cxx-binding",
        "--without-ada",
        "--without-progs",
        "--without-tests",
        "--without-manpages",
        "--without-gpm",
        "--enable-widec",
        "--enable-pc-files",
        &pc_dir,
        "--disable-db-install",
        "--disable-stripping",
        "--with-terminfo-dirs=/etc/terminfo:/lib/terminfo:/usr/share/terminfo:/usr/lib/terminfo",
        "--with-default-terminfo-dir=/usr/share/terminfo",
    ])?;
    ctx.expect_installed(&[
        "lib/libncursesw.a",
        "lib/libpanelw.a",
        "include/ncursesw/curses.h",
        "lib/pkgconfig/ncursesw.pc",
    ])
}
