"""Takes other modules' functions as handlers, and checks that each is a function, with its
source: every module of the app runs as bytecode (toolchains/cython-fallbacks.toml)."""
import inspect

HANDLERS = {}


def handler(f):
    if not inspect.isfunction(f):
        raise TypeError(f"{f!r} is not a function")
    HANDLERS[f.__name__] = f
    return f


def describe(name):
    f = HANDLERS[name]
    return f"{name}: {inspect.getsource(f).splitlines()[0].strip()} (line {f.__code__.co_firstlineno})"
