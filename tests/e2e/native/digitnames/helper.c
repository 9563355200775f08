/* An extension module whose name starts with a digit, as mypyc names its shared runtime. */
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "7a5e__helper", NULL, -1, methods};

PyMODINIT_FUNC PyInit_7a5e__helper(void)
{
    return PyModule_Create(&module);
}
