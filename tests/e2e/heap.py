"""Works the C heap from every side a Python program reaches it: the interpreter's large objects,
C libraries that call malloc themselves (OpenSSL, zlib, xz, SQLite, libmpdec, expat), threads that
allocate and exit, a forked child, and memory handed back and taken again; and malloc's family
called directly, on both sides of the binary heap's 1 KiB boundary (mimalloc below, dlmalloc
above), with forks while another thread allocates. Prints what python3 prints; the e2e test runs it
in binaries whose malloc is the default heap and musl's."""
import ctypes
import decimal
import hashlib
import json
import lzma
import os
import signal
import sqlite3
import threading
import warnings
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

# malloc's family called directly: realloc keeps the contents when a block moves across the
# boundary either way, calloc zeroes a block that reuses freed memory (a block just freed, which
# the heap may keep for the next request of its size), alignments are kept.
libc = ctypes.CDLL(None)
libc.malloc.restype = libc.calloc.restype = libc.realloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
kept = []
for start, end in [(16, 4000), (4000, 16), (1000, 1100), (1100, 1000), (1024, 1025), (1025, 1024),
                   (100, 300000), (300000, 100), (5000, 90000), (90000, 5000)]:
    p = libc.malloc(start)
    ctypes.memset(p, start % 251, start)
    q = libc.realloc(p, end)
    kept.append(ctypes.string_at(q, min(start, end)) == bytes([start % 251]) * min(start, end))
    libc.free(q)
print("realloc across", kept.count(True), len(kept))
zeroed = []
for n in (1, 100, 1024, 1025, 1100, 3000, 70000, 500000):
    p = libc.malloc(n)
    ctypes.memset(p, 0xFF, n)
    libc.free(p)
    q = libc.calloc(1, n)
    zeroed.append(ctypes.string_at(q, n) == bytes(n))
    libc.free(q)
print("calloc", zeroed.count(True), len(zeroed))
aligned = []
for alignment in (16, 64, 4096, 65536):
    for n in (8, 1024, 1025, 70000):
        p = ctypes.c_void_p()
        rc = libc.posix_memalign(ctypes.byref(p), alignment, n)
        aligned.append(rc == 0 and p.value % alignment == 0)
        if rc == 0:
            ctypes.memset(p, 1, n)
            libc.free(p)
print("aligned", aligned.count(True), len(aligned))
# malloc's own blocks are aligned for any type that fits in them: 16 bytes on x86_64 and aarch64
# from 16 bytes up (mimalloc aligns a block of 8 bytes to 8, as C allows).
blocks = [libc.malloc(n) for n in list(range(16, 3000, 7)) + list(range(3000, 300000, 4999))]
print("malloc aligned to 16", all(p % 16 == 0 for p in blocks), len(blocks))
for p in blocks:
    libc.free(p)
# Each size up to past the largest a freed block is kept for: the block handed out again for the
# same size is large enough, and all of it can be written.
libc.malloc_usable_size.restype = ctypes.c_size_t
libc.malloc_usable_size.argtypes = [ctypes.c_void_p]
fits = []
for n in range(1200):
    p = libc.malloc(n)
    ctypes.memset(p, 0x11, n)
    libc.free(p)
    q = libc.malloc(n)
    fits.append(libc.malloc_usable_size(q) >= n)
    ctypes.memset(q, 0x22, n)
    libc.free(q)
print("sizes", fits.count(True), len(fits))

# Forks while another thread allocates blocks of every size without the GIL (SQLite's queries run
# with it released): no child inherits the heap locked.
warnings.filterwarnings("ignore", category=DeprecationWarning)  # fork() in a threaded process
stop = threading.Event()


def churn():
    db = sqlite3.connect(":memory:")
    db.execute("create table t (v text)")
    db.executemany("insert into t values (?)", (("w" * (i % 3000),) for i in range(2000)))
    while not stop.is_set():
        db.execute("select group_concat(v), count(*) from (select v from t order by random())").fetchone()


churner = threading.Thread(target=churn)
churner.start()
signal.alarm(120)  # a child that inherited the heap locked would hang this loop: fail instead
codes = []
for _ in range(30):
    pid = os.fork()
    if pid == 0:
        os._exit(len([bytearray(n) for n in range(500, 9000, 97)]) % 7)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
signal.alarm(0)
stop.set()
churner.join()
print("forks beside a thread", sorted(set(codes)), len(codes))
