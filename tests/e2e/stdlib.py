"""End-to-end check of the C-library-backed stdlib modules in a pyelf binary."""
import bz2
import decimal
import gzip
import hashlib
import io
import lzma
import os
import sqlite3
import sys
import tarfile
import tempfile


def main():
    data = b"pyelf " * 5000
    print("bz2", bz2.decompress(bz2.compress(data)) == data)
    print("lzma", lzma.decompress(lzma.compress(data)) == data)
    print("gzip", gzip.decompress(gzip.compress(data)) == data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    with tarfile.open(fileobj=buf, mode="r:xz") as tar:
        print("tarfile", tar.extractfile("hello.txt").read() == data)
    print("sha3_256", hashlib.sha3_256(b"abc").hexdigest()[:16])
    print("pbkdf2", hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000).hex()[:16])
    print("openssl algorithms", "sha512_256" in hashlib.algorithms_available or "sha512-256" in hashlib.algorithms_available)
    decimal.getcontext().prec = 40
    print("decimal", decimal.Decimal(2).sqrt())
    workdir = os.environ.get("PYELF_TEST_TMP", "/")
    path = os.path.join(workdir, "pyelf-test.sqlite3")
    try:
        con = sqlite3.connect(path)
        con.execute("create table t (k text, v integer)")
        con.executemany("insert into t values (?, ?)", [("a", 1), ("b", 2)])
        con.commit()
        print("sqlite3", con.execute("select sum(v) from t").fetchone()[0], sqlite3.sqlite_version)
        con.close()
    finally:
        if os.path.exists(path):
            os.remove(path)
    import ssl
    print("ssl", ssl.OPENSSL_VERSION.split()[0:2])
    import ctypes
    buf = ctypes.create_string_buffer(b"pyelf")
    print("ctypes", ctypes.sizeof(ctypes.c_int64), buf.value)
    # The C library is the binary itself, as it is the program's under python (fidelity.md).
    libc = ctypes.CDLL("libc.so.6")
    print("ctypes CDLL", libc.strlen(b"pyelf"))
    try:
        ctypes.CDLL("libpyelf-no-such-library.so")
        print("ctypes CDLL", "loaded?!")
    except OSError:
        print("ctypes CDLL", "OSError")
    import curses
    try:
        curses.setupterm("xterm", sys.stdout.fileno())
        print("curses", "setupterm ok", curses.tigetnum("colors") >= 8)
    except curses.error as e:
        print("curses", "error", e)


if __name__ == "__main__":
    main()
