"""pyelf's build frontend: builds a source distribution into a wheel with its build backend
(PEP 517), run by the toolchain's python3 with the build dependencies on PYTHONPATH.

    pep517.py unpack SDIST DIR       unpack; answers the source tree's directory
    pep517.py requires SRC           the [build-system] requires and backend
    pep517.py dynamic SRC            get_requires_for_build_wheel()
    pep517.py build SRC OUT          builds the wheel into OUT; answers its file name
    pep517.py extensions WHEEL       the extension modules a wheel holds
    pep517.py compiled-python WHEEL  whether they are the wheel's own Python modules compiled
                                     (mypyc): each has its .py beside it, or is mypyc's runtime

The answer is JSON, written to the file $PYELF_ANSWER (the backend and the compilers it runs
print to stdout and stderr, which go to the build's log).
"""
import importlib
import json
import os
import shutil
import sys
import tomllib
import zipfile

# What pip assumes of a source tree without [build-system].
LEGACY = {"requires": ["setuptools>=40.8.0"], "build-backend": "setuptools.build_meta:__legacy__"}


def build_system(src):
    try:
        with open(os.path.join(src, "pyproject.toml"), "rb") as f:
            table = tomllib.load(f).get("build-system")
    except FileNotFoundError:
        table = None
    if table is None:
        return dict(LEGACY)
    table.setdefault("requires", [])
    table.setdefault("build-backend", LEGACY["build-backend"])
    return table


def backend(src):
    table = build_system(src)
    os.chdir(src)
    for p in reversed(table.get("backend-path", [])):
        sys.path.insert(0, os.path.abspath(p))
    module, _, attrs = table["build-backend"].partition(":")
    obj = importlib.import_module(module)
    for a in filter(None, attrs.split(".")):
        obj = getattr(obj, a)
    return obj


def extensions(wheel):
    """Module names of the extension modules (`*.so`) in a wheel."""
    with zipfile.ZipFile(wheel) as z:
        return sorted(n for n, _ in extension_files(z.namelist()))


def extension_files(names):
    """(module name, path without its suffix) of each extension module among a wheel's files."""
    out = []
    for n in names:
        top = n.split("/")[0]
        if not n.endswith(".so") or top.endswith((".data", ".dist-info")):
            continue
        stem = n[:-3]
        base = stem.rsplit("/", 1)[-1]
        if "." in base:
            stem = stem[: len(stem) - len(base)] + base.split(".")[0]
        name = stem.replace("/", ".")
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out.append((name, stem))
    return out


def compiled_python(wheel):
    """Whether the wheel's extension modules are its own Python modules compiled by mypyc: each
    has its source (`.py`) beside it in the wheel, or is mypyc's runtime (`*__mypyc`)."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    found = extension_files(names)
    twins = [n for n, stem in found if stem + ".py" in names]
    return bool(twins) and all(stem + ".py" in names or n.endswith("__mypyc") for n, stem in found)


def answer(value):
    with open(os.environ["PYELF_ANSWER"], "w") as f:
        json.dump(value, f)


def main():
    step, args = sys.argv[1], sys.argv[2:]
    if step == "unpack":
        sdist, dest = args
        shutil.unpack_archive(sdist, dest)
        entries = os.listdir(dest)
        tree = os.path.join(dest, entries[0]) if len(entries) == 1 else dest
        answer(tree)
    elif step == "requires":
        table = build_system(args[0])
        answer({"requires": table["requires"], "backend": table["build-backend"]})
    elif step == "dynamic":
        b = backend(args[0])
        hook = getattr(b, "get_requires_for_build_wheel", None)
        answer(list(hook({}) if hook else []))
    elif step == "build":
        src, out = args
        out = os.path.abspath(out)
        b = backend(src)
        answer(b.build_wheel(out, {}))
    elif step == "extensions":
        answer(extensions(args[0]))
    elif step == "compiled-python":
        answer(compiled_python(args[0]))
    else:
        raise SystemExit(f"pep517.py: no step {step!r}")


main()
