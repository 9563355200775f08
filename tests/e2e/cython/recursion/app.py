"""A recursion that never ends raises RecursionError at the depth python raises it, in a function,
a method and a generator, and under another limit; the traceback of the last (paths relative to
this file's directory) says how often its line repeated."""
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep
depth = 0


def r(n):
    global depth
    depth = n
    return r(n + 1)


class K:
    def m(self, n):
        global depth
        depth = n
        return self.m(n + 1)


def g(n):
    global depth
    depth = n
    yield from g(n + 1)


def caught(n):
    global depth
    depth = n
    try:
        yield from caught(n + 1)
    except RecursionError:
        yield "caught at %d" % n


for name, run in (("function", lambda: r(0)), ("method", lambda: K().m(0)), ("generator", lambda: list(g(0)))):
    try:
        run()
    except RecursionError as e:
        print(name, "RecursionError:", e, depth)
print(list(caught(0)), depth)
sys.setrecursionlimit(3000)
try:
    r(0)
except RecursionError as e:
    print("limit 3000:", e, depth)
sys.setrecursionlimit(1000)
try:
    r(0)
except RecursionError:
    print(traceback.format_exc().replace(HERE, "")[-300:])
