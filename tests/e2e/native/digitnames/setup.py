from setuptools import Extension, setup

setup(
    name="digitnames",
    version="1.0",
    py_modules=["digitnames", "0001_initial"],
    ext_modules=[Extension("7a5e__helper", ["helper.c"])],
)
