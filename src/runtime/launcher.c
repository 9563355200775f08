/* pyelf's launcher: starts an isolated interpreter whose stdlib is frozen into the binary, then
 * runs the app's Cython-compiled module as __main__. Generated values come from launcher.h. */
#include <Python.h>
#include <marshal.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "launcher.h"

extern const struct _frozen pyelf_frozen_modules[];

/* The modules frozen compressed (all but those imported while the interpreter starts): zlib
 * streams in pyelf_packed_blob, found by name (the table is sorted) and decompressed and
 * unmarshalled by _pyelf.get_code when the importer loads one. */
struct pyelf_packed {
    const char *name;
    unsigned int offset, csize, usize;
};
extern const struct pyelf_packed pyelf_packed_modules[];
extern const unsigned int pyelf_packed_count;
extern const unsigned char pyelf_packed_blob[], pyelf_packed_blob_end[];
extern const unsigned char pyelf_frozen_blob[], pyelf_frozen_blob_end[];
void pyelf_vfs_release(const void *lo, const void *hi, const void *p, size_t n);

static int packed_compare(const void *key, const void *entry)
{
    return strcmp((const char *)key, ((const struct pyelf_packed *)entry)->name);
}

static PyObject *pyelf_get_code(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL)
        return NULL;
    const struct pyelf_packed *e = bsearch(name, pyelf_packed_modules, pyelf_packed_count,
                                           sizeof pyelf_packed_modules[0], packed_compare);
    if (e == NULL) {
        PyErr_Format(PyExc_ImportError, "no compressed module %R in this binary", arg);
        return NULL;
    }
    unsigned char *code = PyMem_RawMalloc(e->usize ? e->usize : 1);
    if (code == NULL)
        return PyErr_NoMemory();
    uLongf size = e->usize;
    int rc = uncompress(code, &size, pyelf_packed_blob + e->offset, e->csize);
    pyelf_vfs_release(pyelf_packed_blob, pyelf_packed_blob_end, pyelf_packed_blob + e->offset, e->csize);
    if (rc != Z_OK || size != e->usize) {
        PyMem_RawFree(code);
        PyErr_Format(PyExc_ImportError, "the compressed module %R is damaged (zlib: %d)", arg, rc);
        return NULL;
    }
    PyObject *result = PyMarshal_ReadObjectFromString((const char *)code, (Py_ssize_t)size);
    PyMem_RawFree(code);
    return result;
}

/* Adds `n` frames to what the calling thread may still enter before the recursion limit: python
 * runs a script's code in the first frame, and the importer's `run_main` and `_execute` are two
 * frames above it (a compiled main module's code is no frame of its own). */
static PyObject *pyelf_recursion_credit(PyObject *self, PyObject *arg)
{
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    PyThreadState_Get()->py_recursion_remaining += (int)n;
    Py_RETURN_NONE;
}

