/* Filling the attribute caches of the app's compiled call sites (attrcache.h): what the
 * interpreter's specialiser decides for LOAD_ATTR and STORE_ATTR (analyze_descriptor and
 * specialize_dict_access in CPython 3.13's Python/specialize.c), kept to the cases it turns into
 * direct reads and writes: the instance's inline values, object slots, and a module's globals
 * (specialize_module_load_attr). Anything else is cached as generic: the site then makes Cython's
 * own call.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include "internal/pycore_dict.h"
#include "internal/pycore_moduleobject.h"
#include "internal/pycore_object.h"
#include "internal/pycore_runtime.h"
#include "attrcache.h"

_Static_assert(offsetof(PyDictValues, capacity) == PYELF_VALUES_CAPACITY, "PyDictValues.capacity moved");
_Static_assert(offsetof(PyDictValues, valid) == PYELF_VALUES_VALID, "PyDictValues.valid moved");
_Static_assert(offsetof(PyDictValues, values) == PYELF_VALUES_ARRAY, "PyDictValues.values moved");
_Static_assert(MANAGED_DICT_OFFSET == PYELF_MANAGED_DICT, "the managed dict pointer moved");
_Static_assert(sizeof(((PyDictValues *)0)->capacity) == 1 && sizeof(((PyDictValues *)0)->valid) == 1,
               "PyDictValues.capacity and .valid are bytes");
_Static_assert(offsetof(PyManagedDictPointer, dict) == 0, "PyManagedDictPointer.dict moved");
_Static_assert(sizeof(((PyDictKeysObject *)0)->dk_version) == sizeof(((PyelfAttrCache *)0)->keys), "dk_version");

/* A site filled this many times stays generic: it sees many types (or a class that keeps
 * changing), and filling again at every call would cost more than the lookup it saves. */
#define PYELF_MAX_FILLS 32

/* Fills `c` for reading (`store` 0) or writing `name` on `o`. The decision is made in locals and
 * written at the end: a class dict with keys that are not strings can run Python code inside the
 * lookup, which may fill this very site. When what failed is a fact of this object (its values
 * invalid, a `__dict__` made, the name not yet among its class's keys), the site is left to be
 * filled again by the next call, as the interpreter tries again later. */
static void fill(PyelfAttrCache *c, PyObject *o, PyObject *name, int store) {
    PyTypeObject *tp = Py_TYPE(o);
    unsigned char kind = PYELF_ATTR_GENERIC;
    unsigned short index = 0;
    unsigned int keys = 0;
    int again = 0;
    if (!PyUnicode_CheckExact(name) || !(tp->tp_flags & Py_TPFLAGS_READY)) {
        goto done;
    }
    if (!store && PyModule_CheckExact(o)) {
        /* A global of the module, found in its dict (not a ModuleType attribute, which would win
         * over it, nor where the module has a `__getattr__`): guarded by the dict's keys version,
         * which changes whenever a key is added or removed. The dict's keys are all strings. */
        PyDictObject *d = (PyDictObject *)((PyModuleObject *)o)->md_dict;
        if (d == NULL || d->ma_keys->dk_kind != DICT_KEYS_UNICODE || _PyType_Lookup(tp, name) != NULL ||
            _PyDict_LookupIndex(d, &_Py_ID(__getattr__)) != DKIX_EMPTY) {
            goto done;
        }
        Py_ssize_t ix = _PyDict_LookupIndex(d, name);
        uint32_t version = _PyDictKeys_GetVersionForCurrentState(_PyInterpreterState_GET(), d->ma_keys);
        if (ix >= 0 && ix <= 0xffff && version != 0) {
            kind = PYELF_ATTR_MODULE;
            index = (unsigned short)ix;
            keys = version;
        }
        goto done;
    }
    if (store ? tp->tp_setattro != PyObject_GenericSetAttr : tp->tp_getattro != PyObject_GenericGetAttr) {
        goto done;
    }
    /* The lookup gives the type a version tag if it can have one. */
    PyObject *descr = _PyType_Lookup(tp, name);
    if (tp->tp_version_tag == 0) {
        goto done;
    }
    if (descr == NULL) {
        /* No class attribute of that name: the instance's own, in its inline values. */
        if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES)) {
            goto done;
        }
        again = 1;
        if (_PyObject_InlineValues(o)->valid && !(store && _PyObject_GetManagedDict(o) != NULL)) {
            Py_ssize_t ix = _PyDictKeys_StringLookup(((PyHeapTypeObject *)tp)->ht_cached_keys, name);
            if (ix >= 0 && ix < 256) {
                kind = PYELF_ATTR_VALUE;
                index = (unsigned short)ix;
                again = 0;
            }
        }
    } else if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        /* A slot: a data descriptor, which wins over the instance's dict. */
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if ((m->type == Py_T_OBJECT_EX || m->type == _Py_T_OBJECT) && m->offset > 0 && m->offset <= 0xffff &&
            !(m->flags & (store ? Py_READONLY : Py_AUDIT_READ)) && PyObject_TypeCheck(o, PyDescr_TYPE(descr))) {
            kind = PYELF_ATTR_SLOT;
            index = (unsigned short)m->offset;
        }
    }
done:
    c->kind = kind;
    c->index = index;
    c->keys = keys;
    c->version = tp->tp_version_tag;
    /* A type no object has: the next call fills the site again. */
    c->type = again ? NULL : tp;
    if (c->fills < 255) {
        c->fills++;
    }
}

PyObject *pyelf_module_global(const PyelfAttrCache *c, PyObject *module) {
    PyDictObject *d = (PyDictObject *)((PyModuleObject *)module)->md_dict;
    if (d == NULL || d->ma_keys->dk_version != c->keys) {
        return NULL;
    }
    PyObject *v = DK_UNICODE_ENTRIES(d->ma_keys)[c->index].me_value;
    return v == NULL ? NULL : Py_NewRef(v);
}

PyObject *pyelf_getattr_miss(PyelfAttrCache *c, PyObject *o, PyObject *name) {
    if (c->fills < PYELF_MAX_FILLS) {
        fill(c, o, name, 0);
        if (c->type == Py_TYPE(o)) {
            return pyelf_getattr(c, o, name);
        }
    }
    PyTypeObject *tp = Py_TYPE(o);
    return tp->tp_getattro ? tp->tp_getattro(o, name) : PyObject_GetAttr(o, name);
}

int pyelf_setattr_miss(PyelfAttrCache *c, PyObject *o, PyObject *name, PyObject *v) {
    if (c->fills < PYELF_MAX_FILLS) {
        fill(c, o, name, 1);
        if (c->type == Py_TYPE(o)) {
            return pyelf_setattr(c, o, name, v);
        }
    }
    PyTypeObject *tp = Py_TYPE(o);
    return tp->tp_setattro ? tp->tp_setattro(o, name, v) : PyObject_SetAttr(o, name, v);
}
