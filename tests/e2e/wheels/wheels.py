"""Packages whose normal install is compiled code (musllinux wheels, loaded by the binary's own
loader): their output must be the same as in a CPython 3.13 venv with pip's wheels. Floats are
printed rounded: the venv's wheels use glibc's libm and other builds of OpenBLAS."""
import ctypes
import datetime
import io
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import hashlib

import jsonschema
import lxml.etree as ET
import markupsafe
import msgpack
import numpy as np
import orjson
import pandas as pd
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw, ImageFilter
from pydantic import BaseModel, Field, ValidationError
import pytokens

SITE = os.path.dirname(os.path.dirname(np.__file__))


def where(path):
    """A path relative to where pip installed the packages (the tree's root in the binary), with
    the platform's suffix of extension modules taken out."""
    rel = os.path.relpath(path, SITE)
    return rel.replace("x86_64-linux-gnu", "PLATFORM").replace("x86_64-linux-musl", "PLATFORM").replace(
        "aarch64-linux-gnu", "PLATFORM").replace("aarch64-linux-musl", "PLATFORM")


# Modules where pip puts them.
import numpy._core._multiarray_umath as umath
print("files:", where(umath.__file__), where(orjson.orjson.__file__), where(markupsafe._speedups.__spec__.origin))
print("compiled:", type(markupsafe._speedups).__name__, msgpack.version, "Packer" in dir(msgpack._cmsgpack))

# orjson (Rust), msgpack and markupsafe (C).
print(orjson.dumps({"b": [1, 2.5, None, "é"], "a": datetime.date(2024, 2, 29)}, option=orjson.OPT_SORT_KEYS))
try:
    orjson.loads(b"{bad")
except orjson.JSONDecodeError as e:
    print("orjson error:", e)
print(msgpack.unpackb(msgpack.packb({"k": [1, 2, {"x": b"\x00"}]})), markupsafe.escape("<b>&</b>"))

# numpy: linear algebra on OpenBLAS, FFT, seeded random.
a = np.arange(12, dtype=np.float64).reshape(3, 4)
print(a @ a.T)
m = np.array([[4.0, 1.0, 0.5], [2.0, 3.0, 1.0], [0.0, 1.0, 5.0]])
print(np.round(np.linalg.inv(m), 8).tolist(), np.round(np.sort(np.linalg.eigvals(m).real), 8).tolist())
print(np.round(np.linalg.solve(m, [1.0, 2.0, 3.0]), 8).tolist(), round(float(np.linalg.det(m)), 8))
print(np.round(np.fft.fft(np.arange(8)), 6).tolist())
rng = np.random.default_rng(42)
print(rng.integers(0, 100, 6).tolist(), np.round(rng.standard_normal(3), 8).tolist())
try:
    np.linalg.inv(np.zeros((2, 2)))
except np.linalg.LinAlgError as e:
    print("LinAlgError:", e)


# pandas (Cython, C++; its libstdc++ is the same soname as numpy's: one copy is loaded).
df = pd.DataFrame({"city": ["a", "b", "a", "c", "b", "a"], "v": [1.5, 2.0, 3.25, 4.0, 5.5, 6.0],
                   "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01", "2024-02-15",
                                           "2024-03-01", "2024-03-31"])})
print(df.groupby("city")["v"].agg(["sum", "mean", "count"]))
print(df.set_index("when").resample("MS")["v"].sum())
csv = df.to_csv(index=False)
back = pd.read_csv(io.StringIO(csv), parse_dates=["when"])
print(csv, back.equals(df), pd.Timestamp("2024-03-10 01:30", tz="America/New_York") + pd.Timedelta(hours=2))


