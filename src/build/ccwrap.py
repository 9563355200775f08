"""pyelf's compiler wrapper for building a package's extension modules from source.

The build backend (setuptools, meson, CMake, a Makefile) runs this as CC (and as `cc`/`gcc` on
PATH). Compiles go to the toolchain's musl compiler unchanged. A link with `-shared`, which would
make an extension's shared library, makes one relocatable object instead (`ld -r`): the
extension's objects with the members of its private static libraries it uses. Libraries the
toolchain has (zlib, OpenSSL, libffi, ...) stay unresolved, to be linked once into the binary,
and are named in the object's `.pyelf.libs` section (dropped by the final link). pyelf links the
object into the binary as a built-in module.

A Rust `cdylib` link (rustc runs this as its linker) is made an object the same way, with its
crates' `.rlib` archives and LLVM's libunwind from the C++ runtime for its panics.

Run as `c++`/`g++` (CXX, LDCXXSHARED) it compiles C++ with $PYELF_REAL_CXX (zig's clang for
musl), and a link of C++ code takes its runtime ($PYELF_CXX_RUNTIME: libc++, libc++abi, libunwind)
into the object, which then names `c++` among its libraries (the binary needs unwind tables that
LLVM's unwinder can find). Without $PYELF_REAL_CXX, C++ is refused with a message (and a marker
file, $PYELF_NEEDS_CXX, that tells pyelf to set C++ up and build again).

Every link is written as one JSON line to $PYELF_CAPTURE_LOG.

Environment: PYELF_REAL_CC (the musl compiler), PYELF_TOOLCHAIN_LIB (the toolchain's libraries),
PYELF_CAPTURE_LOG, PYELF_BUILD_ROOT (mapped to /pyelf-build in recorded paths), PYELF_PREFIXES
(directories of C libraries built for the package: their include/ and lib/ are on the paths).
"""
import json
import os
import subprocess
import sys
import tempfile

# Linker options that take their value as the next argument.
VALUE_OPTIONS = {"-o", "-L", "-l", "-Xlinker", "-T", "-e", "-u", "-z", "-MF", "-MT", "-MQ", "-x",
                 "-include", "-isystem", "-I", "-D", "-U", "-iquote", "-idirafter"}
# The host's library directories: their archives are built for glibc, never linked.
HOST_DIRS = ("/usr/lib", "/lib", "/usr/local/lib", "/lib64", "/usr/lib64")
# Libraries of the C runtime, always linked into the binary.
RUNTIME = {"c", "m", "pthread", "dl", "rt", "util", "crypt", "resolv", "xnet", "gcc", "gcc_s"}
# Libraries of the C++ runtime: zig's libc++, libc++abi and libunwind take their place.
CXX_RUNTIME = {"stdc++", "c++", "c++abi", "supc++", "unwind", "gcc_eh"}


def fail(message):
    sys.stderr.write(f"pyelf: {message}\n")
    sys.exit(1)


