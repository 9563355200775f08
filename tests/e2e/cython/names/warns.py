"""Warns: the warning names the line of the call, found from the caller's frame. It also has an
attribute named `cython`, which does not make it code written for Cython (only `import cython`
does): compiled, its warning would name another line."""
import sys
import warnings

warnings.simplefilter("always")
warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: print(
    f"warning: {category.__name__}: {message} at {filename.rsplit('/', 1)[-1]}:{lineno}", file=sys.stdout
)


class Settings:
    cython = False


def old():
    warnings.warn("old() is deprecated", DeprecationWarning, stacklevel=1 if not Settings.cython else 2)
