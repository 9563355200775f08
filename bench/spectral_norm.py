"""Spectral norm of an infinite matrix (function calls, float arithmetic, generators)."""


def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def eval_a_times_u(u):
    n = len(u)
    return [sum(eval_a(i, j) * u_j for j, u_j in enumerate(u)) for i in range(n)]


def eval_at_times_u(u):
    n = len(u)
    return [sum(eval_a(j, i) * u_j for j, u_j in enumerate(u)) for i in range(n)]


def run(scale):
    n = 120 * scale
    u = [1.0] * n
    for _ in range(10):
        v = eval_at_times_u(eval_a_times_u(u))
        u = eval_at_times_u(eval_a_times_u(v))
    vbv = sum(a * b for a, b in zip(u, v))
    vv = sum(b * b for b in v)
    return (vbv / vv) ** 0.5