static PyMethodDef pyelf_methods[] = {
    {"get_code", pyelf_get_code, METH_O, "The code object of a compressed frozen module."},
    {"recursion_credit", pyelf_recursion_credit, METH_O, "Frames the recursion limit does not count."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot pyelf_slots[] = {
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef pyelf_module = {
    PyModuleDef_HEAD_INIT, "_pyelf", "pyelf's launcher: compressed frozen modules, the recursion limit's count.", 0, pyelf_methods,
    pyelf_slots, NULL, NULL, NULL,
};

PyObject *PyInit__pyelf(void)
{
    return PyModuleDef_Init(&pyelf_module);
}
#ifdef PYELF_BUNDLE
extern const char pyelf_bundle[];
extern const char pyelf_bundle_end[];
void pyelf_vfs_init(const unsigned char *zip, size_t size);
#endif
#ifdef PYELF_LOADER
void pyelf_loader_start(void);
#endif

#ifdef PYELF_WITH_SSL
/* Where distributions keep their CA bundle, most common first. OpenSSL's compiled-in default
 * (/etc/ssl/cert.pem, /etc/ssl/certs) exists on few of them. */
static const char *const ca_files[] = {
    "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Alpine, Arch, Gentoo */
    "/etc/ssl/cert.pem",                                 /* Alpine */
    "/etc/pki/tls/certs/ca-bundle.crt",                  /* RHEL, Fedora, CentOS */
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL 7 and later */
    "/etc/ssl/ca-bundle.pem",                            /* openSUSE, SLES */
    NULL,
};

static int dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL)
        found = e->d_name[0] != '.';
    closedir(d);
    return found;
}

/* The variable set for OpenSSL below, if any. */
static const char *ca_variable;

/* Points OpenSSL at the host's trust store (through SSL_CERT_FILE / SSL_CERT_DIR, which it reads
 * itself) unless those variables already say where it is. Returns 1 if the host has one. */
static int find_host_ca_store(void)
{
    if (getenv("SSL_CERT_FILE") || getenv("SSL_CERT_DIR"))
        return 1;
    for (int i = 0; ca_files[i]; i++) {
        if (access(ca_files[i], R_OK) == 0) {
            setenv("SSL_CERT_FILE", ca_files[i], 1);
            ca_variable = "SSL_CERT_FILE";
            return 1;
        }
    }
    if (dir_has_entries("/etc/ssl/certs")) {
        setenv("SSL_CERT_DIR", "/etc/ssl/certs", 1);
        ca_variable = "SSL_CERT_DIR";
        return 1;
    }
    return 0;
}

/* The variable is OpenSSL's business: os.environ does not show it, as python's would not (it
 * stays in the C environment, which OpenSSL reads and child processes inherit). */
static int hide_ca_variable(void)
{
    if (ca_variable == NULL)
        return 0;
    PyObject *os = PyImport_ImportModule("os");
    if (os == NULL)
        return -1;
    PyObject *environ = PyObject_GetAttrString(os, "environ");
    PyObject *data = environ ? PyObject_GetAttrString(environ, "_data") : NULL;
    PyObject *key = PyBytes_FromString(ca_variable);
    int rc = data && key && PyDict_Check(data) && PyDict_DelItem(data, key) < 0 ? -1 : 0;
    PyErr_Clear();
    Py_XDECREF(key);
    Py_XDECREF(data);
    Py_XDECREF(environ);
    Py_DECREF(os);
    return rc;
}
#endif

#ifdef PYELF_CA_EMBEDDED
extern const char pyelf_ca_bundle[];
extern const char pyelf_ca_bundle_end[];

/* Makes ssl's default contexts trust the CA bundle embedded at build time. */
static int use_embedded_ca_bundle(void)
{
    /* ssl is a compressed module: the importer (whose import puts its finder first) loads it. */
    PyObject *importer = PyImport_ImportModule("_pyelf_importer");
    if (importer == NULL)
        return -1;
    Py_DECREF(importer);
    PyObject *bundle = PyUnicode_DecodeUTF8(pyelf_ca_bundle, pyelf_ca_bundle_end - pyelf_ca_bundle, "strict");
    if (bundle == NULL || PySys_SetObject("_pyelf_ca_bundle", bundle) < 0)
        return -1;
    Py_DECREF(bundle);
    return PyRun_SimpleString(
        "import ssl, sys\n"
        "def _pyelf_load_default_certs(self, purpose=ssl.Purpose.SERVER_AUTH):\n"
        "    self.load_verify_locations(cadata=sys._pyelf_ca_bundle)\n"
        "ssl.SSLContext.load_default_certs = _pyelf_load_default_certs\n"
        "del _pyelf_load_default_certs\n");
}
#endif

/* Whether a traceback entry is import machinery: importlib's or pyelf's importer. */
static int is_import_machinery(PyTracebackObject *tb)
{
    PyCodeObject *code = PyFrame_GetCode(tb->tb_frame);
    const char *file = PyUnicode_AsUTF8(code->co_filename);
    int machinery = file != NULL && strncmp(file, "<frozen importlib.", 18) == 0; /* pyelf's importer too */
    Py_DECREF(code);
    return machinery;
}

/* Drops the import machinery that ran the main module from the front of the pending exception's
 * traceback, so that it starts at the app's code, as `python app.py` shows it. An exception with
 * nothing but machinery (an import error of pyelf's own) keeps its whole traceback. */
static void trim_import_frames(void)
{
    PyObject *exc = PyErr_GetRaisedException();
    if (exc == NULL)
        return;
    PyObject *tb = PyException_GetTraceback(exc);
    PyTracebackObject *first = (PyTracebackObject *)tb;
    while (first != NULL && is_import_machinery(first))
        first = first->tb_next;
    if (first != NULL && (PyObject *)first != tb)
        PyException_SetTraceback(exc, (PyObject *)first);
    Py_XDECREF(tb);
    PyErr_SetRaisedException(exc);
}

/* pymalloc's arenas (1 MiB each), mapped as CPython maps them (_PyObject_ArenaMmap) and marked
 * MADV_NOHUGEPAGE, as the rest of the heap is: arenas mapped one after another make one mapping,
 * of which the kernel would back each 2 MiB the program touches with a huge page where
 * transparent huge pages are on for every mapping (`always`, RHEL's default). For the app with
 * `malloc = "dlmalloc"`, and for the binary run as python3 (pymalloc unless PYTHONMALLOC says
 * otherwise, whatever the setting). */
static void *arena_map(void *ctx, size_t size)
{
    (void)ctx;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, size, MADV_NOHUGEPAGE);
    return p;
}

