"""The training run of a PGO toolchain (toolchains/profiles.toml): run by the instrumented static
python3 while CPython is built, so that the compiler learns which paths of the interpreter are hot.

It covers what servers run Python for: the eval loop (classes, closures, generators, exceptions),
integers and floats, str and bytes, dicts, sets and lists, regular expressions, json, pickle,
the import system over the stdlib, and start-up (new interpreters started as subprocesses). It is
its own code, not the benchmarks `cargo xtask bench` measures with.

The run is deterministic (fixed seeds, one thread, a fixed clock where a time would change the
counts; PYTHONHASHSEED=0, no address randomisation and fixed paths given by pyelf) so that the
same pins and this file give the same profile in any home, and so the same toolchain bytes.
Each part checks its results; the last line written to the file named by the first argument says
the run completed (make cannot tell a training run that failed part way).
"""

import sys

ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 1


# --- the eval loop: objects, calls, closures, generators, exceptions -----------------------------

class Account:
    __slots__ = ("owner", "balance", "history")

    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))

    def withdraw(self, amount):
        if amount > self.balance:
            raise OverdraftError(self.owner, amount - self.balance)
        self.balance -= amount
        self.history.append(("withdraw", amount))


class OverdraftError(Exception):
    def __init__(self, owner, short):
        super().__init__(f"{owner} is short by {short}")
        self.short = short


class Node:
    def __init__(self, key, left=None, right=None):
        self.key, self.left, self.right = key, left, right

    def insert(self, key):
        node = self
        while True:
            if key < node.key:
                if node.left is None:
                    node.left = Node(key)
                    return
                node = node.left
            else:
                if node.right is None:
                    node.right = Node(key)
                    return
                node = node.right

    def walk(self):
        if self.left:
            yield from self.left.walk()
        yield self.key
        if self.right:
            yield from self.right.walk()


def counter(start):
    count = start

    def step(by=1):
        nonlocal count
        count += by
        return count

    return step


def eval_loop():
    accounts = [Account(f"user{i}", i * 10) for i in range(200)]
    short = 0
    for rnd in range(60):
        for i, acc in enumerate(accounts):
            acc.deposit((i * 7 + rnd) % 13 + 1)
            try:
                acc.withdraw((i * 11 + rnd * 3) % 40)
            except OverdraftError as e:
                short += e.short
    assert sum(a.balance for a in accounts) > 0 and short > 0

    import random
    rng = random.Random(1234)
    root = Node(500)
    keys = [rng.randrange(100000) for _ in range(20000)]
    for k in keys:
        root.insert(k)
    walked = list(root.walk())
    assert walked == sorted(keys + [500])

    step = counter(0)
    for i in range(200000):
        step(i & 3)
    assert step(0) == sum(i & 3 for i in range(200000))

    squares = {n: n * n for n in range(5000)}
    evens = [v for v in squares.values() if not v % 2]
    gen_total = sum(x for x in range(300000) if x % 3 == 0)
    assert len(evens) == 2500 and gen_total == sum(range(0, 300000, 3))

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)
    assert fib(22) == 17711

    total = 0.0
    for i in range(1, 200000):
        total += (i * 0.5) ** 0.5 / (i + 1.25)
    values = [(i * 2654435761) % 1000003 for i in range(100000)]
    assert total > 0 and max(values) < 1000003 and min(values) >= 0
    big = 1
    for i in range(1, 400):
        big *= i
    assert len(str(big)) > 800

    a, b, *rest = range(10)
    pairs = list(zip(range(1000), map(str, range(1000))))
    assert a == 0 and b == 1 and len(rest) == 8 and pairs[-1] == (999, "999")
    with open(__file__, "rb") as f:
        assert f.read(3) == b'"""'


# --- the C API paths of compiled code ------------------------------------------------------------
# Code compiled to C (the app's modules Cython compiles, C extensions) reaches objects through
# the generic C API: PyObject_GetAttr and SetAttr (an instance's slots and dict, a module's
# attributes, a class's), PyNumber_*, PyObject_RichCompare, PyObject_GetItem, method lookups and
# vectorcalls. The eval loop's specialised instructions skip these paths, so a training of Python
# code alone leaves them cold, and compiled code slower than the same code as bytecode. These
# calls take them from Python: getattr and setattr with names in variables, the operator module,
# methodcaller.

