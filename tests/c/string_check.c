/* Checks the binary's memcpy, memmove, memset, memcmp and strlen (src/runtime/string.c,
 * compiled with PYELF_STRING_TEST under pyelf_test_* names) against plain byte loops: every
 * length up to 300 and then some long ones, every alignment of both pointers within 16 bytes,
 * overlaps both ways, for memcmp a difference at every position, and for strlen (x86_64) 64
 * start offsets and strings whose terminator is the last byte before a PROT_NONE page. Prints
 * what differs; exits 1 if anything does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *pyelf_test_memcpy(void *restrict, const void *restrict, size_t);
void *pyelf_test_memmove(void *, const void *, size_t);
void *pyelf_test_memset(void *, int, size_t);
int pyelf_test_memcmp(const void *, const void *, size_t);
#ifdef __x86_64__
size_t pyelf_test_strlen(const char *);
#endif

#define SPACE 8192
static unsigned char buf[SPACE], want[SPACE], src[SPACE];
static int failures;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131u + seed * 7u + (i >> 8));
}

static void check(int ok, const char *what, size_t n, size_t a, size_t b)
{
    if (!ok && failures++ < 20)
        printf("%s: length %zu, offsets %zu and %zu\n", what, n, a, b);
}

static int sign(int x) { return (x > 0) - (x < 0); }

int main(void)
{
    static const size_t longer[] = {511, 512, 513, 1000, 1023, 1024, 4095, 4096, 4097, 7000};
    size_t lengths[310 + sizeof longer / sizeof *longer];
    size_t count = 0;
    for (size_t n = 0; n <= 300; n++)
        lengths[count++] = n;
    for (size_t i = 0; i < sizeof longer / sizeof *longer; i++)
        lengths[count++] = longer[i];
    for (size_t k = 0; k < count; k++) {
        size_t n = lengths[k];
        for (size_t a = 0; a < 16; a++) {
            for (size_t b = 0; b < 16; b++) {
                if (n + 64 + a > SPACE || n + 64 + b > SPACE)
                    continue;
                /* memcpy: the bytes copied, nothing around them touched, dst returned */
                fill(src, SPACE, (unsigned)(n + a));
                memset(buf, 0xAA, SPACE);
                memcpy(want, buf, SPACE);
                for (size_t i = 0; i < n; i++)
                    want[32 + a + i] = src[b + i];
                void *r = pyelf_test_memcpy(buf + 32 + a, src + b, n);
                check(r == buf + 32 + a && memcmp(buf, want, SPACE) == 0, "memcpy", n, a, b);
                /* memmove within one buffer, the destination below and above the source */
                for (int dir = 0; dir < 2; dir++) {
                    size_t from = dir ? 32 + a : 32 + a + b, to = dir ? 32 + a + b : 32 + a;
                    if (from + n > SPACE || to + n > SPACE)
                        continue;
                    fill(buf, SPACE, (unsigned)(n * 3 + b));
                    memcpy(want, buf, SPACE);
                    unsigned char tmp[SPACE];
                    for (size_t i = 0; i < n; i++)
                        tmp[i] = want[from + i];
                    for (size_t i = 0; i < n; i++)
                        want[to + i] = tmp[i];
                    r = pyelf_test_memmove(buf + to, buf + from, n);
                    check(r == buf + to && memcmp(buf, want, SPACE) == 0, dir ? "memmove up" : "memmove down", n, a, b);
                }
                if (b == 0) {
                    /* memset */
                    memset(buf, 0xAA, SPACE);
                    memcpy(want, buf, SPACE);
                    for (size_t i = 0; i < n; i++)
                        want[32 + a + i] = 0x5C;
                    r = pyelf_test_memset(buf + 32 + a, 0x15C, n);
                    check(r == buf + 32 + a && memcmp(buf, want, SPACE) == 0, "memset", n, a, b);
                }
                /* memcmp: equal, then one byte higher or lower at each of some positions */
                if (n <= 300 || b == 0) {
                    fill(buf + 32 + a, n, 9);
                    fill(src + b, n, 9);
                    check(pyelf_test_memcmp(buf + 32 + a, src + b, n) == 0, "memcmp equal", n, a, b);
                    for (size_t at = 0; at < n; at += (n > 64 ? 7 : 1)) {
                        for (int up = 0; up < 2; up++) {
                            unsigned char keep = src[b + at];
                            src[b + at] = (unsigned char)(buf[32 + a + at] + (up ? 1 : 255));
                            int expect = buf[32 + a + at] < src[b + at] ? -1 : 1;
                            check(sign(pyelf_test_memcmp(buf + 32 + a, src + b, n)) == expect, "memcmp order", n, a, at);
                            src[b + at] = keep;
                        }
                    }
                }
            }
        }
    }
#ifdef __x86_64__
    /* strlen: every length up to 300 and some long ones at every start within 64 bytes, with
     * zero bytes just before the string and none between it and its terminator; then strings that
     * end at the last byte of a page whose next page is not mapped. */
    for (size_t k = 0; k < count; k++) {
        size_t n = lengths[k];
        for (size_t a = 0; a < 64; a++) {
            if (n + 128 + a > SPACE)
                continue;
            memset(buf, 0, SPACE);
            memset(buf + 64 + a, 'x', n);
            buf[64 + a + n + 1] = 'y';
            check(pyelf_test_strlen((const char *)buf + 64 + a) == n, "strlen", n, a, 0);
        }
    }
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (two == MAP_FAILED || mprotect(two + page, page, PROT_NONE) != 0) {
        printf("cannot map the guard page\n");
        return 1;
    }
    memset(two, 'z', page);
    two[page - 1] = 0;
    for (size_t n = 0; n < 200; n++)
        check(pyelf_test_strlen((const char *)two + page - 1 - n) == n, "strlen at a page's end", n, 0, 0);
#endif
    printf("%d failures\n", failures);
    return failures != 0;
}
