"""Imports that find modules by their files: plugins by computed names, a stdlib package through a
path finder of the app's own (as awscli imports its vendored botocore), files by
spec_from_file_location (one in a directory that is no package, which no import reaches). An audit hook counts the sources compiled meanwhile."""
import importlib
import importlib.util
import os
import pkgutil
import sys
from importlib.machinery import PathFinder

from . import plugins

compiled = []


def audit(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].endswith(".py"):
        compiled.append(os.path.basename(args[1]))


sys.addaudithook(audit)

for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
    try:
        mod = importlib.import_module(f"{plugins.__name__}.{info.name}")
    except SyntaxError as e:
        print(info.name, "SyntaxError", e.msg, e.lineno)
        continue
    print(info.name, mod.VALUE, os.path.basename(mod.__cached__), os.path.isfile(mod.__cached__))


class VendoredFinder:
    """Finds json's modules with the path finder, before any other finder."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname == "json" or fullname.startswith("json."):
            return PathFinder.find_spec(fullname, path)
        return None


sys.meta_path.insert(0, VendoredFinder)
for name in [n for n in sys.modules if n == "json" or n.startswith("json.")]:
    del sys.modules[name]
import json.decoder  # noqa: E402

print("json.decoder", type(json.decoder.__loader__).__name__, json.loads('{"a": [1, 2]}'))
sys.meta_path.remove(VendoredFinder)

here = os.path.dirname(__file__)
for name, file in [("by_path_copy", "by_path.py"), ("hook", "hooks/hook.py")]:
    spec = importlib.util.spec_from_file_location(name, os.path.join(here, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    print(file, mod.VALUE, os.path.isfile(spec.cached))
print("__pycache__ listed:", "__pycache__" in os.listdir(os.path.dirname(plugins.__file__)))
print("compiled at run time:", compiled)
