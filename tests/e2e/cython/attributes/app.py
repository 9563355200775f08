"""Attribute reads and writes whose answers change under a compiled call site's cache: the class
changes, the instance's dict is made or replaced, its class is reassigned, slots are emptied,
sites see many types. Every line must be what python prints."""
import math


def get_x(o):
    return o.x


def set_x(o, v):
    o.x = v


def del_x(o):
    del o.x


def attempt(f, *args):
    try:
        return f(*args)
    except AttributeError as e:
        return f"AttributeError: {e}"


class Plain:
    def __init__(self, x):
        self.x = x


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x):
        self.x = x


class WithGetattr:
    def __init__(self):
        self.y = 1

    def __getattr__(self, name):
        return f"__getattr__({name})"


class Counted:
    made = 0

    def __init__(self, x):
        self.x = x
        Counted.made += 1  # the class changes at every instance


def plain():
    objs = [Plain(i) for i in range(5)]
    print("read", [get_x(o) for o in objs])
    for o in objs:
        set_x(o, get_x(o) * 10)
    print("written", [get_x(o) for o in objs])
    o = objs[0]
    del_x(o)
    print("deleted", attempt(get_x, o), vars(o))
    set_x(o, "again")
    o.other = 1
    print("re-added", get_x(o), vars(o))
    # The instance's __dict__ made, written through, then replaced.
    d = objs[1].__dict__
    d["x"] = "via dict"
    print("dict", get_x(objs[1]))
    set_x(objs[1], "after dict")
    print("dict after write", d, get_x(objs[1]))
    objs[2].__dict__ = {"x": "new dict"}
    print("replaced dict", get_x(objs[2]))
    set_x(objs[2], "into new dict")
    print("replaced dict written", objs[2].__dict__)
    # Many attributes: past what the class's shared keys hold.
    big = Plain(0)
    for i in range(40):
        setattr(big, f"a{i}", i)
    set_x(big, "big")
    print("many attributes", get_x(big), len(vars(big)), list(vars(big))[:3])
    # A property put on the class after the sites were filled wins over the instance's value.
    Plain.x = property(lambda self: "property", lambda self, v: print("property set", v))
    print("property", get_x(objs[3]))
    set_x(objs[3], "ignored")
    print("instance value kept", objs[3].__dict__)
    del Plain.x
    print("property removed", get_x(objs[3]))
    # A plain class attribute: an instance value shadows it, deleting it shows the class's.
    Plain.x = "class value"
    del_x(objs[4])
    print("class value", get_x(objs[4]))
    del Plain.x
    print("gone", attempt(get_x, objs[4]))
    # The object's class reassigned.
    o = Plain("was plain")

    class Other:
        @property
        def x(self):
            return "Other.x"

    o.__class__ = Other
    print("reassigned class", get_x(o))


def slotted():
    objs = [Slotted(i) for i in range(3)]
    print("slots", [get_x(o) for o in objs])
    for o in objs:
        set_x(o, -get_x(o))
    print("slots written", [get_x(o) for o in objs])
    del_x(objs[0])
    print("slot emptied", attempt(get_x, objs[0]))
    print("never set", attempt(lambda o: o.y, objs[1]))
    set_x(objs[0], "refilled")
    print("slot refilled", get_x(objs[0]))

    class Sub(Slotted):
        pass

    s = Sub(7)
    s.extra = "dict of a subclass"
    print("subclass", get_x(s), vars(s))


def polymorphic():
    classes = [type(f"K{i}", (), {}) for i in range(50)]
    objs = []
    for i, k in enumerate(classes):
        o = k()
        set_x(o, i)
        objs.append(o)
    print("50 types", sum(get_x(o) for o in objs))
    with_slots = Slotted("slot")
    print("mixed", get_x(with_slots), get_x(Plain("plain")), get_x(objs[3]))
    print("getattr hook", get_x(WithGetattr()))
    w = WithGetattr()
    set_x(w, "set")
    print("getattr hook after set", get_x(w))
    made = [Counted(i) for i in range(100)]
    print("class changing", sum(get_x(o) for o in made), Counted.made)


def get_pi(m):
    return m.pi


def modules():
    import types

    m = types.ModuleType("m")
    m.pi = 3
    print("module global", [get_pi(m) for _ in range(3)], get_pi(math))
    m.pi = "replaced"
    print("value replaced", get_pi(m))
    m.other = "a new global"
    print("keys changed", get_pi(m))
    del m.pi
    print("deleted", attempt(get_pi, m))
    m.__getattr__ = lambda name: f"module __getattr__({name})"
    print("module __getattr__", get_pi(m))
    m.pi = "back"
    print("found before __getattr__", get_pi(m))
    mods = [types.ModuleType(f"m{i}") for i in range(40)]
    for i, mod in enumerate(mods):
        mod.pi = i
    print("40 modules", sum(get_pi(mod) for mod in mods), get_pi(m))
    m.__dict__["__class__"] = "in the dict"
    print("ModuleType's own attribute wins", type(m).__name__, m.__class__.__name__)

    class Sub(types.ModuleType):
        @property
        def pi(self):
            return "a property of a module subclass"

    print("module subclass", get_pi(Sub("s")))


def get_x_once(o):
    return o.x  # a site of its own: get_x's has seen too many types to be filled again


def reentrant():
    # A class dict with a key that is not a string: looking a name up in it runs this __eq__,
    # which fills the same site while it is being filled.
    import warnings

    warnings.simplefilter("ignore")

    class K:
        def __hash__(self):
            return hash("x")

        def __eq__(self, other):
            get_x_once(Plain("inner"))
            return False

    S = type("S", (tuple,), {K(): 0})
    s = S(("a", "b"))
    print("reentrant fill", attempt(get_x_once, s), attempt(get_x_once, s), get_x_once(Plain("after")))


class Lazy:
    def value(self):
        try:
            return self._cached
        except AttributeError:
            self._cached = "computed"
            return "first"


def text_like_a_call():
    # Cython keeps string constants in one table: a rewritten call inside it would shift the rest.
    s = "__Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x)"
    print("constant", s, "and the next one", "intact")
    objs = [Lazy() for _ in range(3)]
    print("cached later", [o.value() for o in objs], [o.value() for o in objs])


def builtins():
    print("module", get_x(type("M", (), {"x": math.pi})))
    print("complex", (3 + 4j).real, (3 + 4j).imag)
    try:
        set_x(3, 1)
    except AttributeError as e:
        print("int", e)
    f = lambda: None  # noqa: E731
    set_x(f, "function attribute")
    print("function", get_x(f), f.__dict__)
    e = ValueError("boom")
    set_x(e, "exception attribute")
    print("exception", get_x(e), e.args)


plain()
slotted()
polymorphic()
modules()
reentrant()
text_like_a_call()
builtins()
