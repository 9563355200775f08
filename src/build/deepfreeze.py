"""Deep-freezing, used by freeze.py's `emit`: the code objects of the modules every binary imports
while it starts, written out as C's static objects, so that the interpreter finds them built
instead of unmarshalling them at every start (CPython 3.11 and 3.12 did this for their own frozen
modules; 3.13 dropped it).

The input is each module's marshalled code, the bytes the frozen table holds, read here with
marshal's format so that the objects are what `marshal.loads` would build, sharing included. The
output is one C file, compiled with CPython's internal headers: the objects, immortal and
statically allocated, and per module what the launcher (`src/runtime/deepfreeze.c`) finishes on
first use, as marshal and `_PyCode_New` would have: the strings interned, frozensets built, code
objects given a version. Their bytecode is written as CPython's `_PyCode_Quicken` leaves it (the
inline caches' counters set), taken from the code objects this python's marshal builds: this python
is the target's own CPython release, with the GIL (`check_version`; in a cross build it is the
build machine's toolchain's python, or PYELF_BUILD_PYTHON).
"""
import dis
import marshal
import os
import struct
import sys

# CPython 3.13's localsplus kinds (Include/internal/pycore_code.h).
CO_FAST_LOCAL, CO_FAST_CELL, CO_FAST_FREE = 0x20, 0x40, 0x80


class Unsupported(Exception):
    """An object this writer has no static form for: the module is left to marshal."""


class Str:
    __slots__ = ("value", "interned")

    def __init__(self, value, interned):
        self.value, self.interned = value, interned


class Tuple:
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class FrozenSet:
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class Code:
    __slots__ = ("fields",)

    def __init__(self, fields):
        self.fields = fields


class Leaf:
    """An int, float, complex or bytes value (shared by value across modules)."""
    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind, self.value = kind, value


NONE, TRUE, FALSE, ELLIPSIS = "Py_None", "Py_True", "Py_False", "Py_Ellipsis"


class Reader:
    """marshal's format (Python/marshal.c, version 4 and 5), to objects of the classes above."""

    def __init__(self, data):
        self.data, self.pos, self.refs = bytes(data), 0, []

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise Unsupported("marshal data ends early")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self):
        return self.take(1)[0]

    def i32(self):
        return struct.unpack("<i", self.take(4))[0]

    def reserve(self, flag):
        if not flag:
            return None
        self.refs.append(None)
        return len(self.refs) - 1

    def keep(self, idx, obj, flag=False):
        if idx is not None:
            self.refs[idx] = obj
        elif flag:
            self.refs.append(obj)
        return obj

    def read(self):
        try:
            return self.read_one()
        except (UnicodeDecodeError, struct.error, RecursionError) as e:
            raise Unsupported(f"unreadable marshal data ({e})") from None

    def read_one(self):
        code = self.byte()
        flag, t = code & 0x80, chr(code & 0x7F)
        if t == "r":
            i = self.i32()
            if not 0 <= i < len(self.refs) or self.refs[i] is None:
                raise Unsupported("a back-reference to an object not yet read")
            return self.refs[i]
        simple = {"N": NONE, "T": TRUE, "F": FALSE, ".": ELLIPSIS}
        if t in simple:
            return simple[t]
        if t == "i":
            return self.keep(None, Leaf("int", self.i32()), flag)
        if t == "l":
            n = self.i32()
            value = 0
            for i, d in enumerate(struct.unpack(f"<{abs(n)}H", self.take(2 * abs(n)))):
                value |= d << (15 * i)
            return self.keep(None, Leaf("int", -value if n < 0 else value), flag)
        if t == "g":
            return self.keep(None, Leaf("float", struct.unpack("<d", self.take(8))[0]), flag)
        if t == "y":
            return self.keep(None, Leaf("complex", complex(*struct.unpack("<dd", self.take(16)))), flag)
        if t == "s":
            return self.keep(None, Leaf("bytes", self.take(self.i32())), flag)
        if t in "aA":
            return self.keep(None, Str(self.take(self.i32()).decode("latin-1"), t == "A"), flag)
        if t in "zZ":
            return self.keep(None, Str(self.take(self.byte()).decode("latin-1"), t == "Z"), flag)
        if t in "ut":
            return self.keep(None, Str(self.take(self.i32()).decode("utf-8", "surrogatepass"), t == "t"), flag)
        if t in "()>":
            n = self.byte() if t == ")" else self.i32()
            idx = self.reserve(flag)
            node = (FrozenSet if t == ">" else Tuple)([])
            if t != ">":
                self.keep(idx, node)  # a tuple's items cannot refer to it, but keep marshal's order
            node.items = [self.read() for _ in range(n)]
            return self.keep(idx, node)
        if t == "c":
            idx = self.reserve(flag)
            f = {}
            for k in ("argcount", "posonlyargcount", "kwonlyargcount", "stacksize", "flags"):
                f[k] = self.i32()
            for k in ("code", "consts", "names", "localsplusnames", "localspluskinds", "filename", "name", "qualname"):
                f[k] = self.read()
            f["firstlineno"] = self.i32()
            f["linetable"] = self.read()
            f["exceptiontable"] = self.read()
            return self.keep(idx, Code(f))
        raise Unsupported(f"marshal type {t!r}")


