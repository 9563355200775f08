"""The variables of python's environment that change how a program runs, as python reads them."""
import sys, warnings
for i in range(3):
    print("out", i)
    print("err", i, file=sys.stderr)
print(sys.flags.unbuffered, sys.flags.hash_randomization, sys.stdout.encoding, sys.stdout.errors, sys.warnoptions, hash("a") if sys.flags.hash_randomization == 0 else "r", sys.get_int_max_str_digits())
warnings.warn("careful", DeprecationWarning)
import faulthandler; print(faulthandler.is_enabled())
