from setuptools import setup

setup(
    name="plugdemo",
    version="1.0",
    py_modules=["plugdemo", "plugdemo_good"],
    # As stevedore ships a test entry point whose module is not there by design: pip installs it,
    # and python fails only when that plugin is loaded.
    entry_points={"plugdemo.plugins": ["good = plugdemo_good:hello", "broken = plugdemo_missing:hello"]},
)
