/* The toolchain's dlmalloc unit with a window on its record of fresh memory, for
 * tests/c/dlmalloc_stress.c to check that every page the record holds is mapped and zero. */
#include "pyelf-dlmalloc.c"

int pyelf_probe_ranges(void)
{
    return pyelf_nfresh;
}

void pyelf_probe_range(int i, char **lo, char **hi)
{
    *lo = pyelf_fresh[i].lo;
    *hi = pyelf_fresh[i].hi;
}
