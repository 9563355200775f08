"""pyelf's importer for the modules frozen into the binary: the app's, its bundled packages' and
the stdlib's.

The launcher imports this module before the app. It puts a finder first on sys.meta_path that
knows every embedded module: those compiled by Cython are built-in modules (created from the
binary's inittab), the others are frozen bytecode, each with its file in the tree (the stdlib's
under STDLIB, as under python's prefix). Packages get
`importlib.resources` readers over their directories in the tree of files the binary serves from
its embedded archive under ROOT (vfs.c: modules' sources, data files, distribution metadata).
That tree is on sys.path: `importlib.metadata`'s path finder finds the bundled distributions
(`*.dist-info`) there.

It also runs the app's main module as `__main__` (`run_main`), and the workers packages start with
`sys.executable -c CODE` or `-m MODULE` (`run_worker_code`, `run_worker_module`).

The kinds of module (`CYTHON`, `BYTECODE`, `PACKED`, `NAMESPACE`, `EXTENSION`: `freeze::Load` in
Rust),
`ROOT` (the tree), `STDLIB` (the stdlib's directory in it), `MODULES` (name -> (kind,
is_package, path in the tree)) and `SCRIPT` (the name under which a script's module is built in,
or None when the app runs as `python -m`) and `SCRIPT_WARNINGS` (`_compile_warnings`) are put in
front of this text at build time.
"""
import _imp
import _pyelf
import sys
from _frozen_importlib import ModuleSpec
from _frozen_importlib import _call_with_frames_removed as _frames_removed

# Kinds of modules made from the binary's inittab: compiled by Cython, or extension modules built
# from a package's C source.
BUILT_IN = (CYTHON, EXTENSION)


def _call_with_frames_removed(exec_builtin, module):
    return exec_builtin(module)


# A compiled module's code runs in no frame of its own. Its init runs in a frame of this code
# instead, made a function of the module (its globals, its `__name__`), as python runs a module's
# code: what names a class by its caller's module (`collections.namedtuple`, `enum.Enum("E", …)`,
# `typing.NewType`, `TypeVar`, all through `sys._getframemodulename()`) finds the module, not
# this importer, and pickles the class by reference. Named as the import system's own frame, the
# one CPython drops from a traceback with the import machinery's frames before it.
_RUN_COMPILED = _call_with_frames_removed.__code__
del _call_with_frames_removed


def _compiled_init(module):
    """The function that runs `module`'s init: `_compiled_init(module)(_imp.exec_builtin, module)`
    (called by the caller, so that this frame is not on the stack while the init runs)."""
    return type(_compiled_init)(_RUN_COMPILED, module.__dict__)

# Where the app's files are (`__file__`): a read-only tree the binary serves from its embedded
# archive (vfs.c); ROOT is put in front of this text at build time.

class _Reader:
    """`importlib.resources` reader of a package: its directory in the tree under ROOT, a real
    path as in a normal install (`as_file` gives it as it is, nothing is copied)."""

    def __init__(self, name):
        self.path = ROOT + MODULES[name][2].rpartition("/")[0]

    def files(self):
        import pathlib
        return pathlib.Path(self.path)


class PyelfFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        entry = MODULES.get(fullname)
        if entry is None:
            if fullname == STDLIB.partition("/")[0] and path is None:
                return cls._not_the_stdlib_directory(fullname)
            return None
        kind, is_pkg, rel = entry
        if kind == NAMESPACE:
            # A namespace package: no file, no code; its modules are in MODULES too.
            spec = ModuleSpec(fullname, LOADER, is_package=True)
            spec.submodule_search_locations.append(ROOT + rel)
            return spec
        spec = ModuleSpec(fullname, LOADER, origin=ROOT + rel, is_package=is_pkg)
        spec.has_location = True
        if is_pkg:
            # The package's directory in the tree (`__path__`), as code that lists it expects.
            spec.submodule_search_locations.append(ROOT + rel.rpartition("/")[0])
        return spec

    @staticmethod
    def _not_the_stdlib_directory(fullname):
        """`import lib`: the stdlib's directory in the tree (ROOT/lib/python3.13) is no namespace
        package, as python's prefix is not on sys.path; found elsewhere on sys.path, or not."""
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(fullname, [p for p in sys.path if p != ROOT.rstrip("/")])
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return spec

    @staticmethod
    def create_module(spec):
        if MODULES[spec.name][0] in BUILT_IN:
            return _imp.create_builtin(spec)
        return None

    @classmethod
    def exec_module(cls, module):
        name = module.__spec__.name
        kind = MODULES[name][0]
        if kind == CYTHON:
            _compiled_init(module)(_imp.exec_builtin, module)
        elif kind == EXTENSION:
            _imp.exec_builtin(module)
        elif kind == NAMESPACE:
            module.__file__ = None  # as CPython sets it for a namespace package
        else:
            # As python's loaders run a module: these frames are dropped from its tracebacks.
            _frames_removed(exec, cls.get_code(name), module.__dict__)

    @staticmethod
    def get_code(fullname):
        kind = MODULES[fullname][0]
        if kind in BUILT_IN or kind == NAMESPACE:
            return None
        if kind == PACKED:
            return _pyelf.get_code(fullname)
        return _imp.get_frozen_object(fullname)

    @staticmethod
    def get_source(fullname):
        """The module's source, from the tree (linecache shows it in tracebacks, inspect.getsource
        finds it), decoded as python decodes a source file."""
        if fullname == "__main__" and SCRIPT:  # linecache asks a script by its __name__
            fullname = SCRIPT
        entry = MODULES.get(fullname)
        if entry is None or entry[0] in (NAMESPACE, EXTENSION):
            return None
        import io
        import tokenize
        try:
            with open(ROOT + entry[2], "rb") as f:
                data = f.read()
        except OSError:
            return None
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")

    @staticmethod
    def get_filename(fullname):
        return ROOT + MODULES[fullname][2]

    @staticmethod
    def get_data(path):
        """A file's bytes (`pkgutil.get_data`): read from the tree under ROOT like any file."""
        with open(path, "rb") as f:
            return f.read()

    @staticmethod
    def is_package(fullname):
        return MODULES[fullname][1]

    @staticmethod
    def get_resource_reader(fullname):
        return _Reader(fullname)


# Modules' `__loader__`: an instance, as python's loaders of files are (code that lists a
# module's classes, inspect.getmembers(m, isclass), does not find it).
LOADER = PyelfFinder()


def _create_main(name, run_name):
    """The app's main module `name`, made (not run) as `run_name`, with the attributes python gives
    a script (`python app.py`) or a module run with `python -m`."""
    spec = PyelfFinder.find_spec(name)
    if MODULES[name][0] == CYTHON:
        module = _imp.create_builtin(spec)
        module.__name__ = run_name
        module.__loader__ = LOADER
    else:
        module = type(sys)(run_name)
        module.__file__ = spec.origin
        module.__loader__ = LOADER
    module.__cached__ = None
    if name == SCRIPT:
        module.__spec__ = None
        module.__package__ = None
    else:
        module.__spec__ = spec
        module.__package__ = spec.parent
    return module


def _execute(module, name):
    if MODULES[name][0] == CYTHON:
        _compiled_init(module)(_imp.exec_builtin, module)
    else:
        exec(PyelfFinder.get_code(name), module.__dict__)


def _compile_warnings(filename):
    """The warnings python prints each time it compiles a script, before running it (SyntaxWarning:
    invalid escape sequence), as it prints them: the build's compilation of the script gave them
    (`SCRIPT_WARNINGS`: category, message, line)."""
    import builtins
    import warnings
    for category, message, line in SCRIPT_WARNINGS:
        warnings.warn_explicit(message, getattr(builtins, category), filename, line)


def run_main(name):
    """Runs the app's main module as python runs a script: it is `sys.modules["__main__"]` while it
    runs, and it is not imported (no import lock is held, so threads may import `__main__`)."""
    _setup_app()
    module = _create_main(name, "__main__")
    sys.modules["__main__"] = module
    # The script's code runs in python's first frame: this one and _execute's do not count against
    # the recursion limit. The frame of the module's code (bytecode's, or the compiled module's
    # init's: _compiled_init) counts as python's.
    if name == SCRIPT and SCRIPT_WARNINGS:
        _compile_warnings(PyelfFinder.find_spec(name).origin)
    _pyelf.recursion_credit(2)
    try:
        _execute(module, name)
    finally:
        _pyelf.recursion_credit(-2)


