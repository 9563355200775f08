/* A compiled function called with the wrong arguments raises python's TypeError, word for word:
 * "two() missing 1 required positional argument: 'b'", "two() takes 2 positional arguments but
 * 3 were given" (Python/ceval.c's binding of arguments), named by the function's qualified name.
 * Cython said "two() takes exactly 2 positional arguments (1 given)".
 *
 * `cython::python_arguments` puts this text into each compiled module after `Python.h`. The error
 * label of the argument parsing of Cython's wrappers (`__pyx_pw_…`) calls
 * `__pyelf_python_arguments` with the arguments given; the CyFunction's own checks of a function
 * of no arguments or of one (METH_NOARGS, METH_O) call `__pyelf_argument_count`,
 * `__pyelf_missing_arguments` and `__pyelf_unexpected_keyword`. */

/* The call a wrapper makes, with its arguments as it has them (a vectorcall's, or a tuple). */
#define __PYELF_PYTHON_ARGUMENTS(func, args, nargs, kwds) \
    __pyelf_python_arguments((func), (PyObject *const *)(args), CYTHON_VECTORCALL ? (nargs) : -1, (kwds))

/* Set where a wrapper's error is python's argument error: the wrapper then adds no traceback
 * entry, as python's call never enters the function (a wrapper's other errors, such as a typed
 * argument's conversion in code written for Cython, keep theirs). The GIL is held from here to
 * there. */
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

/* The class whose private names python mangles in a function of this `__qualname__`, its leading
 * underscores stripped ("K" for "K.m" and "K.m.<locals>.f", "B" for "_B.m"), or NULL: the last
 * name before the function's own that is followed by no "<locals>". */
static PyObject *__pyelf_mangling_class(PyObject *qualname) {
    PyObject *dot = PyUnicode_FromString(".");
    PyObject *parts = dot != NULL ? PyUnicode_Split(qualname, dot, -1) : NULL;
    Py_XDECREF(dot);
    PyObject *class_name = NULL;
    for (Py_ssize_t i = parts != NULL ? PyList_GET_SIZE(parts) - 2 : -1; i >= 0 && class_name == NULL; i--) {
        PyObject *part = PyList_GET_ITEM(parts, i);
        if (PyUnicode_EqualToUTF8(part, "<locals>") || PyUnicode_EqualToUTF8(PyList_GET_ITEM(parts, i + 1), "<locals>"))
            continue;
        Py_ssize_t start = 0, n = PyUnicode_GET_LENGTH(part);
        while (start < n && PyUnicode_READ_CHAR(part, start) == '_')
            start++;
        class_name = start < n ? PyUnicode_Substring(part, start, n) : NULL;
        break;
    }
    Py_XDECREF(parts);
    return class_name;
}

/* A parameter's name as python's compiler names it: `__x` in a class `K` is `_K__x`. Cython
 * matches keywords with the mangled name, but its `__code__` holds the name as written. */
