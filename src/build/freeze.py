"""pyelf's freezer, run by the toolchain's python3.

usage: freeze.py analyse OUT_DIR (--script FILE | --module NAME) [--path DIR]... [--app-root DIR]
                 [--dep-root DIR]... [--include-module M]... [--include-package P]... [--stdlib full|auto]
                 [--dist-modules FILE] [--traced FILE]
       freeze.py emit OUT_DIR SPEC.json [CACHE_DIR]

`analyse` finds every module the app needs (stdlib, the app's own, its dependencies) and writes
OUT_DIR/modules.json: each module's name, file, kind (stdlib, app, dep) and whether it is a
package; the C extension modules found outside the stdlib; every module name imported (for the
choice of built-in C modules).

`emit` compiles the modules SPEC.json lists to code objects and writes OUT_DIR/frozen.bin (the
marshalled code, one after another), frozen.c (the table: name, offset, size, package?),
frozen.txt (the names), and bundle.zip (data files and distribution metadata; fixed timestamps,
sorted entries). With CACHE_DIR, the compiled shares and the data archive of earlier builds are
taken from there when everything their bytes follow from is the same (`Cache`).
"""
import dis
import importlib.machinery
import importlib.util
import json
import marshal
import modulefinder
import os
import sys
import sysconfig

STDLIB = sysconfig.get_paths()["stdlib"]
# Building for another architecture, this python (the build machine's toolchain's, the same
# CPython release) analyses the target toolchain's stdlib: its modules are found there, and its
# _sysconfigdata module is the target's.
BUILD_STDLIB = None
if os.environ.get("PYELF_TARGET_STDLIB") and os.path.realpath(os.environ["PYELF_TARGET_STDLIB"]) != os.path.realpath(STDLIB):
    BUILD_STDLIB, STDLIB = STDLIB, os.environ["PYELF_TARGET_STDLIB"]
    sys.path[:] = [STDLIB + p[len(BUILD_STDLIB):] if p == BUILD_STDLIB or p.startswith(BUILD_STDLIB + os.sep) else p for p in sys.path]
    # (named by the toolchain: src/toolchain/mod.rs, `Toolchain::sysconfigdata`)
    _data = os.environ["PYELF_TARGET_SYSCONFIGDATA"]
    os.environ["_PYTHON_SYSCONFIGDATA_NAME"] = _data
    # Extension modules built for the target are named with its suffix
    # (`.cpython-313-aarch64-linux-musl.so`): the path finder looks for that one.
    _vars = {}
    with open(os.path.join(STDLIB, _data + ".py")) as _f:
        exec(_f.read(), _vars)
    importlib.machinery.EXTENSION_SUFFIXES[:] = [_vars["build_time_vars"]["EXT_SUFFIX"], ".abi3.so", ".so"]
    _m = importlib.machinery
    _hook = _m.FileFinder.path_hook((_m.ExtensionFileLoader, _m.EXTENSION_SUFFIXES), (_m.SourceFileLoader, _m.SOURCE_SUFFIXES),
                                    (_m.SourcelessFileLoader, _m.BYTECODE_SUFFIXES))
    sys.path_hooks[:] = [_hook if getattr(h, "__name__", "") == "path_hook_for_FileFinder" else h for h in sys.path_hooks]
    sys.path_importer_cache.clear()


def in_build_stdlib(path):
    """Whether `path` is in the build machine's stdlib when that is not the target's."""
    return BUILD_STDLIB is not None and path is not None and os.path.abspath(path).startswith(BUILD_STDLIB + os.sep)


def retarget(path):
    """The target's copy of a file of the build machine's stdlib (the same path otherwise)."""
    return STDLIB + os.path.abspath(path)[len(BUILD_STDLIB):] if in_build_stdlib(path) else path

# What pyelf knows of the stdlib (toolchains/stdlib.toml, given as JSON by src/build/freeze.rs):
# what the interpreter imports by itself, packages embedded whole, what --stdlib full leaves out,
# the Python modules C modules import, and the names of the module origins reported in
# modules.json.
with open(os.environ["PYELF_STDLIB_FACTS"]) as _f:
    FACTS = json.load(_f)
STARTUP = FACTS["startup"]
ALWAYS_PACKAGES = FACTS["always_packages"]
FULL_EXCLUDED = set(FACTS["full_excluded"])
C_MODULE_DEPS = FACTS["c_module_deps"]
APP, DEP, STDLIB_ORIGIN = (FACTS["origins"][k] for k in ("app", "dep", "stdlib"))
# The names whose use in a module's code pyelf reports (toolchains/cython-fallbacks.toml): what
# shows that the module looks at its functions or frames, which Cython's would not have.
WATCHED_NAMES = frozenset(FACTS["watched_names"])
# The module whose import marks code written for Cython: reported when imported, not when named.
CYTHON_MODULE = FACTS["cython_module"]
OTHER = "other"  # the analysing python's own site-packages: never reported


def is_stdlib(path):
    return path is not None and os.path.abspath(path).startswith(STDLIB + os.sep) and "site-packages" not in path


