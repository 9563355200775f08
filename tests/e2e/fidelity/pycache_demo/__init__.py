"""Modules found by their files, as real programs find them: nothing is compiled while the binary
runs, as under python with the .pyc files pip writes (tests/fidelity.rs)."""