class Vector:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x, self.y, self.z = x, y, z

    def scaled(self, k):
        return Vector(self.x * k, self.y * k, self.z * k)


class Task:
    def __init__(self, name, priority):
        self.name = name
        self.priority = priority
        self.runs = 0

    def run(self, amount):
        self.runs += amount
        return self.runs


def c_api_paths():
    import math
    import operator
    names = ("x", "y", "z")
    getters = [operator.attrgetter(n) for n in names]
    vectors = [Vector(math.sin(i), math.cos(i), i * 0.5) for i in range(20000)]
    norm_total = 0.0
    for v in vectors:
        norm = math.sqrt(sum(operator.mul(getattr(v, n), getattr(v, n)) for n in names))
        for n in names:
            setattr(v, n, operator.truediv(getattr(v, n), norm))
        norm_total = operator.add(norm_total, sum(g(v) for g in getters))
    assert norm_total != 0.0
    best = functools_reduce(lambda a, b: a if operator.gt(a.x, b.x) else b, vectors)
    assert best.x <= 1.0
    sin, cos = getattr(math, "sin"), getattr(math, "cos")
    acc = 0.0
    for i in range(50000):
        acc = operator.add(acc, operator.mul(sin(i), cos(i)))
    assert -50000.0 < acc < 50000.0

    tasks = [Task(f"t{i}", i % 7) for i in range(3000)]
    run = operator.methodcaller("run", 2)
    total = 0
    for rnd in range(10):
        for t in tasks:
            if operator.lt(getattr(t, "priority"), 4):
                total = operator.add(total, run(t))
            setattr(t, "priority", operator.mod(operator.add(getattr(t, "priority"), rnd), 7))
    assert total > 0
    rows = [(i, str(i), [i, i + 1]) for i in range(20000)]
    picked = [operator.getitem(operator.getitem(r, 2), 1) for r in rows]
    keyed = sorted(rows, key=operator.itemgetter(1))
    assert picked[-1] == 20000 and keyed[0][1] == "0"
    assert operator.eq(operator.contains(set(picked), 5), True)
    scaled = list(map(operator.methodcaller("scaled", 2.0), vectors[:5000]))
    assert len(scaled) == 5000 and all(operator.is_(type(v), Vector) for v in scaled)


def functools_reduce(f, items):
    import functools
    return functools.reduce(f, items)


# --- str, bytes and unicode ----------------------------------------------------------------------

def text():
    words = [
        "alpha", "Beta", "gamma", "délta", "épsilon", "ζήτα", "эта", "θήτα", "日本語", "😀emoji",
    ]
    lines = []
    for i in range(20000):
        w = words[i % len(words)]
        lines.append(f"{i:06d} {w.upper()} {w.title():>12} {i / 7:.3f} {w!r}")
    blob = "\n".join(lines)
    assert blob.count("\n") == 19999
    for enc in ("utf-8", "utf-16", "latin-1", "ascii", "cp1252"):
        data = blob.encode(enc, errors="replace")
        back = data.decode(enc, errors="replace")
        assert len(back) >= len(blob) // 2
    parts = [ln.split() for ln in blob.splitlines()]
    assert all(len(p) >= 5 for p in parts)
    joined = "-".join(p[1].lower() for p in parts)
    assert joined.startswith("alpha-beta")
    s = blob.replace("alpha", "ALPHA").strip().casefold()
    assert "alpha" in s and s.find("gamma") > 0 and s.isprintable() is False
    table = str.maketrans("aeiou", "AEIOU")
    assert "banana".translate(table) == "bAnAnA"
    assert "%s-%d-%.2f" % ("x", 3, 2.5) == "x-3-2.50" and "{0}{1}{0}".format("a", "b") == "aba"
    b = bytearray()
    for i in range(50000):
        b += (i * 7 % 65536).to_bytes(2, "little")
    assert bytes(b).hex()[:8] == "00000700" and b.find(b"\xff\xff") > 0
    import unicodedata
    assert unicodedata.normalize("NFD", "é") == "e\u0301"


