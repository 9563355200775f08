/* Drives the toolchain's dlmalloc (tests/dlmalloc.rs compiles it, through dlmalloc_probe.c, with
 * this file), four ways, and checks as it goes that every page its record of fresh memory holds
 * is still mapped and zero:
 *
 *   stress OPS SEED LIVE EVERY   random malloc, calloc, realloc, memalign and free over LIVE
 *                                slots, each block filled with its own byte and checked before it
 *                                is freed or after it is reallocated, each calloc'd block checked
 *                                to be zero; about once in EVERY operations nearly every block is
 *                                freed (the heap shrinks and grows again, into fresh memory)
 *   aligned                      a block memalign'd inside a mapping of its own, reallocated
 *                                smaller: its bytes must all survive
 *   fresh                        300 calloc'd blocks of 40 KB after memory of another size was
 *                                written and freed: prints how much memory they made resident,
 *                                against their size
 *   churn ROUNDS                 the same, after ROUNDS times a heap grown by megabytes and freed
 *                                (dlmalloc gives it back to the kernel), every third time but for
 *                                one block
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *dlmalloc(size_t);
void dlfree(void *);
void *dlcalloc(size_t, size_t);
void *dlrealloc(void *, size_t);
void *dlmemalign(size_t, size_t);
int pyelf_probe_ranges(void);
void pyelf_probe_range(int i, char **lo, char **hi);

static uint64_t state = 88172645463325252ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

#define SLOTS 4000
static unsigned char *block[SLOTS];
static size_t length[SLOTS];
static unsigned char fill[SLOTS];

/* Mostly small and medium blocks, some past dlmalloc's mmap threshold (256 KiB). */
static size_t some_size(void)
{
    uint64_t r = next() % 100;
    if (r < 50)
        return 1 + next() % 1024;
    if (r < 85)
        return 1024 + next() % (64 << 10);
    if (r < 98)
        return (64 << 10) + next() % (512 << 10);
    return (1 << 20) + next() % (3 << 20);
}

static void fail(const char *what, long op, size_t at)
{
    printf("FAILED: %s (operation %ld, byte %zu)\n", what, op, at);
    exit(1);
}

/* Every page of the record: mapped (mincore fails on a range with a page that is not) and zero. */
static void check_record(long op)
{
    static unsigned char in_core[256], zero[1 << 16];
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < pyelf_probe_ranges(); i++) {
        char *lo, *hi;
        pyelf_probe_range(i, &lo, &hi);
        for (char *p = lo; p < hi; p += 256 * page) {
            size_t n = (size_t)(hi - p) < 256 * page ? (size_t)(hi - p) : 256 * page;
            if (mincore(p, n, in_core) != 0)
                fail("the record holds a page that is not mapped", op, (size_t)(p - lo));
        }
        for (char *p = lo; p < hi; p += sizeof zero) {
            size_t n = (size_t)(hi - p) < sizeof zero ? (size_t)(hi - p) : sizeof zero;
            if (memcmp(p, zero, n) != 0)
                fail("the record holds a page that is not zero", op, (size_t)(p - lo));
        }
    }
}

static void check(int i, long op)
{
    for (size_t k = 0; k < length[i]; k++)
        if (block[i][k] != fill[i])
            fail("a block changed", op, k);
}

static void take(int i, unsigned char *p, size_t n)
{
    block[i] = p;
    length[i] = n;
    fill[i] = (unsigned char)(next() | 1);
    memset(p, fill[i], n);
}

