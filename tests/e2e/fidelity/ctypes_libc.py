"""ctypes opens the C library and libpython (tests/fidelity.rs): by the name find_library gives
(None where there is no ldconfig), and as the program itself (`CDLL(None)`), as ansible's display
module does for wcwidth; in the binary both are the binary, which exports what this code names."""
import ctypes
import ctypes.util
import os

libc = ctypes.cdll.LoadLibrary(ctypes.util.find_library("c"))
libc.wcwidth.argtypes = (ctypes.c_wchar,)
libc.wcwidth.restype = ctypes.c_int
libc.wcswidth.argtypes = (ctypes.c_wchar_p, ctypes.c_int)
libc.wcswidth.restype = ctypes.c_int
print("wcwidth", libc.wcwidth("a"), libc.wcwidth("\t"), libc.wcswidth("abc", 3))
print("getpid is os.getpid", libc.getpid() == os.getpid())
me = ctypes.CDLL(None)
print("strlen", me.strlen(b"hello"))
buf = ctypes.create_string_buffer(16)
me.snprintf(buf, 16, b"%d-%s", 42, b"x")
print("snprintf", buf.value)
print("qsort is there", getattr(me, "qsort") is not None)
version = ctypes.pythonapi.Py_GetVersion
version.restype = ctypes.c_char_p
print("Py_GetVersion starts with 3.13", version().startswith(b"3.13"))
try:
    libc.pyelf_no_such_function
except AttributeError as e:
    print("a missing function:", type(e).__name__)