static PyObject *__pyelf_parameter_name(PyObject *name, PyObject *class_name) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (class_name == NULL || n < 3 || PyUnicode_READ_CHAR(name, 0) != '_' || PyUnicode_READ_CHAR(name, 1) != '_'
        || (PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_'))
        return Py_NewRef(name);
    return PyUnicode_FromFormat("_%U%U", class_name, name);
}

/* A function of no body with `code`'s parameters, named `f` (the caller names it): "def f(a, b,
 * /, c, *args, d, **kw): pass", compiled once for each code object. NULL, with no exception set,
 * when that cannot be done (not a code object, names that are no identifiers). */
static PyObject *__pyelf_stubs;

static PyObject *__pyelf_stub(PyObject *code_object, PyObject *qualname) {
    if (!PyCode_Check(code_object))
        return NULL;
    PyObject *stub = NULL;
    if (__pyelf_stubs == NULL && (__pyelf_stubs = PyDict_New()) == NULL)
        goto failed;
    if (PyDict_GetItemRef(__pyelf_stubs, code_object, &stub) != 0)
        goto done;
    PyCodeObject *code = (PyCodeObject *)code_object;
    Py_ssize_t positional = code->co_argcount, keyword_only = code->co_kwonlyargcount;
    int varargs = (code->co_flags & CO_VARARGS) != 0, varkeywords = (code->co_flags & CO_VARKEYWORDS) != 0;
    Py_ssize_t count = positional + keyword_only + varargs + varkeywords;
    PyObject *names = PyCode_GetVarnames(code);
    PyObject *parts = names != NULL ? PyList_New(0) : NULL;
    if (parts == NULL || PyTuple_GET_SIZE(names) < count) {
        Py_XDECREF(parts);
        Py_XDECREF(names);
        goto failed;
    }
    PyObject *class_name = __pyelf_mangling_class(qualname);
    PyErr_Clear();
    /* Written in order: positional ones, "/", "*" or "*args", keyword-only ones, "**kw". */
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < count; i++) {
        PyObject *name = __pyelf_parameter_name(PyTuple_GET_ITEM(names, i), class_name);
        PyObject *part = name == NULL                           ? NULL
                         : i < positional + keyword_only       ? Py_NewRef(name)
                         : varargs && i == positional + keyword_only ? PyUnicode_FromFormat("*%U", name)
                                                                     : PyUnicode_FromFormat("**%U", name);
        ok = part != NULL && PyList_Append(parts, part) == 0;
        Py_XDECREF(part);
        Py_XDECREF(name);
    }
    if (ok && varargs) {
        /* "*args" goes before the keyword-only ones. */
        PyObject *star = PyList_GET_ITEM(parts, positional + keyword_only);
        ok = PyList_Insert(parts, positional, star) == 0 && PySequence_DelItem(parts, positional + keyword_only + 1) == 0;
    } else if (ok && keyword_only > 0) {
        PyObject *star = PyUnicode_FromString("*");
        ok = star != NULL && PyList_Insert(parts, positional, star) == 0;
        Py_XDECREF(star);
    }
    if (ok && code->co_posonlyargcount > 0) {
        PyObject *slash = PyUnicode_FromString("/");
        ok = slash != NULL && PyList_Insert(parts, code->co_posonlyargcount, slash) == 0;
        Py_XDECREF(slash);
    }
    Py_XDECREF(class_name);
    PyObject *comma = ok ? PyUnicode_FromString(", ") : NULL;
    PyObject *joined = comma != NULL ? PyUnicode_Join(comma, parts) : NULL;
    PyObject *source = joined != NULL ? PyUnicode_FromFormat("def f(%U): pass\n", joined) : NULL;
    const char *text = source != NULL ? PyUnicode_AsUTF8(source) : NULL;
    PyObject *compiled = text != NULL ? Py_CompileString(text, "<pyelf>", Py_file_input) : NULL;
    PyObject *globals = compiled != NULL ? PyDict_New() : NULL;
    PyObject *defined = globals != NULL ? PyEval_EvalCode(compiled, globals, globals) : NULL;
    if (defined != NULL && PyDict_GetItemStringRef(globals, "f", &stub) > 0
        && PyDict_SetItem(__pyelf_stubs, code_object, stub) < 0)
        Py_CLEAR(stub);
    Py_XDECREF(defined);
    Py_XDECREF(globals);
    Py_XDECREF(compiled);
    Py_XDECREF(source);
    Py_XDECREF(joined);
    Py_XDECREF(comma);
    Py_DECREF(parts);
    Py_DECREF(names);
done:
    if (stub != NULL)
        return stub;
failed:
    PyErr_Clear();
    return NULL;
}

