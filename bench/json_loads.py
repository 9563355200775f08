"""json.loads of a medium document."""
import json

TEXT = json.dumps({
    "items": [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "price": i * 1.25, "ok": i % 2 == 0}
              for i in range(50)],
    "meta": {"total": 50, "next": None, "query": "pyelf \u00e9"},
})


def run(scale):
    n = 0
    for _ in range(3000 * scale):
        n += len(json.loads(TEXT)["items"])
    return n
