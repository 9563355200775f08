# PEP 695 syntax (Python 3.12): valid Python that Cython 3.3 cannot compile, so pyelf embeds this
# module as bytecode, with a warning.
type Pair = tuple[int, int]


def first[T](items: list[T]) -> T:
    return items[0]
