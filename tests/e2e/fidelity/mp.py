"""multiprocessing with the start method given on the command line: Pool.map, Process + Queue,
a Manager and ProcessPoolExecutor. freeze_support() is called, as programs written for
PyInstaller do; a pyelf binary does not need it (sys.frozen is not set, so it does nothing)."""
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor


def square(x):
    return x * x


def put_multiples(q, n):
    q.put([i * n for i in range(4)])


def fill(d, key):
    d[key] = [os.getpid() > 0, __name__]


class Job:
    def __init__(self, n):
        self.n = n

    def run(self):
        return self.n * 10


def run_job(job):
    return job.run()


if __name__ == "__main__":
    multiprocessing.freeze_support()
    method = sys.argv[1]
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        print(method, "Pool.map", pool.map(square, range(6)))
        print(method, "Pool.map of objects of __main__", pool.map(run_job, [Job(1), Job(2)]))
    q = ctx.Queue()
    p = ctx.Process(target=put_multiples, args=(q, 5))
    p.start()
    print(method, "Process + Queue", q.get(timeout=120))
    p.join(120)
    print(method, "exit code", p.exitcode)
    with ctx.Manager() as m:
        d = m.dict()
        p = ctx.Process(target=fill, args=(d, "k"))
        p.start()
        p.join(120)
        print(method, "Manager", dict(d))
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        print(method, "ProcessPoolExecutor", list(ex.map(square, [3, 4, 5])))
