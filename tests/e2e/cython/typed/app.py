"""Modules written for Cython's pure-Python mode, and one typed by an augmenting .pxd: the same
output as under python (with Cython installed), much faster compiled. On stderr, what tells them
apart: `cython.compiled`, and the C `long` the .pxd gives `chain`'s argument."""
import sys

import augmented
import mandel

for row in mandel.rows(60, 16, 200):
    print(row.rstrip())
print("collatz:", augmented.collatz_max(30000))
print("compiled:", mandel.compiled(), file=sys.stderr)
try:
    augmented.chain(2**70)
    print("chain: takes any int", file=sys.stderr)
except OverflowError:
    print("chain: takes a C long, as its .pxd says", file=sys.stderr)
