"""Rust extension modules built from source: rpds-py (maturin) and bcrypt (setuptools-rust), whose
output is compared with pip's install; with the argument `rustpanic`, pyelf's own test extension
(tests/e2e/native/rustpanic): panics, errors and thread-local state."""
import sys
import threading

if sys.argv[1:] == ["rustpanic"]:
    import rustpanic

    print(rustpanic.boom(21))
    try:
        rustpanic.boom(-3)
    except BaseException as e:  # PyO3's PanicException derives from BaseException
        print(type(e).__name__, e)
    print(rustpanic.caught())
    try:
        rustpanic.check(3)
    except ValueError as e:
        print("ValueError", e, rustpanic.check(8))
    results = {}

    def work(i):
        results[i] = [rustpanic.calls() for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sorted(results.values()), rustpanic.calls())
    sys.exit(0)

import bcrypt
import rpds

m = rpds.HashTrieMap({"a": 1}).insert("b", 2).discard("a")
print(sorted(m.items()), rpds.List([1, 2, 3]).push_front(0), sorted(rpds.HashTrieSet([3, 1]).insert(2)))
try:
    m["missing"]
except KeyError as e:
    print("KeyError", e)
salt = b"$2b$04$abcdefghijklmnopqrstuu"
hashed = bcrypt.hashpw(b"secret", salt)
print(hashed, bcrypt.checkpw(b"secret", hashed), bcrypt.checkpw(b"nope", hashed))
print(bcrypt.kdf(b"password", b"salt", 16, 4).hex())
try:
    bcrypt.hashpw(b"x", b"not a salt")
except ValueError as e:
    print("ValueError", e)
print(rpds.HashTrieMap.__module__, rpds.HashTrieMap.__name__, bcrypt._bcrypt.__name__)
