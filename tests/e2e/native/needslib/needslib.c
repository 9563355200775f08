/* An extension module that links a C library nobody built for musl (-lnosuchlib). */
#include <Python.h>

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "needslib", NULL, -1, NULL};

PyMODINIT_FUNC PyInit_needslib(void) { return PyModule_Create(&def); }
