"""The file tree's path rules, probed (tests/vfs.rs).

`probe.py dump DIR` copies the tree under /__pyelf__ into DIR (run inside a binary).
`probe.py run CASES` does each case of CASES (lines `op<TAB>path as hex`) and prints one line per
case: `ok ...` with what it found, or `err NAME` with the errno's name. Run inside the binary
(the tree) and by python3 where a copy of the tree is mounted read-only at /__pyelf__ (the
kernel), the two must print the same.
"""

import errno
import hashlib
import os
import stat
import sys

ROOT = "/__pyelf__"


def dump(dest):
    for top, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(top, ROOT)
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for name in files:
            with open(os.path.join(top, name), "rb") as f, open(os.path.join(dest, rel, name), "wb") as out:
                out.write(f.read())


def kind(st):
    return "dir" if stat.S_ISDIR(st.st_mode) else f"file {st.st_size}"


def outcome(op, path):
    try:
        if op == "open":
            fd = os.open(path, os.O_RDONLY)
            try:
                data = os.read(fd, 1 << 22)
            finally:
                os.close(fd)
            return "ok " + hashlib.sha256(data).hexdigest()[:12]
        if op == "opendir":
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            os.close(fd)
            return "ok"
        if op == "stat":
            return "ok " + kind(os.stat(path))
        if op == "lstat":
            return "ok " + kind(os.lstat(path))
        if op == "listdir":
            return "ok " + hashlib.sha256("/".join(sorted(os.listdir(path))).encode()).hexdigest()[:12]
        if op == "readlink":
            return "ok " + os.readlink(path)
        if op == "access":
            return "ok " + "".join(c for c, m in (("r", os.R_OK), ("w", os.W_OK), ("x", os.X_OK)) if os.access(path, m))
        if op == "create":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
            return "ok"
        if op == "mkdir":
            os.mkdir(path)
            return "ok"
        if op == "unlink":
            os.unlink(path)
            return "ok"
        if op == "rmdir":
            os.rmdir(path)
            return "ok"
        if op == "chdir":
            os.chdir(path)
            try:
                return "ok " + os.getcwd()
            finally:
                os.chdir("/")
        return "unknown op " + op
    except OSError as e:
        return "err " + errno.errorcode.get(e.errno, str(e.errno))


def run(cases):
    with open(cases) as f:
        for line in f:
            op, hexpath = line.rstrip("\n").split("\t")
            path = bytes.fromhex(hexpath).decode("utf-8", "surrogateescape")
            print(outcome(op, path))


if __name__ == "__main__":
    {"dump": dump, "run": run}[sys.argv[1]](sys.argv[2])