static int stress(long ops, int live, long every)
{
    long callocs = 0;
    for (long op = 0; op < ops; op++) {
        int i = (int)(next() % (uint64_t)live);
        if (block[i]) {
            if (next() % 8 == 0)
                check(i, op);
            if (next() % 10 < 7) {
                dlfree(block[i]);
                block[i] = 0;
            } else {
                size_t n = some_size();
                unsigned char *p = dlrealloc(block[i], n);
                if (!p)
                    fail("realloc gave nothing", op, 0);
                size_t kept = n < length[i] ? n : length[i];
                for (size_t k = 0; k < kept; k++)
                    if (p[k] != fill[i])
                        fail("realloc lost a byte", op, k);
                take(i, p, n);
            }
            continue;
        }
        size_t n = some_size();
        uint64_t kind = next() % 10;
        unsigned char *p;
        if (kind < 4) {
            p = dlcalloc(1, n);
            if (!p)
                fail("calloc gave nothing", op, 0);
            for (size_t k = 0; k < n; k++)
                if (p[k])
                    fail("a calloc'd block is not zero", op, k);
            callocs++;
        } else if (kind < 5) {
            size_t alignment = (size_t)16 << (next() % 13);
            p = dlmemalign(alignment, n);
            if (!p || ((uintptr_t)p & (alignment - 1)))
                fail("memalign", op, 0);
        } else {
            p = dlmalloc(n);
            if (!p)
                fail("malloc gave nothing", op, 0);
        }
        take(i, p, n);
        if (op % 1009 == 0)
            check_record(op);
        if (next() % (uint64_t)every == 0)
            for (int j = 0; j < live; j++)
                if (block[j] && next() % 10) {
                    check(j, op);
                    dlfree(block[j]);
                    block[j] = 0;
                }
    }
    for (int j = 0; j < live; j++)
        if (block[j]) {
            check(j, ops);
            dlfree(block[j]);
        }
    check_record(ops);
    printf("ok: %ld operations, %ld callocs\n", ops, callocs);
    return 0;
}

static int aligned(void)
{
    /* Smaller by more than dlmalloc keeps in place (512 KiB), and a few bytes short of a multiple
     * of its granularity (256 KiB): no room left in the new mapping for the block's offset. */
    size_t big = 3 << 20, smaller = (1536 << 10) - 100;
    unsigned char *p = dlmemalign(64 << 10, big);
    if (!p)
        fail("memalign", 0, 0);
    memset(p, 0x5a, big);
    p = dlrealloc(p, smaller);
    if (!p)
        fail("realloc gave nothing", 1, 0);
    for (size_t k = 0; k < smaller; k++)
        if (p[k] != 0x5a)
            fail("realloc lost a byte", 1, k);
    dlfree(p);
    printf("ok\n");
    return 0;
}

static long resident(void)
{
    long size = 0, pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &size, &pages) != 2)
        fail("cannot read /proc/self/statm", 0, 0);
    fclose(f);
    return pages * sysconf(_SC_PAGESIZE);
}

static int fresh(void)
{
    static void *dirty[100], *reused[100];
    static void *kept[300];
    for (int i = 0; i < 100; i++) {
        dirty[i] = dlmalloc(50033);
        memset(dirty[i], 0xff, 50033);
    }
    for (int i = 0; i < 100; i++)
        dlfree(dirty[i]);
    for (int i = 0; i < 100; i++)
        reused[i] = dlcalloc(1, 40033);
    for (int i = 0; i < 100; i++)
        for (size_t k = 0; k < 40033; k++)
            if (((unsigned char *)reused[i])[k])
                fail("a calloc'd block in freed memory is not zero", i, k);
    long before = resident();
    for (int i = 0; i < 300; i++)
        kept[i] = dlcalloc(1, 40033);
    long grew = resident() - before;
    check_record(0);
    for (int i = 0; i < 300; i++)
        dlfree(kept[i]);
    check_record(1);
    printf("resident %.3f\n", (double)grew / (300.0 * 40000));
    return 0;
}

static int churn(int rounds)
{
    static void *grown[64];
    for (int r = 0; r < rounds; r++) {
        int n = 8 + (int)(next() % 56);
        for (int i = 0; i < n; i++) {
            size_t size = (32 << 10) + next() % (200 << 10);
            grown[i] = next() % 2 ? dlmalloc(size) : dlcalloc(1, size);
            if (!grown[i])
                fail("malloc gave nothing", r, 0);
            memset(grown[i], 0x77, size / 2);
        }
        /* Every third round keeps one block: the heap also grows, in pieces. */
        for (int i = r % 3 == 2; i < n; i++)
            dlfree(grown[i]);
        check_record(r);
    }
    return fresh();
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "stress") == 0) {
        state += strtoull(argv[3], 0, 10);
        return stress(atol(argv[2]), atoi(argv[4]), atol(argv[5]));
    }
    if (argc == 2 && strcmp(argv[1], "aligned") == 0)
        return aligned();
    if (argc == 2 && strcmp(argv[1], "fresh") == 0)
        return fresh();
    if (argc == 3 && strcmp(argv[1], "churn") == 0)
        return churn(atoi(argv[2]));
    fprintf(stderr, "usage: stress OPS SEED LIVE EVERY | aligned | fresh | churn ROUNDS\n");
    return 2;
}
