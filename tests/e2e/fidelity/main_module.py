"""The app is the real __main__: what python3 main_module.py prints, the binary must print."""
import os
import pickle
import sys
import threading


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        return f"Point({self.x}, {self.y})"

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)


class Plain:
    pass


def square(x):
    return x * x


def import_main_in_a_thread(out):
    import __main__

    out.append(__main__.square(7))


if __name__ == "__main__":
    print("__name__", __name__)
    print("__module__ of a class", Point.__module__, "of a function", square.__module__)
    print("repr", repr(Plain()).split(" object at ")[0])
    print("sys.modules['__main__'] is this module", sys.modules["__main__"].square is square)
    print("__spec__", __spec__, "__package__", __package__)
    print("__file__", os.path.basename(__file__), os.path.isabs(__file__))
    p = Point(1, 2)
    print("pickle by reference", pickle.loads(pickle.dumps(p)) == p, pickle.loads(pickle.dumps(square)) is square)
    print("pickled names", b"__main__" in pickle.dumps(p), b"Point" in pickle.dumps(Point))
    out = []
    t = threading.Thread(target=import_main_in_a_thread, args=(out,))
    t.start()
    t.join(30)
    print("a thread imported __main__", out, not t.is_alive())
    print("argv", sys.argv[1:])
    print("sys.executable is absolute", os.path.isabs(sys.executable), os.path.basename(sys.executable) != "")
    print("sys.frozen", getattr(sys, "frozen", None))
    sys.exit(3)
