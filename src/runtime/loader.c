/* pyelf's loader: the shared objects of the app's wheels (musllinux extension modules and the
 * libraries auditwheel bundled with them), loaded from the binary's own file tree.
 *
 * A static musl has no dynamic linker: dlopen, dlsym (__dlsym), dladdr and dl_iterate_phdr are
 * stubs behind weak aliases, which this file replaces. CPython's importer calls dlopen() with the
 * path of an extension module in the tree (`_imp.create_dynamic`, dynload_shlib.c), so modules
 * are found, named and initialised as under python3 on Alpine; ctypes.CDLL of a bundled library
 * works the same way.
 *
 * What it does, as musl's ld.so does it:
 * - An object is stored uncompressed in the tree's archive, at an offset aligned to its segments'
 *   alignment (freeze.py). Its segments are mapped from the binary's own file there, so nothing
 *   is copied and the page cache is shared between processes; when the file cannot be opened or
 *   is not this binary any more (renamed over, execute-only, /dev/fd), they are copied from the
 *   bytes in memory into a memfd (or anonymous memory), never writable and executable at once.
 * - DT_NEEDED: the names of musl, libpython and zlib are the binary itself; others are found
 *   through the object's RPATH/RUNPATH (`$ORIGIN`) in the tree only, never on the host; one copy
 *   per soname.
 * - Symbols are looked up in ld.so's order: what the binary exports (a table generated at build
 *   time: the musl, libpython and zlib symbols the objects import, with the file tree's wrapped
 *   functions in place of libc's), then objects loaded RTLD_GLOBAL, then the loaded object and its
 *   dependencies breadth first. Definitions of a hidden symbol version are skipped, as musl does.
 * - Relocations of x86_64 and aarch64 shared objects; RELRO; constructors in dependency order;
 *   destructors after every atexit handler, in reverse order (musl's static __cxa_finalize does
 *   nothing: objects are never unloaded, as under musl).
 * - TLS: every object is known at build time, so their thread-local blocks are reserved in the
 *   binary's own static TLS (tls_block); a thread's copy of an object's initial image is made on
 *   its first access (__tls_get_addr, or aarch64's TLS descriptors), in memory the thread already
 *   has: a TLS access never allocates and never fails.
 * - dl_iterate_phdr lists the loaded objects after the binary, so C++ exceptions and Rust panics
 *   unwind through them.
 * Anything the loader does not handle was refused when the binary was built (src/build/loadable.rs);
 * what is checked again here makes a malformed object an error naming it, never a crash. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>
#include "launcher.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

#if defined(__x86_64__)
#define EM_SELF EM_X86_64
#define R_NONE_ R_X86_64_NONE
#define R_ABS R_X86_64_64
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_RELATIVE R_X86_64_RELATIVE
#define R_DTPMOD R_X86_64_DTPMOD64
#define R_DTPOFF R_X86_64_DTPOFF64
#elif defined(__aarch64__)
#define EM_SELF EM_AARCH64
#define R_NONE_ R_AARCH64_NONE
#define R_ABS R_AARCH64_ABS64
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_RELATIVE R_AARCH64_RELATIVE
#define R_DTPMOD R_AARCH64_TLS_DTPMOD64
#define R_DTPOFF R_AARCH64_TLS_DTPREL64
#define R_TLSDESC_ R_AARCH64_TLSDESC
#else
#error "pyelf's loader knows x86_64 and aarch64"
#endif

/* From vfs.c: a stored file of the tree (its bytes in the binary) and the archive itself. */
int pyelf_vfs_stored(const char *path, const unsigned char **data, size_t *size, char *name, size_t cap);
void pyelf_vfs_archive(const unsigned char **zip, size_t *size);
void pyelf_vfs_release(const void *lo, const void *hi, const void *p, size_t n);
/* From musl (dlerror.c): what dlerror() reports next. */
void __dl_seterr(const char *fmt, ...);

/* The binary's exported symbols (exports.c, generated at build time), sorted by name. */
struct pyelf_export {
    const char *name;
    const void *addr;
    int zlib; /* zlib's: seen only by objects that need libz.so.1 */
};
extern const struct pyelf_export pyelf_exports[];
extern const size_t pyelf_export_count;

/* The loaded objects' thread-local blocks, in the binary's static TLS (sizes from launcher.h). */
#ifndef PYELF_TLS_SIZE
#define PYELF_TLS_SIZE 0
#define PYELF_TLS_ALIGN 16
#define PYELF_TLS_OBJECTS 0
#endif
static __thread unsigned char tls_block[PYELF_TLS_SIZE + 1] __attribute__((aligned(PYELF_TLS_ALIGN)));
static __thread unsigned char tls_ready[PYELF_TLS_OBJECTS + 1];

struct object {
    struct object *next;  /* in load order */
    char *name;           /* its path in the tree (dlpi_name, dli_fname) */
    const char *soname;   /* DT_SONAME, else its file name */
    unsigned char *base;  /* load bias */
    unsigned char *map;
    size_t map_len;
    ElfW(Phdr) *phdr;
    size_t phnum;
    const ElfW(Sym) *syms;
    size_t nsyms;
    const char *strings;
    size_t strsz;
    const uint32_t *hash, *ghash;
    size_t gnu_chains; /* entries in the GNU hash's chain array */
    size_t n_dyn;      /* entries of the dynamic section, up to DT_NULL */
    const ElfW(Half) *versym;
    const char *rpath;
    size_t *needed; /* offsets into strings */
    size_t n_needed;
    struct object **deps; /* what DT_NEEDED names, but the binary itself */
    size_t n_deps;
    int needs_zlib;
    int global, constructed;
    ElfW(Dyn) *dynamic;
    size_t relro_start, relro_end;
    /* TLS */
    size_t tls_id, tls_offset, tls_filesz, tls_memsz, tls_align;
    const unsigned char *tls_image;
    /* the copy's pieces to make read-only or executable after relocation */
    struct { size_t start, len; int prot; } finish[8];
    size_t n_finish;
};

/* The binary itself: dlopen(NULL) and the libc/libpython/zlib names. */
static struct object self = {.name = "", .soname = "", .constructed = 1, .global = 1};
static struct object *head, *tail;    /* published objects */
static struct object *constructed_order[1024];
static size_t n_constructed;
static size_t tls_used, tls_next_id = 1;
static struct object *tls_objects[PYELF_TLS_OBJECTS + 1];
static unsigned long long adds;
static pthread_mutex_t lock;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static int exe_fd = -1;
static int exe_checked, exe_ok;

static void lock_acquire(void) { pthread_mutex_lock(&lock); }
static void lock_release(void) { pthread_mutex_unlock(&lock); }
static void lock_child(void)
{
    /* The child has one thread: a fresh lock. */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lock, &a);
}

static void lock_init(void)
{
    lock_child();
    pthread_atfork(lock_acquire, lock_release, lock_child);
}

/* Opens the binary's own file, early (before the app can chdir): the path the kernel ran. */
void pyelf_loader_start(void)
{
    const char *path = (const char *)getauxval(AT_EXECFN);
    if (path != NULL && strncmp(path, "/dev/fd/", 8) != 0)
        exe_fd = open(path, O_RDONLY | O_CLOEXEC);
}

static size_t page_size(void)
{
    size_t p = getauxval(AT_PAGESZ);
    return p ? p : 4096;
}

