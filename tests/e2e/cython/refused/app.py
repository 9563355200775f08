"""A script Cython refuses but python runs: it is embedded as bytecode and runs as in python.
A name that only `globals()` assigns, and a literal unpacked to the wrong number of names (which
fails only if it runs), stop Cython at build time."""
import sys

globals().update(GREETING="hello")
print(GREETING)


def never_called():
    a, b = [1, 2, 3]
    return a, b


print(type(never_called).__name__)
sys.exit(3)
