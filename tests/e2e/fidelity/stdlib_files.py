"""The stdlib's modules have their files where python has them: `__file__` and `__spec__.origin`
under the stdlib directory (in a pyelf binary, in its tree), their source readable by path,
linecache, inspect and tracebacks; their packages' data files and directories listable."""
import importlib.resources
import inspect
import json
import json.decoder
import linecache
import os
import sys
import traceback
import email.mime.text

stdlib = sys._stdlib_dir
sources = len(sys.argv) < 2 or sys.argv[1] != "no-sources"


def rel(path):
    return os.path.relpath(path, stdlib) if path and path != "frozen" else path


print("stdlib under the prefix:", stdlib == os.path.join(sys.prefix, "lib", "python3.13"))
for m in (json, json.decoder, os, email.mime.text, inspect, traceback):
    print(m.__name__, rel(m.__file__), rel(m.__spec__.origin), os.path.exists(m.__file__) == sources)
print("resources:", rel(str(importlib.resources.files("json"))), rel(str(importlib.resources.files("email") / "mime")))
if sources:
    # Without sources, a package's directory holds its data files only.
    print("json's directory:", sorted(n for n in os.listdir(os.path.dirname(json.__file__)) if n != "__pycache__"))
    print("email's directory:", sorted(n for n in os.listdir(os.path.dirname(email.__file__)) if n != "__pycache__"))
    print("dirs:", os.path.isdir(os.path.join(stdlib, "email", "mime")), os.path.isfile(os.path.join(stdlib, "email", "nothing.py")))
    print("getsource:", inspect.getsource(json.dumps).splitlines()[0])
    print("linecache:", linecache.getline(json.decoder.__file__, 1).strip())
else:
    try:
        inspect.getsource(json.dumps)
    except OSError as e:
        print("getsource:", type(e).__name__)
if sources:
    # A working directory in the tree, relative paths and getcwd() following it.
    here = os.getcwd()
    os.chdir(os.path.join(stdlib, "json"))
    print("chdir:", rel(os.getcwd()), sorted(n for n in os.listdir(".") if n != "__pycache__")[:2],
          os.path.isfile("decoder.py"), open("../json/decoder.py").readline().strip())
    os.chdir(here)
    print("back:", os.getcwd() == here)
# Removing what is not there says so, as anywhere (python's helpers count on it).
try:
    os.unlink(os.path.join(stdlib, "json", "nothing.pyc"))
except OSError as e:
    print("unlink:", type(e).__name__)
print("disk usage:", __import__("shutil").disk_usage(stdlib).total > 0)
try:
    json.loads("{")
except ValueError as e:
    lines = traceback.format_exception(e)
    print("".join(lines[-4:]).replace(stdlib, "STDLIB"), end="")  # the stdlib's frames
try:
    import lib
except ImportError as e:
    print("import lib:", e)
