"""The stdlib smoke test of a toolchain's python3, run natively and under qemu-user for another
architecture; each line is compared between the two. usage: smoke.py DIR (with ca.pem,
server.pem and server.key, made by the test)."""
import bz2
import ctypes
import decimal
import json
import lzma
import multiprocessing
import os
import signal
import socket
import sqlite3
import ssl
import sys
import threading
import time


def tls(d):
    """A TLS server in a thread and a client that verifies it against the test's CA."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as s:
            s.sendall(b"hello " + s.recv(100))

    t = threading.Thread(target=serve)
    t.start()
    client_ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    with socket.create_connection(listener.getsockname()) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"tls")
            reply = s.recv(100)
            version = s.version()
    t.join()
    listener.close()
    return reply.decode(), version


def deep(n):
    """Nested lists `n` deep: their repr recurses in C, on the thread's own stack."""
    x = []
    for _ in range(n):
        x = [x]
    return x


def main():
    d = sys.argv[1]
    print("tls", *tls(d))
    con = sqlite3.connect(":memory:")
    con.execute("create table t (k text, v real)")
    con.executemany("insert into t values (?, ?)", [("a", 1.5), ("b", 2.25)])
    print("sqlite3", con.execute("select sum(v), group_concat(k) from t").fetchone(), sqlite3.sqlite_version)
    data = b"pyelf " * 10000
    print("lzma", lzma.decompress(lzma.compress(data)) == data, len(lzma.compress(data, preset=9)))
    print("bz2", bz2.decompress(bz2.compress(data)) == data, len(bz2.compress(data)))
    decimal.getcontext().prec = 60
    print("decimal", decimal.Decimal(2).sqrt(), decimal.Decimal(1) / decimal.Decimal(7))
    print("float", repr(0.1 + 0.2), (2.0 ** 0.5).hex(), float("1e308") * 10)

    # ctypes: a Python callback called through a libffi closure, and C functions through ffi_call.
    CB = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_double)
    cb = CB(lambda a, b: a * 3 + int(b))
    through_c = CB(ctypes.cast(cb, ctypes.c_void_p).value)
    buf = ctypes.create_string_buffer(16)
    ctypes.memmove(buf, b"static", 6)
    print("ctypes", through_c(14, 2.5), buf.value, ctypes.sizeof(ctypes.c_wchar), ctypes.create_unicode_buffer("h\u00e9\U0001f600").value)

    # 8 threads, each with a deep recursion in C.
    results = [None] * 8

    def work(i):
        results[i] = len(repr(deep(4000 + i)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("threads", results)

    fired = []
    signal.signal(signal.SIGALRM, lambda *a: fired.append("SIGALRM"))
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    deadline = time.monotonic() + 10
    while not fired and time.monotonic() < deadline:
        time.sleep(0.01)
    print("setitimer", fired)
    signal.signal(signal.SIGUSR1, lambda *a: fired.append("SIGUSR1"))
    os.kill(os.getpid(), signal.SIGUSR1)
    print("kill", fired)

    q = multiprocessing.Queue()
    q.put(1)
    q.put(2)
    time.sleep(0.2)
    print("Queue.qsize", q.qsize())

    os.environ["TZ"] = "EST+05EDT,M3.2.0,M11.1.0"
    time.tzset()
    print("tzset", time.tzname, time.strftime("%H:%M %Z", time.localtime(1_700_000_000)))
    print("hash", sys.hash_info.algorithm, hash("pyelf") == hash("pyelf"), sys.hash_info.width)
    print("json", json.dumps({"a": [1, 2.5, None, "\u00e9"]}, sort_keys=True))
    print("maxunicode", sys.maxunicode, "byteorder", sys.byteorder, "maxsize", sys.maxsize)


if __name__ == "__main__":
    main()
