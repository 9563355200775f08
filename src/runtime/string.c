/* memcpy, memmove, memset, memcmp and strlen for the binary, in place of musl's. musl's x86_64
 * memcpy and memmove start `rep movsq` for every copy, whose start-up costs tens of cycles, and
 * its memcmp compares byte by byte; CPython makes millions of short copies and comparisons
 * (strings, dict keys, list sorts), which made them a fifth of a string-heavy workload's time.
 * These copy short lengths with a few unaligned loads and stores that may overlap, long ones in
 * 64-byte blocks, and compare 8 bytes at a time. musl's strlen goes byte by byte to a word
 * boundary, then a word at a time: 53 instructions a call for the names CPython measures by the
 * thousand as it starts; this one looks at 16 bytes at a time (22). The link takes them instead
 * of libc.a's (an archive member is only pulled in for a symbol still undefined), for the
 * interpreter, the C libraries and the wheels' shared objects alike. Plain C (GCC's vector
 * extension: SSE2 on x86_64), and SSE2's intrinsics for strlen. On aarch64, musl's memcpy,
 * memmove and memset are ARM's optimised routines already: only memcmp is replaced there.
 * tests/string.rs checks them all against plain loops for every length, alignment and overlap up
 * to a few hundred bytes. */
#include <stddef.h>
#include <stdint.h>

/* No loop here may become a call of the function it is in. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")

#ifdef PYELF_STRING_TEST
#define NAME(f) pyelf_test_##f
#else
#define NAME(f) f
#endif

typedef unsigned char v16 __attribute__((vector_size(16), aligned(1), may_alias));
typedef uint64_t u64a __attribute__((aligned(1), may_alias));
typedef uint32_t u32a __attribute__((aligned(1), may_alias));
typedef uint16_t u16a __attribute__((aligned(1), may_alias));

#define LD16(p) (*(const v16 *)(p))
#define ST16(p, v) (*(v16 *)(p) = (v))

#if defined(__x86_64__) || defined(PYELF_STRING_TEST)
/* Copies n <= 64 bytes: every load before any store, so the regions may overlap either way. */
static inline void copy_short(unsigned char *d, const unsigned char *s, size_t n)
{
    if (n <= 16) {
        if (n >= 8) {
            uint64_t a = *(const u64a *)s, b = *(const u64a *)(s + n - 8);
            *(u64a *)d = a;
            *(u64a *)(d + n - 8) = b;
        } else if (n >= 4) {
            uint32_t a = *(const u32a *)s, b = *(const u32a *)(s + n - 4);
            *(u32a *)d = a;
            *(u32a *)(d + n - 4) = b;
        } else if (n >= 2) {
            uint16_t a = *(const u16a *)s, b = *(const u16a *)(s + n - 2);
            *(u16a *)d = a;
            *(u16a *)(d + n - 2) = b;
        } else if (n == 1) {
            *d = *s;
        }
    } else if (n <= 32) {
        v16 a = LD16(s), b = LD16(s + n - 16);
        ST16(d, a);
        ST16(d + n - 16, b);
    } else {
        v16 a = LD16(s), b = LD16(s + 16), c = LD16(s + n - 32), e = LD16(s + n - 16);
        ST16(d, a);
        ST16(d + 16, b);
        ST16(d + n - 32, c);
        ST16(d + n - 16, e);
    }
}

/* Copies n > 64 bytes front to back, where that is safe: no overlap, or d below s. The last 64
 * source bytes are loaded first and stored last. */
static void copy_forward(unsigned char *d, const unsigned char *s, size_t n)
{
    const unsigned char *se = s + n;
    unsigned char *de = d + n;
    v16 t0 = LD16(se - 64), t1 = LD16(se - 48), t2 = LD16(se - 32), t3 = LD16(se - 16);
    while (n > 64) {
        v16 a = LD16(s), b = LD16(s + 16), c = LD16(s + 32), e = LD16(s + 48);
        ST16(d, a);
        ST16(d + 16, b);
        ST16(d + 32, c);
        ST16(d + 48, e);
        d += 64;
        s += 64;
        n -= 64;
    }
    ST16(de - 64, t0);
    ST16(de - 48, t1);
    ST16(de - 32, t2);
    ST16(de - 16, t3);
}

