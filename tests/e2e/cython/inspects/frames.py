"""Reads its callers' frames."""
import sys


def caller():
    return sys._getframe(1).f_code.co_name


def here():
    f = sys._getframe()
    return f"{f.f_code.co_name}:{f.f_lineno}"