extern ElfW(Dyn) _DYNAMIC[] __attribute__((weak, visibility("hidden")));

/* Where the binary itself is loaded (0 unless it is a static PIE), as musl's static
 * dl_iterate_phdr finds it: from its dynamic section, or its program headers' own entry. */
static uintptr_t exe_bias(void)
{
    const unsigned char *phdrs = (const unsigned char *)getauxval(AT_PHDR);
    size_t n = getauxval(AT_PHNUM), ent = getauxval(AT_PHENT);
    uintptr_t bias = 0;
    for (size_t i = 0; phdrs && i < n; i++) {
        const ElfW(Phdr) *ph = (const void *)(phdrs + i * ent);
        if (ph->p_type == PT_PHDR)
            bias = (uintptr_t)phdrs - ph->p_vaddr;
        if (ph->p_type == PT_DYNAMIC && _DYNAMIC)
            bias = (uintptr_t)_DYNAMIC - ph->p_vaddr;
    }
    return bias;
}

/* Where in the binary's file the bytes at `p` (in one of its loaded segments) are, or -1. */
static off_t file_offset(const void *p, size_t len)
{
    const unsigned char *phdrs = (const unsigned char *)getauxval(AT_PHDR);
    size_t n = getauxval(AT_PHNUM), ent = getauxval(AT_PHENT);
    if (phdrs == NULL || ent < sizeof(ElfW(Phdr)))
        return -1;
    uintptr_t bias = exe_bias();
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < n; i++) {
        const ElfW(Phdr) *ph = (const void *)(phdrs + i * ent);
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t start = bias + ph->p_vaddr;
        if (a >= start && a + len <= start + ph->p_filesz)
            return (off_t)(a - start + ph->p_offset);
    }
    return -1;
}

/* Whether the file opened at start is this binary: its archive's central directory (every
 * file's name, size, CRC and offset) reads the same there as in memory. */
