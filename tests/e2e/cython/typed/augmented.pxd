# Types for augmented.py: Cython reads this file when it compiles the module beside it.
import cython

@cython.locals(best=cython.long, best_n=cython.long, n=cython.long, steps=cython.long)
cpdef tuple collatz_max(long limit)

@cython.locals(steps=cython.long)
cpdef long chain(long n)
