"""Under `from __future__ import annotations` annotations are strings, in the parameters' order."""
from __future__ import annotations
import dataclasses, typing, inspect
from typing import Optional
def f(x: int, y: "str" = "a", *args: float, c: str = "", **kw: dict) -> list[int]: pass
print(f.__annotations__)
def g(a: Optional[int], b: typing.List[str], c: int | None = None) -> None: pass
print(g.__annotations__, inspect.signature(g))
class K:
    T = int
    def m(self, v: T) -> "K":
        return self
print(K.m.__annotations__)
def outer():
    Local = dict
    def inner(z: Local) -> Local: pass
    return inner.__annotations__
print(outer())
print(typing.get_type_hints(f))
print((lambda q: q).__annotations__)
@dataclasses.dataclass
class D:
    n: int
    name: "str" = "x"
    tags: list[str] = dataclasses.field(default_factory=list)
    other: Optional["D"] = None
print(D.__annotations__, [(f.name, f.type) for f in dataclasses.fields(D)])
class NT(typing.NamedTuple):
    a: int
    b: str = "b"
print(NT.__annotations__, NT(1))
class P:
    Alias = int
    x: Alias = 3
    y: float
print(P.__annotations__, P.x)
class Q:
    pass
print(hasattr(Q, "__annotations__") and Q.__annotations__)