static int exe_is_self(void)
{
    if (exe_checked)
        return exe_ok;
    exe_checked = 1;
    const unsigned char *zip;
    size_t size;
    pyelf_vfs_archive(&zip, &size);
    if (exe_fd < 0 || zip == NULL || size < 22)
        return 0;
    size_t tail_len = size < ((size_t)4 << 20) ? size : ((size_t)4 << 20);
    const unsigned char *mine = zip + size - tail_len;
    off_t at = file_offset(mine, tail_len);
    unsigned char *buf = malloc(tail_len);
    if (at < 0 || buf == NULL) {
        free(buf);
        return 0;
    }
    size_t got = 0;
    while (got < tail_len) {
        ssize_t r = pread(exe_fd, buf + got, tail_len - got, at + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    exe_ok = got == tail_len && memcmp(buf, mine, tail_len) == 0;
    free(buf);
    pyelf_vfs_release(zip, zip + size, mine, tail_len); /* (megabytes read once) */
    return exe_ok;
}

static int is_self_name(const char *name)
{
    /* As musl's ld.so: libc, libpthread, librt, libm, libdl, libutil and libxnet are libc. */
    static const char *const libc_parts[] = {"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."};
    if (strncmp(name, "lib", 3) == 0)
        for (size_t i = 0; i < sizeof libc_parts / sizeof *libc_parts; i++)
            if (strncmp(name + 3, libc_parts[i], strlen(libc_parts[i])) == 0)
                return 1;
    return strncmp(name, "ld-musl-", 8) == 0 || strncmp(name, "libpython3", 10) == 0 || strcmp(name, "libz.so.1") == 0 ||
           strcmp(name, "libz.so") == 0;
}

/* ---- symbols ---- */

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static uint32_t sysv_hash(const char *s0)
{
    const unsigned char *s = (const void *)s0;
    uint32_t h = 0;
    while (*s) {
        h = 16 * h + *s++;
        h ^= h >> 24 & 0xf0;
    }
    return h & 0xfffffff;
}

/* Whether symbol `i` of `o` defines `name` for others. */
static int defines(const struct object *o, size_t i, const char *name)
{
    if (i >= o->nsyms)
        return 0;
    const ElfW(Sym) *s = &o->syms[i];
    int bind = ELF64_ST_BIND(s->st_info), type = ELF64_ST_TYPE(s->st_info);
    if (s->st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE))
        return 0;
    if (type != STT_NOTYPE && type != STT_OBJECT && type != STT_FUNC && type != STT_COMMON && type != STT_TLS)
        return 0;
    if (ELF64_ST_VISIBILITY(s->st_other) == STV_HIDDEN || ELF64_ST_VISIBILITY(s->st_other) == STV_INTERNAL)
        return 0;
    if (o->versym && (o->versym[i] & 0x8000))
        return 0;
    return s->st_name < o->strsz && strcmp(o->strings + s->st_name, name) == 0;
}

static const ElfW(Sym) *lookup_in(const struct object *o, const char *name, uint32_t gh, uint32_t sh)
{
    if (o->ghash) {
        const uint32_t *ht = o->ghash;
        uint32_t nbuckets = ht[0], symoffset = ht[1], bloom_size = ht[2], shift = ht[3];
        if (nbuckets == 0 || bloom_size == 0)
            return NULL;
        const size_t *bloom = (const void *)(ht + 4);
        const size_t bits = 8 * sizeof(size_t);
        size_t word = bloom[(gh / bits) % bloom_size];
        size_t mask = ((size_t)1 << (gh % bits)) | ((size_t)1 << ((gh >> shift) % bits));
        if ((word & mask) != mask)
            return NULL;
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t i = buckets[gh % nbuckets];
        if (i < symoffset)
            return NULL;
        for (; i < o->nsyms && i - symoffset < o->gnu_chains; i++) {
            uint32_t h2 = chain[i - symoffset];
            if ((gh | 1) == (h2 | 1) && defines(o, i, name))
                return &o->syms[i];
            if (h2 & 1)
                break;
        }
        return NULL;
    }
    if (o->hash) {
        uint32_t nbucket = o->hash[0];
        const uint32_t *bucket = o->hash + 2, *chain = bucket + nbucket;
        if (nbucket == 0)
            return NULL;
        for (uint32_t i = bucket[sh % nbucket], n = 0; i != 0 && i < o->nsyms && n < o->nsyms; i = chain[i], n++)
            if (defines(o, i, name))
                return &o->syms[i];
    }
    return NULL;
}

static const struct pyelf_export *exported(const char *name)
{
    size_t lo = 0, hi = pyelf_export_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(pyelf_exports[mid].name, name);
        if (c == 0)
            return &pyelf_exports[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A definition found: the object defining it (NULL: the binary) and its address. */
struct def {
    const struct object *obj;
    const ElfW(Sym) *sym;
    uintptr_t addr;
    int found;
};

/* The objects a root's relocations and dlsym look in: it, then its dependencies breadth first. */
struct scope {
    struct object **list;
    size_t n;
    int zlib;
};

static struct def find(const char *name, const struct scope *sc)
{
    struct def d = {0};
    uint32_t gh = gnu_hash(name), sh = sysv_hash(name);
    const struct pyelf_export *e = exported(name);
    if (e && !e->zlib) {
        d.found = 1;
        d.addr = (uintptr_t)e->addr;
        return d;
    }
    for (struct object *o = head; o; o = o->next) {
        if (!o->global)
            continue;
        const ElfW(Sym) *s = lookup_in(o, name, gh, sh);
        if (s) {
            d.found = 1, d.obj = o, d.sym = s, d.addr = (uintptr_t)o->base + s->st_value;
            return d;
        }
    }
    for (size_t i = 0; sc && i < sc->n; i++) {
        const ElfW(Sym) *s = lookup_in(sc->list[i], name, gh, sh);
        if (s) {
            d.found = 1, d.obj = sc->list[i], d.sym = s, d.addr = (uintptr_t)sc->list[i]->base + s->st_value;
            return d;
        }
    }
    if (e && sc && sc->zlib) {
        d.found = 1;
        d.addr = (uintptr_t)e->addr;
    }
    return d;
}

/* ---- mapping ---- */

static size_t up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }
static size_t down(size_t x, size_t a) { return x & ~(a - 1); }

static int prot_of(ElfW(Word) flags)
{
    return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/* A memfd holding `size` bytes at `data`, sealed, or -1. */
static int memfd_of(const char *name, const unsigned char *data, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return fd;
}

/* Maps the object whose file is the `size` bytes at `img`. On failure, sets *why. */
static int map_object(struct object *o, const unsigned char *img, size_t size, const char **why)
{
    const ElfW(Ehdr) *eh = (const void *)img;
    if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_ident[EI_DATA] != ELFDATA2LSB) {
        *why = "not a 64-bit little-endian ELF file";
        return -1;
    }
    if (eh->e_type != ET_DYN) {
        *why = "not a shared object";
        return -1;
    }
    if (eh->e_machine != EM_SELF) {
        *why = "built for another machine";
        return -1;
    }
    if (eh->e_phentsize != sizeof(ElfW(Phdr)) || eh->e_phoff > size || eh->e_phnum > (size - eh->e_phoff) / sizeof(ElfW(Phdr))) {
        *why = "its program headers are out of the file";
        return -1;
    }
    const ElfW(Phdr) *ph = (const void *)(img + eh->e_phoff);
    size_t page = page_size(), align = page, lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > size || ph[i].p_filesz > size - ph[i].p_offset ||
            ph[i].p_memsz > ((size_t)1 << 40) || ph[i].p_vaddr > ((size_t)1 << 40) ||
            (ph[i].p_offset - ph[i].p_vaddr) % page != 0) {
            *why = "a loadable segment is malformed";
            return -1;
        }
        if (ph[i].p_align > align && ph[i].p_align <= 65536)
            align = ph[i].p_align;
        /* In order and on pages of their own: a page is mapped once, with its segment's rights. */
        if (hi > 0 && down(ph[i].p_vaddr, page) < hi) {
            *why = "its loadable segments overlap";
            return -1;
        }
        if (down(ph[i].p_vaddr, page) < lo)
            lo = down(ph[i].p_vaddr, page);
        if (up(ph[i].p_vaddr + ph[i].p_memsz, page) > hi)
            hi = up(ph[i].p_vaddr + ph[i].p_memsz, page);
    }
    if (hi <= lo) {
        *why = "it has no loadable segment";
        return -1;
    }
    /* Reserve the whole span, aligned, then map each segment over it. */
    size_t span = hi - lo;
    unsigned char *res = mmap(NULL, span + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) {
        *why = "out of address space";
        return -1;
    }
    unsigned char *start = (unsigned char *)up((uintptr_t)res, align);
    if (start > res)
        munmap(res, (size_t)(start - res));
    if (start + span < res + span + align)
        munmap(start + span, (size_t)(res + span + align - (start + span)));
    o->map = start;
    o->map_len = span;
    o->base = start - lo;

    /* From the binary's file where the object sits page-aligned in it; else from a copy. */
    off_t at = exe_is_self() ? file_offset(img, size) : -1;
    int fd = exe_fd;
    int copy_fd = -1;
    if (at < 0 || at % (off_t)page != 0) {
        at = 0;
        fd = copy_fd = memfd_of(o->soname, img, size);
    }
    int anonymous = fd < 0;
    for (size_t i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        int prot = prot_of(ph[i].p_flags);
        size_t vstart = down(ph[i].p_vaddr, page), fstart = down(ph[i].p_offset, page);
        size_t fend = ph[i].p_vaddr + ph[i].p_filesz, mend = ph[i].p_vaddr + ph[i].p_memsz;
        int has_bss = mend > fend && (fend % page) != 0;
        if (ph[i].p_filesz > 0) {
            size_t len = up(fend, page) - vstart;
            void *p;
            if (!anonymous) {
                int mprot = prot | (has_bss ? PROT_WRITE : 0);
                p = mmap(o->base + vstart, len, mprot, MAP_PRIVATE | MAP_FIXED, fd, at + (off_t)fstart);
                if (p == MAP_FAILED && copy_fd < 0) {
                    /* The binary's file refused (noexec mount): a copy then. */
                    fd = copy_fd = memfd_of(o->soname, img, size);
                    at = 0;
                    anonymous = fd < 0;
                    if (!anonymous)
                        p = mmap(o->base + vstart, len, mprot, MAP_PRIVATE | MAP_FIXED, fd, (off_t)fstart);
                }
                if (p == MAP_FAILED && !anonymous) {
                    anonymous = 1; /* memfd_noexec: anonymous memory, made executable after */
                }
                if (p != MAP_FAILED && has_bss && !(prot & PROT_WRITE) && o->n_finish < 8)
                    o->finish[o->n_finish].start = vstart, o->finish[o->n_finish].len = len,
                    o->finish[o->n_finish++].prot = prot;
            } else {
                p = MAP_FAILED;
            }
            if (p == MAP_FAILED && anonymous) {
                p = mmap(o->base + vstart, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
                if (p != MAP_FAILED) {
                    memcpy(o->base + vstart, img + fstart, ph[i].p_offset + ph[i].p_filesz - fstart);
                    if (prot != (PROT_READ | PROT_WRITE) && o->n_finish < 8)
                        o->finish[o->n_finish].start = vstart, o->finish[o->n_finish].len = len,
                        o->finish[o->n_finish++].prot = prot;
                }
            }
            if (p == MAP_FAILED) {
                *why = "cannot map its segments";
                goto fail;
            }
        }
        if (mend > fend) {
            /* zero-filled pages: after the file's last page, or the whole segment */
            size_t zend = ph[i].p_filesz > 0 ? up(fend, page) : vstart;
            if (ph[i].p_filesz > 0 && zend > fend)
                memset(o->base + fend, 0, zend - fend);
            if (up(mend, page) > zend) {
                void *p = mmap(o->base + zend, up(mend, page) - zend, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                    *why = "cannot map its zero-filled memory";
                    goto fail;
                }
            }
        }
    }
    if (copy_fd >= 0)
        close(copy_fd);
    /* Its program headers, for dl_iterate_phdr. */
    o->phnum = eh->e_phnum;
    o->phdr = malloc(eh->e_phnum * sizeof *ph);
    if (o->phdr == NULL) {
        *why = "out of memory";
        return -1;
    }
    memcpy(o->phdr, ph, eh->e_phnum * sizeof *ph);
    return 0;
fail:
    if (copy_fd >= 0)
        close(copy_fd);
    munmap(o->map, o->map_len);
    o->map = NULL;
    return -1;
}

/* Whether [off, off+len) of the object's address space is mapped. */
/* Whether [off, off+len) of the object's address space is in one of its loaded segments (the
 * gaps between them are reserved but not mapped), readable, and writable when `write` is set. */
static int in_segment(const struct object *o, uintptr_t off, size_t len, int write)
{
    for (size_t i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R) || (write && !(ph->p_flags & PF_W)))
            continue;
        if (off >= ph->p_vaddr && len <= ph->p_memsz && off - ph->p_vaddr <= ph->p_memsz - len)
            return 1;
    }
    return 0;
}

