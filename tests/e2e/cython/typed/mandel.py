"""A fractal written for Cython (its pure-Python mode): the same file runs under python, where Cython's
shadow module makes the types and decorators do nothing, and compiled, where they are C."""
import cython


@cython.cfunc
@cython.inline
@cython.locals(cr=cython.double, ci=cython.double, zr=cython.double, zi=cython.double, t=cython.double, n=cython.int)
def escape(cr, ci, limit: cython.int) -> cython.int:
    zr = zi = 0.0
    n = 0
    while n < limit and zr * zr + zi * zi <= 4.0:
        # the burning ship: the absolute values before each square
        t = zr * zr - zi * zi + cr
        zi = abs(2.0 * zr * zi) + ci
        zr = t
        n += 1
    return n


def rows(width: cython.int, height: cython.int, limit: cython.int) -> list:
    x: cython.int
    y: cython.int
    out = []
    for y in range(height):
        line = []
        for x in range(width):
            n = escape(-2.0 + 3.0 * x / width, -1.2 + 2.4 * y / height, limit)
            line.append(" .:-=+*#%@"[n * 9 // limit])
        out.append("".join(line))
    return out


def compiled():
    return cython.compiled
