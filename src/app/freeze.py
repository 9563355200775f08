"""pyelf's freezer, run by the toolchain's python3.

usage: freeze.py analyse OUT_DIR (--script FILE | --module NAME) [--path DIR]... [--app-root DIR]
                 [--dep-root DIR]... [--include-module M]... [--include-package P]... [--stdlib full|auto]
       freeze.py emit OUT_DIR SPEC.json

`analyse` finds every module the app needs (stdlib, the app's own, its dependencies) and writes
OUT_DIR/modules.json: each module's name, file, kind (stdlib, app, dep) and whether it is a
package; the C extension modules found outside the stdlib; every module name imported (for the
choice of built-in C modules).

`emit` compiles the modules SPEC.json lists to code objects and writes OUT_DIR/frozen.bin (the
marshalled code, one after another), frozen.c (the table: name, offset, size, package?),
frozen.txt (the names), and bundle.zip (data files and distribution metadata; fixed timestamps,
sorted entries).
"""
import importlib.machinery
import importlib.util
import json
import marshal
import modulefinder
import os
import sys
import sysconfig

STDLIB = sysconfig.get_paths()["stdlib"]

# Not followed when a stdlib module imports them (tests, GUIs, build and packaging tools, demos,
# debuggers): embedded only when the app itself imports them, or when asked for by name.
EXCLUDED = {
    "test", "tkinter", "idlelib", "turtledemo", "turtle", "lib2to3", "ensurepip", "venv",
    "pydoc_data", "distutils", "_pyrepl", "pydoc", "doctest", "unittest", "__phello__",
    "__hello__", "_pydecimal", "_pyio", "_pydatetime", "xmlrpc", "msilib", "_osx_support", "_aix_support", "_android_support", "_ios_support",
    "pdb", "bdb", "cProfile", "profile", "pstats", "trace", "tabnanny", "zipapp", "this",
    "antigravity", "webbrowser", "mailbox", "nntplib", "idlelib", "pyclbr", "py_compile",
    "compileall", "timeit", "_sitebuiltins", "site", "sitecustomize", "usercustomize",
}

# What the interpreter itself imports while it starts and reports errors.
STARTUP = [
    "encodings", "encodings.aliases", "encodings.utf_8", "encodings.ascii", "encodings.latin_1",
    "codecs", "io", "abc", "_collections_abc", "stat", "os", "posixpath",
    "genericpath", "linecache", "traceback", "tokenize", "warnings", "_weakrefset",
]


# Python modules that built-in C modules import from C (invisible to the analysis).
C_MODULE_DEPS = {
    "_decimal": ["numbers", "collections", "contextvars"],
    "_pickle": ["copyreg", "_compat_pickle", "codecs", "functools"],
    "_elementtree": ["xml.etree.ElementPath", "copy", "pyexpat"],
    "_datetime": ["time", "_strptime"],
    "_asyncio": ["asyncio"],
    "_operator": ["functools"],
    "posix": ["resource"],
    "_json": ["json.decoder"],
    "_socket": ["encodings.idna"],
    "_zoneinfo": ["zoneinfo._common", "zoneinfo._tzpath", "io", "pickle", "weakref"],
    "_sqlite3": ["functools"],
    "_ctypes": ["ctypes"],
}


def is_stdlib(path):
    return path is not None and os.path.abspath(path).startswith(STDLIB + os.sep) and "site-packages" not in path


def top(name):
    return name.partition(".")[0]


CO_NEWLOCALS = 0x2

# modulefinder's kind for a namespace package (a directory without __init__.py, PEP 420): the
# stdlib's modulefinder does not know them.
NAMESPACE = "namespace"


def is_namespace(spec):
    return spec is not None and spec.origin is None and spec.submodule_search_locations is not None and (
        spec.loader is None or type(spec.loader).__name__ == "NamespaceLoader")