static int inside(const struct object *o, uintptr_t off, size_t len) { return in_segment(o, off, len, 0); }
static int writable(const struct object *o, uintptr_t off, size_t len) { return in_segment(o, off, len, 1); }

/* Reads the dynamic section. */
static int read_dynamic(struct object *o, const char **why)
{
    size_t dyn_off = 0, dyn_size = 0;
    for (size_t i = 0; i < o->phnum; i++) {
        if (o->phdr[i].p_type == PT_DYNAMIC)
            dyn_off = o->phdr[i].p_vaddr, dyn_size = o->phdr[i].p_memsz;
        if (o->phdr[i].p_type == PT_GNU_RELRO)
            o->relro_start = o->phdr[i].p_vaddr, o->relro_end = o->phdr[i].p_vaddr + o->phdr[i].p_memsz;
        if (o->phdr[i].p_type == PT_TLS && o->phdr[i].p_memsz > 0) {
            o->tls_filesz = o->phdr[i].p_filesz;
            o->tls_memsz = o->phdr[i].p_memsz;
            o->tls_align = o->phdr[i].p_align ? o->phdr[i].p_align : 1;
            o->tls_image = o->base + o->phdr[i].p_vaddr;
            if (!inside(o, o->phdr[i].p_vaddr, o->tls_filesz) || o->tls_filesz > o->tls_memsz) {
                *why = "its TLS segment is malformed";
                return -1;
            }
        }
    }
    if (dyn_size < sizeof(ElfW(Dyn)) || !inside(o, dyn_off, dyn_size)) {
        *why = "it has no dynamic section";
        return -1;
    }
    o->dynamic = (ElfW(Dyn) *)(o->base + dyn_off);
    size_t n = dyn_size / sizeof(ElfW(Dyn)), n_needed = 0;
    while (o->n_dyn < n && o->dynamic[o->n_dyn].d_tag != DT_NULL)
        o->n_dyn++;
    /* The constructor and destructor arrays are in its memory. */
    size_t arrays[4] = {0}; /* init, init size, fini, fini size */
    for (size_t i = 0; i < o->n_dyn; i++) {
        ElfW(Dyn) *d = &o->dynamic[i];
        if (d->d_tag == DT_INIT_ARRAY)
            arrays[0] = d->d_un.d_ptr;
        if (d->d_tag == DT_INIT_ARRAYSZ)
            arrays[1] = d->d_un.d_val;
        if (d->d_tag == DT_FINI_ARRAY)
            arrays[2] = d->d_un.d_ptr;
        if (d->d_tag == DT_FINI_ARRAYSZ)
            arrays[3] = d->d_un.d_val;
    }
    if ((arrays[1] && !inside(o, arrays[0], arrays[1])) || (arrays[3] && !inside(o, arrays[2], arrays[3]))) {
        *why = "its constructor or destructor array is out of its memory";
        return -1;
    }
    if (o->relro_end > o->relro_start && !inside(o, o->relro_start, o->relro_end - o->relro_start)) {
        *why = "its RELRO segment is out of its memory";
        return -1;
    }
    size_t strtab = 0, symtab = 0, soname = SIZE_MAX, rpath = SIZE_MAX, runpath = SIZE_MAX;
    for (size_t i = 0; i < n && o->dynamic[i].d_tag != DT_NULL; i++) {
        ElfW(Dyn) *d = &o->dynamic[i];
        switch (d->d_tag) {
        case DT_NEEDED: n_needed++; break;
        case DT_STRTAB: strtab = d->d_un.d_ptr; break;
        case DT_STRSZ: o->strsz = d->d_un.d_val; break;
        case DT_SYMTAB: symtab = d->d_un.d_ptr; break;
        case DT_HASH: o->hash = (const uint32_t *)(o->base + d->d_un.d_ptr); break;
        case DT_GNU_HASH: o->ghash = (const uint32_t *)(o->base + d->d_un.d_ptr); break;
        case DT_VERSYM: o->versym = (const ElfW(Half) *)(o->base + d->d_un.d_ptr); break;
        case DT_SONAME: soname = d->d_un.d_val; break;
        case DT_RPATH: rpath = d->d_un.d_val; break;
        case DT_RUNPATH: runpath = d->d_un.d_val; break;
        case DT_TEXTREL: *why = "it has text relocations (TEXTREL)"; return -1;
        case DT_FLAGS:
            if (d->d_un.d_val & DF_TEXTREL) {
                *why = "it has text relocations (TEXTREL)";
                return -1;
            }
            break;
        }
    }
    if (!inside(o, strtab, o->strsz) || o->strsz == 0 || symtab == 0) {
        *why = "its string or symbol table is out of its memory";
        return -1;
    }
    o->strings = (const char *)(o->base + strtab);
    if (o->strings[o->strsz - 1] != '\0') {
        *why = "its string table is not terminated";
        return -1;
    }
    o->syms = (const ElfW(Sym) *)(o->base + symtab);
    /* How many symbols: DT_HASH's chain count, or past GNU hash's last chain; every table checked
     * to be inside the object's memory. */
    const uintptr_t hash_off = o->hash ? (uintptr_t)((unsigned char *)o->hash - o->base) : 0;
    const uintptr_t ghash_off = o->ghash ? (uintptr_t)((unsigned char *)o->ghash - o->base) : 0;
    if (o->hash && inside(o, hash_off, 8) && o->hash[0] < (1u << 24) && o->hash[1] < (1u << 24) &&
        inside(o, hash_off, 8 + 4 * ((size_t)o->hash[0] + o->hash[1]))) {
        o->nsyms = o->hash[1];
    } else {
        o->hash = NULL;
    }
    if (o->ghash && inside(o, ghash_off, 16) && o->ghash[0] < (1u << 24) && o->ghash[2] < (1u << 24) &&
        inside(o, ghash_off, 16 + (size_t)o->ghash[2] * sizeof(size_t) + 4 * (size_t)o->ghash[0])) {
        const uint32_t *ht = o->ghash;
        const uint32_t *buckets = ht + 4 + ht[2] * (sizeof(size_t) / 4);
        const uintptr_t chain_off = ghash_off + 16 + (size_t)ht[2] * sizeof(size_t) + 4 * (size_t)ht[0];
        uint32_t nmax = 0;
        for (uint32_t i = 0; i < ht[0]; i++)
            if (buckets[i] > nmax)
                nmax = buckets[i];
        int ok = nmax == 0 || nmax >= ht[1];
        if (ok && nmax) {
            const uint32_t *chain = buckets + ht[0];
            for (;;) {
                if (!inside(o, chain_off + 4 * ((size_t)nmax - ht[1]), 4) || nmax == UINT32_MAX) {
                    ok = 0;
                    break;
                }
                if (chain[nmax - ht[1]] & 1)
                    break;
                nmax++;
            }
            nmax++;
        }
        if (ok) {
            o->gnu_chains = nmax > ht[1] ? nmax - ht[1] : 0;
            if (!o->hash)
                o->nsyms = nmax;
        } else {
            o->ghash = NULL;
        }
    } else {
        o->ghash = NULL;
    }
    if (!o->hash && !o->ghash) {
        *why = "it has no symbol hash table";
        return -1;
    }
    if (o->nsyms > (1u << 24)) {
        *why = "its symbol table is out of its memory";
        return -1;
    }
    if (o->versym && !inside(o, (uintptr_t)((unsigned char *)o->versym - o->base), o->nsyms * sizeof *o->versym)) {
        *why = "its symbol versions are out of its memory";
        return -1;
    }
    if (!inside(o, symtab, o->nsyms * sizeof(ElfW(Sym)))) {
        *why = "its symbol table is out of its memory";
        return -1;
    }
    if (soname < o->strsz)
        o->soname = o->strings + soname;
    if (runpath < o->strsz)
        o->rpath = o->strings + runpath;
    else if (rpath < o->strsz)
        o->rpath = o->strings + rpath;
    o->needed = calloc(n_needed + 1, sizeof *o->needed);
    o->deps = calloc(n_needed + 1, sizeof *o->deps);
    if (o->needed == NULL || o->deps == NULL) {
        *why = "out of memory";
        return -1;
    }
    for (size_t i = 0; i < n && o->dynamic[i].d_tag != DT_NULL; i++)
        if (o->dynamic[i].d_tag == DT_NEEDED) {
            if (o->dynamic[i].d_un.d_val >= o->strsz) {
                *why = "a DT_NEEDED name is out of its string table";
                return -1;
            }
            o->needed[o->n_needed++] = o->dynamic[i].d_un.d_val;
        }
    return 0;
}