/* Called where the argument parsing of a compiled function's wrapper failed, with the arguments
 * it was given (`args`, `nargs` and the keywords' names `kwds` of a vectorcall; or `args` a tuple,
 * `nargs` -1 and `kwds` a dict or NULL). A TypeError there is python's own, word for word: the
 * same arguments are bound to a function of no body with the same parameters (`__code__`), the
 * same defaults and the same `__qualname__`, and its TypeError replaces Cython's ("two() missing 1
 * required positional argument: 'b'" for "two() takes exactly 2 positional arguments (1 given)",
 * and the messages of positional-only parameters, keyword-only ones and misspelt keywords
 * alike). Returns 1 when it did: the wrapper then adds no traceback entry, as python's call never
 * enters the function. Any other error, such as a typed argument's conversion in code written for
 * Cython, stays as it is (the function of no body takes the arguments). */
__attribute__((cold, noinline)) static int __pyelf_python_arguments(PyObject *func, PyObject *const *args, Py_ssize_t nargs, PyObject *kwds) {
    if (func == NULL || !PyErr_ExceptionMatches(PyExc_TypeError))
        return 0;
    PyObject *cython = PyErr_GetRaisedException();
    PyObject *code = PyObject_GetAttrString(func, "__code__");
    PyObject *qualname = code != NULL ? PyObject_GetAttrString(func, "__qualname__") : NULL;
    PyObject *stub = qualname != NULL && PyUnicode_Check(qualname) ? __pyelf_stub(code, qualname) : NULL;
    PyObject *defaults = stub != NULL ? PyObject_GetAttrString(func, "__defaults__") : NULL;
    PyObject *kwdefaults = defaults != NULL ? PyObject_GetAttrString(func, "__kwdefaults__") : NULL;
    int bound = 0;
    if (kwdefaults != NULL && (defaults == Py_None || PyTuple_Check(defaults))
        && (kwdefaults == Py_None || PyDict_Check(kwdefaults))) {
        /* Only how many defaults there are, and which keywords have one, matter to the binding. */
        PyObject *nones = defaults == Py_None ? Py_NewRef(Py_None) : PyTuple_New(PyTuple_GET_SIZE(defaults));
        for (Py_ssize_t i = 0; nones != NULL && nones != Py_None && i < PyTuple_GET_SIZE(nones); i++)
            PyTuple_SET_ITEM(nones, i, Py_None);
        PyObject *keys = kwdefaults == Py_None ? Py_NewRef(Py_None) : PyDict_Copy(kwdefaults);
        if (nones != NULL && keys != NULL && PyObject_SetAttrString(stub, "__qualname__", qualname) == 0
            && PyObject_SetAttrString(stub, "__defaults__", nones) == 0
            && PyObject_SetAttrString(stub, "__kwdefaults__", keys) == 0) {
            PyObject *result;
            if (nargs < 0) {
                result = PyObject_Call(stub, (PyObject *)args, kwds);
            } else if (kwds == NULL || PyTuple_Check(kwds)) {
                result = PyObject_Vectorcall(stub, args, (size_t)nargs, kwds);
            } else {
                /* A vectorcall's positional arguments with the keywords in a dict. */
                PyObject *positional = PyTuple_New(nargs);
                for (Py_ssize_t i = 0; positional != NULL && i < nargs; i++)
                    PyTuple_SET_ITEM(positional, i, Py_NewRef(args[i]));
                result = positional != NULL ? PyObject_Call(stub, positional, kwds) : NULL;
                Py_XDECREF(positional);
            }
            if (result != NULL)
                Py_DECREF(result);
            else
                bound = PyErr_ExceptionMatches(PyExc_TypeError);
        }
        Py_XDECREF(keys);
        Py_XDECREF(nones);
    }
    Py_XDECREF(kwdefaults);
    Py_XDECREF(defaults);
    Py_XDECREF(qualname);
    Py_XDECREF(stub);
    Py_XDECREF(code);
    if (!bound) {
        PyErr_Clear();
        PyErr_SetRaisedException(cython);
        return 0;
    }
    PyObject *ours = PyErr_GetRaisedException();
    PyException_SetTraceback(ours, Py_None);
    PyErr_SetRaisedException(ours);
    Py_DECREF(cython);
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