# --- dicts, sets and lists -----------------------------------------------------------------------

def containers():
    d = {}
    for i in range(100000):
        d[f"key{i % 5000}"] = d.get(f"key{i % 5000}", 0) + i
    assert len(d) == 5000
    inverted = {v: k for k, v in d.items()}
    assert len(inverted) == 5000
    merged = {**d, "extra": 1} | {"more": 2}
    assert merged["more"] == 2 and "key42" in merged
    s = set(range(0, 100000, 3)) & set(range(0, 100000, 5))
    assert len(s) == len(range(0, 100000, 15))
    lst = list(range(100000))
    lst.sort(key=lambda x: (x % 100, -x))
    assert lst[0] == 99900
    lst.reverse()
    del lst[::2]
    assert len(lst) == 50000
    from collections import Counter, defaultdict, OrderedDict, deque
    c = Counter(w for w in "the quick brown fox jumps over the lazy dog the end".split())
    assert c["the"] == 3
    dd = defaultdict(list)
    for i in range(10000):
        dd[i % 17].append(i)
    assert len(dd) == 17
    od = OrderedDict((i, i) for i in range(1000))
    od.move_to_end(0)
    q = deque(range(1000))
    q.rotate(10)
    assert next(iter(od)) == 1 and q[0] == 990
    t = tuple(range(100))
    assert t.index(50) == 50 and hash(t) == hash(tuple(range(100)))
    import heapq, bisect
    h = [(i * 37) % 1001 for i in range(5000)]
    heapq.heapify(h)
    assert heapq.nsmallest(3, h) == sorted(h)[:3]
    assert bisect.bisect_left(sorted(h), 500) > 0


# --- regular expressions -------------------------------------------------------------------------

def regex():
    import re
    log = "\n".join(
        f"2026-11-{(i % 28) + 1:02d}T{i % 24:02d}:{i % 60:02d}:00 host{i % 7}.example.org "
        f"GET /api/v{i % 3}/items/{i}?q=word{i % 11} {200 + (i % 5) * 100} {i * 13 % 9000}b"
        for i in range(5000)
    )
    line = re.compile(r"^(\S+) (\S+) (GET|POST) (\S+) (\d{3}) (\d+)b$", re.M)
    statuses = {}
    for m in line.finditer(log):
        statuses[m.group(5)] = statuses.get(m.group(5), 0) + 1
    assert sum(statuses.values()) == 5000
    assert len(re.findall(r"host[0-6]\.example\.org", log)) == 5000
    words = re.sub(r"word(\d+)", lambda m: f"W{int(m.group(1)) * 2}", log)
    assert "W20" in words
    assert re.split(r"[/?=]", "/api/v1/items/3?q=x") == ["", "api", "v1", "items", "3", "q", "x"]
    email = re.compile(r"(?P<user>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)+)", re.I)
    found = [email.search(f"mail u{i}.name+tag@Example{i % 4}.co.uk now") for i in range(3000)]
    assert all(f and f["domain"].lower().startswith("example") for f in found)
    assert re.fullmatch(r"(a|b)*c", "ab" * 200 + "c") and not re.match(r"\d+$", "12a")
    uni = re.compile(r"\w+", re.UNICODE)
    assert len(uni.findall("ζήτα эта 日本語 naïve " * 500)) == 2000


# --- json and pickle -----------------------------------------------------------------------------

def serialise():
    import json, pickle
    records = [
        {"id": i, "name": f"item {i}", "price": i * 1.25, "tags": ["a", "b", str(i % 9)],
         "active": i % 2 == 0, "owner": None, "nested": {"depth": i % 4, "label": "ü" * (i % 3)}}
        for i in range(5000)
    ]
    for indent in (None, 2):
        text = json.dumps(records, indent=indent, sort_keys=indent is not None)
        assert json.loads(text) == records
    expected = '{"a": [1, 2.5, "x\\n\u00e9"]}'
    assert json.dumps({"a": [1, 2.5, "x\n\u00e9"]}, ensure_ascii=False) == expected
    blob = pickle.dumps((records, Account("p", 5).owner, OverdraftError("o", 3).short), protocol=5)
    back = pickle.loads(blob)
    assert back[0] == records and back[2] == 3
    import struct, base64, zlib, hashlib
    packed = b"".join(struct.pack("<iqd", i, i * i, i / 3) for i in range(10000))
    assert struct.unpack_from("<iqd", packed, 20 * 20)[0] == 20
    assert base64.b64decode(base64.b64encode(packed)) == packed
    assert zlib.decompress(zlib.compress(packed)) == packed
    assert len(hashlib.sha256(packed).hexdigest()) == 64


