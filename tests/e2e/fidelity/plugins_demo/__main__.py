"""Reads files next to __file__, lists its own directory for plugins, uses pkgutil.get_data."""
import errno
import glob
import importlib
import importlib.resources
import json
import os
import pkgutil
import sys

HERE = os.path.dirname(__file__)


def rel(path):
    return os.path.relpath(path, HERE)


print("greeting:", open(os.path.join(HERE, "data", "greeting.txt")).read().strip())
with open(os.path.join(HERE, "data", "sub", "config.json"), "rb") as f:
    print("config:", json.load(f))
print("pkgutil.get_data:", pkgutil.get_data("plugins_demo", "data/greeting.txt"))
print("exists/isfile/isdir:", os.path.exists(os.path.join(HERE, "data")), os.path.isfile(os.path.join(HERE, "data", "greeting.txt")),
      os.path.isdir(os.path.join(HERE, "data")), os.path.exists(os.path.join(HERE, "missing.txt")))
print("size:", os.path.getsize(os.path.join(HERE, "data", "greeting.txt")))
plugins = sorted(f[:-3] for f in os.listdir(os.path.join(HERE, "plugins")) if f.endswith(".py") and not f.startswith("_"))
print("plugins found by listdir:", plugins)
for name in plugins:
    print(" ", importlib.import_module(f"plugins_demo.plugins.{name}").run())
from plugins_demo import plugins as plugins_pkg

print("pkgutil.iter_modules:", sorted(m.name for m in pkgutil.iter_modules(plugins_pkg.__path__)))
res = importlib.resources.files("plugins_demo") / "data" / "greeting.txt"
print("importlib.resources:", res.read_text().strip(), res.is_file())
with importlib.resources.as_file(res) as real:
    print("as_file is the file itself:", os.path.samefile(real, os.path.join(HERE, "data", "greeting.txt")))
print("scandir:", sorted((e.name, e.is_dir(), e.is_file()) for e in os.scandir(os.path.join(HERE, "data"))))
print("glob:", sorted(rel(p) for p in glob.glob(os.path.join(HERE, "**", "*.json"), recursive=True)))
print("walk:", sorted(rel(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(HERE, "data")) for f in fs))
print("own source has this line:", "own source has this line" in open(__file__).read())
try:
    open(os.path.join(HERE, "data", "nope.txt"))
except FileNotFoundError as e:
    print("missing file:", type(e).__name__, e.errno == errno.ENOENT)
if "--write" in sys.argv:
    for what, act in [("open for writing", lambda: open(os.path.join(HERE, "data", "new.txt"), "w")),
                      ("mkdir", lambda: os.mkdir(os.path.join(HERE, "newdir"))),
                      ("remove", lambda: os.remove(os.path.join(HERE, "data", "greeting.txt")))]:
        try:
            act()
            print(what, "worked")
        except OSError as e:
            print(what, "failed:", errno.errorcode[e.errno])
