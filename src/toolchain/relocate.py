# Run by a relocated toolchain's own python3 (src/toolchain/relocate.rs) with its directory, its
# final place, and the old and new homes' toolchains directories: checks that it finds its prefix
# from its own location, that sysconfig names the toolchain's new place, and that no bytecode
# still holds the old home but as its code's file name (which the import system replaces
# with the source's real path on load). Prints one line per problem; the caller fails on any.
import marshal
import os
import sys
import sysconfig

here, final, old, new = sys.argv[1:5]
problems = []
if os.path.realpath(sys.prefix) != os.path.realpath(here):
    problems.append(f"sys.prefix is {sys.prefix}, not where python3 is ({here})")
for name in ("prefix", "exec_prefix", "LIBDIR", "INCLUDEPY", "LIBDEST"):
    value = sysconfig.get_config_var(name) or ""
    if not value.startswith(final):
        problems.append(f"sysconfig's {name} is {value!r}, not under {final}")


def strings(code):
    """Every constant of `code` and of the code objects in it, but their file names."""
    for const in code.co_consts:
        if hasattr(const, "co_consts"):
            yield from strings(const)
        elif isinstance(const, (tuple, frozenset)):
            for item in const:
                yield item
        else:
            yield const


old_bytes, new_bytes = old.encode(), new.encode()
checked = 0
for top, dirs, files in os.walk(os.path.join(here, "lib")):
    for name in files:
        if not name.endswith(".pyc"):
            continue
        path = os.path.join(top, name)
        with open(path, "rb") as f:
            data = f.read()
        if old_bytes not in data.replace(new_bytes, b""):
            continue
        checked += 1
        try:
            code = marshal.loads(data[16:])
        except Exception as e:  # noqa: BLE001 - any damage is a problem to report
            problems.append(f"{path}: cannot be read ({e})")
            continue
        for value in strings(code):
            if isinstance(value, str) and old in value.replace(new, ""):
                problems.append(f"{path}: a constant names the old place: {value!r}")
                break
            if isinstance(value, bytes) and old_bytes in value.replace(new_bytes, b""):
                problems.append(f"{path}: a constant names the old place: {value!r}")
                break

for line in problems:
    print(line)
print(f"checked {checked} bytecode files", file=sys.stderr)