/* ---- loading ---- */

/* Objects loaded by the dlopen under way (not yet published). */
struct batch {
    struct object *list[256];
    size_t n;
};

/* A loaded object, published or of the batch `b` (if any): by its path in the tree, or by its
 * soname when `by_soname`. */
static struct object *find_object(const char *key, int by_soname, const struct batch *b)
{
    for (struct object *o = head; o; o = o->next)
        if (strcmp(by_soname ? o->soname : o->name, key) == 0)
            return o;
    for (size_t i = 0; b && i < b->n; i++)
        if (strcmp(by_soname ? b->list[i]->soname : b->list[i]->name, key) == 0)
            return b->list[i];
    return NULL;
}

static void forget(struct object *o)
{
    if (o->map)
        munmap(o->map, o->map_len);
    free(o->phdr);
    free(o->needed);
    free(o->deps);
    free(o->name);
    free(o);
}

/* Loads (maps and reads) the object at `path` in the tree, or finds it loaded. */
static struct object *load_path(const char *path, struct batch *b)
{
    const unsigned char *data;
    size_t size;
    char name[PATH_MAX];
    if (pyelf_vfs_stored(path, &data, &size, name, sizeof name) < 0) {
        if (errno == ENOENT)
            __dl_seterr("Error loading shared library %s: No such file or directory", path);
        else
            __dl_seterr("Error loading shared library %s: %s", path,
                        errno == EINVAL ? "not stored for loading in the binary (pyelf bundles only the shared objects of its wheels)" : strerror(errno));
        return NULL;
    }
    struct object *o = find_object(name, 0, b);
    if (o)
        return o;
    if (b->n == sizeof b->list / sizeof *b->list) {
        __dl_seterr("Error loading shared library %s: too many libraries at once", name);
        return NULL;
    }
    o = calloc(1, sizeof *o);
    if (o == NULL || (o->name = strdup(name)) == NULL) {
        free(o);
        __dl_seterr("Error loading shared library %s: out of memory", name);
        return NULL;
    }
    const char *slash = strrchr(o->name, '/');
    o->soname = slash ? slash + 1 : o->name;
    const char *why = NULL;
    if (map_object(o, data, size, &why) < 0 || read_dynamic(o, &why) < 0) {
        __dl_seterr("Error loading shared library %s: %s", o->name, why);
        forget(o);
        return NULL;
    }
    if (o->tls_memsz) {
        size_t off = up(tls_used, o->tls_align);
        if (tls_next_id > PYELF_TLS_OBJECTS || o->tls_align > PYELF_TLS_ALIGN || off + o->tls_memsz > PYELF_TLS_SIZE) {
            __dl_seterr("Error loading shared library %s: its thread-local storage does not fit in what the binary reserved", o->name);
            forget(o);
            return NULL;
        }
        o->tls_offset = off;
        o->tls_id = tls_next_id++;
        tls_used = off + o->tls_memsz;
    }
    b->list[b->n++] = o;
    return o;
}

/* Where DT_NEEDED `want` of `o` is: an object already loaded with that soname, else a file named
 * so in one of its RPATH/RUNPATH directories (in the tree). */
static struct object *load_needed(struct object *o, const char *want, struct batch *b)
{
    if (strchr(want, '/'))
        return load_path(want, b);
    struct object *known = find_object(want, 1, b);
    if (known)
        return known;
    const char *dir_end = strrchr(o->name, '/');
    size_t origin_len = dir_end ? (size_t)(dir_end - o->name) : 0;
    for (const char *p = o->rpath; p && *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char path[PATH_MAX];
        size_t n = 0;
        for (size_t i = 0; i < len && n < sizeof path - 1;) {
            if (strncmp(p + i, "$ORIGIN", 7) == 0 || strncmp(p + i, "${ORIGIN}", 9) == 0) {
                size_t skip = p[i + 1] == '{' ? 9 : 7;
                if (n + origin_len >= sizeof path - 1)
                    break;
                memcpy(path + n, o->name, origin_len);
                n += origin_len;
                i += skip;
            } else {
                path[n++] = p[i++];
            }
        }
        path[n] = '\0';
        if (n + 1 + strlen(want) < sizeof path) {
            path[n] = '/';
            strcpy(path + n + 1, want);
            const unsigned char *data;
            size_t size;
            char name[PATH_MAX];
            if (pyelf_vfs_stored(path, &data, &size, name, sizeof name) == 0)
                return load_path(path, b);
        }
        p = end ? end + 1 : p + len;
    }
    __dl_seterr("Error loading shared library %s: No such file or directory (needed by %s)", want, o->name);
    return NULL;
}

#if defined(__aarch64__)
/* A TLS descriptor's argument: where the variable and the object's "ready" flag are, from the
 * thread pointer (the same in every thread: both are in the static TLS). */
struct tlsdesc_arg {
    size_t ready_tpoff;
    size_t tpoff;
    size_t id;
};
extern char pyelf_tlsdesc[];
#endif

/* This thread's copy of object `id`'s initial TLS image. */
static void tls_prepare(size_t id)
{
    struct object *o = tls_objects[id];
    if (o && o->tls_filesz)
        memcpy(tls_block + o->tls_offset, o->tls_image, o->tls_filesz);
    tls_ready[id] = 1;
}

typedef struct {
    size_t module, offset;
} tls_index;

void *pyelf_tls_get_addr(tls_index *ti)
{
    size_t id = ti->module;
    if (!tls_ready[id])
        tls_prepare(id);
    return tls_block + tls_objects[id]->tls_offset + ti->offset;
}

#if defined(__aarch64__)
void pyelf_tlsdesc_slow(struct tlsdesc_arg *a) { tls_prepare(a->id); }

/* The resolver of TLS descriptors: x0 is the descriptor; returns the variable's offset from the
 * thread pointer in x0, and keeps every other register (the first access in a thread saves them
 * around tls_prepare). */
