"""ujson (C++ with double-conversion) as after pip install; with `cxxthrow`, a C++ extension that
throws and catches inside itself."""
import sys

import ujson

if sys.argv[1:] == ["cxxthrow"]:
    import cxxthrow
    print(cxxthrow.check(5), "|", cxxthrow.check(-3), "|", "cxxthrow" in sys.builtin_module_names)
    sys.exit(0)

print(ujson.dumps({"a": [1, 2.5, None, "é", 1e300], "b": 10**15}, sort_keys=True))
print(ujson.loads("[1.5e300, -0.0, 123456789012345678, 0.1]"))
for bad in ("[1, 2", '{"a": }', "nan"):
    try:
        ujson.loads(bad)
    except ujson.JSONDecodeError as e:
        print("JSONDecodeError:", e)