/* Copies n > 64 bytes back to front (d above s, overlapping): the first 64 source bytes are loaded
 * first and stored last. */
static void copy_backward(unsigned char *d, const unsigned char *s, size_t n)
{
    v16 h0 = LD16(s), h1 = LD16(s + 16), h2 = LD16(s + 32), h3 = LD16(s + 48);
    unsigned char *dst = d;
    const unsigned char *se = s + n;
    unsigned char *de = d + n;
    while (n > 64) {
        v16 a = LD16(se - 16), b = LD16(se - 32), c = LD16(se - 48), e = LD16(se - 64);
        ST16(de - 16, a);
        ST16(de - 32, b);
        ST16(de - 48, c);
        ST16(de - 64, e);
        de -= 64;
        se -= 64;
        n -= 64;
    }
    ST16(dst, h0);
    ST16(dst + 16, h1);
    ST16(dst + 32, h2);
    ST16(dst + 48, h3);
}

void *NAME(memcpy)(void *restrict dst, const void *restrict src, size_t n)
{
    if (n <= 64)
        copy_short(dst, src, n);
    else
        copy_forward(dst, src, n);
    return dst;
}

void *NAME(memmove)(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n <= 64)
        copy_short(d, s, n);
    else if ((uintptr_t)d - (uintptr_t)s >= n) /* d below s, or no overlap */
        copy_forward(d, s, n);
    else
        copy_backward(d, s, n);
    return dst;
}

void *NAME(memset)(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    unsigned char b = (unsigned char)c;
    v16 v = {b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b};
    if (n <= 16) {
        uint64_t w = 0x0101010101010101ull * b;
        if (n >= 8) {
            *(u64a *)d = w;
            *(u64a *)(d + n - 8) = w;
        } else if (n >= 4) {
            *(u32a *)d = (uint32_t)w;
            *(u32a *)(d + n - 4) = (uint32_t)w;
        } else {
            for (size_t i = 0; i < n; i++)
                d[i] = b;
        }
        return dst;
    }
    if (n <= 32) {
        ST16(d, v);
        ST16(d + n - 16, v);
        return dst;
    }
    unsigned char *de = d + n;
    while (n > 32) {
        ST16(d, v);
        ST16(d + 16, v);
        d += 32;
        n -= 32;
    }
    ST16(de - 32, v);
    ST16(de - 16, v);
    return dst;
}

#endif

#ifdef __x86_64__
#include <emmintrin.h>

/* 16 bytes at a time from the 16-byte boundary at or below s: an aligned load never crosses into
 * the next page, so the bytes it reads past the terminator (or before s) are mapped. The bytes
 * before s are shifted out of the first mask. Those reads are outside the C object, as every
 * vectorised strlen's are; GCC cannot see through the intrinsics' loads (of a may_alias type, in a
 * file compiled without LTO), so it makes nothing of that. */
size_t NAME(strlen)(const char *s)
{
    uintptr_t off = (uintptr_t)s & 15;
    const __m128i *p = (const __m128i *)((uintptr_t)s - off);
    const __m128i zero = _mm_setzero_si128();
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero)) >> off;
    if (mask)
        return (size_t)__builtin_ctz(mask);
    for (;;) {
        p++;
        mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero));
        if (mask)
            return (size_t)((const char *)p - s) + (size_t)__builtin_ctz(mask);
    }
}
#endif

/* -1 or 1 as the first differing byte of the 8 bytes at a and at b orders them. */
static inline int order8(uint64_t x, uint64_t y)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
    y = __builtin_bswap64(y);
#endif
    return x < y ? -1 : 1;
}

int NAME(memcmp)(const void *a, const void *b, size_t n)
{
    const unsigned char *l = a, *r = b;
    while (n >= 8) {
        uint64_t x = *(const u64a *)l, y = *(const u64a *)r;
        if (x != y)
            return order8(x, y);
        l += 8;
        r += 8;
        n -= 8;
    }
    for (; n; n--, l++, r++)
        if (*l != *r)
            return *l - *r;
    return 0;
}
