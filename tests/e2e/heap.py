"""Works the C heap from every side a Python program reaches it: the interpreter's large objects,
C libraries that call malloc themselves (OpenSSL, zlib, xz, SQLite, libmpdec, expat), threads that
allocate and exit, a forked child, and memory handed back and taken again. Prints what python3
prints; the e2e test runs it in binaries whose malloc is mimalloc and musl's."""
import decimal
import hashlib
import json
import lzma
import os
import sqlite3
import threading
import xml.etree.ElementTree as ET
import zlib


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


# Large blocks (served by mmap in both allocators), grown and shrunk again (realloc).
big = bytearray(64 * 1024 * 1024)
big[-1] = 7
buf = bytearray()
for i in range(20000):
    buf += bytes([i % 251]) * (i % 97)
del buf[len(buf) // 3:]
print("bytearray", len(big), big[-1], len(buf), digest(bytes(buf)))
del big

# C libraries with their own allocations.
blob = json.dumps([{"i": i, "s": "x" * (i % 50)} for i in range(5000)]).encode()
print("zlib", len(zlib.decompress(zlib.compress(blob, 9))), digest(zlib.compress(blob, 9)))
print("lzma", len(lzma.decompress(lzma.compress(blob))))
print("sha3", hashlib.sha3_256(blob).hexdigest()[:16], hashlib.blake2b(blob).hexdigest()[:16])
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t values (?, ?)", ((i, "v" * (i % 300)) for i in range(20000)))
print("sqlite", db.execute("select count(*), sum(length(v)) from t").fetchone())
db.close()
decimal.getcontext().prec = 3000
print("decimal", str(decimal.Decimal(2).sqrt())[-12:])
root = ET.fromstring("<r>" + "".join(f"<e n='{i}'>{'t' * (i % 40)}</e>" for i in range(5000)) + "</r>")
print("expat", len(root), sum(len(e.text or "") for e in root))


# Threads that allocate, free what others allocated, and end (each with its own heap).
shared = []
lock = threading.Lock()


def work(n):
    mine = [json.loads(json.dumps({"n": n, "xs": list(range(n % 200))})) for _ in range(300)]
    with lock:
        shared.extend(mine)


for _ in range(3):
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print("threads", len(shared), sum(len(d["xs"]) for d in shared))
shared.clear()

# A forked child allocates, frees and exits; the parent goes on allocating.
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    data = [bytes(i % 4096) for i in range(20000)]
    os.write(w, digest(b"".join(data)).encode())
    os._exit(0)
os.close(w)
child = os.read(r, 100).decode()
os.close(r)
_, status = os.waitpid(pid, 0)
print("fork", child, os.waitstatus_to_exitcode(status))
print("after", digest(b"".join(bytes(i % 4096) for i in range(20000))))
