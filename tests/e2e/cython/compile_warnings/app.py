"""python prints the warnings of compiling a script each time it runs it, before the script runs."""
import re
pat = re.compile("\d+")
print(pat.findall("a1b22"))
x = 5
print(x is 5)
def f():
    assert (x, "always true")
print(r"\d", "tab\tend")