# --- imports and start-up ------------------------------------------------------------------------

def imports():
    import importlib
    names = [
        "argparse", "asyncio", "base64", "collections", "configparser", "csv", "dataclasses",
        "datetime", "decimal", "email.message", "enum", "fnmatch", "fractions", "functools",
        "glob", "gzip", "hashlib", "http.client", "inspect", "io", "ipaddress", "itertools",
        "logging", "logging.handlers", "pathlib", "pprint", "shlex", "shutil", "socket", "sqlite3",
        "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
        "tomllib", "traceback", "typing", "urllib.parse", "urllib.request", "uuid",
        "xml.etree.ElementTree", "zipfile",
    ]
    for n in names:
        importlib.import_module(n)
    import dataclasses, enum, typing, datetime, decimal, argparse, logging, io, pathlib

    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: int = 0

    Colour = enum.Enum("Colour", "RED GREEN BLUE")
    assert Point(1) == Point(1, 0) and Colour.GREEN.value == 2
    assert typing.get_type_hints(Point)["x"] is int
    d = datetime.datetime(2026, 11, 30, 12, 0) + datetime.timedelta(days=40)
    assert d.strftime("%Y-%m-%d") == "2027-01-09" and d.isoformat().startswith("2027")
    assert str(decimal.Decimal("1.10") * 3) == "3.30"
    parser = argparse.ArgumentParser(prog="train")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("files", nargs="*")
    assert parser.parse_args(["--count", "3", "a", "b"]).count == 3
    stream = io.StringIO()
    # A fixed clock: a record's time would change its counts (msecs of 0..256 is a cached small
    # int, larger ones are allocated) and so the profile from run to run.
    fixed_ns = staticmethod(lambda: 1_796_000_000_123_456_789)
    logging.time = type("FixedClock", (), {"time_ns": fixed_ns})
    log = logging.getLogger("train")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for i in range(2000):
        log.info("record %d of %s", i, "train")
    assert stream.getvalue().count("\n") == 2000
    here = pathlib.Path(__file__).resolve()
    assert here.suffix == ".py" and here.parent.is_dir()


# Whether an interpreter this run started has run (then an error starting one is a failure).
CAN_START_ITSELF = [False]


def startup():
    import subprocess
    # Not -I, which would ignore the fixed PYTHONHASHSEED of the run's environment.
    runs = [
        ["-s", "-S", "-c", "pass"],
        ["-s", "-c", "pass"],
        ["-s", "-c", "import os, re, json, collections; print(len(os.environ) >= 0)"],
        ["-s", "-c", "import sys; sys.exit(3)"],
    ]
    # The children write into a file, not a pipe: reading pipes goes round a loop as many times
    # as the data comes in chunks, which depends on timing, and so would the profile's counts.
    with open("startup.out", "w+b") as out:
        for args in runs * 3:
            try:
                code = subprocess.run(
                    [sys.executable, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=out
                ).returncode
            except OSError as e:
                # Cross-compiled, this interpreter runs under the target's runner (qemu-user),
                # which the interpreters it would start do not: the build machine cannot run
                # them (ENOEXEC). Start-up is then trained by this run's own only, the same way in
                # every home.
                if e.errno == 8 and not CAN_START_ITSELF[0]:
                    return
                raise
            CAN_START_ITSELF[0] = True
            out.seek(0)
            assert code in (0, 3), out.read().decode(errors="replace")


def main():
    stamp = sys.argv[1]
    for _ in range(ROUNDS):
        for part in (eval_loop, c_api_paths, text, containers, regex, serialise, imports, startup):
            part()
    with open(stamp, "w") as f:
        f.write("training run complete\n")


if __name__ == "__main__":
    main()
