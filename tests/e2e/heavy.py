"""A heavier app for the end-to-end tests: many stdlib modules, threads, subprocess, exit codes."""
import argparse
import datetime
import decimal
import hashlib
import json
import os
import pwd
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
import zlib


def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)


def main():
    parser = argparse.ArgumentParser(prog="heavy")
    parser.add_argument("--name", default="world")
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--true", default="/bin/true")
    args = parser.parse_args()

    print("hello", args.name)
    print("json", json.dumps({"a": [1, 2, {"b": None}]}, sort_keys=True))
    print("zlib", len(zlib.compress(b"abc" * 1000)) < 100)
    root = ET.fromstring("<r><i n='1'/><i n='2'/></r>")
    print("xml", [i.get("n") for i in root.iter("i")])
    print("sha256", hashlib.sha256(b"pyelf").hexdigest())
    print("hostname", bool(socket.gethostname()))
    print("datetime", datetime.datetime(2024, 2, 29, 12, 0).isoformat())
    decimal.getcontext().prec = 30
    print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
    if os.path.exists(args.true):
        print("subprocess", subprocess.run([args.true]).returncode)
    else:
        print("subprocess", "no", args.true)
    try:
        print("pwd", pwd.getpwuid(0).pw_name)
    except KeyError:
        print("pwd", "KeyError")
    out = []
    sys.setrecursionlimit(20000)
    t = threading.Thread(target=lambda: out.append(deep(5000)))
    t.start()
    t.join()
    print("thread", out)
    print("argv0", os.path.basename(sys.argv[0]) != "")
    print("executable", os.path.isabs(sys.executable), os.access(sys.executable, os.X_OK))
    sys.exit(args.exit)


if __name__ == "__main__":
    main()
