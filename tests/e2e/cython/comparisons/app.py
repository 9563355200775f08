def f(s):
    n = len(s)
    return n == "a"


def g(c):
    code = ord(c)
    return code == "A", code != "A"


def chars(s):
    return [c == "b" for c in s], [c < "b" for c in s]


def order():
    for t in (lambda: 1 < "a", lambda: "a" > 1, lambda: 2 < 3 < "z"):
        try:
            print(t())
        except TypeError as e:
            print("TypeError:", e)


print(f("x" * 97))
print(g("A"))
print(chars("abc"))
order()
