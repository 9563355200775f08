"""Plain Python, typed by the .pxd beside it (Cython's augmenting .pxd): python ignores that file."""


def collatz_max(limit):
    best = 0
    best_n = 0
    for n in range(1, limit):
        steps = chain(n)
        if steps > best:
            best, best_n = steps, n
    return best_n, best


def chain(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps
