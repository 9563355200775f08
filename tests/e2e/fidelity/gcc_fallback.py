"""A script whose Cython C gcc rejects (a generator expression over a literal list of tuples in a
function: Cython 3.3.1 leaves __pyx_cur_scope undeclared): it runs as bytecode."""


def g(m, p):
    return f"{m}:{p}"


def f():
    return sorted(g(m, p) for m, p in [("/", 1.5), ("/v", 2.0)])


print(f())
