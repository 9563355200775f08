def f(s):
    n = len(s)
    return n == "a"


def g(c):
    code = ord(c)
    return code == "A", code != "A"


def chars(s):
    return [c == "b" for c in s], [c < "b" for c in s]


def bytes_and_characters():
    cases = (
        lambda: [c == b"b" for c in "abc"],
        lambda: ord("\u0161") in b"abc",
        lambda: [c in b"abc" for c in "ab"],
        lambda: b"a" in b"abc",
        lambda: [len(w) in b"\x01\x03" for w in ("a", "ab", "abc")],
    )
    for t in cases:
        try:
            print(t())
        except (TypeError, ValueError) as e:
            print(type(e).__name__ + ":", e)


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
bytes_and_characters()
