/*
 * The part of <string.h> tinyedge firmware may use, for freestanding builds without a C
 * library (te_libc.c implements it). -ffreestanding makes GCC forget what these functions
 * do; the macros give that back, so small fixed-size copies still become loads and stores.
 */
#ifndef TE_LIBC_STRING_H
#define TE_LIBC_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *text);

#ifndef TE_LIBC_IMPLEMENTATION
#define memcpy(dst, src, n) __builtin_memcpy((dst), (src), (n))
#define memmove(dst, src, n) __builtin_memmove((dst), (src), (n))
#define memset(dst, value, n) __builtin_memset((dst), (value), (n))
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))
#define strlen(text) __builtin_strlen((text))
#endif

#endif /* TE_LIBC_STRING_H */
