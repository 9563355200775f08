/* Caches of attribute reads and writes at the call sites of the app's Cython-compiled code.
 *
 * Cython reads `obj.name` through the type's generic `tp_getattro`, which looks the name up in
 * the type's MRO and then in the instance at every call. The interpreter instead specialises each
 * LOAD_ATTR and STORE_ATTR instruction for the type it sees (Python/specialize.c): guarded by the
 * type's version tag, it reads the instance's inline values or a `__slots__` slot directly, and
 * a module's global from its dict's entry while the dict's keys are unchanged. Each
 * rewritten call site here (`cython::attribute_caches`) gets a cache of its own, a static in a
 * statement expression, doing the same: the same guards as the interpreter's, the same answers,
 * and Cython's own call (`tp_getattro`/`tp_setattro`) whenever a guard fails.
 *
 * What makes a hit safe: the object's type is the cached one and its version tag is unchanged
 * (any change to the type or its bases resets the tag), so what the MRO held for the name when
 * the site was filled still holds. The per-object facts (the inline values still valid, no
 * `__dict__` made for a write, the value present) are checked at every call. The offsets of
 * CPython's internal structures are checked at build time in attrcache.c.
 */
#ifndef PYELF_ATTRCACHE_H
#define PYELF_ATTRCACHE_H

#include <Python.h>

enum {
    PYELF_ATTR_GENERIC = 0, /* Cython's call */
    PYELF_ATTR_VALUE = 1,   /* the instance's inline values, at `index` */
    PYELF_ATTR_SLOT = 2,    /* an object slot (`__slots__`), at byte offset `index` */
    PYELF_ATTR_MODULE = 3,  /* a module's global, entry `index` of its dict while its keys are `keys` */
};

typedef struct {
    PyTypeObject *type;   /* compared only, never dereferenced */
    unsigned int version; /* the type's tp_version_tag when the site was filled */
    unsigned int keys;    /* for a module: its dict's keys version (dk_version) */
    unsigned short index;
    unsigned char kind;
    unsigned char fills; /* how often the site was filled; at the limit it stays generic */
} PyelfAttrCache;

#ifdef Py_GIL_DISABLED
#error "the attribute caches read and fill without atomics: they need the GIL"
#endif

/* The layout of CPython 3.13's inline values (`PyDictValues`, right after the object header, as
 * `_PyObject_InlineValues` finds them) and of the managed dict pointer (before the object):
 * asserted in attrcache.c. */
#define PYELF_VALUES_AT ((Py_ssize_t)sizeof(PyObject))
#define PYELF_VALUES_CAPACITY 0
#define PYELF_VALUES_VALID 3
#define PYELF_VALUES_ARRAY ((Py_ssize_t)sizeof(PyObject *))
#define PYELF_MANAGED_DICT (-3 * (Py_ssize_t)sizeof(PyObject *))

PyObject *pyelf_getattr_miss(PyelfAttrCache *c, PyObject *o, PyObject *name);
PyObject *pyelf_module_global(const PyelfAttrCache *c, PyObject *module);
int pyelf_setattr_miss(PyelfAttrCache *c, PyObject *o, PyObject *name, PyObject *v);

static inline PyObject *pyelf_getattr(PyelfAttrCache *c, PyObject *o, PyObject *name) {
    PyTypeObject *tp = Py_TYPE(o);
    if (tp != c->type || tp->tp_version_tag != c->version) {
        return pyelf_getattr_miss(c, o, name);
    }
    PyObject *v = NULL;
    if (c->kind == PYELF_ATTR_VALUE) {
        const unsigned char *values = (const unsigned char *)o + PYELF_VALUES_AT;
        if (values[PYELF_VALUES_VALID] && c->index < values[PYELF_VALUES_CAPACITY]) {
            v = ((PyObject *const *)(values + PYELF_VALUES_ARRAY))[c->index];
        }
    } else if (c->kind == PYELF_ATTR_SLOT) {
        v = *(PyObject **)((char *)o + c->index);
    } else if (c->kind == PYELF_ATTR_MODULE) {
        /* Another module, or this one's keys changed: filled again (up to the limit). */
        PyObject *r = pyelf_module_global(c, o);
        return r != NULL ? r : pyelf_getattr_miss(c, o, name);
    }
    if (v != NULL) {
        return Py_NewRef(v);
    }
    return tp->tp_getattro ? tp->tp_getattro(o, name) : PyObject_GetAttr(o, name);
}

static inline int pyelf_setattr(PyelfAttrCache *c, PyObject *o, PyObject *name, PyObject *v) {
    PyTypeObject *tp = Py_TYPE(o);
    if (tp != c->type || tp->tp_version_tag != c->version) {
        return pyelf_setattr_miss(c, o, name, v);
    }
    PyObject **at = NULL;
    if (v == NULL) {
        /* a deletion: Cython's call */
    } else if (c->kind == PYELF_ATTR_VALUE) {
        unsigned char *values = (unsigned char *)o + PYELF_VALUES_AT;
        if (values[PYELF_VALUES_VALID] && c->index < values[PYELF_VALUES_CAPACITY] &&
            *(PyObject **)((char *)o + PYELF_MANAGED_DICT) == NULL) {
            at = (PyObject **)(values + PYELF_VALUES_ARRAY) + c->index;
            /* A new attribute: the generic path also records the values' insertion order. */
            if (*at == NULL) {
                at = NULL;
            }
        }
    } else if (c->kind == PYELF_ATTR_SLOT) {
        at = (PyObject **)((char *)o + c->index);
    }
    if (at != NULL) {
        PyObject *old = *at;
        *at = Py_NewRef(v);
        Py_XDECREF(old);
        return 0;
    }
    return tp->tp_setattro ? tp->tp_setattro(o, name, v) : PyObject_SetAttr(o, name, v);
}

/* A call site with a cache of its own. */
#define PYELF_GETATTR(o, n) \
    __extension__({ static PyelfAttrCache pyelf_site_; pyelf_getattr(&pyelf_site_, (o), (n)); })
#define PYELF_SETATTR(o, n, v) \
    __extension__({ static PyelfAttrCache pyelf_site_; pyelf_setattr(&pyelf_site_, (o), (n), (v)); })

#endif