def c_bytes(b):
    """`b` as a C string literal: octal escapes of three digits, so that no digit after one joins it."""
    out = []
    for c in b:
        ch = chr(c)
        out.append(ch if 32 <= c < 127 and ch not in '"\\?' else f"\\{c:03o}")
    lines = ["".join(out[i:i + 40]) for i in range(0, len(out), 40)]
    return "\n        ".join(f'"{line}"' for line in lines) or '""'


def name_like(s):
    """CPython's should_intern_string: ASCII letters, digits and underscores only."""
    return s.isascii() and all(c.isalnum() or c == "_" for c in s)


class Writer:
    """Emits the static objects of several modules into one C file."""

    def __init__(self):
        self.defs = []          # C definitions, in dependency order
        self.leaves = {}        # (kind, key) -> C expression, shared by every module
        self.strings = {}       # (value, interned) -> C expression, shared by every module
        self.nodes = {}         # id(node) -> C expression (tuples, code: per module)
        self.keepalive = []
        self.count = 0
        self.resume = dis.opmap["RESUME"]
        self.identifiers = static_identifiers()
        check_version()

    def name(self):
        self.count += 1
        return f"pyelf_df_{self.count}"

    # --- leaves -------------------------------------------------------------------------------
    def string(self, s, interned):
        """A string; `interned` says whether the places that hold it intern it (such strings and
        those nothing interns are kept apart, as CPython's objects would be)."""
        if s == "":
            return "(PyObject *)&_Py_STR(empty)"
        if len(s) == 1 and ord(s) < 256:
            c = ord(s)
            return (f"(PyObject *)&_Py_SINGLETON(strings).ascii[{c}]" if c < 128
                    else f"(PyObject *)&_Py_SINGLETON(strings).latin1[{c - 128}]")
        if (s, interned) in self.strings:
            return self.strings[s, interned]
        if interned and s in self.identifiers:
            # The interpreter's own interned copy (what interning would find), not one of ours.
            self.strings[s, interned] = f"(PyObject *)&_Py_ID({s})"
            return self.strings[s, interned]
        n = self.name()
        top = max(map(ord, s))
        if top < 128:
            self.defs.append(
                f"static struct {{ PyASCIIObject _ascii; uint8_t _data[{len(s) + 1}]; }} {n} = {{\n"
                f"    ._ascii = {{ .ob_base = _PyObject_HEAD_INIT(&PyUnicode_Type), .length = {len(s)}, .hash = -1,\n"
                f"                .state = {{ .kind = 1, .compact = 1, .ascii = 1 }} }},\n"
                f"    ._data = {c_bytes(s.encode('ascii'))},\n}};\n")
            expr = f"(PyObject *)&{n}._ascii"
        else:
            kind, ctype = (1, "Py_UCS1") if top < 256 else (2, "Py_UCS2") if top < 65536 else (4, "Py_UCS4")
            items = ", ".join(str(ord(c)) for c in s)
            self.defs.append(
                f"static struct {{ PyCompactUnicodeObject _compact; {ctype} _data[{len(s) + 1}]; }} {n} = {{\n"
                f"    ._compact = {{ ._base = {{ .ob_base = _PyObject_HEAD_INIT(&PyUnicode_Type), .length = {len(s)},\n"
                f"                             .hash = -1, .state = {{ .kind = {kind}, .compact = 1 }} }} }},\n"
                f"    ._data = {{ {items}, 0 }},\n}};\n")
            expr = f"(PyObject *)&{n}._compact"
        self.strings[s, interned] = expr
        return expr

    def leaf(self, node):
        kind, v = node.kind, node.value
        key = (kind, struct.pack("<d", v) if kind == "float" else struct.pack("<dd", v.real, v.imag)
               if kind == "complex" else v)
        if key in self.leaves:
            return self.leaves[key]
        if kind == "int" and -5 <= v <= 256:
            expr = f"(PyObject *)&_PyLong_SMALL_INTS[_PY_NSMALLNEGINTS + {v}]"
        elif kind == "int":
            digits, a = [], abs(v)
            while a:
                digits.append(a & ((1 << 30) - 1))
                a >>= 30
            sign = 0 if v > 0 else 2  # _PyLong_SIGN_MASK: 0 positive, 2 negative (zero is small)
            n = self.name()
            self.defs.append(
                f"static struct {{ PyObject ob_base; uintptr_t lv_tag; digit ob_digit[{len(digits)}]; }} {n} = {{\n"
                f"    .ob_base = _PyObject_HEAD_INIT(&PyLong_Type),\n"
                f"    .lv_tag = ((uintptr_t){len(digits)} << _PyLong_NON_SIZE_BITS) | {sign},\n"
                f"    .ob_digit = {{ {', '.join(map(str, digits))} }},\n}};\n")
            expr = f"(PyObject *)&{n}"
        elif kind == "float":
            n = self.name()
            self.defs.append(f"static PyFloatObject {n} = {{ .ob_base = _PyObject_HEAD_INIT(&PyFloat_Type), "
                             f".ob_fval = {c_double(v)} }};\n")
            expr = f"(PyObject *)&{n}"
        elif kind == "complex":
            n = self.name()
            self.defs.append(f"static PyComplexObject {n} = {{ .ob_base = _PyObject_HEAD_INIT(&PyComplex_Type), "
                             f".cval = {{ {c_double(v.real)}, {c_double(v.imag)} }} }};\n")
            expr = f"(PyObject *)&{n}"
        elif kind == "bytes" and not v:
            expr = "(PyObject *)&_Py_SINGLETON(bytes_empty)"
        elif kind == "bytes":
            n = self.name()
            self.defs.append(
                f"static struct {{ PyObject_VAR_HEAD Py_hash_t ob_shash; char ob_sval[{len(v) + 1}]; }} {n} = {{\n"
                f"    .ob_base = _PyVarObject_HEAD_INIT(&PyBytes_Type, {len(v)}), .ob_shash = -1,\n"
                f"    .ob_sval = {c_bytes(v)},\n}};\n")
            expr = f"(PyObject *)&{n}"
        else:
            raise Unsupported(kind)
        self.leaves[key] = expr
        return expr

    # --- one module ---------------------------------------------------------------------------
    def module(self, data):
        """The C expression of the module's code object, and what finishing it takes: the slots to
        intern (C lvalues, with whether immortal), the frozensets to build (slot, items tuple),
        and the code objects."""
        root = Reader(data).read()
        if not isinstance(root, Code):
            raise Unsupported("not a code object")
        self.adaptive = quickened(root, data)
        self.slots, self.sets, self.codes = {}, [], []
        saved = len(self.defs), dict(self.strings), dict(self.leaves), dict(self.nodes), self.count
        try:
            expr = self.obj(root)
        except Unsupported:
            # Nothing of this module stays, nor anything later modules would take from it.
            start, self.strings, self.leaves, self.nodes, self.count = saved
            del self.defs[start:]
            raise
        return expr, sorted(self.slots.items()), self.sets, self.codes

    def interned_string(self, slot, node, immortal):
        """The string `node` for `slot`, a place that interns it (as marshal interns strings
        written as interned and `_PyCode_New` the names and name-like constants of code)."""
        expr = self.string(node.value, True)
        if len(node.value) > 1 or node.value and ord(node.value) > 255:
            if node.value not in self.identifiers:  # (those are interned from the start)
                self.slots[slot] = self.slots.get(slot, False) or immortal or node.interned
        return expr

    def obj(self, node, mode=None):
        """The C expression of `node`; `mode` is for a tuple (see `tuple`)."""
        if isinstance(node, str):
            return node
        if isinstance(node, Leaf):
            return self.leaf(node)
        if isinstance(node, Str):
            return self.string(node.value, False)
        if id(node) in self.nodes:
            return self.nodes[id(node)]
        self.keepalive.append(node)
        if isinstance(node, Tuple):
            expr = self.tuple(node, mode)
        elif isinstance(node, Code):
            expr = self.code(node)
        else:
            raise Unsupported("a frozenset outside a tuple")
        self.nodes[id(node)] = expr
        return expr

    def tuple(self, node, mode=None):
        """A tuple: `mode` is "consts" for a code object's constants and the tuples in them, whose
        name-like strings `_PyCode_New` interns, "names" for its names, all interned."""
        if not node.items:
            return "(PyObject *)&_Py_SINGLETON(tuple_empty)"
        n = self.name()
        items = []
        for i, item in enumerate(node.items):
            slot = f"&{n}._object.ob_item[{i}]"
            if isinstance(item, FrozenSet):
                # Built from its items in marshal's order (sorted when written), as marshal builds it.
                inner = Tuple(list(item.items))
                self.keepalive.append(inner)
                self.sets.append((slot, self.tuple(inner, mode)))
                items.append("NULL")
                continue
            if isinstance(item, Str) and (item.interned or mode == "names" or mode == "consts" and name_like(item.value)):
                items.append(self.interned_string(slot, item, mode == "names"))
            else:
                items.append(self.obj(item, mode))
        self.defs.append(
            f"static struct {{ PyGC_Head _gc_head; struct {{ PyObject_VAR_HEAD PyObject *ob_item[{len(items)}]; }} _object; }} {n} = {{\n"
            f"    ._object = {{ .ob_base = _PyVarObject_HEAD_INIT(&PyTuple_Type, {len(items)}),\n"
            f"                 .ob_item = {{ {', '.join(items)} }} }},\n}};\n")
        return f"(PyObject *)&{n}._object"

    def code(self, node):
        f = node.fields
        kinds = f["localspluskinds"]
        if not (isinstance(kinds, Leaf) and kinds.kind == "bytes") or not isinstance(f["code"], Leaf):
            raise Unsupported("a code object without bytes for its code or kinds")
        nlocals = ncells = nfrees = 0
        for k in kinds.value:
            if k & CO_FAST_LOCAL:
                nlocals += 1
                ncells += bool(k & CO_FAST_CELL)
            elif k & CO_FAST_CELL:
                ncells += 1
            elif k & CO_FAST_FREE:
                nfrees += 1
        exprs = {}
        for field, mode in (("consts", "consts"), ("names", "names"), ("localsplusnames", "names")):
            tup = f[field]
            if not isinstance(tup, Tuple):
                raise Unsupported(f"a code object's {field} not a tuple")
            exprs[field] = self.obj(tup, mode)
        code = f["code"].value
        if len(code) % 2:
            raise Unsupported("odd-sized bytecode")
        units = len(code) // 2
        first = next((i for i in range(units) if code[2 * i] == self.resume), units)
        stacksize = f["stacksize"] or 1
        n = self.name()
        for field in ("filename", "name", "qualname"):
            if not isinstance(f[field], Str):
                raise Unsupported(f"a code object's {field} not a string")
            exprs[field] = self.interned_string(f"&{n}.co_{field}", f[field], False)
        fields = {
            "co_consts": exprs["consts"],
            "co_names": exprs["names"],
            "co_exceptiontable": self.obj(f["exceptiontable"]),
            "co_flags": f["flags"],
            "co_argcount": f["argcount"],
            "co_posonlyargcount": f["posonlyargcount"],
            "co_kwonlyargcount": f["kwonlyargcount"],
            "co_stacksize": stacksize,
            "co_firstlineno": f["firstlineno"],
            "co_nlocalsplus": len(kinds.value),
            "co_framesize": f"{len(kinds.value)} + {stacksize} + FRAME_SPECIALS_SIZE",
            "co_nlocals": nlocals,
            "co_ncellvars": ncells,
            "co_nfreevars": nfrees,
            "co_localsplusnames": exprs["localsplusnames"],
            "co_localspluskinds": self.obj(kinds),
            "co_filename": exprs["filename"],
            "co_name": exprs["name"],
            "co_qualname": exprs["qualname"],
            "co_linetable": self.obj(f["linetable"]),
            "_co_firsttraceable": first,
        }
        body = "".join(f"    .{k} = {v},\n" for k, v in fields.items())
        self.defs.append(
            f"static struct _PyCode_DEF({len(code)}) {n} = {{\n"
            f"    .ob_base = _PyVarObject_HEAD_INIT(&PyCode_Type, {units}),\n{body}"
            f"    .co_code_adaptive = {c_bytes(self.adaptive[id(node)])},\n}};\n")
        self.codes.append(f"(PyCodeObject *)&{n}")
        return f"(PyObject *)&{n}"


