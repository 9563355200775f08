"""Code Cython compiled with other semantics than python's: each line printed is compared with python."""

# A comprehension in a class body does not see the class's names (only its first iterable does).
x = 100
class K:
    x = 5
    vals = [x * 2 for _ in range(1)]
    first = [x for x in range(x)]
    nested = [[x for _ in range(1)] for _ in range(x)]
    d = {k: x for k in "ab"}
    s = {x for _ in "a"}
    g = list(x for _ in "a")
    f = (lambda: x)()
    __p = 7
    priv = [__p for _ in "a"] if False else None
print(K.vals, K.first, K.nested, K.d, K.s, K.g, K.f)
def fn():
    z = 1
    class M:
        z = 2
        w = [z for _ in "a"]
    return M.w
print(fn())
_M__q = "global mangled"
class M:
    __q = "class"
    r = [__q for _ in "a"]
print(M.r)

# locals() holds no name the function declares global; a closure's names it does.
G = 1
def f():
    global G
    G += 10
    a = 5
    return locals()
print(f())   # python: {'a': 5}   binary: {'G': 11, 'a': 5}
def g():
    global G
    return sorted(locals())
print(g())   # python: []
def outer():
    y = 1
    def inner():
        nonlocal y
        global G
        z = 2
        return sorted(locals())
    return inner()
print(outer())
def h():
    global NEW
    NEW = 3
    q = [i for i in range(2)]
    return sorted(locals())
print(h(), NEW)

# x in a list, tuple or set display: identity first, then item == x; a set's items by hash.
nan = float("nan")
print(nan in [nan], nan in (nan, 1), nan in {nan})
class W:
    def __eq__(self, o):
        print("eq", type(self).__name__, type(o).__name__)
        return False
    __hash__ = object.__hash__
w = W()
print(w in [w], w not in (w,))
print(1 in [w], w in [1])
try:
    print([1] in {1, 2})
except TypeError as e:
    print("TypeError", e)
def f(x):
    return x in ("a", "b"), x not in ["c"], x in {"d", "e"}
print(f("a"), f("c"), f("e"))
def g():
    n = 0
    for c in "hello":
        if c in ("l", "o"):
            n += 1
    return n, ord("a") in (97, 98), len("ab") in [2]
print(g())

# A bare raise inside an except clause, then return, break or continue (a SIGSEGV before).
def b():
    try:
        raise ValueError("orig")
    except ValueError:
        try:
            raise
        except ValueError:
            return 1
print(b())
def c():
    out = []
    for i in range(3):
        try:
            raise KeyError(i)
        except KeyError:
            try:
                raise
            except KeyError as e:
                out.append(repr(e))
                if i == 1:
                    continue
                if i == 2:
                    break
    return out
print(c())
def d():
    try:
        raise ValueError("orig")
    except ValueError:
        try:
            raise
        except TypeError:
            return "no"
        finally:
            pass
try:
    d()
except ValueError as e:
    print("ValueError", e)
import sys
print(sys.exc_info())
import contextlib
def w():
    try:
        raise ValueError("a")
    except ValueError:
        with contextlib.suppress(ValueError):
            raise
        return "after with"
print(w())
def g():
    try:
        raise ValueError("a")
    except ValueError:
        try:
            raise
        except ValueError:
            yield 1
            return
print(list(g()))
def loop():
    n = 0
    while True:
        try:
            raise ValueError(n)
        except ValueError:
            try:
                raise
            except ValueError:
                n += 1
                if n > 3:
                    return n
print(loop())
def fin():
    try:
        raise ValueError("a")
    except ValueError:
        try:
            raise
        finally:
            return "finally"
print(fin())
async def co():
    try:
        raise ValueError("a")
    except ValueError:
        try:
            raise
        except ValueError:
            return "co"
import asyncio
print(asyncio.run(co()))

# Classes named by their caller's module (a frame the compiled module's init runs in), pickled by
# reference; the recursion limit counts that frame as python's module frame.
import collections, enum, pickle, typing, dataclasses, sys
NT = collections.namedtuple("NT", "a b")
E = enum.Enum("E", "A B")
T = typing.TypeVar("T")
UserId = typing.NewType("UserId", int)
TD = typing.TypedDict("TD", {"a": int})
NT2 = typing.NamedTuple("NT2", [("x", int)])
D = dataclasses.make_dataclass("D", ["x"])
print(NT.__module__, E.__module__, T.__module__, UserId.__module__, TD.__module__, NT2.__module__, D.__module__)
print(pickle.loads(pickle.dumps(NT(1, 2))), pickle.loads(pickle.dumps(E.A)), pickle.loads(pickle.dumps(D(1))))
def later():
    return collections.namedtuple("L", "x").__module__
print(later())
def r(n):
    return r(n + 1)
try:
    r(0)
except RecursionError as e:
    import traceback
    print("depth", len(traceback.extract_tb(e.__traceback__)))

# Iterating bytes gives ints; a variable, a conditional expression, min() and max() of an int and
# a float (or a str's character and a byte) keep each value's own type.
for byte in b"\x10\x20":
    print(repr(byte))
