"""A package that finds its files and plugins by path, as many real packages do."""
