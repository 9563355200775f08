"""Run as `python -m mainpkg`: the real __main__, with its package's relative imports."""
import pickle
import sys

from . import helper
from .helper import double


class Point:
    def __init__(self, x):
        self.x = x


if __name__ == "__main__":
    print("__name__", __name__, "__package__", __package__, "__spec__.name", __spec__.name)
    print("__module__", Point.__module__, "main is this module", sys.modules["__main__"].Point is Point)
    print("relative imports", helper.double(2), double(3))
    print("pickle", pickle.loads(pickle.dumps(Point(5))).x)
    print("mainpkg.__main__ imported", "mainpkg.__main__" in sys.modules)
