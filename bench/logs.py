"""Log crunching, as sysadmins' tools do: parse access-log lines with a regex, count by key in
dicts, format a report with f-strings, emit it as JSON."""
import json
import re

LINE = re.compile(r'(?P<ip>\d+\.\d+\.\d+\.\d+) - (?P<user>\S+) \[(?P<when>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.[01]" (?P<status>\d{3}) (?P<size>\d+)')
LINES = [
    f'10.0.{i % 17}.{i % 251} - {"-" if i % 3 else f"user{i % 11}"} [04/Dec/2026:12:{i % 60:02d}:{i * 7 % 60:02d} +0000] '
    f'"{("GET", "POST", "PUT", "DELETE")[i % 4]} /api/v{i % 3}/items/{i % 97}?page={i % 5} HTTP/1.1" {(200, 200, 404, 500, 302)[i % 5]} {i * 37 % 5000}'
    for i in range(400)
]


def run(scale):
    total = 0
    for _ in range(150 * scale):
        by_status, by_path, bytes_by_ip, users = {}, {}, {}, set()
        for line in LINES:
            m = LINE.match(line)
            if m is None:
                continue
            d = m.groupdict()
            by_status[d["status"]] = by_status.get(d["status"], 0) + 1
            path = d["path"].split("?", 1)[0]
            by_path[path] = by_path.get(path, 0) + 1
            bytes_by_ip[d["ip"]] = bytes_by_ip.get(d["ip"], 0) + int(d["size"])
            if d["user"] != "-":
                users.add(d["user"].upper())
        top = sorted(by_path.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        report = [f"{p:<30} {n:>6} {100 * n / len(LINES):5.1f}%" for p, n in top]
        doc = json.dumps({"status": by_status, "top": report, "users": sorted(users),
                          "bytes": {ip: f"{b / 1024:.1f} KiB" for ip, b in bytes_by_ip.items()}}, sort_keys=True)
        total += len(json.loads(doc)["top"]) + len(doc)
    return total
