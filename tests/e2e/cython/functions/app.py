"""Libraries that take the app's functions as Python functions: zope.interface's interfaces,
cloudpickle's pickling by value, joblib's loky workers, and inspect. pyelf embeds the app as
bytecode when it bundles them (toolchains/cython-fallbacks.toml)."""
import inspect
import os
import pickle
import sys

import cloudpickle
from joblib import Parallel, delayed
from zope.interface import Interface, implementer, verify

import shapes


class IGreeter(Interface):
    def greet(name):
        """Say hello to name."""


@implementer(IGreeter)
class Greeter:
    def greet(self, name):
        return f"hello {name}"


def square(x):
    return x * x


def make_adder(n):
    def add(x):
        return x + n

    return add


def main():
    print("zope:", verify.verifyObject(IGreeter, Greeter()), Greeter().greet("zope"), list(IGreeter.names()))
    cases = [
        ("lambda", lambda x: x + 1),
        ("closure", make_adder(10)),
        ("function", square),
        ("module's lambda", shapes.double),
        ("module's closure", shapes.scaler(3)),
    ]
    for name, f in cases:
        data = cloudpickle.dumps(f)
        print("cloudpickle:", name, pickle.loads(data)(5), "by value" if b"co_code" in data or b"_make_function" in data else "by reference")
    print("isfunction:", inspect.isfunction(square), inspect.isfunction(shapes.area), inspect.isfunction(shapes.double))
    print("getsource:", inspect.getsource(square).splitlines()[0], "|", inspect.getsource(shapes.area).splitlines()[0])
    print("signature:", inspect.signature(make_adder), inspect.signature(shapes.area))
    print("joblib:", Parallel(n_jobs=2)(delayed(square)(i) for i in range(6)))
    print("joblib lambda:", Parallel(n_jobs=2)(delayed(lambda v: v * 3)(i) for i in range(4)))
    print("joblib module:", Parallel(n_jobs=2)(delayed(shapes.area)(i, 2) for i in range(3)))
    pids = Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(4))
    print("joblib workers are other processes:", os.getpid() not in pids)
    sys.exit(5)


if __name__ == "__main__":
    main()