static void arena_unmap(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)munmap(p, size);
}

/* Set once Python's allocators are (the arenas already mapped are unmapped as these are). */
static void arenas_without_huge_pages(void)
{
    PyObjectArenaAllocator arenas = {NULL, arena_map, arena_unmap};
    PyObject_SetArenaAllocator(&arenas);
}

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

/* A command line with which a package starts `sys.executable` as a Python worker
 * (toolchains/workers.toml, as PYELF_WORKER_CODE and PYELF_WORKER_MODULES in launcher.h):
 * interpreter options, then `-c CODE` where CODE contains one of PYELF_WORKER_CODE (after at
 * least one option), or `-m MODULE` for one of PYELF_WORKER_MODULES. */
struct worker {
    int index;     /* of CODE or MODULE in argv; 0 for an ordinary command line of the app */
    int is_module; /* `-m MODULE`, not `-c CODE` */
};

/* The index in argv of what follows python's options (`-B -s -I -X opt -W opt …`): `-c`, `-m`, a
 * script or `-`; 0 for an option these do not know. */
static int after_python_options(int argc, char **argv)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0' && strcmp(argv[i], "-c") != 0 &&
           strcmp(argv[i], "-m") != 0) {
        const char *a = argv[i];
        if (strcmp(a, "-X") == 0 || strcmp(a, "-W") == 0)
            i += 2; /* an option with its value */
        else if (a[1] == 'X' || a[1] == 'W')
            i += 1; /* -Xdev, -Wdefault */
        else if (strspn(a + 1, "bBdEiIOqsSuvRP") == strlen(a + 1))
            i += 1; /* flags without a value: -B -s -I -OO … */
        else
            return 0;
    }
    return i;
}

static struct worker worker_command_line(int argc, char **argv)
{
    static const char *const codes[] = {PYELF_WORKER_CODE};
    static const char *const modules[] = {PYELF_WORKER_MODULES};
    struct worker none = {0, 0};
    int i = after_python_options(argc, argv);
    if (i == 0 || i + 1 >= argc)
        return none;
    if (strcmp(argv[i], "-c") == 0 && i > 1) {
        for (size_t k = 0; k < sizeof codes / sizeof *codes; k++)
            if (strstr(argv[i + 1], codes[k]) != NULL)
                return (struct worker){i + 1, 0};
    } else if (strcmp(argv[i], "-m") == 0) {
        for (size_t k = 0; k < sizeof modules / sizeof *modules; k++)
            if (strcmp(argv[i + 1], modules[k]) == 0)
                return (struct worker){i + 1, 1};
    }
    return none;
}

/* `sys.executable` names the binary with two slashes first (`//usr/bin/app`): the same file to
 * the kernel, and a path that os.path.abspath, normpath and pathlib keep as it is (POSIX lets two
 * leading slashes mean something of their own), but a command line started through it
 * (`[sys.executable, "hook.py"]`, `[sys.executable, "-c", …]`, a `#!` line written with it) is
 * told apart from the app's own, and runs as python would run it (run_python). */
static int marked_as_python(const char *path)
{
    return path != NULL && path[0] == '/' && path[1] == '/' && path[2] != '/' && path[2] != '\0';
}

/* `path` made absolute against the working directory (leading `./` dropped); NULL if it cannot
 * be. */
static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return NULL;
    while (strncmp(path, "./", 2) == 0)
        path += 2;
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *result = malloc(n);
    if (result != NULL)
        snprintf(result, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
    return result;
}

