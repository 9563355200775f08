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
