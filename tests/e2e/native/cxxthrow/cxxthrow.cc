// A C++ extension module that throws and catches a C++ exception inside itself (the unwinder
// must find the unwind tables in a static binary), with a std::string and std::map from libc++.
#include <Python.h>
#include <map>
#include <stdexcept>
#include <string>

static std::map<std::string, int> calls;

static PyObject *check(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    calls["check"] += 1;
    try {
        if (n < 0) throw std::invalid_argument("negative: " + std::to_string(n));
        return PyUnicode_FromString(("ok " + std::to_string(n)).c_str());
    } catch (const std::exception &e) {
        return PyUnicode_FromString((std::string("caught ") + e.what() + " after " + std::to_string(calls["check"]) + " calls").c_str());
    }
}

static PyMethodDef methods[] = {{"check", check, METH_O, "ok N, or the C++ exception caught"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "cxxthrow", NULL, -1, methods};

PyMODINIT_FUNC PyInit_cxxthrow(void) { return PyModule_Create(&def); }