/* execve's pathname, which the kernel keeps in the auxiliary vector (no /proc needed); NULL for
 * an fexecve (/dev/fd/N) or if unknown. */
static const char *exec_path(void)
{
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    if (execfn == NULL || execfn[0] == '\0' || strncmp(execfn, "/dev/fd/", 8) == 0)
        return NULL;
    return execfn;
}

/* The path this program was started by, absolute, for `sys.executable`; NULL if unknown. The
 * app's starts with two slashes (`//usr/bin/app`). Run as python, it is the
 * interpreter's path as given: argv[0] when a `#!` line names it (execve's pathname is then the
 * script's), else execve's. */
static char *executable_path(int as_python, int argc, char **argv)
{
    if (as_python && argc > 0 && argv[0] != NULL && argv[0][0] == '/')
        return strdup(argv[0]);
    const char *execfn = exec_path();
    char *path = execfn ? absolute(execfn) : NULL;
    if (path == NULL || as_python || marked_as_python(path))
        return path;
    const char *rest = path;
    while (rest[0] == '/' && rest[1] == '/')
        rest++; /* `///x` is `/x` to python's path functions: one slash, then the mark */
    size_t n = strlen(rest) + 2;
    char *marked = malloc(n);
    if (marked != NULL)
        snprintf(marked, n, "/%s", rest);
    free(path);
    return marked;
}

/* The parts of start-up both modes share, before the interpreter starts: the frozen modules, the
 * tree of files, the CA store. Returns whether the host has a CA store. */
static int prepare(void)
{
    int host_ca = 1;
#ifdef PYELF_WITH_SSL
    host_ca = find_host_ca_store();
#endif
    PyImport_FrozenModules = pyelf_frozen_modules;
#ifdef PYELF_BUNDLE
    /* The app's files and the stdlib's sources, readable under PYELF_VFS_ROOT (vfs.c). */
    pyelf_vfs_init((const unsigned char *)pyelf_bundle, pyelf_bundle_end - pyelf_bundle);
#endif
#ifdef PYELF_LOADER
    /* The binary's own file, opened before the app can chdir: the loader maps the wheels' shared
     * objects from it (loader.c). */
    pyelf_loader_start();
#endif
    return host_ca;
}

/* After the interpreter started: the embedded CA bundle, when it is to be used. */
static int use_ca_bundle(int host_ca)
{
#ifdef PYELF_WITH_SSL
    hide_ca_variable();
#endif
#ifdef PYELF_CA_EMBEDDED
    if ((PYELF_CA_ALWAYS || !host_ca) && use_embedded_ca_bundle() < 0) {
        fprintf(stderr, "%s: cannot use the embedded CA bundle\n", PYELF_APP_NAME);
        PyErr_Print();
        return -1;
    }
#else
    (void)host_ca;
#endif
    return 0;
}

/* Where the interpreter is, in both modes: sys.prefix is the tree (the stdlib's sources are in
 * it, as under python's prefix; no prefix is searched for on the host), and sys.executable the
 * file executed. */
static PyStatus set_locations(PyConfig *config, int as_python, int argc, char **argv)
{
    PyStatus status = PyConfig_SetBytesString(config, &config->home, PYELF_VFS_ROOT);
    if (!PyStatus_Exception(status))
        status = PyConfig_SetBytesString(config, &config->stdlib_dir, PYELF_STDLIB_DIR);
    char *exe = executable_path(as_python, argc, argv);
    if (!PyStatus_Exception(status) && exe != NULL)
        status = PyConfig_SetBytesString(config, &config->executable, exe);
    free(exe);
    return status;
}

/* The variables of python's environment that change how a program runs and not where its modules
 * come from, read as python reads them (Python/initconfig.c): Docker images and CI systems set
 * PYTHONUNBUFFERED so that output is not held in a buffer, PYTHONIOENCODING, PYTHONWARNINGS,
 * PYTHONHASHSEED, PYTHONFAULTHANDLER, PYTHONINTMAXSTRDIGITS. The others stay ignored: PYTHONPATH,
 * PYTHONHOME and PYTHONSTARTUP would have the binary run other code than it carries;
 * PYTHONMALLOC, PYTHONUTF8 and PYTHONOPTIMIZE are the build's choices. */