def quickened(root, data):
    """The bytecode of each code object under `root` (by its node's id), as `_PyCode_Quicken`
    leaves it when marshal builds the object from `data`: the same instructions, the first cache
    entry of each specialisable one set to its initial counter. The static objects are written so,
    and the binary does not quicken them at each start."""
    try:
        real = marshal.loads(data)
    except Exception as e:
        raise Unsupported(f"marshal cannot read it ({e})") from None
    out = {}

    def walk(node, co):
        raw = node.fields["code"]
        if not isinstance(raw, Leaf) or raw.kind != "bytes" or co.co_code != raw.value:
            raise Unsupported("marshal's code object is not the one read")
        adaptive = co._co_code_adaptive
        if len(adaptive) != len(raw.value):
            raise Unsupported("marshal's code object is not the one read")
        out[id(node)] = adaptive
        consts = node.fields["consts"]
        nested = [c for c in consts.items if isinstance(c, Code)] if isinstance(consts, Tuple) else []
        built = [c for c in co.co_consts if hasattr(c, "co_code")]
        if len(nested) != len(built):
            raise Unsupported("marshal's code object is not the one read")
        for a, b in zip(nested, built):
            walk(a, b)

    walk(root, real)
    return out


def target_include():
    """The CPython headers the C is compiled with (PYELF_TARGET_INCLUDE; this python's own
    otherwise)."""
    import sysconfig
    return os.environ.get("PYELF_TARGET_INCLUDE") or sysconfig.get_paths()["include"]


