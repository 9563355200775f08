/* The deep-frozen modules' table, written by src/build/deepfreeze.py and read by deepfreeze.c. */
#ifndef PYELF_DEEPFREEZE_H
#define PYELF_DEEPFREEZE_H
#include <Python.h>

/* A place holding a string that is interned on first use, mortal or immortal as CPython would. */
struct pyelf_df_slot {
    PyObject **slot;
    int immortal;
};

/* A place in a constants tuple that gets a frozenset of `items` on first use. */
struct pyelf_df_set {
    PyObject **slot;
    PyObject *items;
};

struct pyelf_df_module {
    const char *name;
    /* The marshalled bytes the frozen table gives for the module, which this replaces: in the
     * binary's own table, or NULL for CPython's frozen modules (found by name at first use). */
    const unsigned char *data;
    int size;
    /* In a cross build, the digest of CPython's module's bytes (deepfreeze.c's `digest`), checked
     * before first use; 0: not checked (the bytes were read from this very toolchain). */
    unsigned long long digest;
    PyObject *code;
    const struct pyelf_df_slot *slots;
    int nslots;
    const struct pyelf_df_set *sets;
    int nsets;
    PyCodeObject *const *codes;
    int ncodes;
    /* 0: not looked at; 2: being finished (a reentrant import of the same bytes unmarshals
     * them); 1: finished; -1: left to marshal. */
    int state;
};

extern const int pyelf_df_count;
extern struct pyelf_df_module pyelf_df_modules[];
#endif
