from setuptools import Extension, setup

setup(
    name="cxxthrow",
    version="1.0",
    ext_modules=[Extension("cxxthrow", ["cxxthrow.cc"], language="c++")],
)