def check_version():
    """The quickened bytecode is this python's: it must be the CPython release the C is compiled
    for (PY_VERSION in the target's patchlevel.h), built with the GIL (a free-threaded 3.13 does
    not quicken). The counters are written in this machine's byte order, which HEADER checks is
    the target's."""
    import re
    import sysconfig
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        raise SystemExit("pyelf freeze: the toolchain's python is a free-threaded build, which does not quicken "
                         "code; use a CPython built with the GIL")
    path = os.path.join(target_include(), "patchlevel.h")
    try:
        with open(path) as f:
            found = re.search(r'^#define\s+PY_VERSION\s+"([^"]+)"', f.read(), re.M)
    except OSError as e:
        raise SystemExit(f"pyelf freeze: cannot read the target's CPython version: {e}") from None
    mine = sys.version.split()[0]
    if found is None or found.group(1) != mine:
        raise SystemExit(f"pyelf freeze: the toolchain's python ({mine}) is not the target's CPython "
                         f"({found and found.group(1)}, {path}); rebuild the toolchain")


def static_identifiers():
    """The identifiers CPython 3.13 holds as static, interned strings (`_Py_ID(name)`), from the
    internal header of the toolchain the C is compiled with (PYELF_TARGET_INCLUDE) that lists
    them."""
    import re
    path = os.path.join(target_include(), "internal", "pycore_global_strings.h")
    try:
        with open(path) as f:
            return frozenset(re.findall(r"^\s*STRUCT_FOR_ID\((\w+)\)", f.read(), re.M))
    except OSError as e:
        raise SystemExit(f"pyelf freeze: cannot read CPython's list of static strings: {e}") from None


