"""Nothing here looks at functions or frames: Cython compiles it."""


def total(xs):
    return sum(x * x for x in xs)


class Shape:
    def __init__(self, w, h):
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h