static PyStatus honor_environment(PyConfig *config)
{
    const char *value;
    PyStatus status = PyStatus_Ok();
    if ((value = getenv("PYTHONUNBUFFERED")) != NULL && *value)
        config->buffered_stdio = 0;
    if ((value = getenv("PYTHONFAULTHANDLER")) != NULL && *value)
        config->faulthandler = 1;
    if ((value = getenv("PYTHONHASHSEED")) != NULL && *value && strcmp(value, "random") != 0) {
        char *end;
        unsigned long seed = strtoul(value, &end, 10);
        if (*end != '\0' || seed > 4294967295UL || value[0] == '-')
            return PyStatus_Error("PYTHONHASHSEED must be \"random\" or an integer in range [0; 4294967295]");
        config->use_hash_seed = 1;
        config->hash_seed = seed;
    }
    if ((value = getenv("PYTHONINTMAXSTRDIGITS")) != NULL && *value) {
        char *end;
        long digits = strtol(value, &end, 10);
        if (*end != '\0' || digits < 0 || (digits > 0 && digits < 640))
            return PyStatus_Error("PYTHONINTMAXSTRDIGITS: invalid limit; must be >= 640 or 0 for unlimited.");
        config->int_max_str_digits = (int)digits;
    }
    if ((value = getenv("PYTHONIOENCODING")) != NULL && *value) {
        /* ENCODING[:ERRORS], either part may be empty */
        char *copy = strdup(value);
        if (copy == NULL)
            return PyStatus_NoMemory();
        char *errors = strchr(copy, ':');
        if (errors != NULL)
            *errors++ = '\0';
        if (*copy)
            status = PyConfig_SetBytesString(config, &config->stdio_encoding, copy);
        if (!PyStatus_Exception(status) && errors != NULL && *errors)
            status = PyConfig_SetBytesString(config, &config->stdio_errors, errors);
        free(copy);
        if (PyStatus_Exception(status))
            return status;
    }
    if ((value = getenv("PYTHONWARNINGS")) != NULL && *value) {
        /* Comma-separated options, each as -W gives one (empty ones skipped) */
        char *copy = strdup(value);
        if (copy == NULL)
            return PyStatus_NoMemory();
        for (char *option = strtok(copy, ","); option != NULL && !PyStatus_Exception(status); option = strtok(NULL, ",")) {
            wchar_t *wide = Py_DecodeLocale(option, NULL);
            status = wide != NULL ? PyWideStringList_Append(&config->warnoptions, wide) : PyStatus_NoMemory();
            PyMem_RawFree(wide);
        }
        free(copy);
    }
    return status;
}

/* sys.orig_argv as python gives it, the interpreter's command line. Started as a worker or through
 * sys.executable, that is the command line itself. Started as the app, python's would be `python
 * SCRIPT ARGS…` (for a command pip installs, its `#!` interpreter, then its path): sys.executable,
 * then sys.argv. Code that restarts the app with `[sys.executable, *sys.orig_argv[1:]]`
 * (werkzeug's reloader) finds the binary where python has the script. */
static PyStatus set_orig_argv(PyConfig *config, int as_app, int argc, char **argv)
{
    PyStatus status = PyStatus_Ok();
    if (as_app && config->executable != NULL) {
        status = PyWideStringList_Append(&config->orig_argv, config->executable);
        for (Py_ssize_t i = 0; !PyStatus_Exception(status) && i < config->argv.length; i++)
            status = PyWideStringList_Append(&config->orig_argv, config->argv.items[i]);
        return status;
    }
    for (int i = 0; !PyStatus_Exception(status) && i < argc; i++) {
        wchar_t *arg = Py_DecodeLocale(argv[i], NULL);
        if (arg == NULL)
            return PyStatus_NoMemory();
        status = PyWideStringList_Append(&config->orig_argv, arg);
        PyMem_RawFree(arg);
    }
    return status;
}

/* sys.stderr and sys.stdout flushed, the exception being raised kept, as python flushes them
 * once a script has run (Python/pythonrun.c's flush_io): what the script printed comes before the
 * traceback or the message of sys.exit(), and before what atexit handlers print, even where
 * stdout is a file or a pipe, and so buffered. */
static void flush_io(void)
{
    PyObject *raised = PyErr_GetRaisedException();
    const char *const names[] = {"stderr", "stdout"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *stream = PySys_GetObject(names[i]);
        PyObject *flushed = stream != NULL && stream != Py_None ? PyObject_CallMethod(stream, "flush", NULL) : NULL;
        if (flushed == NULL)
            PyErr_Clear();
        Py_XDECREF(flushed);
    }
    PyErr_SetRaisedException(raised);
}

