"""Regular expressions over log-like text: compile cache, search, findall, sub."""
import re

LINES = [
    f"2026-11-{d:02d} 12:{m:02d}:07 host{d % 7}.example.org GET /api/v{m % 3}/items/{d * m} 200 {d * 13 + m} ms user=u{m}@example.org"
    for d in range(1, 29) for m in range(0, 60, 7)
]
PATTERNS = [
    r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})",
    r"host\d+\.example\.org",
    r"/api/v(\d)/items/(\d+)",
    r"user=([\w.]+)@([\w.]+)",
    r"\b(GET|POST|PUT|DELETE)\b",
]


def run(scale):
    n = 0
    for _ in range(20 * scale):
        for line in LINES:
            for p in PATTERNS:
                m = re.search(p, line)
                if m:
                    n += len(m.groups())
            n += len(re.findall(r"\d+", line))
            n += len(re.sub(r"u\d+@", "user@", line))
    return n
