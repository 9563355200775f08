"""Modules whose names start with a digit, imported by name as real packages do: mypyc's compiled
modules import their shared runtime, `<hash>__mypyc`, from C (mypy's hash starts with a digit), and
Django imports its migrations (`0001_initial`) with importlib."""
import importlib

helper = importlib.import_module("7a5e__helper")
initial = importlib.import_module("0001_initial")
print(helper.answer(), initial.VALUE)
