"""The demo's command line: what it prints must be the same under python and as a pyelf binary."""
import argparse
import importlib
import importlib.metadata
import importlib.resources
import sys

from . import shout
from .core import words
from .modern import first
from .slow_path import where


def main(argv=None):
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("text", nargs="*", default=["hello", "world"])
    args = parser.parse_args(argv)
    print(shout(" ".join(args.text)))
    print(words(" ".join(args.text)))
    print("first:", first(args.text))
    greeting = importlib.resources.files("demo").joinpath("data/greeting.txt").read_text()
    print("data:", greeting.strip())
    notes = importlib.resources.files("demo") / "extra" / "notes.txt"
    print("extra:", notes.read_text().strip() if notes.is_file() else "none")
    print("version:", importlib.metadata.version("pyelf-demo"))
    scripts = sorted(ep.name for ep in importlib.metadata.entry_points(group="console_scripts") if ep.value.startswith("demo."))
    print("scripts:", scripts)
    plugin = importlib.import_module("demo.plugins_json")
    print("plugin:", plugin.render({"b": 1, "a": [1, 2]}))
    print("package:", __package__, __name__)
    print("compiled:", type(main).__name__, "bytecode:", where())
    return 3


def count(argv=None):
    print(len(sys.argv[1:] if argv is None else argv))
    return 0