def run_worker_code(code):
    """Runs `python -c CODE` as a package starts a worker with it (multiprocessing's spawn,
    forkserver and resource tracker, loky's resource tracker: toolchains/workers.toml). When the
    child asks multiprocessing for the parent's main module by its file, the app's main module is
    run as `__mp_main__` (its `if __name__ == "__main__":` part does not run), as multiprocessing
    does with a script's file."""
    _setup_app()
    import multiprocessing.spawn as spawn
    original = spawn._fixup_main_from_path
    main_file = ROOT + MODULES[SCRIPT][2] if SCRIPT else None

    def fixup_main_from_path(main_path):
        if main_path != main_file:
            return original(main_path)
        current = sys.modules["__main__"]
        if getattr(current, "__file__", None) == main_path:
            return
        module = _create_main(SCRIPT, "__mp_main__")
        sys.modules["__mp_main__"] = module
        _execute(module, SCRIPT)
        sys.modules["__main__"] = module

    spawn._fixup_main_from_path = fixup_main_from_path
    main = sys.modules["__main__"]
    exec(compile(code, "<string>", "exec"), main.__dict__)


def run_worker_module(name):
    """Runs `python -m NAME` as a package starts a worker with it (loky's workers:
    toolchains/workers.toml): the module as `__main__`, found by the binary's importer. (loky's
    worker runs the parent's main script by its file, which the tree holds.)"""
    _setup_app()
    import runpy
    runpy._run_module_as_main(name, alter_argv=True)


def _install():
    """Puts the finder first, and makes the stdlib modules imported while the interpreter started
    (from the frozen table, before this finder existed) look as if it had found them."""
    sys.meta_path.insert(0, PyelfFinder)
    for name, module in list(sys.modules.items()):
        entry = MODULES.get(name)
        if entry is None or entry[0] != BYTECODE or getattr(module.__spec__, "origin", None) != "frozen":
            continue
        spec = PyelfFinder.find_spec(name)
        module.__spec__ = spec
        module.__loader__ = LOADER
        module.__file__ = spec.origin
        module.__cached__ = spec.cached
        if spec.submodule_search_locations is not None:
            module.__path__ = list(spec.submodule_search_locations)


def _site_builtins():
    """exit(), quit(), help(), copyright(), credits() and license(), as python's site module adds
    them (site.setquit, setcopyright and sethelper). A pyelf binary runs without site's search
    for site-packages, and does not import site (with os, posixpath, stat and _collections_abc)
    for these six objects alone: that was a sixth of an empty script's start-up."""
    import builtins
    import _sitebuiltins
    base = _sitebuiltins._Printer

    class _Printer(base):
        """site's printer, set up when first shown: its __init__ imports os (and with it posixpath,
        stat and _collections_abc), which an app that never prints copyright need not pay for."""

        def __init__(self, *args):
            self._pyelf_args = args

        def _Printer__setup(self):
            args = self.__dict__.pop("_pyelf_args", None)
            if args is not None:
                base.__init__(self, *args)
            return base._Printer__setup(self)

    _Printer.__module__, _Printer.__qualname__ = base.__module__, base.__qualname__
    _sitebuiltins = type(sys)("_sitebuiltins_view")
    _sitebuiltins.Quitter, _sitebuiltins._Printer, _sitebuiltins._Helper = (
        sys.modules["_sitebuiltins"].Quitter, _Printer, sys.modules["_sitebuiltins"]._Helper)
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.copyright = _sitebuiltins._Printer("copyright", sys.copyright)
    builtins.credits = _sitebuiltins._Printer("credits", """\
Thanks to CWI, CNRI, BeOpen, Zope Corporation, the Python Software
Foundation, and a cast of thousands for supporting Python
development.  See www.python.org for more information.""")
    files, dirs = [], []
    here = getattr(sys, "_stdlib_dir", None)
    if here:
        files.extend(["LICENSE.txt", "LICENSE"])
        # os.path.join(here, os.pardir), here, os.curdir
        dirs.extend([here.rstrip("/") + "/..", here, "."])
    builtins.license = _sitebuiltins._Printer("license", "See https://www.python.org/psf/license/", files, dirs)
    builtins.help = _sitebuiltins._Helper()


def _setup_app():
    """sys.path of an app: the tree first, as the script's directory is in python (the path finder
    finds the bundled distributions there for importlib.metadata, and code that turns a file of
    it into a module name, astroid and pylint, finds it), then the stdlib's directory. The
    modules above are found first."""
    sys.path[:0] = [ROOT.rstrip("/"), ROOT + STDLIB]
    _site_builtins()


def setup_python(_):
    """The binary started as python3 (`--python-cli`): python has set sys.path from the command
    line; the tree comes last, where python has its site-packages."""
    sys.path.append(ROOT.rstrip("/"))


_install()
