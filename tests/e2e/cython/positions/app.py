"""Tracebacks through compiled code as python shows them: each frame at CPython's position of what
failed, the ~~~^^^ markers under it, every line of an expression that spans several, and the
names of lambdas and generator expressions. Paths are given relative to this file's directory,
and to the stdlib's."""
import contextlib
import os
import traceback

HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep
STDLIB = os.path.dirname(contextlib.__file__) + os.sep
ONE, ZERO = 1, 0
d = {}
# Never assigned when it runs (Cython refuses a name that no code assigns).
if ZERO:
    undefined_name = 1


class Obj:
    def method(self, x):
        return x / ZERO

    def reads_a_missing_attribute(self):
        return self.nothing_here

    @property
    def prop(self):
        return d["missing"]


def binop():
    return ONE / ZERO


def call_chain():
    return binop() + 1


def attr():
    o = Obj()
    return o.nothing


def subscript():
    return d["k"]


def name_error():
    return undefined_name + 1


def method_multi():
    o = Obj()
    return (o
            .method(1))


def multi_line_binop():
    x = (ONE
         /
         ZERO)
    return x


def unicode_cols():
    s = "héllo wörld"; return s + ONE


def comment_after():
    raise ValueError("v")  # a comment


def nested_call():
    return len(str(int("x")))


def compare():
    return ONE < "a"


def unpack():
    a, b = list(range(3))


def augassign():
    x = ONE
    x += "s"


def iterate():
    for i in ONE:
        pass


def prop():
    return Obj().prop


def fstring():
    return f"{ONE / ZERO:>4}"


def conditional():
    if ONE / ZERO:
        pass


def lam():
    f = lambda: ONE / ZERO
    return f()


def listcomp():
    return [x / ZERO for x in range(3)]


def genexp():
    return sum(x / ZERO for x in range(3))


def assert_():
    assert ONE == 2, "no"


def imp():
    import no_such_module_here


def two_lines_then_divide():
    return (ONE +
            ONE) / ZERO


def dict_literal():
    return {
        "a": ONE,
        "b": ONE / ZERO,
    }


def call_args_multi():
    return max(
        ONE,
        ZERO / ZERO,
    )


def method_plain():
    return "abc".index("z")


def slice_():
    return ONE[1:2]


def delete():
    del d["nope"]


def star_call():
    args = (1,)
    return Obj().method(*args)


def method_chain():
    return "a b".split().pop().upper().nope()


def missing_method():
    value = None
    return value.strip()


def callee_attribute_error():
    return Obj().reads_a_missing_attribute()


def chain_multi():
    return ("text"
            .upper()
            .nope())


class EnterOnly:
    def __enter__(self):
        return self


def with_():
    with ONE:
        pass


def with_enter_only():
    with EnterOnly() as e:
        return e


def augassign_subscript():
    values = [1]
    values[0] += "s"


def augassign_attribute():
    o = Obj()
    o.count = 1
    o.count += "s"


@contextlib.contextmanager
def broken_manager():
    raise OSError("before yield")
    yield


def with_broken_manager():
    with broken_manager():
        pass


def ret_call():
    return binop()


def assign_call():
    x = binop()
    return x


for f in (binop, call_chain, attr, subscript, name_error, method_multi, multi_line_binop, unicode_cols,
          comment_after, nested_call, compare, unpack, augassign, iterate, prop, fstring, conditional,
          lam, listcomp, genexp, assert_, imp, two_lines_then_divide, dict_literal, call_args_multi, method_plain, slice_,
          delete, star_call, method_chain, missing_method,
          callee_attribute_error, chain_multi, with_, with_enter_only,
          augassign_subscript, augassign_attribute, with_broken_manager, ret_call, assign_call):
    try:
        f()
    except Exception:
        print(traceback.format_exc().replace(STDLIB, "<stdlib>/").replace(HERE, ""))