__asm__(".text\n"
        ".global pyelf_tlsdesc\n"
        ".hidden pyelf_tlsdesc\n"
        ".type pyelf_tlsdesc, %function\n"
        "pyelf_tlsdesc:\n"
        "    stp x1, x2, [sp, #-16]!\n"
        "    ldr x0, [x0, #8]\n"
        "    mrs x1, tpidr_el0\n"
        "    ldr x2, [x0]\n"
        "    ldrb w2, [x1, x2]\n"
        "    cbz w2, 1f\n"
        "    ldr x0, [x0, #8]\n"
        "    ldp x1, x2, [sp], #16\n"
        "    ret\n"
        "1:  stp x29, x30, [sp, #-16]!\n"
        "    stp x3, x4, [sp, #-16]!\n"
        "    stp x5, x6, [sp, #-16]!\n"
        "    stp x7, x8, [sp, #-16]!\n"
        "    stp x9, x10, [sp, #-16]!\n"
        "    stp x11, x12, [sp, #-16]!\n"
        "    stp x13, x14, [sp, #-16]!\n"
        "    stp x15, x16, [sp, #-16]!\n"
        "    stp x17, x18, [sp, #-16]!\n"
        "    stp x0, xzr, [sp, #-16]!\n"
        "    stp q0, q1, [sp, #-32]!\n"
        "    stp q2, q3, [sp, #-32]!\n"
        "    stp q4, q5, [sp, #-32]!\n"
        "    stp q6, q7, [sp, #-32]!\n"
        "    stp q16, q17, [sp, #-32]!\n"
        "    stp q18, q19, [sp, #-32]!\n"
        "    stp q20, q21, [sp, #-32]!\n"
        "    stp q22, q23, [sp, #-32]!\n"
        "    stp q24, q25, [sp, #-32]!\n"
        "    stp q26, q27, [sp, #-32]!\n"
        "    stp q28, q29, [sp, #-32]!\n"
        "    stp q30, q31, [sp, #-32]!\n"
        "    mrs x1, nzcv\n"
        "    stp x1, xzr, [sp, #-16]!\n"
        "    bl pyelf_tlsdesc_slow\n"
        "    ldp x1, xzr, [sp], #16\n"
        "    msr nzcv, x1\n"
        "    ldp q30, q31, [sp], #32\n"
        "    ldp q28, q29, [sp], #32\n"
        "    ldp q26, q27, [sp], #32\n"
        "    ldp q24, q25, [sp], #32\n"
        "    ldp q22, q23, [sp], #32\n"
        "    ldp q20, q21, [sp], #32\n"
        "    ldp q18, q19, [sp], #32\n"
        "    ldp q16, q17, [sp], #32\n"
        "    ldp q6, q7, [sp], #32\n"
        "    ldp q4, q5, [sp], #32\n"
        "    ldp q2, q3, [sp], #32\n"
        "    ldp q0, q1, [sp], #32\n"
        "    ldp x0, xzr, [sp], #16\n"
        "    ldp x17, x18, [sp], #16\n"
        "    ldp x15, x16, [sp], #16\n"
        "    ldp x13, x14, [sp], #16\n"
        "    ldp x11, x12, [sp], #16\n"
        "    ldp x9, x10, [sp], #16\n"
        "    ldp x7, x8, [sp], #16\n"
        "    ldp x5, x6, [sp], #16\n"
        "    ldp x3, x4, [sp], #16\n"
        "    ldp x29, x30, [sp], #16\n"
        "    ldr x0, [x0, #8]\n"
        "    ldp x1, x2, [sp], #16\n"
        "    ret\n"
        ".size pyelf_tlsdesc, .-pyelf_tlsdesc\n");
#endif

static int relocate_table(struct object *o, const ElfW(Rela) *rel, size_t size, const struct scope *sc)
{
    size_t n = size / sizeof *rel;
    for (size_t i = 0; i < n; i++) {
        uint32_t type = (uint32_t)ELF64_R_TYPE(rel[i].r_info);
        size_t symi = ELF64_R_SYM(rel[i].r_info);
        if (type == R_NONE_)
            continue;
#if defined(__aarch64__)
        size_t width = type == R_TLSDESC_ ? 2 * sizeof(size_t) : sizeof(size_t);
#else
        size_t width = sizeof(size_t);
#endif
        if (!writable(o, rel[i].r_offset, width)) {
            __dl_seterr("Error relocating %s: a relocation is out of its memory", o->name);
            return -1;
        }
        size_t *where = (size_t *)(o->base + rel[i].r_offset);
        size_t addend = (size_t)rel[i].r_addend;
        if (type == R_RELATIVE) {
            *where = (size_t)o->base + addend;
            continue;
        }
        struct def d = {0};
        const char *name = "";
        if (symi) {
            if (symi >= o->nsyms || o->syms[symi].st_name >= o->strsz) {
                __dl_seterr("Error relocating %s: a relocation names a symbol out of its table", o->name);
                return -1;
            }
            const ElfW(Sym) *s = &o->syms[symi];
            name = o->strings + s->st_name;
            if (ELF64_ST_BIND(s->st_info) == STB_LOCAL) {
                d.found = 1, d.obj = o, d.sym = s, d.addr = (uintptr_t)o->base + s->st_value;
            } else {
                d = find(name, sc);
                if (!d.found && ELF64_ST_BIND(s->st_info) != STB_WEAK) {
                    __dl_seterr("Error relocating %s: %s: symbol not found", o->name, name);
                    return -1;
                }
            }
        } else {
            d.found = 1, d.obj = o;
        }
        switch (type) {
        case R_ABS:
        case R_GLOB_DAT:
        case R_JUMP_SLOT:
            *where = d.addr + addend; /* an undefined weak symbol is 0 */
            break;
        case R_DTPMOD:
            if (!d.obj || !d.obj->tls_id) {
                __dl_seterr("Error relocating %s: %s: not a thread-local variable of a loaded library", o->name, name);
                return -1;
            }
            *where = d.obj->tls_id;
            break;
        case R_DTPOFF:
            *where = (d.sym ? d.sym->st_value : 0) + addend;
            break;
#if defined(__aarch64__)
        case R_TLSDESC_: {
            if (!d.obj || !d.obj->tls_id) {
                __dl_seterr("Error relocating %s: %s: not a thread-local variable of a loaded library", o->name, name);
                return -1;
            }
            struct tlsdesc_arg *a = malloc(sizeof *a);
            if (a == NULL) {
                __dl_seterr("Error relocating %s: out of memory", o->name);
                return -1;
            }
            unsigned char *tp = __builtin_thread_pointer();
            a->id = d.obj->tls_id;
            a->ready_tpoff = (size_t)(&tls_ready[a->id] - tp);
            a->tpoff = (size_t)(tls_block + d.obj->tls_offset - tp) + (d.sym ? d.sym->st_value : 0) + addend;
            where[0] = (size_t)pyelf_tlsdesc;
            where[1] = (size_t)a;
            break;
        }
#endif
        default:
            __dl_seterr("Error relocating %s: relocation type %u is not handled by pyelf's loader", o->name, type);
            return -1;
        }
    }
    return 0;
}

