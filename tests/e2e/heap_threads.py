# Threads that call malloc, memset and free at once (ctypes lets go of the GIL around each call):
# the heap must keep every block whole. 1,100 bytes: a size whose freed blocks the heap keeps for
# the next request, and which `--malloc split` serves from dlmalloc.
import ctypes
import random
import sys
import threading

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.realloc.restype = ctypes.c_void_p
libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free.restype = None
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
libc.memset.restype = ctypes.c_void_p
failures = []


def worker(seed):
    rng = random.Random(seed)
    held = []
    for _ in range(20000):
        if held and rng.random() < 0.5:
            p, n, fill = held.pop(rng.randrange(len(held)))
            if ctypes.string_at(p, n) != bytes([fill]) * n:
                failures.append(f"thread {seed}: a block changed")
                return
            libc.free(p)
        else:
            n = rng.choice((24, 600, 1100, 3000, 70000))
            p = libc.malloc(n)
            fill = rng.randrange(1, 256)
            libc.memset(p, fill, n)
            held.append((p, n, fill))
    for p, n, fill in held:
        libc.free(p)


threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(failures[0] if failures else "ok")
sys.exit(1 if failures else 0)
