import importlib.metadata
import importlib.resources
import sys

import acme
import jaraco
from jaraco.functools import compose, pass_none

from acme.greet import words


def main():
    if sys.argv[1:] == ["--kind"]:
        # How each is run: bytecode (function) or compiled by Cython.
        print(type(compose).__name__, type(words.count).__name__)
        return 0
    shout = compose(str.upper, str.strip)
    print(shout("  hello  "), words.count("a b c"), pass_none(len)(None))
    print("modules:", compose.__module__, words.__name__)
    print("namespaces:", acme.__name__, acme.__file__, acme.__spec__.origin, jaraco.__name__, jaraco.__file__)
    print("data:", importlib.resources.files("acme.greet").joinpath("greeting.txt").read_text().strip())
    print("versions:", importlib.metadata.version("jaraco.functools"), importlib.metadata.version("more-itertools"))
    return 0
