"""What the C extension modules of markupsafe, simplejson, psutil, msgpack and cffi do, printed the same
under python with the packages installed by pip and in the binary built by pyelf. With `builtins`
it prints which of them are built-in modules (in the binary: all)."""
import os
import sys

import _cffi_backend
import cffi
import jinja2
import markupsafe
import msgpack
import psutil
import simplejson

EXTENSIONS = ["markupsafe._speedups", "simplejson._speedups", "psutil._psutil_linux", "msgpack._cmsgpack", "_cffi_backend"]

if sys.argv[1:] == ["builtins"]:
    print(sorted(set(EXTENSIONS) & set(sys.builtin_module_names)))
    sys.exit(0)

import markupsafe._speedups
import simplejson._speedups

# The C code is in use, as after pip install.
print("markupsafe:", markupsafe._escape_inner is markupsafe._speedups._escape_inner, markupsafe._speedups.__name__)
print("escape:", markupsafe.escape("<a href='x'>&\"</a>"), markupsafe.Markup("<b>%s</b>") % "<i>")
print("simplejson:", simplejson._speedups.__name__, simplejson.encoder.c_make_encoder is not None,
      simplejson.decoder.c_scanstring is not None)
print("dumps:", simplejson.dumps({"b": [1, 2.5, None, True], "a": "é\u2028"}, sort_keys=True))
print("loads:", simplejson.loads('{"x": [1, 2, {"y": "z"}], "n": 1.5e3}'))
try:
    simplejson.loads('{"x": ')
except simplejson.JSONDecodeError as e:
    print("decode error:", e.msg, e.pos)
print("psutil:", psutil._psutil_linux.__name__, psutil._psutil_linux.__spec__.name)
if os.path.exists("/proc/self/statm"):
    me = psutil.Process()
    print("process:", me.pid == os.getpid(), me.memory_info().rss > 0, psutil.boot_time() > 0, psutil.cpu_count() >= 1)
else:
    print("process: no /proc")
print("msgpack:", msgpack.Packer.__module__, msgpack.Unpacker.__module__)
data = {"x": [1, b"y", 2.5, None], "nested": {"k": list(range(5))}}
packed = msgpack.packb(data)
print("round trip:", packed.hex(), msgpack.unpackb(packed, strict_map_key=False) == data)
print("jinja2:", jinja2.Template("{% for u in users %}<li>{{ u }}</li>{% endfor %}", autoescape=True).render(users=["a&b", "<script>"]))
ffi = cffi.FFI()
ffi.cdef("typedef struct { int x; double y; } point;")
p = ffi.new("point *", {"x": 3, "y": 0.5})
add = ffi.callback("int(int, int)", lambda a, b: a + b)
print("cffi:", _cffi_backend.__name__, _cffi_backend.__version__, p.x, p.y, ffi.sizeof("point"), add(40, 2),
      ffi.string(ffi.new("char[]", b"libffi")))