def path_spec(name):
    """The spec the path finder gives module `name`, its packages located the same way: nothing is
    imported (importlib.util.find_spec imports a dotted name's parent packages, running their code,
    which may fail or do anything)."""
    parent = name.rpartition(".")[0]
    path = None
    if parent:
        parent_spec = path_spec(parent)
        if parent_spec is None or parent_spec.submodule_search_locations is None:
            return None
        path = list(parent_spec.submodule_search_locations)
    try:
        return importlib.machinery.PathFinder.find_spec(name, path)
    except KeyError:
        # A namespace package (a directory without __init__.py) whose parent is not imported
        # here: the path finder wants the parent in sys.modules; its portions are these.
        last = name.rpartition(".")[2]
        dirs = [os.path.join(d, last) for d in (path if path is not None else sys.path) if os.path.isdir(os.path.join(d, last))]
        if not dirs:
            return None
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations.extend(dirs)
        return spec
    except (ImportError, ValueError, SyntaxError, OSError):
        return None


def locate(name):
    """The spec of module `name` as the import system would find it (built in, frozen into the
    interpreter, or from sys.path), without importing anything."""
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__spec__", None) is not None and not in_build_stdlib(loaded.__spec__.origin):
        return loaded.__spec__  # as importlib.util.find_spec answers for a module already loaded
    for finder in (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter):
        spec = finder.find_spec(name)
        if spec is not None:
            return spec
    return path_spec(name)


