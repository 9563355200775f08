"""Forks while another thread reads the tree (tests/vfs.rs): the first read builds the tree's table,
later ones decode blocks of sources. A child forked meanwhile must not wait forever for a lock the
other thread held (the table was built under a pthread_once: a child forked during it hung).
Prints how many of the children read their file."""
import json
import os
import threading

paths = [json.__file__, os.__file__, threading.__file__, json.decoder.__file__]
stop = False


def reader():
    while not stop:
        for p in paths:
            with open(p, "rb") as f:
                f.read()


t = threading.Thread(target=reader)
t.start()
ok = 0
for i in range(100):
    pid = os.fork()
    if pid == 0:
        with open(paths[i % len(paths)], "rb") as f:
            os._exit(0 if f.read() else 1)
    _, status = os.waitpid(pid, 0)
    ok += status == 0
stop = True
t.join()
print(ok)
