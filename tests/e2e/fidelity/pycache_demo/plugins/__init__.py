"""Plugins, imported by names read from the directory."""