/* Calls `_pyelf_importer.NAME(arg)`; returns its result (a new reference) or NULL. */
static PyObject *call_importer(const char *name, const char *arg)
{
    PyObject *importer = PyImport_ImportModule("_pyelf_importer");
    if (importer == NULL)
        return NULL;
    PyObject *result = PyObject_CallMethod(importer, name, "s", arg);
    Py_DECREF(importer);
    return result;
}

#ifdef PYELF_PYTHON_CLI
static int python_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strcmp(base, "python") == 0 || strcmp(base, "python3") == 0 || strcmp(base, "python3.13") == 0;
}

/* Whether the binary was started under the name of the interpreter: the file executed (a link
 * named python3 to it; `subprocess.Popen(["name", …], executable=sys.executable)` gives another
 * argv[0]) or argv[0]. */
static int invoked_as_python(int argc, char **argv)
{
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    if (execfn != NULL && python_name(execfn))
        return 1;
    return argc > 0 && argv[0] != NULL && python_name(argv[0]);
}
#endif

/* Whether this command line was started through `sys.executable`: execve's pathname, or argv[0]
 * (a `#!` line), starts with its two slashes. */
static int started_as_python(int argc, char **argv)
{
    return marked_as_python(exec_path()) || (argc > 0 && marked_as_python(argv[0]));
}

/* The index in argv of the script that python is asked to run, when that script is this binary
 * itself (`[sys.executable, sys.argv[0], …]`, as reloaders restart the app): `python app.py …`
 * runs the app, so the binary does; 0 otherwise. */
static int script_is_this_binary(int argc, char **argv)
{
    int i = after_python_options(argc, argv);
    if (i == 0 || i >= argc || argv[i][0] == '-')
        return 0;
    char *self = executable_path(1, argc, argv);
    struct stat a, b;
    int same = self != NULL && stat(self, &a) == 0 && stat(argv[i], &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
    free(self);
    return same ? i : 0;
}

/* Runs as python3 runs: its command line, its environment variables, site, the REPL; the stdlib
 * and the packages are the binary's (sys.prefix is the tree, the packages come last on sys.path,
 * where site-packages are). */
static int run_python(int argc, char **argv)
{
    PyStatus status;
    PyPreConfig preconfig;
    PyPreConfig_InitPythonConfig(&preconfig);
    status = Py_PreInitializeFromBytesArgs(&preconfig, argc, argv);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);
    arenas_without_huge_pages();
    int host_ca = prepare();

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.use_frozen_modules = 1;
    config.pathconfig_warnings = 0;
    status = set_locations(&config, 1, argc, argv);
    if (!PyStatus_Exception(status))
        status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);
    if (use_ca_bundle(host_ca) < 0)
        return 1;
    PyObject *result = call_importer("setup_python", "");
    if (result == NULL) {
        fprintf(stderr, "%s: cannot set up the embedded modules\n", PYELF_APP_NAME);
        PyErr_Print();
        return 1;
    }
    Py_DECREF(result);
    return Py_RunMain();
}

int main(int argc, char **argv)
{
    PyStatus status;

#ifdef PYELF_PYTHON_CLI
    if (invoked_as_python(argc, argv))
        return run_python(argc, argv);
#endif
    /* Started as a worker (`sys.executable … -c CODE` by multiprocessing, `-m MODULE` by loky):
     * run CODE or MODULE, not the app. */
    struct worker worker = worker_command_line(argc, argv);
    /* Started through sys.executable: python's command line, unless the script it names is this
     * binary, whose app then runs with the arguments after it. */
    int first = 0;
    if (!worker.index && started_as_python(argc, argv) && (first = script_is_this_binary(argc, argv)) == 0)
        return run_python(argc, argv);

    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    /* Python's objects, as the `malloc` setting says (malloc.c serves the C heap):
     * - `dlmalloc`: pymalloc, as python3 has them, in arenas without transparent huge pages;
     * - `mimalloc` and `musl`: mimalloc (bundled with CPython 3.13), which the C heap shares with
     *   `mimalloc`;
     * - `split`: malloc.c's split heap (mimalloc up to 1 KiB, dlmalloc beyond). */
#if defined(PYELF_MALLOC_DLMALLOC)
    preconfig.allocator = PYMEM_ALLOCATOR_PYMALLOC;
#elif defined(PYELF_MALLOC_SPLIT)
    preconfig.allocator = PYMEM_ALLOCATOR_MALLOC;
#else
    preconfig.allocator = PYMEM_ALLOCATOR_MIMALLOC;
#endif
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status))
        fail(status, NULL);
