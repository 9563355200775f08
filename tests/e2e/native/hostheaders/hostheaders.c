/* An extension module whose build puts the host's headers of a C library on its include path. */
#include <Python.h>

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "hostheaders", NULL, -1, NULL};

PyMODINIT_FUNC PyInit_hostheaders(void) { return PyModule_Create(&def); }