# Threads: loaded code's thread-local storage in threads started after it was loaded.
def work(seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((60, 60))
    return round(float(np.linalg.det(x @ x.T + np.eye(60))), 2) > 0, orjson.dumps([seed]).decode()


with ThreadPoolExecutor(4) as pool:
    print("threads:", list(pool.map(work, range(8))))


# fork: multiprocessing's children use the loaded libraries too.
def child(n):
    return int(round(np.linalg.det(np.eye(n) * 2)))


if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("fork:", pool.map(child, [1, 2, 3, 4]))

# pydantic v2 (pydantic-core, Rust).
class User(BaseModel):
    id: int
    name: str = Field(min_length=2)
    tags: list[str] = []


print(User(id="7", name="ann", tags=["a"]).model_dump_json())
try:
    User(id="x", name="a")
except ValidationError as e:
    print(e.error_count(), [(err["type"], err["loc"]) for err in e.errors()])

# pytokens: its x86_64 wheel compiles the package's __init__ itself with mypyc (an extension
# module as a package; aarch64's is pure Python).
print([t.type.name for t in pytokens.tokenize("x = f(1) + y\n")])

# cryptography (Rust, its own OpenSSL): AES-GCM, Ed25519, X.509.
key, nonce = bytes(range(32)), bytes(12)
ct = AESGCM(key).encrypt(nonce, b"secret message", b"aad")
print(ct.hex(), AESGCM(key).decrypt(nonce, ct, b"aad"))
sk = Ed25519PrivateKey.from_private_bytes(bytes(32))
sig = sk.sign(b"hello")
sk.public_key().verify(sig, b"hello")
try:
    sk.public_key().verify(sig, b"other")
except InvalidSignature:
    print("InvalidSignature")
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyelf.test")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(sk.public_key())
        .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2030, 1, 1)).sign(sk, None))
print(cert.subject.rfc4514_string(), cert.fingerprint(hashes.SHA256()).hex())

# Pillow (its libjpeg, libpng, libtiff, libwebp bundled; zlib is the binary's): round trips.
im = Image.new("RGB", (64, 48), (10, 20, 30))
draw = ImageDraw.Draw(im)
draw.rectangle([5, 5, 40, 30], fill=(200, 100, 50))
draw.ellipse([30, 10, 60, 44], outline=(0, 255, 0))
for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
    b = io.BytesIO()
    im.save(b, fmt)
    b.seek(0)
    back = Image.open(b)
    back.load()
    lossless = hashlib.sha256(back.tobytes()).hexdigest()[:16] if fmt in ("PNG", "TIFF") else ""
    print(fmt, back.size, back.mode, lossless)
print(im.filter(ImageFilter.GaussianBlur(2)).getpixel((20, 20)))

# lxml (libxml2 and libxslt bundled): XPath, C14N, errors, XSLT.
root = ET.fromstring(b"<a xmlns:x='urn:x'><x:b n='1'>t</x:b><c><!-- k --><b n='2'/></c></a>")
print(root.xpath("//b/@n"), root.xpath("//*[local-name()='b']/@n"), ET.tostring(root, method="c14n"))
try:
    ET.fromstring(b"<a><b></a>")
except ET.XMLSyntaxError as e:
    print("XMLSyntaxError", e.msg)
xslt = ET.XSLT(ET.fromstring(b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
                             b'<xsl:template match="/"><out><xsl:value-of select="count(//b)"/></out></xsl:template>'
                             b'</xsl:stylesheet>'))
print(str(xslt(ET.fromstring(b"<a><b/><b/></a>"))).strip())

# jsonschema on rpds-py (Rust).
validator = jsonschema.Draft202012Validator(
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}, "required": ["n"]})
print([e.message for e in validator.iter_errors({"n": 1})], validator.is_valid({"n": 5}))

# ctypes.CDLL of a library bundled in a wheel (numpy's OpenBLAS), by its path in the tree.
libs = os.path.join(SITE, "numpy.libs")
blas = [f for f in sorted(os.listdir(libs)) if "openblas" in f][0]
lib = ctypes.CDLL(os.path.join(libs, blas))
get_config = getattr(lib, "scipy_openblas_get_config64_", None) or lib.openblas_get_config64_
get_config.restype = ctypes.c_char_p
print("openblas:", get_config().split()[0].decode())
sys.stdout.flush()