static int relocate(struct object *o, const struct scope *sc)
{
    size_t rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0, relr = 0, relrsz = 0;
    for (ElfW(Dyn) *d = o->dynamic; d < o->dynamic + o->n_dyn; d++) {
        switch (d->d_tag) {
        case DT_RELA: rela = d->d_un.d_ptr; break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        case DT_JMPREL: jmprel = d->d_un.d_ptr; break;
        case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
        case DT_RELR: relr = d->d_un.d_ptr; break;
        case DT_RELRSZ: relrsz = d->d_un.d_val; break;
        case DT_REL:
            __dl_seterr("Error relocating %s: it has REL relocations", o->name);
            return -1;
        }
    }
    if ((relasz && !inside(o, rela, relasz)) || (pltrelsz && !inside(o, jmprel, pltrelsz)) || (relrsz && !inside(o, relr, relrsz))) {
        __dl_seterr("Error relocating %s: its relocation tables are out of its memory", o->name);
        return -1;
    }
    /* Packed relative relocations (DT_RELR): an address, then bitmaps of the words after it. */
    const size_t *r = (const size_t *)(o->base + relr);
    size_t *where = NULL;
    for (size_t i = 0; i < relrsz / sizeof(size_t); i++) {
        if ((r[i] & 1) == 0) {
            if (!writable(o, r[i], sizeof(size_t)))
                goto bad_relr;
            where = (size_t *)(o->base + r[i]);
            *where++ += (size_t)o->base;
        } else {
            size_t bits = r[i] >> 1;
            for (size_t k = 0; bits; k++, bits >>= 1)
                if (bits & 1) {
                    if (where == NULL || !writable(o, (uintptr_t)((unsigned char *)(where + k) - o->base), sizeof(size_t)))
                        goto bad_relr;
                    where[k] += (size_t)o->base;
                }
            if (where)
                where += 8 * sizeof(size_t) - 1;
        }
    }
    if (relasz && relocate_table(o, (const ElfW(Rela) *)(o->base + rela), relasz, sc) < 0)
        return -1;
    if (pltrelsz && relocate_table(o, (const ElfW(Rela) *)(o->base + jmprel), pltrelsz, sc) < 0)
        return -1;
    /* RELRO, then the copy's final protections (nothing stays writable and executable). */
    size_t page = page_size();
    if (o->relro_end > o->relro_start) {
        size_t a = down(o->relro_start, page), e = down(o->relro_end, page);
        if (e > a && mprotect(o->base + a, e - a, PROT_READ) < 0) {
            __dl_seterr("Error relocating %s: cannot make its relocated data read-only", o->name);
            return -1;
        }
    }
    for (size_t i = 0; i < o->n_finish; i++)
        if (mprotect(o->base + o->finish[i].start, o->finish[i].len, o->finish[i].prot) < 0) {
            __dl_seterr("Error loading shared library %s: cannot make its code executable (%s)", o->name, strerror(errno));
            return -1;
        }
    return 0;
bad_relr:
    __dl_seterr("Error relocating %s: a packed relocation is out of its memory", o->name);
    return -1;
}

static void construct(struct object *o)
{
    if (o->constructed)
        return;
    o->constructed = 1;
    for (size_t i = 0; i < o->n_deps; i++)
        construct(o->deps[i]);
    void (*init)(void) = NULL;
    void (**array)(void) = NULL;
    size_t count = 0;
    for (ElfW(Dyn) *d = o->dynamic; d < o->dynamic + o->n_dyn; d++) {
        if (d->d_tag == DT_INIT)
            init = (void (*)(void))(o->base + d->d_un.d_ptr);
        if (d->d_tag == DT_INIT_ARRAY)
            array = (void (**)(void))(o->base + d->d_un.d_ptr);
        if (d->d_tag == DT_INIT_ARRAYSZ)
            count = d->d_un.d_val / sizeof(void *);
    }
#ifdef PYELF_LOADER_FUZZ
    /* The fuzzer maps and relocates objects; it never runs their code. */
    return;
#endif
    if (n_constructed < sizeof constructed_order / sizeof *constructed_order)
        constructed_order[n_constructed++] = o;
    if (init)
        init();
    for (size_t i = 0; array && i < count; i++)
        if (array[i] && array[i] != (void (*)(void))-1)
            array[i]();
}

/* Destructors of the loaded objects: after every atexit handler (this runs from the binary's own
 * .fini_array, which musl's exit() runs after them), in the reverse order of construction. */
__attribute__((destructor)) static void destruct_all(void)
{
    while (n_constructed > 0) {
        struct object *o = constructed_order[--n_constructed];
        void (*fini)(void) = NULL;
        void (**array)(void) = NULL;
        size_t count = 0;
        for (ElfW(Dyn) *d = o->dynamic; d < o->dynamic + o->n_dyn; d++) {
            if (d->d_tag == DT_FINI)
                fini = (void (*)(void))(o->base + d->d_un.d_ptr);
            if (d->d_tag == DT_FINI_ARRAY)
                array = (void (**)(void))(o->base + d->d_un.d_ptr);
            if (d->d_tag == DT_FINI_ARRAYSZ)
                count = d->d_un.d_val / sizeof(void *);
        }
        while (array && count > 0)
            if (array[--count] && array[count] != (void (*)(void))-1)
                array[count]();
        if (fini)
            fini();
    }
}

/* The root's scope: it and its dependencies, breadth first, each once. */
static int scope_of(struct object *root, struct scope *sc)
{
    size_t cap = 16;
    sc->list = malloc(cap * sizeof *sc->list);
    sc->n = 0;
    sc->zlib = 0;
    if (sc->list == NULL)
        return -1;
    sc->list[sc->n++] = root;
    for (size_t i = 0; i < sc->n; i++) {
        struct object *o = sc->list[i];
        sc->zlib |= o->needs_zlib;
        for (size_t k = 0; k < o->n_deps; k++) {
            size_t j = 0;
            while (j < sc->n && sc->list[j] != o->deps[k])
                j++;
            if (j < sc->n)
                continue;
            if (sc->n == cap) {
                struct object **grown = realloc(sc->list, 2 * cap * sizeof *grown);
                if (grown == NULL)
                    return -1;
                sc->list = grown;
                cap *= 2;
            }
            sc->list[sc->n++] = o->deps[k];
        }
    }
    return 0;
}

static struct object *open_locked(const char *file, int mode)
{
    struct batch b = {.n = 0};
    size_t tls_was_used = tls_used, tls_was_next = tls_next_id;
    struct object *root = load_path(file, &b);
    if (root == NULL)
        return NULL;
    /* Its dependencies, breadth first; each new object's names are resolved once. */
    for (size_t i = 0; i < b.n; i++) {
        struct object *o = b.list[i];
        for (size_t k = 0; k < o->n_needed; k++) {
            const char *want = o->strings + o->needed[k];
            if (is_self_name(want)) {
                if (strncmp(want, "libz.", 5) == 0)
                    o->needs_zlib = 1;
                continue;
            }
            struct object *dep = load_needed(o, want, &b);
            if (dep == NULL)
                goto undo;
            o->deps[o->n_deps++] = dep;
        }
    }
    if (b.n > 0) {
        struct scope sc;
        if (scope_of(root, &sc) < 0) {
            free(sc.list);
            __dl_seterr("Error loading shared library %s: out of memory", root->name);
            goto undo;
        }
        for (size_t i = b.n; i-- > 0;) {
            if (b.list[i]->tls_id)
                tls_objects[b.list[i]->tls_id] = b.list[i];
            if (relocate(b.list[i], &sc) < 0) {
                free(sc.list);
                goto undo;
            }
        }
        free(sc.list);
    }
    /* Published (dl_iterate_phdr, dladdr, dlsym) before the constructors run: they may throw
     * and catch, which unwinds through them. */
    for (size_t i = 0; i < b.n; i++) {
        __atomic_store_n(tail ? &tail->next : &head, b.list[i], __ATOMIC_RELEASE);
        tail = b.list[i];
    }
    if (b.n)
        __atomic_add_fetch(&adds, 1, __ATOMIC_RELEASE);
    if (mode & RTLD_GLOBAL) {
        struct scope sc;
        if (scope_of(root, &sc) == 0)
            for (size_t i = 0; i < sc.n; i++)
                sc.list[i]->global = 1;
        free(sc.list);
    }
    construct(root);
    return root;
undo:
    for (size_t i = 0; i < b.n; i++) {
        if (b.list[i]->tls_id)
            tls_objects[b.list[i]->tls_id] = NULL;
        forget(b.list[i]);
    }
    tls_used = tls_was_used;
    tls_next_id = tls_was_next;
    return NULL;
}

