"""A module that logs or warns runs as bytecode, as python runs it: its log records and warnings
name its functions and lines from their frames. The others are compiled by Cython
(toolchains/cython-fallbacks.toml). This script logs."""
import logging
import sys

import plain
import warns

logging.basicConfig(format="%(levelname)s %(module)s.%(funcName)s:%(lineno)d %(message)s", stream=sys.stdout)
log = logging.getLogger("names")


def main():
    log.warning("starting with %d modules", 2)
    print("plain:", plain.total([1, 2, 3]), plain.Shape(2, 3).area())
    warns.old()
    log.error("done")


if __name__ == "__main__":
    main()
