"""The code objects of frozen modules, as the import system gets them (`_imp.get_frozen_object`, in
a binary the deep-frozen static objects), against what marshal builds from the same frozen bytes:
every attribute, every constant, the same strings interned. Then code of those modules at work:
a traceback through them with its carets, and their positions.

Usage: deep_frozen.py [NAME...]: the modules to compare (those the binary deep-freezes); a name
the interpreter has no frozen bytes for is left out of the comparison and counted, and so are the
code objects that are static, the same object at each get (on stderr: the binary freezes more
than python does, and python deep-freezes none).
"""
import _imp
import marshal
import os
import posixpath
import struct
import sys
import traceback
import types

FIELDS = ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals", "co_stacksize", "co_flags",
          "co_firstlineno", "co_code", "co_names", "co_varnames", "co_cellvars", "co_freevars", "co_filename",
          "co_name", "co_qualname", "co_linetable", "co_exceptiontable")


def interned(s):
    return sys._is_interned(s)


def differences(a, b, where):
    if type(a) is not type(b):
        return [f"{where}: {type(a).__name__} against {type(b).__name__}"]
    if isinstance(a, types.CodeType):
        out = [f"{where}.{f}" for f in FIELDS if getattr(a, f) != getattr(b, f)]
        if list(a.co_positions()) != list(b.co_positions()):
            out.append(f"{where}.co_positions()")
        if list(a.co_lines()) != list(b.co_lines()):
            out.append(f"{where}.co_lines()")
        for f in ("co_names", "co_varnames", "co_cellvars", "co_freevars"):
            for i, (x, y) in enumerate(zip(getattr(a, f), getattr(b, f))):
                if interned(x) != interned(y) or interned(x) and x is not y:
                    out.append(f"{where}.{f}[{i}] interned differently")
        for f in ("co_name", "co_qualname", "co_filename"):
            if interned(getattr(a, f)) != interned(getattr(b, f)):
                out.append(f"{where}.{f} interned differently")
        out += differences(a.co_consts, b.co_consts, where + ".co_consts")
        return out
    if isinstance(a, (tuple, frozenset)):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float):
        return [] if struct.pack("<d", a) == struct.pack("<d", b) else [f"{where}: {a!r} against {b!r}"]
    if isinstance(a, complex):
        return differences((a.real, a.imag), (b.real, b.imag), where)
    if isinstance(a, str):
        if a != b:
            return [f"{where}: {a!r} against {b!r}"]
        if interned(a) != interned(b) or interned(a) and a is not b:
            return [f"{where}: {a!r} interned differently"]
        return []
    return [] if a == b else [f"{where}: {a!r} against {b!r}"]


compared, absent, static, problems = 0, 0, 0, []
for name in sys.argv[1:]:
    found = _imp.find_frozen(name, withdata=True)
    if found is None:
        absent += 1
        continue
    got = _imp.get_frozen_object(name)
    want = marshal.loads(found[0])
    again = _imp.get_frozen_object(name)
    problems += differences(got, want, name)
    if again.co_code != got.co_code:
        problems.append(f"{name}: a second get differs")
    # The same object again only when it is static (marshal builds a new one each time).
    static += again is got
    compared += 1

# Code that has not run yet has its inline caches as marshal's quickening leaves them (a binary
# writes them so at build time): functions no start-up and none of the code above calls.
def code_named(code, qualname):
    if code.co_qualname == qualname:
        return code
    nested = (code_named(c, qualname) for c in code.co_consts if isinstance(c, types.CodeType))
    return next((c for c in nested if c is not None), None)


for module, function in [(os, "fwalk"), (os, "popen"), (posixpath, "relpath"), (posixpath, "commonpath")]:
    found = _imp.find_frozen(module.__name__, withdata=True)
    want = found and code_named(marshal.loads(found[0]), function)
    got = getattr(module, function).__code__
    if want is None:
        problems.append(f"{module.__name__}.{function}: no frozen code to compare with")
    elif got._co_code_adaptive != want._co_code_adaptive:
        problems.append(f"{module.__name__}.{function}: its bytecode is not marshal's quickened code")
print(f"compared {compared}, not frozen here {absent}, static {static}", file=sys.stderr)
for p in problems[:20]:
    print("differs:", p)

# The modules' code at work, as python runs it.
try:
    posixpath.join("a", 1)
except TypeError as e:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith("<frozen")]
    print("".join(traceback.format_list(frames) + traceback.format_exception_only(e)))
print(list(os.walk.__code__.co_positions())[:4], os.walk.__code__.co_firstlineno)
print(sorted(k for k in os.__dict__ if k.startswith("path")), os.sep, posixpath.normpath("/a/./b/../c"))
print([c.__name__ for c in type(os.environ).__mro__])
raise SystemExit(4 if problems else 0)
