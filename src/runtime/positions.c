/* The frames a compiled (Cython) function adds to a traceback, at CPython's position of the
 * operation that failed: lines, and columns in UTF-8 bytes, as the interpreter's own code objects
 * record them (`co_positions`). `traceback` draws its `~~~^^^` markers, and shows every line of an
 * expression that spans several, from these.
 *
 * `cython::python_positions` puts this text into each compiled module, in place of Cython's
 * `__Pyx_CreateCodeObjectForTraceback`, after the module's table `__pyelf_sites` (end line, first
 * column, end column, and for a method call its lookup's line, end line, column and end column, or
 * zeros; `src/build/cython_run.py` finds them). Cython's `__pyx_clineno`, which it sets to 0
 * without C lines in tracebacks, carries the site's number (from 1; 0: none). */

/* Appends `v` to a location table as CPython's varint (6 bits a byte, 0x40: more follow). */
static Py_ssize_t __pyelf_varint(unsigned char *at, unsigned int v) {
    Py_ssize_t n = 0;
    while (v >= 64) {
        at[n++] = 0x40 | (v & 63);
        v >>= 6;
    }
    at[n++] = (unsigned char)v;
    return n;
}

/* `code`, made by PyCode_NewEmpty (its instructions all on `line`), with its instructions at lines
 * `line` to `end_line`, columns `col` to `end_col`: a PY_CODE_LOCATION_INFO_LONG entry of the
 * location table (InternalDocs/locations.md), for all of its code units (at most 8, as one entry
 * covers). Takes `code`; NULL with an exception set on failure. */
static PyCodeObject *__pyelf_code_at(PyCodeObject *code, int line, int end_line, int col, int end_col) {
    unsigned char table[1 + 4 * 6];
    Py_ssize_t n = 0;
    Py_ssize_t units = Py_SIZE(code);
    if (units < 1 || units > 8 || end_line < line || col < 0 || end_col < 0)
        return code;
    table[n++] = 0x80 | (14 << 3) | (unsigned char)(units - 1);
    n += __pyelf_varint(table + n, 0); /* the line, against co_firstlineno (= line): a signed varint of 0 */
    n += __pyelf_varint(table + n, (unsigned int)(end_line - line));
    n += __pyelf_varint(table + n, (unsigned int)col + 1);
    n += __pyelf_varint(table + n, (unsigned int)end_col + 1);
    PyObject *linetable = PyBytes_FromStringAndSize((const char *)table, n);
    PyObject *replace = linetable ? PyObject_GetAttrString((PyObject *)code, "replace") : NULL;
    PyObject *args = replace ? PyTuple_New(0) : NULL;
    PyObject *kwargs = args ? Py_BuildValue("{sO}", "co_linetable", linetable) : NULL;
    PyObject *placed = kwargs ? PyObject_Call(replace, args, kwargs) : NULL;
    Py_XDECREF(kwargs);
    Py_XDECREF(args);
    Py_XDECREF(replace);
    Py_XDECREF(linetable);
    Py_DECREF(code);
    return (PyCodeObject *)placed;
}

/* The sites: 1 to `__PYELF_SITES` as in the table, and the same plus `__PYELF_SITES` for a
 * method call's other position, its lookup's. */
#define __PYELF_SITES ((int)(sizeof(__pyelf_sites) / sizeof(__pyelf_sites[0])))

/* The site Cython's `__Pyx_AddTraceback` adds an entry for: `site`, or, at a method call whose
 * lookup failed (an AttributeError raised there, with no frame of a callee in its traceback), its
 * lookup's, whose first line `*py_line` then is. The exception stays as it was. */
static int __pyelf_site(int site, int *py_line) {
    if (site < 1 || site > __PYELF_SITES || __pyelf_sites[site - 1][3] == 0)
        return site;
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *tb = exc ? PyException_GetTraceback(exc) : NULL;
    int lookup = exc && tb == NULL && PyErr_GivenExceptionMatches(exc, PyExc_AttributeError);
    Py_XDECREF(tb);
    PyErr_SetRaisedException(exc);
    if (!lookup)
        return site;
    *py_line = __pyelf_sites[site - 1][3];
    return site + __PYELF_SITES;
}

static PyCodeObject *__Pyx_CreateCodeObjectForTraceback(const char *funcname, int c_line, int py_line,
                                                        const char *filename) {
    PyCodeObject *code = PyCode_NewEmpty(filename, funcname, py_line);
    if (code == NULL || c_line < 1 || c_line > 2 * __PYELF_SITES)
        return code;
    const int *at = __pyelf_sites[(c_line - 1) % __PYELF_SITES];
    if (c_line > __PYELF_SITES)
        return __pyelf_code_at(code, py_line, at[4], at[5], at[6]);
    return __pyelf_code_at(code, py_line, at[0], at[1], at[2]);
}
