"""Code written for Cython's pure-Python mode (`import cython`): a Mandelbrot set and an integer
recurrence with C types from decorators, annotations and `cython.locals`. Under python Cython's
shadow module makes them do nothing; compiled, they are C."""
import cython


@cython.cfunc
@cython.locals(zr=cython.double, zi=cython.double, t=cython.double, n=cython.int)
def escape(cr: cython.double, ci: cython.double, limit: cython.int) -> cython.int:
    zr = zi = 0.0
    n = 0
    while n < limit and zr * zr + zi * zi <= 4.0:
        t = zr * zr - zi * zi + cr
        zi = 2.0 * zr * zi + ci
        zr = t
        n += 1
    return n


def mandelbrot(width: cython.int, height: cython.int, limit: cython.int) -> cython.long:
    x: cython.int
    y: cython.int
    total: cython.long = 0
    for y in range(height):
        for x in range(width):
            total += escape(-2.0 + 3.0 * x / width, -1.2 + 2.4 * y / height, limit)
    return total


def collatz(limit: cython.long) -> cython.long:
    n: cython.long
    m: cython.long
    steps: cython.long
    longest: cython.long = 0
    for n in range(1, limit):
        m, steps = n, 0
        while m != 1:
            m = m // 2 if m % 2 == 0 else 3 * m + 1
            steps += 1
        longest = max(longest, steps)
    return longest


def run(scale):
    assert mandelbrot(120 * scale, 60, 100) > 0
    assert collatz(20000 * scale) > 0
