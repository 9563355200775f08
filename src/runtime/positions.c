/* The frames a compiled (Cython) function adds to a traceback, at CPython's position of the
 * operation that failed: lines, and columns in UTF-8 bytes, as the interpreter's own code objects
 * record them (`co_positions`). `traceback` draws its `~~~^^^` markers, and shows every line of an
 * expression that spans several, from these.
 *
 * `cython::python_positions` puts this text into each compiled module, in place of Cython's
 * `__Pyx_CreateCodeObjectForTraceback`, after the module's table `__pyelf_sites` (end line, first
 * column, end column, and for a method call its lookup's line, end line, column and end column, or
 * zeros; and `__pyelf_site_names`, the method's name or NULL; `src/build/cython_run.py` finds
 * them). Cython's `__pyx_clineno`, which it sets to 0
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
 * covers). Made as PyCode_NewEmpty makes its own, without `code.replace`, which raises an audit
 * event python's tracebacks do not. Takes `code`; on failure returns it as it was. */
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
    PyObject *bytes = linetable ? PyCode_GetCode(code) : NULL;
    PyObject *none = bytes ? PyTuple_New(0) : NULL;
    PyCodeObject *placed = none ? PyUnstable_Code_NewWithPosOnlyArgs(
                                      0, 0, 0, 0, code->co_stacksize, code->co_flags, bytes, none, none, none,
                                      none, none, code->co_filename, code->co_name, code->co_qualname, line,
                                      linetable, code->co_exceptiontable)
                                : NULL;
    Py_XDECREF(none);
    Py_XDECREF(bytes);
    Py_XDECREF(linetable);
    if (placed == NULL) {
        PyErr_Clear();
        return code;
    }
    Py_DECREF(code);
    return placed;
}

/* The sites: 1 to `__PYELF_SITES` as in the table, and the same plus `__PYELF_SITES` for a
 * method call's other position, its lookup's. */
#define __PYELF_SITES ((int)(sizeof(__pyelf_sites) / sizeof(__pyelf_sites[0])))

/* The site Cython's `__Pyx_AddTraceback` adds an entry for: `site`, or, at a method call whose
 * lookup failed, its lookup's, whose first line `*py_line` then is. The lookup failed when the
 * exception is an AttributeError for the method's name (CPython's method lookup sets `name`; an
 * AttributeError the called method raises is another name's, or its traceback's). The exception
 * stays as it was. */
static int __pyelf_site(int site, int *py_line) {
    if (site < 1 || site > __PYELF_SITES || __pyelf_site_names[site - 1] == NULL)
        return site;
    PyObject *exc = PyErr_GetRaisedException();
    int lookup = 0;
    if (exc != NULL && PyErr_GivenExceptionMatches(exc, PyExc_AttributeError)) {
        PyObject *name = ((PyAttributeErrorObject *)exc)->name;
        lookup = name != NULL && PyUnicode_Check(name) && PyUnicode_EqualToUTF8(name, __pyelf_site_names[site - 1]);
    }
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
