"""PyYAML's C loader and dumper (on libyaml) and ruamel.yaml's (on its own copy of libyaml), in one
process. With `builtins` it prints which of their extension modules are built in."""
import sys

import _ruamel_yaml
import yaml
from ruamel.yaml import YAML

if sys.argv[1:] == ["builtins"]:
    print(sorted(m for m in sys.builtin_module_names if "yaml" in m))
    sys.exit(0)

doc = "a: [1, 2, {b: c}]\nd: !!str 5\ne: 2.5\nf: [null, true, 2024-01-02]\n"
print("libyaml:", yaml.__with_libyaml__, yaml.CSafeLoader.__module__, yaml._yaml.__name__)
print("load:", yaml.load(doc, Loader=yaml.CSafeLoader))
print("dump:", yaml.dump({"x": [1, "y", {"z": None}], "é": "ü"}, Dumper=yaml.CSafeDumper, allow_unicode=True), end="")
try:
    yaml.load("a: [", Loader=yaml.CSafeLoader)
except yaml.YAMLError as e:
    print("error:", type(e).__name__, str(e).splitlines()[0])
print("ruamel:", YAML(typ="safe").load(doc), _ruamel_yaml.__name__)
