# Types for app.py, the script: Cython reads them as those of its module, __main__.
cpdef long halve(long n)
