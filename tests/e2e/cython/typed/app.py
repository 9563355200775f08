"""Modules written for Cython's pure-Python mode, and one typed by an augmenting .pxd: the same
output as under python (with Cython installed), much faster compiled. On stderr, what tells them
apart: `cython.compiled`, and the C types the annotations and the .pxd give arguments."""
import sys

import cython

import augmented
import mandel


def report(what, call):
    try:
        call()
        print(what, "takes any int", file=sys.stderr)
    except OverflowError:
        print(what, "takes a C integer", file=sys.stderr)


def total(rows: list) -> cython.long:
    n: cython.long = 0
    for row in rows:
        n += len(row.strip())
    return n


def twice(k: cython.int) -> cython.int:
    return 2 * k


def halve(n):
    """Typed by app.pxd, the script's own augmenting .pxd."""
    return n // 2


rows = mandel.rows(60, 16, 200)
for row in rows:
    print(row.rstrip())
print("collatz:", augmented.collatz_max(30000), "marks:", total(rows))
print("compiled:", cython.compiled, mandel.compiled(), file=sys.stderr)
report("rows (annotations):", lambda: mandel.rows(2**40, 0, 1))
report("chain (.pxd):", lambda: augmented.chain(2**70))
report("twice (the script's annotations):", lambda: twice(2**40))
report("halve (the script's .pxd):", lambda: globals()["halve"](2**70))
