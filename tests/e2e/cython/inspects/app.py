"""A module that looks at functions or frames that may be any module's: the whole app runs as
bytecode, as python runs it (toolchains/cython-fallbacks.toml)."""
import frames
import handlers
import registry


def main():
    for name in sorted(registry.HANDLERS):
        print(registry.describe(name), "->", registry.HANDLERS[name]("you"))
    print("frames:", frames.caller(), frames.here())


main()
