/* The binary's relocated data, made read-only after start, and the part of it relocated only when
 * first used.
 *
 * Full RELRO, as the link promises (`-z relro -z now`): the data the start-up relocation wrote
 * (pointer tables, vtables, `const` data with addresses) made read-only. musl applies RELRO only
 * in its dynamic linker, never in a static PIE, where this segment stayed writable; glibc's static
 * PIE protects it after relocating.
 *
 * OpenSSL's read-only data with pointers (half a megabyte) is gathered by the link into a
 * page-aligned range of its own, [__pyelf_lazy_start, __pyelf_lazy_end), outside RELRO, and pyelf
 * moved its relocations out of the tables musl applies into a RELR table of their own at
 * __pyelf_lazy_table, after the data, ended by a zero word (src/build/lazyreloc.rs). So musl
 * writes none of its pages at start; until a module that links OpenSSL is initialised
 * (pyelf_relocate_openssl, called by its inittab entry), the range is inaccessible, then the table
 * is applied, once, and the range made read-only. Under python3 that data is in libcrypto.so,
 * loaded only when _ssl or _hashlib is imported. (Where pyelf could not move the relocations, musl applied
 * them and the table is empty; in a --no-pie binary there are none.)
 *
 * Both are done before anything else of the app runs, from the binary's own program headers
 * (`__ehdr_start`, the ELF header the linker maps first). Where the kernel refuses to protect, or
 * the page size is larger than the range's alignment, the program runs on as before: relocated at
 * start, writable. */
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include "launcher.h"

extern const ElfW(Ehdr) __ehdr_start;
extern char __pyelf_lazy_start[] __attribute__((visibility("hidden")));
extern char __pyelf_lazy_end[] __attribute__((visibility("hidden")));
extern const size_t __pyelf_lazy_table[] __attribute__((visibility("hidden")));

/* The load bias, added to link-time addresses: where the segment that maps the ELF header is,
 * less its link-time address (which is 0 in a static PIE). So it is the load address in a static
 * PIE, and 0 with --no-pie. */
static uintptr_t load_bias(void)
{
    const ElfW(Ehdr) *eh = &__ehdr_start;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    uintptr_t base = (uintptr_t)eh;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
            base = (uintptr_t)eh - ph[i].p_vaddr;
    return base;
}

static uintptr_t page_size(void)
{
    return getauxval(AT_PAGESZ) ? getauxval(AT_PAGESZ) : 4096;
}

/* Whether the deferred range was made inaccessible at start (it is writable otherwise, in the
 * segment of the binary's data). */
static int lazy_protected;

/* Applies the deferred table, as musl's _dlstart_c applies DT_RELR: an even word is the address
 * of a pointer to relocate, an odd one a bitmap of the 63 words after the last. Run once. */
static void relocate_deferred(void)
{
    uintptr_t base = load_bias();
    char *start = __pyelf_lazy_start;
    size_t len = (size_t)(__pyelf_lazy_end - __pyelf_lazy_start);
    if (lazy_protected && mprotect(start, len, PROT_READ | PROT_WRITE) != 0) {
        fprintf(stderr, "pyelf: cannot make OpenSSL's data writable to relocate it: %s\n", strerror(errno));
        abort();
    }
    /* volatile: read only now that the range is accessible (the table is `const` to the compiler,
     * which may otherwise read it earlier). */
    const volatile size_t *relr = __pyelf_lazy_table;
    size_t *where = 0;
    for (size_t i = 0; relr[i]; i++) {
        if ((relr[i] & 1) == 0) {
            where = (size_t *)(base + relr[i]);
            *where++ += base;
        } else {
            size_t bitmap = relr[i];
            for (int bit = 0; (bitmap >>= 1); bit++)
                if (bitmap & 1)
                    where[bit] += base;
            where += 8 * sizeof(size_t) - 1;
        }
    }
    if (lazy_protected)
        (void)mprotect(start, len, PROT_READ);
}

/* Relocated once, under a lock that fork() takes too: a child never starts with the range half
 * relocated by a thread that is not in it. */
static pthread_mutex_t relocation_lock = PTHREAD_MUTEX_INITIALIZER;
static int relocated;

static void lock_relocation(void)
{
    pthread_mutex_lock(&relocation_lock);
}

static void unlock_relocation(void)
{
    pthread_mutex_unlock(&relocation_lock);
}

/* Called before the init function of each module that links OpenSSL (the inittab's entries). */
void pyelf_relocate_openssl(void)
{
    if (__atomic_load_n(&relocated, __ATOMIC_ACQUIRE))
        return;
    lock_relocation();
    if (!relocated) {
        relocate_deferred();
        __atomic_store_n(&relocated, 1, __ATOMIC_RELEASE);
    }
    unlock_relocation();
}

__attribute__((constructor(102))) static void protect_relro(void)
{
    const ElfW(Ehdr) *eh = &__ehdr_start;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    uintptr_t base = load_bias();
    uintptr_t page = page_size();
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_GNU_RELRO)
            continue;
        uintptr_t start = (base + ph[i].p_vaddr) & -page;
        uintptr_t end = (base + ph[i].p_vaddr + ph[i].p_memsz) & -page;
        if (end > start)
            (void)mprotect((void *)start, end - start, PROT_READ);
    }
    if (__pyelf_lazy_end == __pyelf_lazy_start)
        return;
    size_t len = (size_t)(__pyelf_lazy_end - __pyelf_lazy_start);
    /* Never written yet: its relocations were deferred, or there are none (--no-pie). Read before
     * the range is made inaccessible (volatile: the compiler may not move it past mprotect). */
    int untouched = *(const volatile size_t *)__pyelf_lazy_table != 0 || base == 0;
    /* Inaccessible until used, if it is page-aligned at this page size; where it cannot be,
     * relocated now and left writable. */
    lazy_protected = (uintptr_t)__pyelf_lazy_start % page == 0 && len % page == 0 &&
                     mprotect(__pyelf_lazy_start, len, PROT_NONE) == 0;
    if (!lazy_protected) {
        pyelf_relocate_openssl();
        return;
    }
    pthread_atfork(lock_relocation, unlock_relocation, unlock_relocation);
#ifdef PYELF_FILE_BACKED
    /* The pages the kernel mapped around the data read so far (fault-around): they are the file's,
     * unchanged, and read again when used. (Not where upx unpacked the binary into anonymous
     * memory, which dropping would zero.) */
    if (untouched)
        (void)madvise(__pyelf_lazy_start, len, MADV_DONTNEED);
#else
    (void)untouched;
#endif
}
