"""An app that starts `sys.executable` as programs do: a hook script (cookiecutter's hooks), `-c`
and `-m` (pip's and pytest's helpers), `--version`, a `#!` line written with it (console scripts
made at run time), a grandchild, and the app itself again (a reloader's restart, with sys.argv or
with sys.orig_argv as werkzeug's does). Under python
each runs as python runs it; the binary must answer alike. `app DIR` works in DIR; `app --child
…` is the restarted app; `app -c CODE` is the app's own option, not python's."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap


def show(what, r):
    last = r.stderr.strip().splitlines()[-1:]
    print(what, r.returncode, repr(r.stdout), repr([line.replace(sys.executable, "PYTHON") for line in last]))


def run(what, args, **kw):
    show(what, subprocess.run(args, capture_output=True, text=True, **kw))


def bundled():
    """Never called: json.tool is embedded for `-m json.tool` (a module python has)."""
    import json.tool  # noqa: F401


if os.environ.get("RESTARTED_THROUGH_ORIG_ARGV"):
    print("restarted through sys.orig_argv with", len(sys.argv) - 1, "argument", __name__)
    sys.exit(4)
if sys.argv[1:2] == ["--child"]:
    print("restarted app", sys.argv[2:], __name__)
    sys.exit(3)
if sys.argv[1:2] == ["-c"]:
    print("the app's own -c", sys.argv[2:])
    sys.exit(0)

print("sys.executable", os.path.isabs(sys.executable), os.access(sys.executable, os.X_OK))
work = tempfile.mkdtemp(dir=os.path.abspath(sys.argv[1]))
try:
    hook = os.path.join(work, "post_gen_project.py")
    with open(hook, "w") as f:
        f.write(textwrap.dedent("""\
            import json, os, sys
            print("hook", __name__, sys.argv[1:], os.path.basename(__file__))
            print("hook cwd", os.getcwd() == os.path.dirname(os.path.abspath(__file__)))
            print("hook path[0]", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
            print("hook json", json.dumps({"a": [1, 2]}))
            sys.exit(5)
            """))
    run("hook", [sys.executable, hook, "x", "-c", "y"], cwd=work)
    run("hook failing", [sys.executable, "-c", "import sys; sys.argv; 1/0"])
    run("-c", [sys.executable, "-c", "import sys; print(sys.argv, 6 * 7, __name__)", "a"])
    run("-I -S -c", [sys.executable, "-I", "-S", "-c", "import sys; print(sys.flags.isolated, sys.flags.no_site)"])
    run("-m", [sys.executable, "-m", "json.tool", "--sort-keys"], input='{"b": 1, "a": [2]}')
    run("-m missing", [sys.executable, "-m", "no_such_module_here"])
    run("stdin", [sys.executable, "-"], input="import sys\nprint('from stdin', sys.argv)\n")
    r = subprocess.run([sys.executable, "--version"], capture_output=True, text=True)
    print("--version", r.returncode, r.stdout.split(".")[:2])
    run("grandchild", [sys.executable, "-c",
                       "import subprocess, sys; print(subprocess.run([sys.executable, '-c', 'print(7)'],"
                       " capture_output=True, text=True).stdout.strip())"])
    run("argv0 named otherwise", ["renamed", "-c", "print('as python')"], executable=sys.executable)
    # Tools normalise it first (virtualenv's discovery: os.path.abspath).
    run("abspath", [os.path.abspath(sys.executable), "-c", "print('as python')"])
    run("normpath, joined", [os.path.join(os.path.normpath(os.path.dirname(sys.executable)),
                                          os.path.basename(sys.executable)), "-c", "print('as python')"])
    script = os.path.join(work, "tool")
    with open(script, "w") as f:
        f.write("#!" + sys.executable + "\nimport sys\nprint('#! script', sys.argv[1:], __name__)\n")
    os.chmod(script, 0o755)
    run("#! line", [script, "q"])
    run("restart", [sys.executable, sys.argv[0], "--child", "-c", "z"])
    run("restart with options", [sys.executable, "-B", "-X", "utf8", sys.argv[0], "--child"])
    # werkzeug's reloader, on python 3.10 and later.
    run("restart through sys.orig_argv", [sys.executable, *sys.orig_argv[1:]],
        env=dict(os.environ, RESTARTED_THROUGH_ORIG_ARGV="1"))
finally:
    shutil.rmtree(work)
