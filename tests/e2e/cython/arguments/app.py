"""Calls of compiled functions with the wrong arguments raise python's TypeError word for word,
named by the qualified name, and the traceback has no entry for the function called (python's
call never entered it)."""
import traceback


def two(a, b):
    return a + b


def dflt(a, b=1, *, c, d=2, e):
    return a


def three(a, b, c):
    return a


def none():
    return 1


def one(x):
    return x


def kwf(a, **kw):
    return a


def café(naïve):
    return naïve


def po(a, b, /):
    return a


def mixed(a, b=2, /, c=3, *, d, e=5):
    return a


def po_kw(a, /, **kw):
    return kw


def po_var(a, /, *rest, key):
    return rest


def value(name, value, *, flag=False):
    return value


def gen(a, /, b):
    yield a


def only_kw(**kw):
    return kw


class _Private:
    def m(self, __x, *, __y=1):
        return __x


class K:
    def m(self, n):
        return n

    def kw(self, a, **more):
        return a

    def bare(self):
        return 1

    def outer(self):
        def inner(p):
            return p
        return inner


cases = [
    ("two(1)", lambda: two(1)),
    ("two()", lambda: two()),
    ("two(1, 2, 3)", lambda: two(1, 2, 3)),
    ("two(1, a=2)", lambda: two(1, a=2)),
    ("two(1, 2, z=3)", lambda: two(1, 2, z=3)),
    ("two(b=1)", lambda: two(b=1)),
    ("three()", lambda: three()),
    ("three(c=1)", lambda: three(c=1)),
    ("dflt()", lambda: dflt()),
    ("dflt(1)", lambda: dflt(1)),
    ("dflt(1, c=2)", lambda: dflt(1, c=2)),
    ("dflt(1, 2, 3)", lambda: dflt(1, 2, 3)),
    ("none(1)", lambda: none(1)),
    ("none(1, 2)", lambda: none(1, 2)),
    ("one()", lambda: one()),
    ("one(1, 2)", lambda: one(1, 2)),
    ("K().m()", lambda: K().m()),
    ("K().m(1, 2)", lambda: K().m(1, 2)),
    ("K.m()", lambda: K.m()),
    ("K().bare(1)", lambda: K().bare(1)),
    ("inner()", lambda: K().outer()()),
    ("K().m(1, z=3)", lambda: K().m(1, z=3)),
    ("K().m(1, n=2)", lambda: K().m(1, n=2)),
    ("none(x=1)", lambda: none(x=1)),
    ("one(y=1)", lambda: one(y=1)),
    ("one(x=1)", lambda: one(x=1)),
    ("kwf()", lambda: kwf()),
    ("kwf(1, 2)", lambda: kwf(1, 2)),
    ("K().kw(1, a=2)", lambda: K().kw(1, a=2)),
    ("café()", lambda: café()),
    ("café(1, naïve=2)", lambda: café(1, naïve=2)),
    ("po(1)", lambda: po(1)),
    ("po()", lambda: po()),
    ("po(1, 2, 3)", lambda: po(1, 2, 3)),
    ("po(1, b=2)", lambda: po(1, b=2)),
    ("po(a=1, b=2)", lambda: po(a=1, b=2)),
    ("mixed()", lambda: mixed()),
    ("mixed(1)", lambda: mixed(1)),
    ("mixed(1, 2, 3, 4, d=1)", lambda: mixed(1, 2, 3, 4, d=1)),
    ("mixed(1, b=2, d=1)", lambda: mixed(1, b=2, d=1)),
    ("mixed(1, c=2, f=1)", lambda: mixed(1, c=2, f=1)),
    ("po_kw()", lambda: po_kw()),
    ("po_kw(1, 2)", lambda: po_kw(1, 2)),
    ("po_var(1, 2)", lambda: po_var(1, 2)),
    ("po_var(key=1)", lambda: po_var(key=1)),
    ("dflt(1, 2, 3, c=1, e=2)", lambda: dflt(1, 2, 3, c=1, e=2)),
    ("dflt(1, 2, 3, c=1)", lambda: dflt(1, 2, 3, c=1)),
    ("value('n', vaule=1)", lambda: value('n', vaule=1)),
    ("value('n', 1, flga=True)", lambda: value('n', 1, flga=True)),
    ("gen()", lambda: gen()),
    ("gen(1, a=2)", lambda: gen(1, a=2)),
    ("two(1, **{'b': 2, 'c': 3})", lambda: two(1, **{'b': 2, 'c': 3})),
    ("two(*[1, 2, 3])", lambda: two(*[1, 2, 3])),
    ("K().m(**{'n': 1, 'self': 2})", lambda: K().m(**{'n': 1, 'self': 2})),
    ("_Private().m()", lambda: _Private().m()),
    ("_Private().m(__x=1)", lambda: _Private().m(__x=1)),
    ("_Private().m(1, __y=1)", lambda: _Private().m(1, __y=1)),
    ("only_kw(1)", lambda: only_kw(1)),
    ("only_kw(1, 2, a=3)", lambda: only_kw(1, 2, a=3)),
]
for text, call in cases:
    try:
        call()
    except TypeError as e:
        print(text, "->", e)
        print("   frames:", [f.name for f in traceback.extract_tb(e.__traceback__)])