def log(record):
    path = os.environ.get("PYELF_CAPTURE_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def parse_link(args):
    """The output, the inputs in order, the -L directories, the -l names and the flags that do not
    apply to a relocatable object (ignored)."""
    out, inputs, dirs, ignored = None, [], [], []
    it = iter(args)
    for a in it:
        if a in VALUE_OPTIONS:
            value = next(it, "")
            if a == "-o":
                out = value
            elif a == "-L":
                dirs.append(value)
            elif a == "-l":
                inputs.append(("lib", value))
            elif a == "-Xlinker":
                ignored.append(f"-Xlinker {value}")
        elif a.startswith("-L"):
            dirs.append(a[2:])
        elif a.startswith("-l"):
            inputs.append(("lib", a[2:]))
        elif a.startswith("-o") and len(a) > 2:
            out = a[2:]
        elif a.startswith("-"):
            ignored.append(a)
        else:
            inputs.append(("file", a))
    return out, inputs, dirs, ignored


def find_archive(name, dirs):
    for d in dirs:
        path = os.path.join(d, f"lib{name}.a")
        if os.path.isfile(path):
            return path
    return None


def prefixes():
    return [p for p in os.environ.get("PYELF_PREFIXES", "").split(os.pathsep) if p]


CXX = os.path.basename(sys.argv[0]) in ("c++", "g++")
CXX_MARKS = (b"__gxx_personality_v0", b"__cxa_begin_catch", b"_ZNSt", b"_ZdlPv")


def is_cxx(files):
    """Whether objects were compiled from C++ (they use its runtime)."""
    for f in files:
        if f.endswith(".o"):
            try:
                with open(f, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if any(m in data for m in CXX_MARKS):
                return True
    return False


def link_shared(args):
    out, inputs, dirs, ignored = parse_link(args)
    dirs = dirs + [os.path.join(p, "lib") for p in prefixes()]
    if not out:
        fail(f"a -shared link without -o: {' '.join(args)}")
    toolchain_lib = os.environ["PYELF_TOOLCHAIN_LIB"]
    private_dirs = [d for d in dirs if not os.path.abspath(d).startswith(HOST_DIRS)
                    and os.path.abspath(d) != toolchain_lib]
    files, needed, wants_cxx = [], [], False
    # A Rust link (rustc passes its crates as .rlib archives, or with LTO one codegen unit,
    # `*.rcgu.o`): its std unwinds panics through -lgcc_s or -lunwind, which LLVM's libunwind
    # from the C++ runtime provides.
    rust = any(value.endswith((".rlib", ".rcgu.o")) for kind, value in inputs if kind == "file")
    for kind, value in inputs:
        if kind == "file":
            if value.endswith((".so", ".dylib")) or ".so." in os.path.basename(value):
                fail(f"{out}: the extension links the shared library {value}, which a static binary "
                     "cannot load; pyelf needs its static archive (.a) built for musl")
            files.append(value)
        elif rust and value in ("gcc_s", "unwind"):
            wants_cxx = True
        elif value in RUNTIME:
            continue
        elif value in CXX_RUNTIME:
            wants_cxx = True
        elif (archive := find_archive(value, private_dirs)) is not None:
            files.append(archive)
        elif find_archive(value, [toolchain_lib]) is not None:
            needed.append(value)
        else:
            fail(f"{out}: the extension links the library -l{value}, which pyelf has no static "
                 f"musl build of (searched: {', '.join(private_dirs + [toolchain_lib]) or 'nothing'}); "
                 "the host's libraries are built for glibc and are never linked")
    if CXX or wants_cxx or is_cxx(files):
        runtime = [r for r in os.environ.get("PYELF_CXX_RUNTIME", "").split(os.pathsep) if r]
        if not runtime:
            refuse_cxx(args)
        files += runtime
        needed.append("c++")
    tmp = out + ".pyelf-tmp"
    # -d: common symbols get their space here, so that they can be made local.
    # --force-group-allocation: COMDAT groups (C++ templates, inline functions) are settled here
    # and dissolved, as a shared library's link settles them; kept, the binary's link would keep
    # one extension's copy of a group and drop another's, whose code refers to it by a local name.
    tools = os.environ.get("PYELF_TOOLS_PREFIX", "")  # the target's binutils (aarch64-linux-gnu-)
    run([tools + "ld", "-r", "-d", "--force-group-allocation", "-o", tmp] + files)
    with tempfile.NamedTemporaryFile("w", suffix=".libs", delete=False) as f:
        f.write("".join(f"{n}\n" for n in needed))
    try:
        # Without the LLVM bitcode rustc embeds for LTO (.llvmbc, .llvmcmd): the machine code is
        # what is linked, and binutils' LLVM plugin, if the host has an older one, aborts on it.
        run([tools + "objcopy", "--add-section", f".pyelf.libs={f.name}",
             "--set-section-flags", ".pyelf.libs=contents,readonly,exclude",
             "--remove-section", ".llvmbc", "--remove-section", ".llvmcmd", tmp])
    finally:
        os.unlink(f.name)
    os.replace(tmp, out)
    log({"link": out, "inputs": files, "toolchain_libs": needed, "ignored": ignored})


def run(cmd):
    done = subprocess.run(cmd)
    if done.returncode != 0:
        fail(f"`{' '.join(cmd)}` failed (exit status {done.returncode})")


def without_wrappers():
    """The environment without this wrapper's directory on PATH: the musl compiler runs the host's
    gcc by name."""
    wrappers = os.path.dirname(os.path.abspath(sys.argv[0]))
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if os.path.abspath(p or ".") != wrappers]
    os.environ["PATH"] = os.pathsep.join(path)


def refuse_cxx(args):
    marker = os.environ.get("PYELF_NEEDS_CXX")
    if marker:
        open(marker, "w").close()
    fail(f"the build compiles C++ ({os.path.basename(sys.argv[0])} {' '.join(args)}), and pyelf's C++ for musl is not set up")


def without_host_headers(args):
    """`args` without the host's include directories (its headers are glibc's). The host's own
    /usr/include and its python's headers are dropped (the toolchain's are on the path); any other
    host directory is a C library the package found on the host (pkg-config, a *-config script):
    one pyelf does not pin, so the build stops and names it."""
    out, i = [], 0
    while i < len(args):
        a, value, take = args[i], None, 1
        for opt in ("-isystem", "-idirafter", "-I"):
            if a == opt and i + 1 < len(args):
                value, take = args[i + 1], 2
                break
            if a.startswith(opt) and a != opt:
                value = a[len(opt):]
                break
        host = value is not None and os.path.normpath(value).startswith(("/usr/include", "/usr/local/include"))
        if not host:
            out += args[i:i + take]
        elif os.path.normpath(value) in ("/usr/include", "/usr/local/include") or "python3" in value:
            pass
        else:
            name = os.path.basename(os.path.normpath(value))
            fail(f"the build asks for the host's headers in {value} (the C library {name}, as the host has it, for glibc): "
                 f"pyelf builds for musl with only the C libraries it pins (toolchains/libraries.toml), and {name} is not one of them")
        i += take
    return out


def main():
    without_wrappers()
    args = sys.argv[1:]
    if "-shared" in args:
        link_shared([a for a in args if a != "-shared"])
        return
    if CXX:
        real_cxx = os.environ.get("PYELF_REAL_CXX")
        if not real_cxx:
            refuse_cxx(args)
        command = real_cxx.split(os.pathsep)
    else:
        command = [os.environ["PYELF_REAL_CC"]]
    extra = []
    root = os.environ.get("PYELF_BUILD_ROOT")
    if root:
        extra.append(f"-ffile-prefix-map={root}=/pyelf-build")
    # The host's headers are glibc's: never on the include path.
    args = without_host_headers(args)
    for p in prefixes():
        extra += [f"-I{p}/include", f"-L{p}/lib"]
    os.execv(command[0], command + extra + args)


main()
