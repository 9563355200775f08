"""pytest, as `python3 -m pytest` runs it: built with --python-cli, the binary is the python3 that
runs numpy's own test suite (tests/wheels.rs)."""
import sys

import pytest

sys.exit(pytest.main(sys.argv[1:]))
