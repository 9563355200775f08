/* Deep-frozen modules: the code objects of the modules imported at every start, built as static
 * objects at build time (src/build/deepfreeze.py) instead of unmarshalled at each start.
 *
 * The frozen tables (CPython's own and the binary's) keep their marshalled bytes; the link wraps
 * PyMarshal_ReadObjectFromString (`ld --wrap`), through which the import system unmarshals a
 * frozen module, and the wrapper answers for those bytes with the static code object. On its
 * first use a module's objects are finished as marshal and _PyCode_New finish theirs: strings
 * interned (into the interpreter's table, so that names are the same objects as everywhere else),
 * frozensets built, each code object given a version. Their inline caches were initialised at
 * build time, as _PyCode_Quicken would (deepfreeze.py's `quickened`).
 *
 * Marshal is used instead, as without deep-freezing, in a subinterpreter (static objects are
 * shared by the process, and specialisation writes into them), when -X no_debug_ranges asks for
 * code without column information, and when code watchers are registered (they would not hear of
 * these code objects).
 *
 * A process initialises the interpreter once (the launcher never finalises and starts it again):
 * finished objects are not reset for a second interpreter of the same process. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include "internal/pycore_code.h"
#include "internal/pycore_import.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_pystate.h"
#include "internal/pycore_unicodeobject.h"
#include "deepfreeze.h"

#if defined(Py_DEBUG) || defined(Py_GIL_DISABLED)
#error "deep-frozen objects are written for a release build with the GIL"
#endif

PyObject *__real_PyMarshal_ReadObjectFromString(const char *data, Py_ssize_t len);

/* Where CPython's frozen table keeps `name`'s bytes, if it holds it with `size` bytes. */
static const unsigned char *cpython_frozen(const char *name, int size)
{
    const struct _frozen *tables[] = {_PyImport_FrozenBootstrap, _PyImport_FrozenStdlib};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct _frozen *p = tables[t]; p != NULL && p->name != NULL; p++)
            if (strcmp(p->name, name) == 0)
                return p->size == size ? p->code : NULL;
    return NULL;
}

/* deepfreeze.py's `digest`: 64-bit FNV-1a over little-endian 8-byte words, then the bytes left. */
static unsigned long long digest(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static int finish(struct pyelf_df_module *m)
{
    PyInterpreterState *interp = _PyInterpreterState_GET();
    for (int i = 0; i < m->nslots; i++) {
        if (m->slots[i].immortal)
            _PyUnicode_InternImmortal(interp, m->slots[i].slot);
        else
            _PyUnicode_InternMortal(interp, m->slots[i].slot);
    }
    for (int i = 0; i < m->nsets; i++) {
        if (*m->sets[i].slot != NULL)
            continue;
        PyObject *set = PyFrozenSet_New(m->sets[i].items);
        if (set == NULL)
            return -1;
        *m->sets[i].slot = set; /* the static tuple's reference, never released */
    }
    for (int i = 0; i < m->ncodes; i++) {
        PyCodeObject *co = m->codes[i];
        co->co_version = interp->func_state.next_version;
        if (interp->func_state.next_version != 0)
            interp->func_state.next_version++;
    }
    return 0;
}

static int resolved;

PyObject *__wrap_PyMarshal_ReadObjectFromString(const char *data, Py_ssize_t len)
{
    /* Only the main interpreter touches the table (a subinterpreter may run beside it). */
    PyInterpreterState *interp = _PyInterpreterState_GET();
    if (!_Py_IsMainInterpreter(interp))
        return __real_PyMarshal_ReadObjectFromString(data, len);
    if (!resolved) {
        resolved = 1;
        for (int i = 0; i < pyelf_df_count; i++) {
            struct pyelf_df_module *m = &pyelf_df_modules[i];
            if (m->data == NULL && (m->data = cpython_frozen(m->name, m->size)) == NULL)
                m->state = -1; /* not there, or not these bytes: marshal it is */
        }
    }
    for (int i = 0; i < pyelf_df_count; i++) {
        struct pyelf_df_module *m = &pyelf_df_modules[i];
        if ((const char *)m->data != data || m->size != len || m->state < 0)
            continue;
        if (!_Py_GetConfig()->code_debug_ranges || interp->active_code_watchers || m->state == 2)
            break;
        if (m->state == 0 && m->digest && digest(m->data, (size_t)m->size) != m->digest) {
            m->state = -1; /* CPython's bytes are not those the objects were made from */
            break;
        }
        if (m->state == 0) {
            m->state = 2; /* finishing: a reentrant import of the same bytes unmarshals them */
            if (finish(m) < 0) {
                m->state = 0;
                return NULL;
            }
            m->state = 1;
        }
        return Py_NewRef(m->code);
    }
    return __real_PyMarshal_ReadObjectFromString(data, len);
}
