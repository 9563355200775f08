// A C++ extension module built as a musl shared object: exceptions thrown and caught inside it,
// thread_local state, a static object with a destructor.
#include <Python.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static thread_local int counter = 41;

static std::string catch_inside(int n) {
    try {
        if (n > 0)
            throw std::runtime_error("thrown " + std::to_string(n));
        return "not thrown";
    } catch (const std::exception &e) {
        return std::string("caught: ") + e.what();
    }
}

static PyObject *probe(PyObject *, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    std::string r = catch_inside((int)n);
    // Each thread's own counter, starting from its initial value.
    std::vector<int> seen(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++)
        threads.emplace_back([&seen, i] { counter += i; seen[i] = counter; });
    for (auto &t : threads)
        t.join();
    counter += 1;
    return Py_BuildValue("(s,i,i,i,i,i)", r.c_str(), counter, seen[0], seen[1], seen[2], seen[3]);
}

static PyMethodDef methods[] = {{"probe", probe, METH_O, nullptr}, {nullptr, nullptr, 0, nullptr}};
static PyModuleDef module = {PyModuleDef_HEAD_INIT, "_probe", nullptr, -1, methods};
PyMODINIT_FUNC PyInit__probe(void) { return PyModule_Create(&module); }
