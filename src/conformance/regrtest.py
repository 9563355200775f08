"""The conformance binary's own command: CPython's regression test runner, as `python -m test`.

The binary is built with `--python-cli` and installed as `python3.13` (with a `python3` link), so
that the tests, which start `sys.executable` as python hundreds of times, start it as python."""
from test.libregrtest.main import main

main()
