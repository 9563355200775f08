"""What a script prints comes before the traceback, the message of sys.exit() and what atexit
handlers print, as python flushes stdout once a script has run, even where stdout is a pipe."""
import atexit
import sys

atexit.register(lambda: print("atexit, on stderr", file=sys.stderr))
print("printed by the script, on stdout")
print("and on stderr", file=sys.stderr)
print("more on stdout, after it")
how = sys.argv[1] if len(sys.argv) > 1 else ""
if how == "exit":
    sys.exit("the message of sys.exit()")
if how == "raise":
    raise ValueError("an uncaught exception")
if how == "code":
    sys.exit(3)