void *dlopen(const char *file, int mode)
{
    if (file == NULL)
        return &self;
    const char *base = strrchr(file, '/');
    if (base == NULL && is_self_name(file))
        return &self;
    pthread_once(&lock_once, lock_init);
    pthread_mutex_lock(&lock);
    struct object *o = NULL;
    if (base == NULL) {
        o = find_object(file, 1, NULL);
        if (o == NULL)
            __dl_seterr("Error loading shared library %s: No such file or directory (pyelf loads only the libraries bundled in the binary)", file);
    } else if (file[0] != '/') {
        char cwd[PATH_MAX], path[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) == NULL || strlen(cwd) + 1 + strlen(file) >= sizeof path) {
            __dl_seterr("Error loading shared library %s: %s", file, strerror(errno ? errno : ENAMETOOLONG));
        } else {
            strcpy(path, cwd);
            strcat(path, "/");
            strcat(path, file);
            o = open_locked(path, mode);
        }
    } else {
        o = open_locked(file, mode);
    }
    if (o && (mode & RTLD_GLOBAL) && !o->global) {
        struct scope sc;
        if (scope_of(o, &sc) == 0)
            for (size_t i = 0; i < sc.n; i++)
                sc.list[i]->global = 1;
        free(sc.list);
    }
    pthread_mutex_unlock(&lock);
    return o;
}

#ifdef PYELF_LOADER_FUZZ
/* The fuzzer's next input starts from no object loaded. */
void pyelf_loader_fuzz_reset(void)
{
    while (head) {
        struct object *o = head;
        head = o->next;
        forget(o);
    }
    tail = NULL;
    tls_used = 0;
    tls_next_id = 1;
    memset(tls_objects, 0, sizeof tls_objects);
}
#endif

static int valid(void *h)
{
    if (h == &self)
        return 1;
    for (struct object *o = head; o; o = o->next)
        if (o == h)
            return 1;
    return 0;
}

int __dl_invalid_handle(void *h)
{
    if (valid(h))
        return 0;
    __dl_seterr("Invalid library handle %p", h);
    return 1;
}

void *__dlsym(void *restrict h, const char *restrict name, void *restrict ra)
{
    (void)ra;
    pthread_once(&lock_once, lock_init);
    pthread_mutex_lock(&lock);
    void *found = NULL;
    int ok = 0;
    if (h == RTLD_DEFAULT || h == RTLD_NEXT || h == &self) {
        struct def d = find(name, NULL);
        ok = d.found, found = (void *)d.addr;
        if (d.sym && ELF64_ST_TYPE(d.sym->st_info) == STT_TLS)
            found = pyelf_tls_get_addr(&(tls_index){d.obj->tls_id, d.sym->st_value});
    } else if (valid(h)) {
        struct scope sc;
        if (scope_of(h, &sc) == 0) {
            uint32_t gh = gnu_hash(name), sh = sysv_hash(name);
            for (size_t i = 0; i < sc.n && !ok; i++) {
                const ElfW(Sym) *s = lookup_in(sc.list[i], name, gh, sh);
                if (s) {
                    ok = 1;
                    found = ELF64_ST_TYPE(s->st_info) == STT_TLS
                                ? pyelf_tls_get_addr(&(tls_index){sc.list[i]->tls_id, s->st_value})
                                : sc.list[i]->base + s->st_value;
                }
            }
            if (!ok) {
                const struct pyelf_export *e = exported(name);
                if (e && (!e->zlib || sc.zlib))
                    ok = 1, found = (void *)e->addr;
            }
        }
        free(sc.list);
    } else {
        __dl_seterr("Invalid library handle %p", h);
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    pthread_mutex_unlock(&lock);
    if (!ok)
        __dl_seterr("Symbol not found: %s", name);
    return found;
}

int dladdr(const void *addr, Dl_info *info)
{
    uintptr_t a = (uintptr_t)addr;
    for (struct object *o = __atomic_load_n(&head, __ATOMIC_ACQUIRE); o; o = o->next) {
        if (a < (uintptr_t)o->map || a >= (uintptr_t)o->map + o->map_len)
            continue;
        info->dli_fname = o->name;
        info->dli_fbase = o->map;
        info->dli_sname = NULL;
        info->dli_saddr = NULL;
        uintptr_t best = 0;
        for (size_t i = 1; i < o->nsyms; i++) {
            const ElfW(Sym) *s = &o->syms[i];
            if (s->st_shndx == SHN_UNDEF || s->st_value == 0 || ELF64_ST_TYPE(s->st_info) == STT_TLS || s->st_name >= o->strsz)
                continue;
            uintptr_t v = (uintptr_t)o->base + s->st_value;
            if (v <= a && v > best && (s->st_size == 0 || a < v + s->st_size || v > best)) {
                best = v;
                info->dli_sname = o->strings + s->st_name;
                info->dli_saddr = (void *)v;
            }
        }
        return 1;
    }
    return 0;
}

int dl_iterate_phdr(int (*callback)(struct dl_phdr_info *, size_t, void *), void *data)
{
    struct dl_phdr_info info;
    const ElfW(Phdr) *ph = (const void *)getauxval(AT_PHDR);
    size_t n = getauxval(AT_PHNUM);
    memset(&info, 0, sizeof info);
    info.dlpi_addr = exe_bias();
    info.dlpi_name = "";
    info.dlpi_phdr = ph;
    info.dlpi_phnum = (ElfW(Half))n;
    info.dlpi_adds = __atomic_load_n(&adds, __ATOMIC_ACQUIRE) + 1;
    info.dlpi_subs = 0;
    int r = callback(&info, sizeof info, data);
    if (r)
        return r;
    for (struct object *o = __atomic_load_n(&head, __ATOMIC_ACQUIRE); o; o = o->next) {
        memset(&info, 0, sizeof info);
        info.dlpi_addr = (uintptr_t)o->base;
        info.dlpi_name = o->name;
        info.dlpi_phdr = o->phdr;
        info.dlpi_phnum = (ElfW(Half))o->phnum;
        info.dlpi_adds = __atomic_load_n(&adds, __ATOMIC_ACQUIRE) + 1;
        info.dlpi_tls_modid = o->tls_id;
        r = callback(&info, sizeof info, data);
        if (r)
            return r;
    }
    return 0;
}
