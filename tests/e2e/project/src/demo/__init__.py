"""A demo package for pyelf's tests."""
from .util import shout

__all__ = ["shout"]
