"""json.dumps of nested dicts, lists and strings (the C accelerator and Python glue)."""
import json

DATA = {
    "key": "value",
    "list": [1, 2, 3, 4.5, None, True, "text" * 3],
    "nested": {"a": [{"b": i, "c": str(i) * 3, "d": [i] * 5} for i in range(20)]},
    "unicode": "pyelf \u00e9\u00e8\u4e2d\u6587",
}


def run(scale):
    n = 0
    for _ in range(1000 * scale):
        n += len(json.dumps(DATA))
        n += len(json.dumps(DATA, indent=2, sort_keys=True))
    return n
