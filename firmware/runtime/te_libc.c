/*
 * memcpy, memmove, memset, memcmp and strlen for freestanding builds (GCC emits calls to the
 * first four even in freestanding code). Word-at-a-time where the pointers allow it.
 */
#pragma GCC optimize("no-tree-loop-distribute-patterns") /* never turn these loops into calls to themselves */

#define TE_LIBC_IMPLEMENTATION
#include <stdint.h>
#include <string.h>

typedef uint32_t __attribute__((may_alias)) te_word;

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 3u) == 0u) {
        for (; n > 0u && ((uintptr_t)d & 3u) != 0u; --n) {
            *d++ = *s++;
        }
        te_word *dw = (te_word *)(void *)d;
        const te_word *sw = (const te_word *)(const void *)s;
        for (; n >= 16u; n -= 16u, dw += 4, sw += 4) {
            dw[0] = sw[0];
            dw[1] = sw[1];
            dw[2] = sw[2];
            dw[3] = sw[3];
        }
        for (; n >= 4u; n -= 4u) {
            *dw++ = *sw++;
        }
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n-- > 0u) {
        *d++ = *s++;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if (d >= s + n || s >= d + n) {
        return memcpy(dst, src, n);
    }
    if (d < s) {
        for (size_t i = 0; i < n; ++i) {
            d[i] = s[i];
        }
    } else {
        while (n-- > 0u) {
            d[n] = s[n];
        }
    }
    return dst;
}

void *memset(void *dst, int value, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t byte = (uint8_t)value;
    for (; n > 0u && ((uintptr_t)d & 3u) != 0u; --n) {
        *d++ = byte;
    }
    const uint32_t word = 0x01010101u * byte;
    te_word *dw = (te_word *)(void *)d;
    for (; n >= 4u; n -= 4u) {
        *dw++ = word;
    }
    d = (uint8_t *)dw;
    while (n-- > 0u) {
        *d++ = byte;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = (const uint8_t *)a;
    const uint8_t *y = (const uint8_t *)b;
    for (size_t i = 0; i < n; ++i) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

size_t strlen(const char *text)
{
    size_t len = 0;
    while (text[len] != '\0') {
        ++len;
    }
    return len;
}