def stdlib_code(path):
    """The code of a stdlib module from the toolchain's own bytecode cache (`__pycache__`, written
    when the toolchain was installed), if it is there and up to date: compiling 400 modules for
    each build takes seconds."""
    if not is_stdlib(path):
        return None
    try:
        with open(importlib.util.cache_from_source(path), "rb") as f:
            data = f.read()
        with open(path, "rb") as f:
            source = f.read()
        st = os.stat(path)
    except (OSError, ValueError, NotImplementedError):
        return None
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    flags = int.from_bytes(data[4:8], "little")
    if flags & 1:  # hash-based (the toolchain is built with SOURCE_DATE_EPOCH)
        fresh = data[8:16] == importlib.util.source_hash(source)
    else:
        fresh = (int.from_bytes(data[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
                 and int.from_bytes(data[12:16], "little") == st.st_size & 0xFFFFFFFF)
    return marshal.loads(memoryview(data)[16:]) if fresh else None


# modulefinder's kind for a namespace package (a directory without __init__.py, PEP 420): the
# stdlib's modulefinder does not know them.
NAMESPACE = "namespace"


# Functions that import a module by its name, given as a string.
IMPORT_BY_NAME = {"import_module", "find_spec", "__import__"}
MODULE_NAME = __import__("re").compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def is_namespace(spec):
    return spec is not None and spec.origin is None and spec.submodule_search_locations is not None and (
        spec.loader is None or type(spec.loader).__name__ == "NamespaceLoader")


# What modulefinder's scan_opcodes yields (from dis._find_store_names and dis._find_imports),
# found in one pass over the bytes, which was three quarters of the analysis's time with dis:
# co_code is 2-byte units, an opcode then its argument (EXTENDED_ARG units carry the high bytes),
# and the inline cache units after an instruction are zeros there (CACHE, which is no constant).
# Most code objects (functions) hold none of the opcodes looked for and are skipped at once. The
# results are the same for every code object of the stdlib (tests/build.rs).
_STORE_OPS = frozenset(dis.opmap[n] for n in ("STORE_NAME", "STORE_GLOBAL"))
_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_CONST_OPS = frozenset(dis.hasconst)
_SCANNED_OPS = _STORE_OPS | {_IMPORT_NAME}


def scan_opcodes(co):
    code = co.co_code
    if _SCANNED_OPS.isdisjoint(code[::2]):
        return []
    names, consts = co.co_names, co.co_consts
    stores, imports = [], []
    ops = []  # (opcode, argument) of every unit but EXTENDED_ARG
    ext = 0
    for i in range(0, len(code), 2):
        op, arg = code[i], code[i + 1] | ext
        if op == _EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        if op in _STORE_OPS:
            stores.append(("store", (names[arg],)))
        elif op == _IMPORT_NAME and len(ops) >= 2:
            (level_op, level_arg), (from_op, from_arg) = ops[-2], ops[-1]
            if level_op in _CONST_OPS and from_op in _CONST_OPS:
                level, fromlist = consts[level_arg], consts[from_arg]
                if level == 0:
                    imports.append(("absolute_import", (fromlist, names[arg])))
                else:
                    imports.append(("relative_import", (level, fromlist, names[arg])))
        ops.append((op, arg))
    return stores + imports


class Finder(modulefinder.ModuleFinder):
    """modulefinder, which follows every import of every module it reaches (at module level and
    inside functions, as PyInstaller's module graph does: what any embedded code imports is never
    left out), and knows namespace packages."""

    def find_module(self, name, path, parent=None):
        fullname = name if parent is None else f"{parent.__name__}.{name}"
        if fullname not in self.excludes and not (path is None and name in sys.builtin_module_names):
            spec = importlib.machinery.PathFinder.find_spec(name, self.path if path is None else path)
            if is_namespace(spec):
                return None, list(spec.submodule_search_locations), ("", "", NAMESPACE)
            # A package whose __init__ is an extension module (mypyc compiles pytokens'
            # __init__.py into __init__.cpython-313-*.so): python imports the extension (extensions
            # come first), and so does the binary. modulefinder would take the extension's
            # ExtensionFileLoader.is_package() for a package directory, and load it again, forever.
            if name == "__init__" and spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
                return None, spec.origin, ("", "", modulefinder._C_EXTENSION)
        return super().find_module(name, path, parent)

    def load_module(self, fqname, fp, pathname, file_info):
        if file_info[2] == NAMESPACE:
            m = self.add_module(fqname)
            m.__path__ = pathname
            return m
        if file_info[2] == modulefinder._PY_SOURCE:
            co = stdlib_code(pathname)
            if co is not None:  # the same code as compile() gives, without compiling
                m = self.add_module(fqname)
                m.__file__ = pathname
                m.__code__ = co
                self.scan_code(co, m)
                return m
        return super().load_module(fqname, fp, pathname, file_info)

    def load_package(self, fqname, pathname):
        # modulefinder registers a package before it compiles the package's __init__: a package
        # whose __init__ does not compile stayed, without code, and its submodules were found
        # through it, though python can import none of them. It goes, and the error goes on. (A
        # package whose __init__ compiled stays: the error may be a submodule's, imported by
        # `from . import x` on a path python never takes.)
        try:
            return super().load_package(fqname, pathname)
        except Exception:
            m = self.modules.get(fqname)
            if m is not None and m.__code__ is None:
                del self.modules[fqname]
            raise

    def scan_opcodes(self, co):
        return scan_opcodes(co)

    def scan_code(self, co, m):
        super().scan_code(co, m)  # this code's import statements, and those of the code in it
        # Imports by a literal name: importlib.import_module("x.y"), importlib.util.find_spec(...),
        # __import__("x"): as real as an import statement.
        if IMPORT_BY_NAME.isdisjoint(co.co_names) and IMPORT_BY_NAME.isdisjoint(co.co_varnames):
            return
        watch = 0
        for ins in dis.get_instructions(co):
            if ins.opname in ("LOAD_ATTR", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST") and ins.argval in IMPORT_BY_NAME:
                watch = 3
            elif watch and ins.opname == "LOAD_CONST" and isinstance(ins.argval, str):
                if MODULE_NAME.fullmatch(ins.argval):
                    self._safe_import_hook(ins.argval, m, None, level=0)
                watch = 0
            elif watch:
                watch -= 1


def code_objects(co):
    """A code object and every code object in it (its functions, classes, comprehensions)."""
    todo = [co]
    while todo:
        c = todo.pop()
        yield c
        todo.extend(k for k in c.co_consts if isinstance(k, type(co)))


def imports(co, module):
    """Whether this code object (not the code in it) imports `module` or a submodule of it
    (`import cython`, `from cython.cimports.libc import math`; not `args.cython`)."""
    def is_it(name):
        return name == module or name.startswith(module + ".")
    if not any(is_it(n) for n in co.co_names):
        return False
    return any(ins.opname == "IMPORT_NAME" and is_it(ins.argval) for ins in dis.get_instructions(co))


def names_used(co):
    """The watched names used by a code object and the code objects in it, and CYTHON_MODULE if
    they import it; sorted."""
    used = set()
    for c in code_objects(co):
        used.update(WATCHED_NAMES.intersection(c.co_names))
        if imports(c, CYTHON_MODULE):
            used.add(CYTHON_MODULE)
    return sorted(used)


def ctypes_names(co):
    """The names a module's code (a code object and the code in it) may look up on a library
    ctypes opened (`libc.wcwidth`, `getattr(libc, "wcwidth")`), if the module imports ctypes:
    its attribute and global names and the identifiers among its string constants; else none."""
    codes = list(code_objects(co))
    if not any(imports(c, "ctypes") for c in codes):
        return set()
    names = set()
    for c in codes:
        names.update(c.co_names)
        names.update(k for k in c.co_consts if isinstance(k, str) and k.isidentifier())
    return names


def compile_warnings(script):
    """The warnings python prints each time it compiles the script, before it runs it (SyntaxWarning:
    invalid escape sequence '\\d', "is" with a literal): [category, message, line], in order. The
    binary gives them where python would (the importer's `_compile_warnings`)."""
    import warnings
    with open(script, "rb") as f:
        source = f.read()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compile(source, script, "exec", dont_inherit=True)
        except SyntaxError:
            return []
    return [[w.category.__name__, str(w.message), w.lineno] for w in caught
            if w.filename == script and w.category.__module__ == "builtins"]


def analyse(script, extra, dist_modules=(), main_is_module=False):
    """Every module the app can import: the script's imports and `extra` (the startup modules,
    those asked for), followed transitively; `dist_modules` are the modules of the bundled
    distributions (all importable after `pip install`) and of `--include-package`: one that does
    not compile here (Python 2 code a distribution never imports, say) is left out with a note, as
    pip's byte-compilation skips it. With `main_is_module` the main module is among `extra` and `script` is only its file."""
    finder = Finder()
    if not main_is_module:
        finder.run_script(script)
    for m in extra:
        finder.import_hook(m)
    told = set()  # the files already named: a package whose __init__ fails fails each submodule
    for m in dist_modules:
        if m in finder.modules:
            continue
        try:
            finder.import_hook(m)
        except SyntaxError as e:
            finder.modules.pop(m, None)
            if e.filename not in told:
                told.add(e.filename)
                print(f"pyelf: note: leaving out {m}: it does not compile under Python 3.13 "
                      f"({e.filename}:{e.lineno}: {e.msg})", file=sys.stderr)
        except Exception as e:  # a file the analysis cannot read (not UTF-8, say): python could not either
            finder.modules.pop(m, None)
            if str(e) not in told:
                told.add(str(e))
                print(f"pyelf: warning: leaving out {m}: {type(e).__name__}: {e}", file=sys.stderr)
    done = set()
    while True:
        todo = [n for n in finder.modules if n in C_MODULE_DEPS and n not in done]
        if not todo:
            break
        for n in todo:
            done.add(n)
            for dep in C_MODULE_DEPS[n]:
                try:
                    finder.import_hook(dep)
                except ImportError:
                    pass  # not in this Python (e.g. an optional module)
    names = set()
    for name, mod in finder.modules.items():
        if name == "__main__":
            continue
        # Source modules, and extension modules (built from source by pyelf, or refused).
        if mod.__file__ and mod.__file__.endswith((".py", *importlib.machinery.EXTENSION_SUFFIXES)):
            names.add(name)
    # Each module's code (the script's as `__main__`), for the names it uses (`names_used`).
    codes = {name: mod.__code__ for name, mod in finder.modules.items()
             if getattr(mod, "__code__", None) is not None and (name == "__main__" or name in names)}
    # Every module name imported, for the choice of C extension modules; and the imports of
    # modules found nowhere, with who imports them.
    return names, set(finder.modules.keys()), codes, finder.badmodules


def missing_imports(badmodules, found, app_modules):
    """The top-level modules that the app's own modules (`app_modules`, `__main__` among them)
    import and that are found nowhere: neither the stdlib (nor another platform's part of it,
    `winreg`), nor the app, nor a bundled distribution. Each with the app modules importing it,
    sorted. The binary raises ModuleNotFoundError there, as python does where the package is not
    installed: fine for an optional import, a forgotten requirement otherwise."""
    missing = {}
    for name, callers in badmodules.items():
        top = name.split(".")[0]
        if top in found or top in sys.stdlib_module_names or not top.isidentifier():
            continue
        by = [c for c in callers if c in app_modules]
        if by:
            missing.setdefault(top, set()).update(by)
    return [{"name": n, "by": sorted(b)} for n, b in sorted(missing.items())]


def all_stdlib():
    names = set()
    for root, dirs, files in os.walk(STDLIB):
        rel = os.path.relpath(root, STDLIB)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts and (parts[0] in FULL_EXCLUDED or parts[0] in ("site-packages", "__pycache__") or "__pycache__" in parts or parts[0].startswith("config-")):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d != "__pycache__" and "-" not in d]
        for f in files:
            if not f.endswith(".py"):
                continue
            stem = f[:-3]
            if not parts and stem in FULL_EXCLUDED:
                continue
            if stem == "__init__":
                if parts:
                    names.add(".".join(parts))
            elif "-" not in stem:
                names.add(".".join(parts + [stem]))
    return names


def package_modules(pkg):
    spec = path_spec(pkg)
    out = {pkg}
    if spec is None:
        raise SystemExit(f"pyelf: --include-package {pkg}: no such package")
    regular = not is_namespace(spec)
    for loc in spec.submodule_search_locations or []:
        for root, dirs, files in os.walk(loc):
            # In a regular package, a directory without __init__.py holds data (the test suite's
            # `tokenizedata`, with broken modules on purpose), not modules to embed.
            dirs[:] = [d for d in dirs if d != "__pycache__" and (not regular or os.path.isfile(os.path.join(root, d, "__init__.py")))]
            rel = os.path.relpath(root, loc)
            parts = [pkg] + ([] if rel == "." else rel.split(os.sep))
            for f in files:
                if f.endswith(".py"):
                    stem = f[:-3]
                    out.add(".".join(parts) if stem == "__init__" else ".".join(parts + [stem]))
    return out


def neutral_paths(source):
    """The build-time data names the directory the toolchain was built in: written as pyelf's
    compiler wrapper writes it (/pyelf/toolchains), so that a binary does not depend on PYELF_HOME."""
    toolchains = os.path.dirname(os.path.dirname(os.path.dirname(STDLIB)))
    return source.replace(toolchains.encode() + b"/", b"/pyelf/toolchains/")


def parse(args, flags, multi):
    out = {f: [] for f in multi}
    while args:
        flag, value, args = args[0], args[1], args[2:]
        if flag in multi:
            out[flag].append(value)
        elif flag in flags:
            out[flag] = value
        else:
            raise SystemExit(f"pyelf freeze: unknown argument {flag}")
    return out


def kind_of(path, app_roots, dep_roots):
    if path is None:
        return None
    p = os.path.abspath(path)
    # The innermost root that holds the file: a site-packages inside the app's directory (a
    # project's .venv) holds dependencies, not the app's own modules.
    best = None
    for kind, roots in ((APP, app_roots), (DEP, dep_roots)):
        for r in roots:
            r = os.path.abspath(r) + os.sep
            if p.startswith(r) and (best is None or len(r) > len(best[1])):
                best = (kind, r)
    if best:
        return best[0]
    if is_stdlib(p):
        return STDLIB_ORIGIN
    return OTHER


def analyse_main(out_dir, args):
    o = parse(args, {"--script", "--module", "--stdlib", "--app-root", "--traced", "--dist-modules"},
              {"--path", "--dep-root", "--include-module", "--include-package"})
    app_roots = [o["--app-root"]] if o.get("--app-root") else []
    dep_roots = o["--dep-root"]
    sys.path[:0] = o["--path"]
    modules, packages = o["--include-module"], o["--include-package"]
    extra = list(modules)
    # A package's modules, all of them: one that does not compile (the test suite's examples of
    # bad syntax) is left out with a note, as for a distribution's modules.
    whole_packages = []
    for p in packages:
        whole_packages.extend(sorted(package_modules(p)))
    if o.get("--traced"):
        # What a traced run imported: whatever can be found here (not __main__, nor modules made
        # at run time).
        with open(o["--traced"]) as f:
            for name in f.read().split():
                if name == "__main__" or name.startswith("_pyelf"):
                    continue
                spec = locate(name)
                if spec is not None and spec.origin and (spec.origin.endswith(".py") or spec.origin == "built-in"):
                    extra.append(name)
    main_module = o.get("--module")
    script = o.get("--script")
    if main_module:
        spec = path_spec(main_module)
        if spec is None or not spec.origin:
            raise SystemExit(f"pyelf: no module {main_module} under {o['--path']}")
        script_file, extra = spec.origin, [main_module] + extra
    else:
        script_file = script
    dist_modules = []
    if o.get("--dist-modules"):
        with open(o["--dist-modules"]) as f:
            dist_modules = f.read().split()
    for p in ALWAYS_PACKAGES:
        extra.extend(sorted(package_modules(p)))
    found, imports, codes, badmodules = analyse(script_file, extra + STARTUP, dist_modules + whole_packages,
                                                main_module is not None)
    if o.get("--stdlib") == "full":
        found |= all_stdlib()
    for m in modules:
        if locate(m) is None:
            raise SystemExit(f"pyelf: --include-module {m}: no such module")
    if "sysconfig" in found:
        found.add(sysconfig._get_sysconfigdata_name())
    for n in list(found):
        parts = n.split(".")
        for i in range(1, len(parts)):
            found.add(".".join(parts[:i]))

    out, extensions = [], []
    libc_names = set()  # what the app's code may look up on a library ctypes opened
    for name in sorted(found):
        spec = locate(name)
        if spec is None:
            continue
        if is_namespace(spec):
            # No code and no file: the importer makes an empty package. Its first directory
            # says whose it is (and holds its data files).
            where = list(spec.submodule_search_locations)[0]
            kind = kind_of(where, app_roots, dep_roots)
            if kind in (APP, DEP):
                out.append({"name": name, "file": where, "kind": kind, "package": True, "namespace": True})
            continue
        kind = kind_of(spec.origin, app_roots, dep_roots)
        if isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            if kind in (APP, DEP, OTHER):
                extensions.append({"name": name, "file": spec.origin})
            continue
        if spec.loader is importlib.machinery.FrozenImporter:
            # Frozen into CPython itself: it stays so, and only its source goes into the tree.
            source = retarget(getattr(spec.loader_state, "filename", None))
            if source and is_stdlib(source) and os.path.isfile(source):
                out.append({"name": name, "file": source, "kind": STDLIB_ORIGIN, "cpython_frozen": True,
                            "package": spec.submodule_search_locations is not None})
            continue
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            continue
        if kind == OTHER:
            continue  # the host's site-packages of the analysing python: never bundled
        out.append({"name": name, "file": spec.origin, "kind": kind,
                    "package": spec.submodule_search_locations is not None})
        # The watched names of the app's and the dependencies' modules (not the stdlib's).
        uses = names_used(codes[name]) if kind in (APP, DEP) and name in codes else []
        if uses:
            out[-1]["uses"] = uses
        if kind in (APP, DEP) and name in codes:
            libc_names |= ctypes_names(codes[name])
    script_uses = names_used(codes["__main__"]) if not main_module and "__main__" in codes else []
    script_warnings = compile_warnings(script_file) if not main_module else []
    if not main_module and "__main__" in codes:
        libc_names |= ctypes_names(codes["__main__"])
    app_modules = {m["name"] for m in out if m["kind"] == APP} | {"__main__"}
    missing = missing_imports(badmodules, imports, app_modules)
    with open(os.path.join(out_dir, "modules.json"), "w") as f:
        json.dump({"modules": out, "extensions": extensions, "imports": sorted(imports), "script_uses": script_uses,
                   "script_warnings": script_warnings,
                   "ctypes_names": sorted(libc_names), "missing": missing}, f, indent=1)


# The modules are compiled by a fixed number of forked workers, each a fixed share of them (every
# SHARES-th module of the sorted list). marshal's output depends on what the process compiled
# before (reference counts decide its back-references), so the shares must not depend on the
# machine's cores: then neither do the bytes.
SHARES = 4


def compile_frozen(m):
    """A module's marshalled code, and whether it is compressed."""
    import zlib
    name = m["name"]
    with open(m["file"], "rb") as f:
        source = f.read()
    # Compiled here, not taken from the toolchain's __pycache__ as the analysis does: marshal
    # writes what it read from a .pyc differently when that .pyc came from another build of
    # the toolchain (its back-references follow reference counts), and the binary must not.
    if os.path.basename(m["file"]).startswith("_sysconfigdata_"):
        source = neutral_paths(source)  # as it is in the tree
    if "source" in m:
        source = m["source"].encode()
    try:
        code = compile(source, m.get("filename") or f"<frozen {name}>", "exec", dont_inherit=True, optimize=0)
    except Exception:
        if not m.get("pyc_only"):
            raise
        # A file of the tree with no bytecode in the binary otherwise (compiled by Cython, or no
        # analysed import reaches it), compiled for its .pyc as pip compiles every module it
        # installs. One that does not compile gets none, as with pip: importing it raises the
        # error, as in python.
        return name, None, None
    data = marshal.dumps(code)
    if m.get("packed"):
        # Decompressed by the launcher's _pyelf.get_code (zlib's uncompress) on first import.
        return name, zlib.compress(data, 6), len(data)
    return name, data, None


class Cache:
    """Compiled shares and data archives of earlier builds, each a file named by a key of
    everything its bytes follow from: this program's source, the interpreter that runs it, and
    the inputs (names, flags and the bytes of each file). A share is one worker's output, which
    depends on the modules of that share only, so a file taken from here is what a run would
    write. Files are written whole (renamed into place) and the least recently used are removed
    beyond ENTRIES; a file another build removes meanwhile is a miss, not an error."""

    VERSION = b"pyelf-frozen-cache-1"
    ENTRIES = 256

    def __init__(self, path):
        self.dir = path
        with open(__file__, "rb") as f:
            self.base = [self.VERSION, f.read(), sys.version.encode(), sys.executable.encode()]

    def key(self, kind, parts):
        import hashlib
        h = hashlib.sha256()
        for part in [kind.encode()] + self.base + parts:
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return f"{kind}-{h.hexdigest()}"

    def get(self, key):
        """The path of the file of `key`, its use recorded; None when there is none."""
        path = os.path.join(self.dir, key)
        try:
            os.utime(path)
        except OSError:
            return None
        return path

    def put(self, key, made):
        """Keeps a copy of the file `made` as `key` (a failure to keep it is no error)."""
        import shutil
        import tempfile
        tmp = None
        try:
            os.makedirs(self.dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out, open(made, "rb") as f:
                shutil.copyfileobj(f, out)
            os.replace(tmp, os.path.join(self.dir, key))
            tmp = None
            self.prune()
        except OSError:
            pass
        finally:
            if tmp:  # not renamed into place: no half-written file is left
                try:
                    os.remove(tmp)
                except OSError:
                    pass

    def prune(self):
        entries = []
        for name in os.listdir(self.dir):
            try:
                entries.append((os.stat(os.path.join(self.dir, name)).st_mtime, name))
            except OSError:
                pass
        if len(entries) > self.ENTRIES:
            for _, name in sorted(entries)[: len(entries) - self.ENTRIES * 3 // 4]:
                try:
                    os.remove(os.path.join(self.dir, name))
                except OSError:
                    pass


def share_key(cache, share):
    parts = []
    for m in share:
        with open(m["file"], "rb") as f:
            data = f.read()
        flags = json.dumps([m["name"], m.get("filename"), m.get("source"), bool(m.get("packed")), bool(m.get("pyc_only"))])
        parts += [flags.encode(), data]
    return cache.key("share", parts)


def compile_all(modules, out_dir, cache=None):
    """Every module's `(name, data, uncompressed size or None)`, compiled by the shares' workers
    (or taken from the cache)."""
    shares = [modules[i::SHARES] for i in range(SHARES)]
    workers = []
    done = {}

    def load(path):
        with open(path, "rb") as f:
            for name, data, size in marshal.load(f):
                done[name] = (data, size)

    for i, share in enumerate(shares):
        key = share_key(cache, share) if cache else None
        cached = key and cache.get(key)
        if cached:
            try:
                load(cached)
                continue
            except (OSError, EOFError, ValueError):
                pass  # removed or cut meanwhile: compiled again
        out = os.path.join(out_dir, f"frozen-share-{i}.marshal")
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                with open(out, "wb") as f:
                    marshal.dump([compile_frozen(m) for m in share], f)
                status = 0
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(status)
        workers.append((pid, out, key))
    failed = False
    for pid, out, key in workers:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed = True
            continue
        load(out)
        if key:
            cache.put(key, out)
        os.remove(out)
    if failed:
        raise SystemExit("pyelf freeze: a module could not be compiled (see above)")
    return done


# The sources (`.py` files) of the tree are read only when something asks for their text: a
# traceback's lines, linecache, inspect.getsource. They go into blocks of several files compressed
# together with xz (raw LZMA2, `SOLID_DICT` the dictionary vfs.c decodes with), about a third
# smaller than each file deflated on its own. A block is a stored entry under SOLID_DIR (which the
# tree does not show), its decoded size in an extra field; a source is an empty stored entry whose
# extra field says where its bytes are (block, offset, size). vfs.c decodes a block when one of its
# files is read, keeping the last one. A block ends after a file once it holds SOLID_MIN bytes and
# the file's name says so (a hash: the same files end the same blocks whatever comes before
# them), or at SOLID_MAX bytes.
SOLID_DIR = ".pyelf-solid/"
SOLID_EXTRA = 0x5053
SOLID_DICT = 1 << 20
SOLID_MIN, SOLID_MAX = 128 * 1024, 512 * 1024
ALIGN_EXTRA = 0xD935


def solid_blocks(sources):
    """`sources` ((archive name, bytes), in archive order) cut into blocks: a list of lists."""
    import zlib
    blocks, block, size = [], [], 0
    for arc, data in sources:
        block.append((arc, data))
        size += len(data)
        if size >= SOLID_MAX or (size >= SOLID_MIN and zlib.crc32(arc.encode()) % 4 == 0):
            blocks.append(block)
            block, size = [], 0
    if block:
        blocks.append(block)
    return blocks


def compress_block(raw):
    import lzma
    return lzma.compress(raw, format=lzma.FORMAT_RAW,
                         filters=[{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": SOLID_DICT}])


def write_bundle(path, files, cache=None, aligned=None):
    """The data archive: `files` (archive name, path) as a zip with fixed timestamps, sorted. The
    files named in `aligned` (archive name -> alignment) are stored uncompressed, their bytes at an
    offset that is a multiple of the alignment: padding in an extra field of their local header
    (id ALIGN_EXTRA, as Android's zipalign), so that the loader maps them from the binary's file.
    Sources go into compressed blocks (SOLID_DIR); other files are deflated one by one."""
    import struct
    import zipfile
    from concurrent.futures import ThreadPoolExecutor
    aligned = aligned or {}
    entries = []
    for arc, file in sorted(files):
        with open(file, "rb") as f:
            data = f.read()
        if os.path.basename(arc).startswith("_sysconfigdata_"):
            data = neutral_paths(data)  # as it is frozen
        entries.append((arc, data))
    key = cache.key("bundle", [p for arc, data in entries for p in (arc.encode(), str(aligned.get(arc, 0)).encode(), data)]) if cache else None
    cached = key and cache.get(key)
    if cached:
        import shutil
        try:
            shutil.copyfile(cached, path)
            return
        except OSError:
            pass
    blocks = solid_blocks([(arc, data) for arc, data in entries if arc.endswith(".py") and arc not in aligned])
    where = {}
    raws = []
    for k, block in enumerate(blocks):
        offset = 0
        for arc, data in block:
            where[arc] = (k, offset, len(data))
            offset += len(data)
        raws.append(b"".join(data for _, data in block))
    # (lzma releases the GIL: the blocks are compressed side by side)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        packed = list(pool.map(compress_block, raws))

    def info(arc, method, extra=b""):
        i = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
        i.compress_type = method
        i.external_attr = 0o644 << 16
        i.extra = extra
        return i

    with zipfile.ZipFile(path, "w") as z:
        for k, (raw, data) in enumerate(zip(raws, packed)):
            z.writestr(info(f"{SOLID_DIR}{k:06d}", zipfile.ZIP_STORED, struct.pack("<HHI", SOLID_EXTRA, 4, len(raw))), data)
        for arc, data in entries:
            align = aligned.get(arc, 0)
            if arc in where:
                z.writestr(info(arc, zipfile.ZIP_STORED, struct.pack("<HHIII", SOLID_EXTRA, 12, *where[arc])), b"")
            elif align:
                data_at = z.fp.tell() + 30 + len(arc.encode()) + 4
                pad = -data_at % align
                z.writestr(info(arc, zipfile.ZIP_STORED, struct.pack("<HH", ALIGN_EXTRA, pad) + bytes(pad)), data)
                assert (z.infolist()[-1].header_offset + 30 + len(arc.encode()) + 4 + pad) % align == 0
            else:
                z.writestr(info(arc, zipfile.ZIP_DEFLATED), data)
    if key:
        cache.put(key, path)


def load_beside(name):
    """A module of pyelf's beside this file (`-I` leaves this directory out of sys.path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def c_string(text):
    """`text` as a C string literal (file names may hold any character)."""
    return '"' + "".join(c if c.isascii() and c.isprintable() and c not in '"\\?' else "".join(f"\\{b:03o}" for b in c.encode()) for c in text) + '"'


def emit_main(out_dir, spec_file, cache_dir=None):
    with open(spec_file) as f:
        spec = json.load(f)
    cache = Cache(cache_dir) if cache_dir else None
    modules = sorted(spec["frozen"], key=lambda m: m["name"])
    compiled = compile_all(modules, out_dir, cache)
    blob = bytearray()
    table = []
    packed = bytearray()
    packed_table = []
    pycs = []  # (source in the tree, blob, offset in it, size, uncompressed size or 0)
    for m in modules:
        name = m["name"]
        data, size = compiled[name]
        if data is None:  # a file of the tree that does not compile
            continue
        if m.get("pyc"):
            blob_name, offset = ("pyelf_packed_blob", len(packed)) if size is not None else ("pyelf_frozen_blob", len(blob))
            pycs.append((m["pyc"], blob_name, offset, len(data), size or 0))
        if size is not None:
            if not m.get("pyc_only"):
                packed_table.append((name, len(packed), len(data), size))
            packed += data
            continue
        table.append((name, len(blob), len(data), m["package"]))
        blob += data
        blob += b"\0" * (-len(blob) % 8)

    with open(os.path.join(out_dir, "frozen.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(out_dir, "packed.bin"), "wb") as f:
        f.write(packed)
    with open(os.path.join(out_dir, "frozen.c"), "w") as f:
        f.write("/* generated by pyelf: the app's frozen modules */\n")
        f.write("#include <Python.h>\n\nextern const unsigned char pyelf_frozen_blob[];\n\n")
        f.write("const struct _frozen pyelf_frozen_modules[] = {\n")
        for name, off, size, is_pkg in table:
            f.write(f'    {{"{name}", pyelf_frozen_blob + {off}, {size}, {int(is_pkg)}}},\n')
        f.write("    {0, 0, 0, 0},\n};\n")
        # The compressed modules, sorted by name (the launcher finds them with bsearch).
        f.write("\nstruct pyelf_packed { const char *name; unsigned int offset, csize, usize; };\n")
        f.write(f"const unsigned int pyelf_packed_count = {len(packed_table)};\n")
        f.write("const struct pyelf_packed pyelf_packed_modules[] = {\n")
        for name, off, csize, usize in sorted(packed_table):
            f.write(f'    {{"{name}", {off}, {csize}, {usize}}},\n')
        f.write("    {0, 0, 0, 0},\n};\n")
        # The modules' .pyc files in the tree (`__pycache__/NAME.cpython-313.pyc` beside each
        # source, as pip writes them), made by vfs.c from the code above: importing a file of the
        # tree by its path (a path finder, spec_from_file_location) finds it, and nothing is
        # compiled at run time.
        f.write("\nextern const unsigned char pyelf_frozen_blob[], pyelf_packed_blob[];\n")
        f.write("struct pyelf_pyc { const char *source; const unsigned char *data; unsigned int size, usize; };\n")
        f.write("const unsigned char pyelf_pyc_magic[4] = {%s};\n" % ", ".join(str(b) for b in importlib.util.MAGIC_NUMBER))
        f.write(f"const char pyelf_pyc_tag[] = {c_string(sys.implementation.cache_tag)};\n")
        pycs = sorted({p[0]: p for p in reversed(pycs)}.values())  # one a source, the first
        f.write(f"const unsigned int pyelf_pyc_count = {len(pycs)};\n")
        f.write("const struct pyelf_pyc pyelf_pyc_files[] = {\n")
        for source, blob_name, off, size, usize in pycs:
            f.write(f'    {{{c_string(source)}, {blob_name} + {off}, {size}, {usize}}},\n')
        f.write("    {0, 0, 0, 0},\n};\n")
    with open(os.path.join(out_dir, "frozen.txt"), "w") as f:
        f.write("".join(n + "\n" for n, *_ in sorted(table + packed_table)))

    # The modules imported at every start, as static code objects (deepfreeze.py): those of the
    # binary's own table (their bytes found by their place in the blob) and CPython's own frozen
    # modules (found by name when the binary starts, and used only if their bytes are these).
    import _imp
    deepfreeze = load_beside("deepfreeze")
    offsets = {name: (off, size) for name, off, size, _ in table}
    deep = []
    for name in FACTS["deep_frozen"]:
        if name in offsets:
            off, size = offsets[name]
            deep.append((name, blob[off:off + size], f"pyelf_frozen_blob + {off}"))
        elif (found := _imp.find_frozen(name, withdata=True)) is not None:
            data = found[0].tobytes()
            if BUILD_STDLIB is not None:
                # A cross build: the target's libpython froze the module with this python, as
                # CPython's Programs/_freeze_module.py does (compiled from the source and
                # marshalled), which may write other bytes than this python's own frozen copy.
                # The binary checks them (their digest) before it uses the objects.
                source = os.path.join(STDLIB, *(found[2] or "").split(".")) + ".py"
                if not os.path.isfile(source):
                    continue  # not a module of its own file: left to marshal
                _, data, _ = compile_frozen({"name": name, "file": source, "filename": f"<frozen {found[2]}>"})
            deep.append((name, data, None))
    deepfreeze.write(os.path.join(out_dir, "deepfrozen.c"), deep, check_cpython=BUILD_STDLIB is not None)

    write_bundle(os.path.join(out_dir, "bundle.zip"), [(d["arc"], d["file"]) for d in spec.get("bundle", [])], cache,
                 spec.get("aligned"))


def main():
    # modulefinder follows imports by recursion, a few Python frames for each module imported
    # while another is being imported: sympy's chain of such imports, 126 modules deep, passed
    # Python's default limit of 1,000 frames. Python calls Python without using the C stack.
    sys.setrecursionlimit(100_000)
    command, out_dir, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "analyse":
        try:
            analyse_main(out_dir, args)
        except SyntaxError as e:
            # As python reports it: the file and line, not this program's traceback.
            print(f"{e.filename}:{e.lineno}:{e.offset or 0}: SyntaxError: {e.msg}", file=sys.stderr)
            if e.text:
                print("    " + e.text.rstrip(), file=sys.stderr)
            raise SystemExit(1)
    elif command == "emit":
        emit_main(out_dir, *args[:2])
    else:
        raise SystemExit(f"pyelf freeze: unknown command {command}")


if __name__ == "__main__":
    main()
