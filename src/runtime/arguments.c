/* A compiled function called with the wrong arguments raises python's TypeError, word for word:
 * "two() missing 1 required positional argument: 'b'", "two() takes 2 positional arguments but
 * 3 were given" (Python/ceval.c's missing_arguments and too_many_positional), named by the
 * function's qualified name. Cython said "two() takes exactly 2 positional arguments (1 given)".
 *
 * `cython::python_arguments` puts this text into each compiled module after `Python.h`, and
 * makes the argument parsing of Cython's wrappers (`__pyx_pw_…`) call it, with the wrapper's
 * names of the arguments (`__pyx_pyargnames`) and what it has found (`values`). */

/* Set where a wrapper raises one of these errors: the wrapper then adds no traceback entry, as
 * python's call never enters the function (a wrapper's other errors, such as a typed argument's
 * conversion in code written for Cython, keep theirs). The GIL is held from here to there. */
static int __pyelf_argument_error;

/* The function's `__qualname__` (`K.m`, `f.<locals>.g`), or `name`. */
static PyObject *__pyelf_qualname(PyObject *func, const char *name) {
    if (func != NULL) {
        PyObject *qualname = PyObject_GetAttrString(func, "__qualname__");
        if (qualname != NULL && PyUnicode_Check(qualname))
            return qualname;
        Py_XDECREF(qualname);
        PyErr_Clear();
    }
    return PyUnicode_FromString(name);
}

/* "f() missing 2 required positional arguments: 'a' and 'b'": the arguments `start` to `end` of
 * `names` that have no value (all of them when `values` is NULL); `kind` is "positional" or
 * "keyword-only". */
static void __pyelf_missing_arguments(PyObject *func, const char *name, const char *kind, PyObject **const *names,
                                      PyObject **values, Py_ssize_t start, Py_ssize_t end) {
    PyObject *missing = PyList_New(0);
    if (missing == NULL)
        return;
    for (Py_ssize_t i = start; i < end; i++) {
        if (values != NULL && values[i] != NULL)
            continue;
        PyObject *repr = PyObject_Repr(*names[i]);
        if (repr == NULL || PyList_Append(missing, repr) < 0) {
            Py_XDECREF(repr);
            Py_DECREF(missing);
            return;
        }
        Py_DECREF(repr);
    }
    Py_ssize_t n = PyList_GET_SIZE(missing);
    PyObject *listed = NULL;
    if (n == 1) {
        listed = Py_NewRef(PyList_GET_ITEM(missing, 0));
    } else if (n == 2) {
        listed = PyUnicode_FromFormat("%U and %U", PyList_GET_ITEM(missing, 0), PyList_GET_ITEM(missing, 1));
    } else if (n > 2) {
        PyObject *tail = PyUnicode_FromFormat(", %U, and %U", PyList_GET_ITEM(missing, n - 2),
                                              PyList_GET_ITEM(missing, n - 1));
        PyObject *head = tail != NULL ? PyList_GetSlice(missing, 0, n - 2) : NULL;
        PyObject *comma = head != NULL ? PyUnicode_FromString(", ") : NULL;
        PyObject *joined = comma != NULL ? PyUnicode_Join(comma, head) : NULL;
        listed = joined != NULL ? PyUnicode_Concat(joined, tail) : NULL;
        Py_XDECREF(joined);
        Py_XDECREF(comma);
        Py_XDECREF(head);
        Py_XDECREF(tail);
    }
    Py_DECREF(missing);
    if (listed == NULL) {
        if (n == 0 && !PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s() is missing arguments", name);
        return;
    }
    PyObject *qualname = __pyelf_qualname(func, name);
    if (qualname != NULL)
        PyErr_Format(PyExc_TypeError, "%U() missing %zd required %s argument%s: %U", qualname, n, kind,
                     n == 1 ? "" : "s", listed);
    Py_XDECREF(qualname);
    Py_DECREF(listed);
}

/* Too many positional arguments ("f() takes from 1 to 2 positional arguments but 3 were given"),
 * or too few when no keyword was given (the arguments `nargs` to `min` of `names`). */
static void __pyelf_argument_count(PyObject *func, const char *name, Py_ssize_t min, Py_ssize_t max,
                                   Py_ssize_t nargs, PyObject **const *names) {
    if (nargs <= max) {
        __pyelf_missing_arguments(func, name, "positional", names, NULL, nargs, min);
        return;
    }
    PyObject *qualname = __pyelf_qualname(func, name);
    if (qualname == NULL)
        return;
    if (min != max)
        PyErr_Format(PyExc_TypeError, "%U() takes from %zd to %zd positional arguments but %zd %s given", qualname,
                     min, max, nargs, nargs == 1 ? "was" : "were");
    else
        PyErr_Format(PyExc_TypeError, "%U() takes %zd positional argument%s but %zd %s given", qualname, max,
                     max == 1 ? "" : "s", nargs, nargs == 1 ? "was" : "were");
    Py_DECREF(qualname);
}

/* The TypeError Cython's parsing of keywords raised ("m() got an unexpected keyword argument
 * 'z'", "m() got multiple values for argument 'n'"), named by the qualified name (`K.m()`), as
 * python names it. Returns 1 (the error goes on). */
static int __pyelf_requalify(PyObject *func, const char *name) {
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *args = exc != NULL && PyErr_GivenExceptionMatches(exc, PyExc_TypeError) ? PyException_GetArgs(exc) : NULL;
    PyObject *message = args != NULL && PyTuple_GET_SIZE(args) == 1 ? PyTuple_GET_ITEM(args, 0) : NULL;
    PyObject *prefix = message != NULL && PyUnicode_Check(message) ? PyUnicode_FromFormat("%s() ", name) : NULL;
    if (prefix != NULL && PyUnicode_Tailmatch(message, prefix, 0, PY_SSIZE_T_MAX, -1) == 1) {
        PyObject *qualname = __pyelf_qualname(func, name);
        /* What follows the name, in characters ("() got …"). */
        PyObject *rest = qualname != NULL ? PyUnicode_Substring(message, PyUnicode_GET_LENGTH(prefix) - 3, PY_SSIZE_T_MAX) : NULL;
        PyObject *renamed = rest != NULL ? PyUnicode_Concat(qualname, rest) : NULL;
        /* Cython's words for a keyword given twice; python's call says "argument". */
        PyObject *worded = renamed != NULL ? PyObject_CallMethod(renamed, "replace", "ssi", "multiple values for keyword argument",
                                                                 "multiple values for argument", 1)
                                           : NULL;
        PyObject *new_args = worded != NULL ? PyTuple_Pack(1, worded) : NULL;
        if (new_args != NULL)
            PyException_SetArgs(exc, new_args);
        Py_XDECREF(new_args);
        Py_XDECREF(worded);
        Py_XDECREF(renamed);
        Py_XDECREF(rest);
        Py_XDECREF(qualname);
    }
    Py_XDECREF(prefix);
    Py_XDECREF(args);
    PyErr_Clear();
    PyErr_SetRaisedException(exc);
    __pyelf_argument_error = 1;
    return 1;
}

/* A function of no arguments given a keyword: "f() got an unexpected keyword argument 'x'", as
 * python says (Cython: "f() takes no keyword arguments"). */
static void __pyelf_unexpected_keyword(PyObject *func, PyObject *keyword) {
    PyObject *qualname = __pyelf_qualname(func, "function");
    if (qualname != NULL)
        PyErr_Format(PyExc_TypeError, "%U() got an unexpected keyword argument '%S'", qualname, keyword);
    Py_XDECREF(qualname);
}
