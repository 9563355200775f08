from setuptools import Extension, setup

setup(
    name="needslib",
    version="1.0",
    ext_modules=[Extension("needslib", ["needslib.c"], libraries=["nosuchlib"])],
)