def f():
    out = []
    for c in b"ab":
        out.append(c)
    for c in "xy":
        out.append(c)
    return out
print(f())
def g():
    total = 0
    for b in b"abc":
        total += b
    return total, [x for x in b"hi"], list(reversed(b"ab")), [y * 2 for y in b"\x01\x02"]
print(g())
def h(data):
    return [c for c in data], sum(data)
print(h(b"xyz"))
for ch in "hé":
    print(repr(ch))
def k():
    out = []
    for c in (b"a", b"b"):
        out.append(c)
    for c in [b"x"]:
        out.append(c)
    return out
print(k())
def a(flag):
    x = 0
    print(x)
    x = 1.5
    return x
print(a(True))
def b(flag):
    v = 0 if flag else 1.5
    w = 2.5 if flag else 3
    return v, w
print(b(True), b(False))
def c():
    x = 3
    y = 2.0
    return max(x, y), min(y, x), max(0, y - 5.0), max(2, 2.0), min(2.0, 2), max(1, 2, 3.0)
print(c())
def d():
    total = 0
    for v in [1.5, 2.5]:
        total += v
    n = 10
    n = n / 4
    m = 7
    m //= 2
    return total, n, m
print(d())
def e(xs):
    best = 0
    for x in xs:
        if x > best:
            best = x
    return best
print(e([1, 2.5]), e([3, 2]))
def f():
    i = 0
    while i < 3:
        i += 0.5
    return i
print(f())

# A module-level comprehension's variable a lambda reads keeps its last value; super() in a
# comprehension is the method's.
# A lambda created in a module-level comprehension that captures the loop
# variable sees None once the comprehension has finished (python: last value).
fs = [lambda: i for i in range(3)]
print([f() for f in fs])            # python: [2, 2, 2]
d = {k: (lambda: k) for k in "xy"}
print({k: v() for k, v in d.items()})  # python: {'x': 'y', 'y': 'y'}
def inside():
    fs = [lambda: i for i in range(3)]
    return [f() for f in fs]
print(inside())
gs = [(lambda: j) for j in "ab"]
print([g() for g in gs])
class A:
    def hello(self): return "A"
    def gen(self): yield "Ag"
class B(A):
    def comp(self):
        return [super().hello() for _ in range(2)], {k: super().hello() for k in "x"}, [[super().hello() for _ in "a"] for _ in "b"]
    def gen(self):
        for v in super().gen():
            yield [v + super().hello() for _ in "a"]
    @classmethod
    def cm(cls):
        return [super().__name__ if False else cls.__name__ for _ in "a"]
print(B().comp(), list(B().gen()), B.cm())

# Messages Cython words as older Pythons did.
def f():
    b = b"xy"
    try: b[5]
    except IndexError as e: print(e)   # python: index out of range   binary: string index out of range
f()
try:
    raise 5
except TypeError as e:
    print(e)   # python: exceptions must derive from BaseException ; binary: raise: exception class must be a subclass of BaseException
def cnt(items):
    for x in items:
        pass
    return x
try: cnt([])
except UnboundLocalError as e: print(e)
def outer():
    def inner():
        return v
    try:
        r = inner()
    except NameError as e:
        return "NameError: %s" % e
    v = [1]
    return "returned %r" % (r,)
print(outer())

# Annotations evaluated where the function or class is defined, in the parameters' order.
import dataclasses, typing, inspect
from typing import Optional
def f(x: int, y: "str" = "a", *args: float, c: str = "", **kw: dict) -> list[int]: pass
print(f.__annotations__)
def g(a: Optional[int], b: typing.List[str], c: int | None = None) -> None: pass
print(g.__annotations__, inspect.signature(g))
class K:
    T = int
    def m(self, v: T) -> "K":
        return self
print(K.m.__annotations__)
def outer():
    Local = dict
    def inner(z: Local) -> Local: pass
    return inner.__annotations__
print(outer())
print(typing.get_type_hints(f))
print((lambda q: q).__annotations__)
@dataclasses.dataclass
class D:
    n: int
    name: "str" = "x"
    tags: list[str] = dataclasses.field(default_factory=list)
    other: Optional["D"] = None
print(D.__annotations__, [(f.name, f.type) for f in dataclasses.fields(D)])
class NT(typing.NamedTuple):
    a: int
    b: str = "b"
print(NT.__annotations__, NT(1))
class P:
    Alias = int
    x: Alias = 3
    y: float
print(P.__annotations__, P.x)
class Q:
    pass
print(hasattr(Q, "__annotations__") and Q.__annotations__)

# Unpacking fails with python 3.13's messages.
def t(label, fn):
    try: fn()
    except Exception as e: print(label, type(e).__name__, e)
one = int("1")
def u1(): a, b = one
def u2(): a, b, c = list([1])
def u3(): a, *b, c = list([1])
def u4(): a, b = list([1, 2, 3])
def u6(): a, b = iter([1])
def u8(): a, b = None
t("u1", u1); t("u2", u2); t("u3", u3); t("u4", u4); t("u6", u6); t("u8", u8);
def u11(): x, y = "a,b,c".split(",")
def u12():
    for x, y in [list([1, 2, 3])]: pass