#if defined(PYELF_MALLOC_DLMALLOC)
    arenas_without_huge_pages();
#endif

    int host_ca = prepare();

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 1; /* Ctrl-C raises KeyboardInterrupt, as in python */
    config.site_import = 0;             /* no site-packages in a pyelf binary */
    config.use_frozen_modules = 1;
    config.write_bytecode = 0;
    config.parse_argv = 0;
    config.module_search_paths_set = 1; /* sys.path is empty: everything is in the binary */
    config.pathconfig_warnings = 0;
    status = set_locations(&config, 0, argc, argv);
    if (PyStatus_Exception(status))
        fail(status, &config);
    if (argc > 0) {
        status = PyConfig_SetBytesString(&config, &config.program_name, argv[0]);
        if (PyStatus_Exception(status))
            fail(status, &config);
    }
    /* A worker's sys.argv as python gives it: ["-c" or "-m", the arguments after CODE or
     * MODULE] (runpy puts the module's file in place of "-m"). The app's: the script run through
     * sys.executable and what follows it, or else its command line with execve's pathname first,
     * as python gives a command installed by pip its script's path (a command found on PATH
     * gets its full path). */
    if (worker.index)
        status = PyConfig_SetBytesArgv(&config, argc - worker.index, argv + worker.index);
    else
        status = PyConfig_SetBytesArgv(&config, argc - first, argv + first);
    if (PyStatus_Exception(status))
        fail(status, &config);
    if (worker.index) {
        status = PyConfig_SetString(&config, &config.argv.items[0], worker.is_module ? L"-m" : L"-c");
        if (PyStatus_Exception(status))
            fail(status, &config);
    } else if (!first && config.argv.length > 0 && exec_path() != NULL) {
        wchar_t *path = Py_DecodeLocale(exec_path(), NULL);
        status = path ? PyConfig_SetString(&config, &config.argv.items[0], path) : PyStatus_NoMemory();
        PyMem_RawFree(path);
        if (PyStatus_Exception(status))
            fail(status, &config);
    }
    status = set_orig_argv(&config, !worker.index && !first, argc, argv);
    if (PyStatus_Exception(status))
        fail(status, &config);
    status = honor_environment(&config);
    if (PyStatus_Exception(status))
        fail(status, &config);
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        fail(status, &config);
    PyConfig_Clear(&config);

    if (use_ca_bundle(host_ca) < 0)
        return 1;

    /* The finder of the app's own modules and its bundled packages. */
    PyObject *importer = PyImport_ImportModule("_pyelf_importer");
    if (importer == NULL) {
        fprintf(stderr, "%s: cannot set up the app's modules\n", PYELF_APP_NAME);
        PyErr_Print();
        return 1;
    }
    Py_DECREF(importer);
    /* The start-up modules are unmarshalled: their bytes need not stay resident. */
    pyelf_vfs_release(pyelf_frozen_blob, pyelf_frozen_blob_end, pyelf_frozen_blob,
                      (size_t)(pyelf_frozen_blob_end - pyelf_frozen_blob));

    /* The app's module runs as sys.modules["__main__"], outside the import system (as python runs
     * a script: no import lock is held while it runs). */
    PyObject *result = !worker.index      ? call_importer("run_main", PYELF_MAIN_MODULE)
                       : worker.is_module ? call_importer("run_worker_module", argv[worker.index])
                                          : call_importer("run_worker_code", argv[worker.index]);
    if (!worker.index)
        flush_io(); /* python -c and -m do not */
    if (result == NULL) {
        int interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
        trim_import_frames();
        PyErr_Print(); /* exits with the right status on SystemExit */
        Py_FinalizeEx();
        if (interrupted) {
            /* Die of SIGINT, as python does, so that the shell sees the interrupt. */
            signal(SIGINT, SIG_DFL);
            kill(getpid(), SIGINT);
        }
        return 1;
    }
    Py_DECREF(result);
    if (Py_FinalizeEx() < 0)
        return 120;
    return 0;
}
