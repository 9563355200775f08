"""Warns: the warning names the line of the call, found from the caller's frame."""
import sys
import warnings

warnings.simplefilter("always")
warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: print(
    f"warning: {category.__name__}: {message} at {filename.rsplit('/', 1)[-1]}:{lineno}", file=sys.stdout
)


def old():
    warnings.warn("old() is deprecated", DeprecationWarning, stacklevel=1)
