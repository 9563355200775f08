"""Naval Fate.

Usage:
  nav ship new <name>...
  nav ship <name> move <x> <y> [--speed=<kn>]
  nav (-h | --help)

Options:
  -h --help     Show this screen.
  --speed=<kn>  Speed in knots [default: 10].
"""
import importlib.metadata

from docopt import docopt


def main():
    args = docopt(__doc__)
    for key in sorted(args):
        print(f"{key}: {args[key]!r}")
    print("docopt", importlib.metadata.version("docopt"))
    return 0
