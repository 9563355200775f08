"""A package run as python -m mainpkg."""
