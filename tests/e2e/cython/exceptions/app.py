"""Exceptions in compiled code as python shows them: the tracebacks of exceptions re-raised by a
bare `raise` and by a `with` block (no second entry for the function), and the messages of
division by zero in arithmetic Cython does in C. Paths are given relative to this file's
directory."""
import contextlib
import os
import traceback

HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep
ONE, ZERO = 1, 0


@contextlib.contextmanager
def managed():
    yield


def in_with():
    with managed():
        raise ValueError("inside with")


def bare():
    try:
        raise ValueError("inside try")
    except ValueError:
        raise


def nested():
    try:
        try:
            ONE / ZERO
        except ZeroDivisionError:
            raise
    except ZeroDivisionError:
        raise


def helper():
    raise


def via_helper():
    try:
        {}["k"]
    except KeyError:
        helper()


def with_finally():
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise
        finally:
            print("cleanup")
    except KeyError as e:
        raise RuntimeError("wrapped") from e


def exit_raises():
    class Bad:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            raise OSError("exit")

    with Bad():
        raise ValueError("body")


def raise_new_in_handler():
    try:
        raise KeyError("a")
    except KeyError:
        raise ValueError("b")


def later():
    try:
        raise KeyError("a")
    except KeyError:
        pass
    raise ValueError("after a handled one")


def gen():
    try:
        yield 1
        raise KeyError("g")
    except KeyError:
        raise


def divisions():
    # Floats Cython keeps in C doubles, and integer constants it divides in C.
    x = 1.5
    z = 0.0
    cases = [
        ("x / z", lambda: x / z),
        ("x // z", lambda: x // z),
        ("x % z", lambda: x % z),
        ("divmod(x, z)", lambda: divmod(x, z)),
        ("1.0 / 0", lambda: 1.0 / 0),
        ("7 // 0", lambda: 7 // 0),
        ("7 % 0", lambda: 7 % 0),
        ("divmod(7, 0)", lambda: divmod(7, 0)),
        ("2.0 // 0.0", lambda: 2.0 // 0.0),
        ("2.0 % 0.0", lambda: 2.0 % 0.0),
        ("ONE / ZERO", lambda: ONE / ZERO),
    ]
    for name, f in cases:
        try:
            f()
            print(name, "gave no error")
        except ZeroDivisionError as e:
            print(name, "->", e)


def run_generator():
    return list(gen())


for f in (in_with, bare, nested, via_helper, with_finally, exit_raises, raise_new_in_handler, later, run_generator):
    try:
        f()
    except Exception:
        print(traceback.format_exc().replace(HERE, ""))
divisions()
