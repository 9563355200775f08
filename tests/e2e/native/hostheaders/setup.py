# As packages that ask the system for a C library (pkg-config, freetype-config) do: the host's
# header directory of a library pyelf does not pin, on the include path.
from setuptools import Extension, setup

setup(
    name="hostheaders",
    version="1.0",
    ext_modules=[Extension("hostheaders", ["hostheaders.c"], include_dirs=["/usr/include/freetype2"])],
)