def digest(data):
    """deepfreeze.c's `digest` of `data`: 64-bit FNV-1a over little-endian 8-byte words (with a
    shift to mix), then over the bytes left."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    whole = len(data) - len(data) % 8
    for (w,) in struct.iter_unpack("<Q", data[:whole]):
        h = ((h ^ w) * 0x100000001B3) & mask
        h ^= h >> 29
    for b in data[whole:]:
        h = ((h ^ b) * 0x100000001B3) & mask
    return h


def c_double(v):
    if v != v:
        return "-Py_NAN" if struct.pack("<d", v)[7] & 0x80 else "Py_NAN"
    if v in (float("inf"), float("-inf")):
        return "Py_HUGE_VAL" if v > 0 else "-Py_HUGE_VAL"
    return v.hex()


HEADER = """\
/* generated by pyelf (src/build/deepfreeze.py): the code objects of the modules imported at every
 * start, as static objects. Finished on first use by src/runtime/deepfreeze.c. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_long.h"
#include "internal/pycore_object.h"
#include "opcode_ids.h"
#include "internal/pycore_runtime.h"
#include "internal/pycore_runtime_init.h"
#include "deepfreeze.h"

#if defined(Py_DEBUG) || defined(Py_GIL_DISABLED)
#error "deep-frozen objects are written for a release build with the GIL"
#endif

extern const unsigned char pyelf_frozen_blob[];

_Static_assert(PyLong_SHIFT == 30, "ints are written with 30-bit digits");
_Static_assert(RESUME == %d, "the bytecode was read with another CPython's opcodes");
_Static_assert(__BYTE_ORDER__ == __ORDER_%s_ENDIAN__, "the inline caches' counters were written in another byte order");

"""


def write(path, modules, check_cpython=False):
    """Writes the C file for `modules`: (name, marshalled code, C expression of the frozen
    table's pointer to those bytes or None for CPython's own frozen modules). A module this writer
    cannot express stays marshalled (and is named on stderr). With
    `check_cpython` (a cross build: CPython's frozen bytes were read from the build machine's
    python, not from the target's libpython), the binary checks a digest of CPython's modules'
    bytes before it uses their static objects."""
    w = Writer()
    table = []
    for name, data, pointer in modules:
        try:
            expr, slots, sets, codes = w.module(data)
        except Unsupported as e:
            print(f"pyelf: deep-freezing {name} skipped: {e}", file=sys.stderr)
            continue
        check = digest(data) if check_cpython and pointer is None else 0
        table.append((name, pointer, len(data), check, expr, slots, sets, codes))
    with open(path, "w") as f:
        f.write(HEADER % (w.resume, "LITTLE" if sys.byteorder == "little" else "BIG"))
        f.write("".join(w.defs))
        for i, (name, pointer, size, check, expr, slots, sets, codes) in enumerate(table):
            f.write(f"\nstatic const struct pyelf_df_slot pyelf_df_slots_{i}[] = {{\n")
            f.write("".join(f"    {{{s}, {int(imm)}}},\n" for s, imm in slots) or "    {0, 0},\n")
            f.write(f"}};\nstatic const struct pyelf_df_set pyelf_df_sets_{i}[] = {{\n")
            f.write("".join(f"    {{{s}, {t}}},\n" for s, t in sets) or "    {0, 0},\n")
            f.write(f"}};\nstatic PyCodeObject *const pyelf_df_codes_{i}[] = {{\n")
            f.write("".join(f"    {c},\n" for c in codes))
            f.write("};\n")
        f.write(f"\nconst int pyelf_df_count = {len(table)};\n")
        f.write(f"struct pyelf_df_module pyelf_df_modules[{max(len(table), 1)}] = {{\n")
        for i, (name, pointer, size, check, expr, slots, sets, codes) in enumerate(table):
            f.write(f'    {{"{name}", {pointer or "NULL"}, {size}, {check}u, {expr},\n'
                    f"     pyelf_df_slots_{i}, {len(slots)}, pyelf_df_sets_{i}, {len(sets)}, pyelf_df_codes_{i}, {len(codes)}, 0}},\n")
        f.write("};\n")
