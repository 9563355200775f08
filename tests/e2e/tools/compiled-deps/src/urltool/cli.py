import importlib.metadata
import sys

import mdurl


def main():
    for arg in sys.argv[1:]:
        url = mdurl.parse(arg)
        print(url.protocol, url.hostname, url.pathname, mdurl.encode(arg))
    # Compiled by Cython: its functions are not Python functions.
    print(type(mdurl.parse).__name__, type(mdurl.encode).__name__)
    print("mdurl", importlib.metadata.version("mdurl"))