class Finder(modulefinder.ModuleFinder):
    """modulefinder, trimmed. Modules the app imports at module level, directly or through other
    modules' module-level imports, are *eager*: every import in them is followed, including those
    inside functions. What is reached only through an import inside a function is *lazy*: its
    module-level imports are followed, its functions' imports are not (they are mostly for rarely
    used features and would pull in half the stdlib; `--include-module` adds what is missed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = set()
        self.lazy_context = False

    def find_module(self, name, path, parent=None):
        fullname = name if parent is None else f"{parent.__name__}.{name}"
        if fullname not in self.excludes and not (path is None and name in sys.builtin_module_names):
            spec = importlib.machinery.PathFinder.find_spec(name, self.path if path is None else path)
            if is_namespace(spec):
                return None, list(spec.submodule_search_locations), ("", "", NAMESPACE)
        return super().find_module(name, path, parent)

    def load_module(self, fqname, fp, pathname, file_info):
        if self.lazy_context:
            self.lazy.add(fqname)
        if file_info[2] == NAMESPACE:
            m = self.add_module(fqname)
            m.__path__ = pathname
            return m
        return super().load_module(fqname, fp, pathname, file_info)

    def import_module(self, partname, fqname, parent):
        m = super().import_module(partname, fqname, parent)
        # Reached lazily before and eagerly now: scan it again, eagerly this time.
        if m is not None and not self.lazy_context and fqname in self.lazy:
            self.lazy.discard(fqname)
            if getattr(m, "__code__", None) is not None:
                self.scan_code(m.__code__, m)
        return m

    def scan_code(self, co, m):
        if m.__name__ == "__main__" or not is_stdlib(m.__file__):
            return super().scan_code(co, m)
        saved = self.lazy_context
        is_lazy = m.__name__ in self.lazy
        # Module-level code and class bodies first; functions are replaced by None (not removed:
        # the bytecode refers to constants by index).
        functions = [c for c in co.co_consts if isinstance(c, type(co)) and c.co_flags & CO_NEWLOCALS]
        top = co.replace(co_consts=tuple(None if any(c is f for f in functions) else c for c in co.co_consts))
        self.lazy_context = saved or is_lazy
        super().scan_code(top, m)
        if not is_lazy:
            self.lazy_context = True
            for f in functions:
                super().scan_code(f, m)
        self.lazy_context = saved


def direct_imports(script):
    """Top-level names of the modules the script itself imports (absolute imports)."""
    import ast
    with open(script, "rb") as f:
        tree = ast.parse(f.read(), script)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(top(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(top(node.module))
    return names


def analyse(script, extra, startup=(), main_is_module=False, asked=frozenset()):
    """`extra` modules are analysed like the app's own imports; `startup` ones lazily (what the
    interpreter needs to start and to print errors: their functions' imports serve features a
    pyelf binary does not use, such as showing source lines in tracebacks). With `main_is_module`
    the main module is among `extra` and `script` is only its file. `asked`: more top-level names
    the app imports itself (never excluded)."""
    asked = direct_imports(script) | {top(m) for m in extra} | set(asked)
    finder = Finder(excludes=sorted(EXCLUDED - asked))
    if not main_is_module:
        finder.run_script(script)
    for m in extra:
        finder.import_hook(m)
    finder.lazy_context = True
    for m in startup:
        finder.import_hook(m)
    finder.lazy_context = False
    done = set()
    while True:
        # Only for C modules the app reaches eagerly: one reached lazily brings its own deps
        # only if it is asked for by name.
        todo = [n for n in finder.modules if n in C_MODULE_DEPS and n not in done and n not in finder.lazy]
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
        if mod.__file__ and mod.__file__.endswith(".py"):
            names.add(name)
    # The script's own imports, for the choice of C extension modules.
    main_imports = set(finder.modules.keys())
    return names, main_imports


# Left out even of --stdlib full: the test suite, Tk, demos, pip's bootstrap, import test stubs.
FULL_EXCLUDED = {
    "test", "tkinter", "idlelib", "turtledemo", "turtle", "ensurepip", "__phello__", "__hello__",
    "site", "sitecustomize", "usercustomize",
}


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
    spec = importlib.util.find_spec(pkg)
    out = {pkg}
    if spec is None:
        raise SystemExit(f"pyelf: --include-package {pkg}: no such package")
    for loc in spec.submodule_search_locations or []:
        for root, dirs, files in os.walk(loc):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
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
    toolchains = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.__file__))))
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
    for r in app_roots:
        if p.startswith(os.path.abspath(r) + os.sep):
            return "app"
    for r in dep_roots:
        if p.startswith(os.path.abspath(r) + os.sep):
            return "dep"
    if is_stdlib(p):
        return "stdlib"
    return "other"


def analyse_main(out_dir, args):
    o = parse(args, {"--script", "--module", "--stdlib", "--app-root", "--traced"},
              {"--path", "--dep-root", "--include-module", "--include-package"})
    app_roots = [o["--app-root"]] if o.get("--app-root") else []
    dep_roots = o["--dep-root"]
    sys.path[:0] = o["--path"]
    modules, packages = o["--include-module"], o["--include-package"]
    extra = list(modules)
    for p in packages:
        extra.extend(sorted(package_modules(p)))
    if o.get("--traced"):
        # What a traced run imported: whatever can be found here (not __main__, nor modules made
        # at run time).
        with open(o["--traced"]) as f:
            for name in f.read().split():
                if name == "__main__" or name.startswith("_pyelf"):
                    continue
                try:
                    spec = importlib.util.find_spec(name)
                except (ImportError, ValueError):
                    continue
                if spec is not None and spec.origin and (spec.origin.endswith(".py") or spec.origin == "built-in"):
                    extra.append(name)
    main_module = o.get("--module")
    script = o.get("--script")
    if main_module:
        spec = importlib.util.find_spec(main_module)
        if spec is None or not spec.origin:
            raise SystemExit(f"pyelf: no module {main_module} under {o['--path']}")
        script_file, extra = spec.origin, [main_module] + extra
    else:
        script_file = script
    asked = set()
    for p in packages:
        for n in package_modules(p):
            origin = importlib.util.find_spec(n).origin
            if origin and origin.endswith(".py"):
                asked |= direct_imports(origin)
    if o.get("--stdlib") == "full":
        found, imports = analyse(script_file, extra, [], main_module is not None, asked)
        found |= all_stdlib() | set(STARTUP)
    else:
        found, imports = analyse(script_file, extra, STARTUP, main_module is not None, asked)
    for m in modules:
        if importlib.util.find_spec(m) is None:
            raise SystemExit(f"pyelf: --include-module {m}: no such module")
    if "sysconfig" in found:
        found.add(sysconfig._get_sysconfigdata_name())
    for n in list(found):
        parts = n.split(".")
        for i in range(1, len(parts)):
            found.add(".".join(parts[:i]))

    out, extensions = [], []
    left_out = {}  # why -> modules: those whose package fails to import here (said once per cause)
    for name in sorted(found):
        try:
            spec = importlib.util.find_spec(name)
        except Exception as e:
            left_out.setdefault(f"{type(e).__name__}: {e}", []).append(name)
            continue
        if spec is None:
            continue
        if is_namespace(spec):
            # No code and no file: the importer makes an empty package. Its first directory
            # says whose it is (and holds its data files).
            where = list(spec.submodule_search_locations)[0]
            kind = kind_of(where, app_roots, dep_roots)
            if kind in ("app", "dep"):
                out.append({"name": name, "file": where, "kind": kind, "package": True, "namespace": True})
            continue
        kind = kind_of(spec.origin, app_roots, dep_roots)
        if isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            if kind in ("app", "dep", "other"):
                extensions.append({"name": name, "file": spec.origin})
            continue
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            continue
        if kind == "other":
            continue  # the host's site-packages of the analysing python: never bundled
        out.append({"name": name, "file": spec.origin, "kind": kind,
                    "package": spec.submodule_search_locations is not None})
    for why, names in left_out.items():
        if len(names) == 1:
            what, whose = names[0], "its"
        else:
            what, whose = f"{len(names)} modules ({', '.join(names)})", "their"
        print(f"pyelf: warning: leaving out {what}: importing {whose} package fails here ({why})", file=sys.stderr)
    with open(os.path.join(out_dir, "modules.json"), "w") as f:
        json.dump({"modules": out, "extensions": extensions, "imports": sorted(imports)}, f, indent=1)


def emit_main(out_dir, spec_file):
    with open(spec_file) as f:
        spec = json.load(f)
    blob = bytearray()
    table = []
    for m in sorted(spec["frozen"], key=lambda m: m["name"]):
        name = m["name"]
        with open(m["file"], "rb") as f:
            source = f.read()
        if name.startswith("_sysconfigdata_"):
            source = neutral_paths(source)
        if "source" in m:
            source = m["source"].encode()
        code = compile(source, m.get("filename") or f"<frozen {name}>", "exec", dont_inherit=True, optimize=0)
        data = marshal.dumps(code)
        table.append((name, len(blob), len(data), m["package"]))
        blob += data
        blob += b"\0" * (-len(blob) % 8)

    with open(os.path.join(out_dir, "frozen.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(out_dir, "frozen.c"), "w") as f:
        f.write("/* generated by pyelf: the app's frozen modules */\n")
        f.write("#include <Python.h>\n\nextern const unsigned char pyelf_frozen_blob[];\n\n")
        f.write("const struct _frozen pyelf_frozen_modules[] = {\n")
        for name, off, size, is_pkg in table:
            f.write(f'    {{"{name}", pyelf_frozen_blob + {off}, {size}, {int(is_pkg)}}},\n')
        f.write("    {0, 0, 0, 0},\n};\n")
    with open(os.path.join(out_dir, "frozen.txt"), "w") as f:
        f.write("".join(n + "\n" for n, *_ in table))

    import zipfile
    with zipfile.ZipFile(os.path.join(out_dir, "bundle.zip"), "w") as z:
        for arc, path in sorted((d["arc"], d["file"]) for d in spec.get("bundle", [])):
            info = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(path, "rb") as f:
                z.writestr(info, f.read())


def main():
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
        emit_main(out_dir, args[0])
    else:
        raise SystemExit(f"pyelf freeze: unknown command {command}")


if __name__ == "__main__":
    main()
