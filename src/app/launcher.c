/* pyelf's launcher: starts an isolated interpreter whose stdlib is frozen into the binary, then
 * runs the app's Cython-compiled module as __main__. Generated values come from launcher.h. */
#include <Python.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include "launcher.h"

extern const struct _frozen pyelf_frozen_modules[];

/* Reports a failed initialisation with its real cause and exits. */
static void fail(PyStatus status, PyConfig *config)
{
    if (config)
        PyConfig_Clear(config);
    if (PyStatus_IsExit(status))
        exit(status.exitcode);
    fprintf(stderr, "%s: cannot start the embedded Python: %s%s%s\n", PYELF_APP_NAME,
            status.func ? status.func : "", status.func ? ": " : "",
            status.err_msg ? status.err_msg : "unknown error");
    exit(1);
}

int main(int argc, char **argv)
{
    PyStatus status;

    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status))
        fail(status, NULL);

    PyImport_FrozenModules = pyelf_frozen_modules;
    if (PyImport_AppendInittab(PYELF_MAIN_MODULE, PYELF_MAIN_INIT) < 0) {
        fprintf(stderr, "%s: cannot register the app module\n", PYELF_APP_NAME);
        return 1;
    }

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 1; /* Ctrl-C raises KeyboardInterrupt, as in python */
    config.site_import = 0;             /* no site-packages in a pyelf binary */
    config.use_frozen_modules = 1;
    config.write_bytecode = 0;
    config.parse_argv = 0;
    config.module_search_paths_set = 1; /* sys.path is empty: everything is in the binary */
    config.pathconfig_warnings = 0;
    if (argc > 0) {
        status = PyConfig_SetBytesString(&config, &config.program_name, argv[0]);
        if (PyStatus_Exception(status))
            fail(status, &config);
    }
    status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (PyStatus_Exception(status))
        fail(status, &config);
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        fail(status, &config);
    PyConfig_Clear(&config);

    /* Cython's module init sets __name__ to "__main__" when this flag is set. */
    PYELF_MAIN_FLAG = 1;
    PyObject *module = PyImport_ImportModule(PYELF_MAIN_MODULE);
    if (module == NULL) {
        int interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
        PyErr_Print(); /* exits with the right status on SystemExit */
        Py_FinalizeEx();
        if (interrupted) {
            /* Die of SIGINT, as python does, so that the shell sees the interrupt. */
            signal(SIGINT, SIG_DFL);
            kill(getpid(), SIGINT);
        }
        return 1;
    }
    Py_DECREF(module);
    if (Py_FinalizeEx() < 0)
        return 120;
    return 0;
}