t("u11", u11); t("u12", u12)

# Finished generators and coroutines keep their names and code; python's reprs.
def gen():
    yield 1
g = gen()
list(g)
print(g.__name__, g.__qualname__)
g2 = gen(); g2.close()
print(g2.__name__, g2.__qualname__, g2.gi_code is None, g2.gi_frame)
async def co(): return 1
c = co()
try: c.send(None)
except StopIteration as e: print("ret", e.value)
print(c.__name__, c.__qualname__, c.cr_frame)
g3 = gen()
print(repr(g3).split(" at ")[0])
list(g3)
print(repr(g3).split(" at ")[0])
import asyncio
async def agen():
    yield 1
async def main():
    g = agen()
    print(repr(g).split(" at ")[0], g.__qualname__)
    async for _ in g: pass
    print(g.__qualname__)
    t = asyncio.ensure_future(asyncio.sleep(0))
    await t
    c = main2()
    print(repr(c).split(" at ")[0])
    await c
    print(c.__qualname__, c.cr_code is None)
async def main2():
    return 1
asyncio.run(main())

# Lambdas are named <lambda>.
def make():
    return lambda x: x
def make2():
    a = lambda: 1
    b = lambda: 2
    return a, b
print(make().__name__, [l.__name__ for l in make2()])
print((lambda: 0).__name__)

# An async generator never started ends with no warning.
import asyncio
async def agen():
    yield 1
async def main():
    g = agen()          # created, never iterated
    del g
    await asyncio.sleep(0)
    print("done")
asyncio.run(main())

# locals() holds only what is assigned where it is called.
def snap():
    x = 1
    l1 = locals()
    y = 2
    z = "s"
    return sorted(l1)
print(snap())
def loop():
    out = []
    for i in range(2):
        out.append(sorted(locals()))
        j = i
    return out
print(loop())

# from m import name where m has no such name: python's ImportError and its attributes.
def imp():
    from os import nopez
try:
    imp()
except ImportError as e:
    print(str(e).split(" (")[0], e.name, e.path is not None, e.name_from)

# Class annotations stored by their statements (not in a branch that does not run).
import os
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from decimal import Decimal

class A:
    if TYPE_CHECKING:
        y: Decimal
    x: int = 1
print(A.__annotations__)

class A2:
    if os.environ.get("NOPE"):
        y: Decimal
    x: int = 1
print(A2.__annotations__)

def f(a: "Decimal", b: int) -> None: pass
print(f.__annotations__)

class C:
    T = int
    x: T
    T = str
print(C.__annotations__)

class E:
    a: int
    print("in body", __annotations__)
    b: str
class T2:
    try:
        w: Decimal
    except NameError:
        pass
    z: int = 0
print(T2.__annotations__)
import dataclasses
@dataclasses.dataclass
class D2:
    a: int
    b: "list[str]" = dataclasses.field(default_factory=list)
print([(f.name, f.type) for f in dataclasses.fields(D2)])
class Nested:
    class Inner:
        q: int
    r: Inner
print(Nested.__annotations__, Nested.Inner.__annotations__)

from typing import Annotated, TypeVarTuple, Generic
Ts = TypeVarTuple("Ts")
def f(x: Annotated[int, lambda v: v > 0]) -> None: pass
def h(x: [i for i in range(3)]): pass
print(list(h.__annotations__))
def g(*args: *Ts): pass
print(list(g.__annotations__))
class K:
    a: Annotated[int, lambda v: v]
    b: int = 2
print(list(K.__annotations__))

def f1():
    def g():
        nonlocal x
        x = 5
    g()
    r = sorted(locals())
    x = 1
    return r
print(f1())

# Unpacking messages, a starred target first too.
def t(fn):
    try:
        fn()
    except Exception as e:
        print(type(e).__name__, e)
def v(x): return x
def u1(): a, b, c = v([1])
def u2(): a, b = v(5)
def u3(): a, *b, c = v([1])
def u4(): *a, b = v(5)
def u5(): a, *b = iter([])
def u6(): a, b = v((1, 2, 3))
def u7(): a, b = iter([1, 2, 3])
def u8(): (a, (b, c)), d = v(((1, (2,)), 3))
def u9(): a, b = v(None)
def u10():
    for a, b in v([(1, 2), (3,)]): pass
def u11(): a, b = {1: 2}
class NoIter:
    __iter__ = None
def u12(): a, b = NoIter()
def u13(): a, b, c, d, e = iter([1])
def u14(): [a, b] = v("x")
def u15(): a, *b = v(5)
def u16():
    l: list = v([1])
    a, b = l
def u17():
    t = v((1,))
    a, b = tuple(t)
def u18(): a, b = v(iter([]))
def u19(): a, *b = v(None)
for f in [u1,u2,u3,u4,u5,u6,u7,u8,u9,u10,u11,u12,u13,u14,u15,u16,u17,u18,u19]:
    t(f)
