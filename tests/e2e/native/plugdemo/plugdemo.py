"""Plugins found through entry points and loaded by name, one of them naming a module that is not
installed."""
from importlib.metadata import entry_points

for ep in sorted(entry_points(group="plugdemo.plugins"), key=lambda e: e.name):
    try:
        print(ep.name, ep.load()())
    except ImportError as e:
        print(ep.name, "cannot be loaded:", type(e).__name__, e.name)
