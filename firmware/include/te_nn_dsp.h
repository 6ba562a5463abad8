/*
 * tinyedge: building blocks of the optimized int8 kernels (te_conv2d_1x1_s8,
 * te_conv2d_im2col_s8, te_depthwise_conv2d_ch4_s8, te_fully_connected_packed_s8), on the
 * Cortex-M DSP extension when the compiler targets it (__ARM_FEATURE_DSP: Cortex-M4, M7,
 * M33...) and in plain C otherwise (the host, Cortex-M0+, RISC-V). Both paths compute
 * exactly the same integers; the host tests run the C one, the emulator tests the DSP one.
 * The DSP path's hot loops are inline assembly: GCC's own scheduling of the same intrinsics
 * spends a third more instructions.
 *
 * Data layouts shared with the lowerings in tinyedge/ops/conv.py (which pack the constants):
 *
 * - A widened vector (int16) stores each group of 4 int8 values x0..x3 in the order
 *   x0, x2, x1, x3: the two lane pairs SXTB16 makes of one word. One SMLAD of the word's
 *   even-extended weights (w0, w2) with (x0, x2) and one of its odd-extended weights
 *   (w1, w3) with (x1, x3) add w0*x0 + w1*x1 + w2*x2 + w3*x3. Vectors are zero-padded to
 *   whole groups.
 * - Packed weights (te_nn_dot_*): rows of `depth` int8 values zero-padded to whole groups
 *   of 4; two rows (output channels) interleaved word by word: row c word 0, row c + 1
 *   word 0, row c word 1, ...; an odd last row follows alone. 4-byte aligned.
 * - Two widened columns (two output pixels) are interleaved group by group: column 0's
 *   group 0, column 1's group 0, column 0's group 1, ... 4-byte aligned.
 * - Per-output-channel constants of te_nn_mat_mult_s8: the bias (input offset folded in) and
 *   the (multiplier, rounding, shift) of te_nn_requantize_rounding, 4 consecutive int32.
 * - General channels: a channel outside te_nn_requantize_rounding's range (a left shift, a
 *   right shift of 0 or past 22, an accumulator that may reach 2^30) keeps the reference
 *   requantization, te_nn_requantize: its (multiplier, rounding, shift) words hold
 *   (multiplier, output_offset, TFLite's shift) instead (te_nn_output_general_s8). The
 *   kernels handle channels in units (te_nn_mat_mult_s8: a pair, or the odd last channel;
 *   the fully connected and depthwise kernels: four, or one of the last output_depth % 4);
 *   every channel of a unit with a general channel is general. After the per-channel
 *   constants comes the list of general units, their first channels ascending, then
 *   output_depth: a layer without general channels pays one comparison per call.
 */
#ifndef TE_NN_DSP_H
#define TE_NN_DSP_H

#include <stdint.h>
#include <string.h>

#include "te_nn_math.h"

/* For the helpers the kernels specialize (a constant argument selects a code path). */
#if defined(__GNUC__)
#define TE_NN_ALWAYS_INLINE inline __attribute__((always_inline))
#define TE_NN_NOINLINE __attribute__((noinline, unused))
#else
#define TE_NN_ALWAYS_INLINE inline
#define TE_NN_NOINLINE
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TE_NN_DSP 1
#include <arm_acle.h>
#else
#define TE_NN_DSP 0
#endif

/*
 * The hand-scheduled blocks hold their loop state in every register GCC hands inline assembly,
 * which it does only when optimizing (at -O0 it keeps a frame pointer) and, for the Thumb-1
 * blocks' r8-r11, only when optimizing for speed (-Os withholds r8-r12). Other builds (a debug
 * build, an Arduino core's -Os) take the C paths: the same bytes, slower.
 */
#if defined(__OPTIMIZE__)
#define TE_NN_ASM_BLOCKS 1
#else
#define TE_NN_ASM_BLOCKS 0
#endif
#if defined(__thumb__) && !defined(__thumb2__) && TE_NN_ASM_BLOCKS && !defined(__OPTIMIZE_SIZE__)
#define TE_NN_THUMB1 1 /* Cortex-M0/M0+: Thumb-1 inner loops */
#else
#define TE_NN_THUMB1 0
#endif

#if TE_NN_DSP
/* ======================================================================== DSP extension */

/* 32-bit accesses at any address (Cortex-M3 and up do unaligned LDR/STR in one instruction). */
static inline uint32_t te_nn_read_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void te_nn_write_u32(void *p, uint32_t v) { memcpy(p, &v, sizeof v); }

static inline uint32_t te_nn_sxtb16_even(uint32_t x) { return (uint32_t)__sxtb16(x); }

static inline uint32_t te_nn_sxtb16_odd(uint32_t x)
{
    uint32_t r; /* ACLE has no rotating form; GCC would spend a separate ROR on it */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc + round(2 * x * multiplier / 2^32), halves up (SMMLAR), for |x| < 2^30. */
static inline int32_t te_nn_smmlar2(int32_t x, int32_t multiplier, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(x * 2), "r"(multiplier), "r"(acc));
    return r;
}

static inline int32_t te_nn_sat_s8(int32_t x) { return __ssat(x, 8); }

/* One group of 4 int8 values widened at dst. */
static inline void te_nn_widen_group(const int8_t *src, int16_t *dst)
{
    const uint32_t word = te_nn_read_u32(src);
    te_nn_write_u32(dst, te_nn_sxtb16_even(word));
    te_nn_write_u32(dst + 2, te_nn_sxtb16_odd(word));
}

static inline void te_nn_fill_group(int16_t *dst, int32_t value)
{
    const uint32_t pair = (uint32_t)(uint16_t)(int16_t)value * 0x00010001u;
    te_nn_write_u32(dst, pair);
    te_nn_write_u32(dst + 2, pair);
}

/* n int8 values, a word at a time (an im2col gather of a few bytes; no call to memcpy). */
static inline void te_nn_copy_s8(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        te_nn_write_u32(dst, te_nn_read_u32(src));
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

/* One group of the 2x2 product: 3 LDRD, 4 SXTB16, 8 SMLAD for 16 multiply-accumulates. */
#define TE_NN_DOT_2X2_ASM                                                                       \
    "ldrd %[w0], %[w1], [%[rows]], #8\n\t"                                                     \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
    "sxtb16 %[t], %[w0]\n\t"                                                                   \
    "sxtb16 %[w0], %[w0], ror #8\n\t"                                                          \
    "smlad %[a00], %[t], %[xa], %[a00]\n\t"                                                    \
    "smlad %[a00], %[w0], %[xb], %[a00]\n\t"                                                   \
    "sxtb16 %[u], %[w1]\n\t"                                                                   \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                                                          \
    "smlad %[a10], %[u], %[xa], %[a10]\n\t"                                                    \
    "smlad %[a10], %[w1], %[xb], %[a10]\n\t"                                                   \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
    "smlad %[a01], %[t], %[xa], %[a01]\n\t"                                                    \
    "smlad %[a01], %[w0], %[xb], %[a01]\n\t"                                                   \
    "smlad %[a11], %[u], %[xa], %[a11]\n\t"                                                    \
    "smlad %[a11], %[w1], %[xb], %[a11]\n\t"
#define TE_NN_DOT_2X2_GROUP                                                                     \
    __asm__(TE_NN_DOT_2X2_ASM                                                                   \
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),              \
              [rows] "+r"(rows), [x] "+r"(cols), [w0] "=&r"(w0), [w1] "=&r"(w1),              \
              [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [u] "=&r"(u)                       \
            : : "memory")

/* One group of the 2x1 product: 2 LDRD, 4 SXTB16, 4 SMLAD for 8 multiply-accumulates. */
#define TE_NN_DOT_2X1_ASM                                                                       \
    "ldrd %[w0], %[w1], [%[rows]], #8\n\t"                                                     \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
    "sxtb16 %[t], %[w0]\n\t"                                                                   \
    "sxtb16 %[w0], %[w0], ror #8\n\t"                                                          \
    "smlad %[a0], %[t], %[xa], %[a0]\n\t"                                                      \
    "smlad %[a0], %[w0], %[xb], %[a0]\n\t"                                                     \
    "sxtb16 %[t], %[w1]\n\t"                                                                   \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                                                          \
    "smlad %[a1], %[t], %[xa], %[a1]\n\t"                                                      \
    "smlad %[a1], %[w1], %[xb], %[a1]\n\t"
#define TE_NN_DOT_2X1_GROUP                                                                     \
    __asm__(TE_NN_DOT_2X1_ASM                                                                   \
            : [a0] "+r"(a0), [a1] "+r"(a1), [rows] "+r"(rows), [x] "+r"(col),                 \
              [w0] "=&r"(w0), [w1] "=&r"(w1), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t)    \
            : : "memory")

/* Dot products of packed rows and widened columns: see the portable versions below. */
static inline void te_nn_dot_2x2(const int8_t *rows, const int16_t *cols, int32_t groups, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    uint32_t w0, w1, xa, xb, t, u;
    for (; groups >= 2; groups -= 2) {
        TE_NN_DOT_2X2_GROUP;
        TE_NN_DOT_2X2_GROUP;
    }
    if (groups > 0) {
        TE_NN_DOT_2X2_GROUP;
    }
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
}

static inline void te_nn_dot_2x1(const int8_t *rows, const int16_t *col, int32_t groups, int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    uint32_t w0, w1, xa, xb, t;
    for (; groups > 0; --groups) {
        TE_NN_DOT_2X1_GROUP;
    }
    acc[0] = a0, acc[1] = a1;
}

static inline void te_nn_dot_1x2(const int8_t *row, const int16_t *cols, int32_t groups, int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (; groups > 0; --groups, row += 4, cols += 8) {
        const uint32_t w = te_nn_read_u32(row);
        const uint32_t we = te_nn_sxtb16_even(w), wo = te_nn_sxtb16_odd(w);
        a0 = __smlad(wo, te_nn_read_u32(cols + 2), __smlad(we, te_nn_read_u32(cols), a0));
        a1 = __smlad(wo, te_nn_read_u32(cols + 6), __smlad(we, te_nn_read_u32(cols + 4), a1));
    }
    acc[0] = a0, acc[1] = a1;
}

static inline int32_t te_nn_dot_1x1(const int8_t *row, const int16_t *col, int32_t groups, int32_t acc)
{
    for (; groups > 0; --groups, row += 4, col += 4) {
        const uint32_t w = te_nn_read_u32(row);
        acc = __smlad(te_nn_sxtb16_odd(w), te_nn_read_u32(col + 2),
                      __smlad(te_nn_sxtb16_even(w), te_nn_read_u32(col), acc));
    }
    return acc;
}

/*
 * The two-column, whole-int8-clamp case of te_nn_mat_mult_s8 in one block: for each pair of
 * packed rows, 16 multiply-accumulates in 15 instructions per group, then four
 * requantizations (6 instructions each) and byte stores. Register pressure keeps the
 * per-pair state (constants pointer, output pointer, pair count) on the stack.
 */
static inline void te_nn_mat_mult_2x2_full_asm(const int8_t *rows, const int32_t *quant, int32_t pairs,
                                               int32_t groups, const int16_t *cols, int8_t *out,
                                               int32_t output_depth)
{
    int32_t a00, a01, a10, a11;
    uint32_t w0, w1, xa, xb, t, u;
    const int16_t *x;
    int32_t n;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[t], %[quant]\n\t"
        "ldr %[a00], [%[t]]\n\t"
        "ldr %[a10], [%[t], #16]\n\t"
        "mov %[a01], %[a00]\n\t"
        "mov %[a11], %[a10]\n\t"
        "ldr %[x], %[cols]\n\t"
        "ldr %[n], %[groups]\n\t"
        "lsrs %[n], %[n], #1\n\t"        /* an odd group first */
        "bcc 2f\n\t"
        TE_NN_DOT_2X2_ASM
        "2:\n\t"
        "cmp %[n], #0\n\t"
        "beq 4f\n\t"
        "3:\n\t"
        TE_NN_DOT_2X2_ASM
        TE_NN_DOT_2X2_ASM
        "subs %[n], %[n], #1\n\t"
        "bne 3b\n\t"
        "4:\n\t"
        "ldr %[t], %[quant]\n\t"         /* channel c: pixel 0 -> xa, pixel 1 -> xb */
        "ldrd %[w0], %[w1], [%[t], #4]\n\t"
        "ldr %[u], [%[t], #12]\n\t"
        "lsl %[xa], %[a00], #1\n\t"
        "smmlar %[xa], %[xa], %[w0], %[w1]\n\t"
        "add %[xa], %[xa], %[a00], asr #31\n\t"
        "asr %[xa], %[xa], %[u]\n\t"
        "ssat %[xa], #8, %[xa]\n\t"
        "lsl %[xb], %[a01], #1\n\t"
        "smmlar %[xb], %[xb], %[w0], %[w1]\n\t"
        "add %[xb], %[xb], %[a01], asr #31\n\t"
        "asr %[xb], %[xb], %[u]\n\t"
        "ssat %[xb], #8, %[xb]\n\t"
        "ldrd %[w0], %[w1], [%[t], #20]\n\t"  /* channel c + 1: pixel 0 -> a00, pixel 1 -> a01 */
        "ldr %[u], [%[t], #28]\n\t"
        "lsl %[a00], %[a10], #1\n\t"
        "smmlar %[a00], %[a00], %[w0], %[w1]\n\t"
        "add %[a00], %[a00], %[a10], asr #31\n\t"
        "asr %[a00], %[a00], %[u]\n\t"
        "ssat %[a00], #8, %[a00]\n\t"
        "lsl %[a01], %[a11], #1\n\t"
        "smmlar %[a01], %[a01], %[w0], %[w1]\n\t"
        "add %[a01], %[a01], %[a11], asr #31\n\t"
        "asr %[a01], %[a01], %[u]\n\t"
        "ssat %[a01], #8, %[a01]\n\t"
        "add %[t], %[t], #32\n\t"
        "str %[t], %[quant]\n\t"
        "ldr %[t], %[out]\n\t"
        "ldr %[u], %[depth]\n\t"
        "strb %[xa], [%[t]]\n\t"
        "strb %[a00], [%[t], #1]\n\t"
        "strb %[xb], [%[t], %[u]]\n\t"
        "add %[t], %[t], #1\n\t"
        "strb %[a01], [%[t], %[u]]\n\t"
        "add %[t], %[t], #1\n\t"
        "str %[t], %[out]\n\t"
        "ldr %[t], %[pairs]\n\t"
        "subs %[t], %[t], #1\n\t"
        "str %[t], %[pairs]\n\t"
        "bne 1b"
        : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [w0] "=&r"(w0),
          [w1] "=&r"(w1), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [u] "=&r"(u), [x] "=&r"(x),
          [n] "=&r"(n), [rows] "+r"(rows), [quant] "+m"(quant), [out] "+m"(out), [pairs] "+m"(pairs)
        : [cols] "m"(cols), [groups] "m"(groups), [depth] "m"(output_depth)
        : "cc", "memory");
}

/*
 * The one-column, whole-int8-clamp case of te_nn_mat_mult_s8 (a matrix times a vector) in one
 * block: for each pair of packed rows, 8 multiply-accumulates in 10 instructions per group,
 * four groups per loop turn, then two requantizations and byte stores.
 */
static inline void te_nn_mat_mult_2x1_full_asm(const int8_t *rows, const int32_t *quant, int32_t pairs,
                                               int32_t groups, const int16_t *col, int8_t *out)
{
    int32_t a0, a1;
    uint32_t w0, w1, xa, xb, t;
    const int16_t *x;
    int32_t n;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[a0], [%[quant]]\n\t"
        "ldr %[a1], [%[quant], #16]\n\t"
        "ldr %[x], %[col]\n\t"
        "ldr %[n], %[groups]\n\t"       /* groups % 4 one at a time, */
        "ands %[n], %[n], #3\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        TE_NN_DOT_2X1_ASM
        "subs %[n], %[n], #1\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        "ldr %[n], %[groups]\n\t"       /* then four at a time */
        "lsrs %[n], %[n], #2\n\t"
        "beq 5f\n\t"
        "4:\n\t"
        TE_NN_DOT_2X1_ASM TE_NN_DOT_2X1_ASM TE_NN_DOT_2X1_ASM TE_NN_DOT_2X1_ASM
        "subs %[n], %[n], #1\n\t"
        "bne 4b\n\t"
        "5:\n\t"
        "ldrd %[w0], %[w1], [%[quant], #4]\n\t"
        "ldr %[t], [%[quant], #12]\n\t"
        "lsl %[xa], %[a0], #1\n\t"
        "smmlar %[xa], %[xa], %[w0], %[w1]\n\t"
        "add %[xa], %[xa], %[a0], asr #31\n\t"
        "asr %[xa], %[xa], %[t]\n\t"
        "ssat %[xa], #8, %[xa]\n\t"
        "strb %[xa], [%[out]], #1\n\t"
        "ldrd %[w0], %[w1], [%[quant], #20]\n\t"
        "ldr %[t], [%[quant], #28]\n\t"
        "lsl %[xa], %[a1], #1\n\t"
        "smmlar %[xa], %[xa], %[w0], %[w1]\n\t"
        "add %[xa], %[xa], %[a1], asr #31\n\t"
        "asr %[xa], %[xa], %[t]\n\t"
        "ssat %[xa], #8, %[xa]\n\t"
        "strb %[xa], [%[out]], #1\n\t"
        "add %[quant], %[quant], #32\n\t"
        "subs %[pairs], %[pairs], #1\n\t"
        "bne 1b"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [w0] "=&r"(w0), [w1] "=&r"(w1), [xa] "=&r"(xa), [xb] "=&r"(xb),
          [t] "=&r"(t), [x] "=&r"(x), [n] "=&r"(n), [rows] "+r"(rows), [quant] "+r"(quant), [out] "+r"(out),
          [pairs] "+r"(pairs)
        : [col] "m"(col), [groups] "m"(groups)
        : "cc", "memory");
}

/* One group of the 2x3 product: 4 LDRD, 4 SXTB16, 12 SMLAD for 24 multiply-accumulates. */
#define TE_NN_DOT_2X3_ASM                                                                       \
    "ldrd %[wo0], %[wo1], [%[rows]], #8\n\t"                                                   \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
    "sxtb16 %[we0], %[wo0]\n\t"                                                                \
    "sxtb16 %[wo0], %[wo0], ror #8\n\t"                                                        \
    "smlad %[a0], %[we0], %[xa], %[a0]\n\t"                                                    \
    "smlad %[a0], %[wo0], %[xb], %[a0]\n\t"                                                    \
    "sxtb16 %[we1], %[wo1]\n\t"                                                                \
    "sxtb16 %[wo1], %[wo1], ror #8\n\t"                                                        \
    "smlad %[b0], %[we1], %[xa], %[b0]\n\t"                                                    \
    "smlad %[b0], %[wo1], %[xb], %[b0]\n\t"                                                    \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
    "smlad %[a1], %[we0], %[xa], %[a1]\n\t"                                                    \
    "smlad %[a1], %[wo0], %[xb], %[a1]\n\t"                                                    \
    "smlad %[b1], %[we1], %[xa], %[b1]\n\t"                                                    \
    "smlad %[b1], %[wo1], %[xb], %[b1]\n\t"                                                    \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
    "smlad %[a2], %[we0], %[xa], %[a2]\n\t"                                                    \
    "smlad %[a2], %[wo0], %[xb], %[a2]\n\t"                                                    \
    "smlad %[b2], %[we1], %[xa], %[b2]\n\t"                                                    \
    "smlad %[b2], %[wo1], %[xb], %[b2]\n\t"

/* Requantize accumulator acc with (multiplier m, rounding r, shift s) into xa, as te_nn_output_s8 with
   full_range (te_nn_requantize_rounding, then SSAT), and store it at `store` (an address operand). */
#define TE_NN_REQUANT_3_ASM(acc, store)                                                         \
    "lsl %[xa], %[" acc "], #1\n\t"                                                            \
    "smmlar %[xa], %[xa], %[we0], %[wo0]\n\t"                                                  \
    "add %[xa], %[xa], %[" acc "], asr #31\n\t"                                                \
    "asr %[xa], %[xa], %[we1]\n\t"                                                             \
    "ssat %[xa], #8, %[xa]\n\t"                                                                \
    "strb %[xa], " store "\n\t"

#if TE_NN_ASM_BLOCKS
/*
 * Three columns (three output pixels) in one block: the two-rows-by-three-columns, whole-int8-clamp
 * case for layers without general units, the columns widened and interleaved group by group
 * (te_nn_widen_s8 with dst_step 12: column 0's group 0, column 1's, column 2's, column 0's group 1,
 * ...). Per pair of packed rows and group, 24 multiply-accumulates in 20 instructions (each
 * weight word loaded and widened once for three pixels, where the two-column block widens it
 * for two), the groups % 4 first and then four per loop turn, then six requantizations (6
 * instructions each) and byte stores. All 14 general registers hold the loop's state, so the
 * loop ends are compared with pointers kept on the stack, and so are the per-pair counters.
 */
static inline void te_nn_mat_mult_2x3_full_asm(const int8_t *rows, const int32_t *quant, int32_t pairs,
                                               int32_t groups, const int16_t *cols, int8_t *out,
                                               int32_t output_depth)
{
    const int16_t *const end = cols + 12 * groups;
    int32_t a0, a1, a2, b0, b1, b2;
    uint32_t we0, wo0, we1, wo1, xa, xb;
    const int16_t *x;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[xa], %[quant]\n\t"
        "ldr %[a0], [%[xa]]\n\t"
        "ldr %[b0], [%[xa], #16]\n\t"
        "mov %[a1], %[a0]\n\t"
        "mov %[a2], %[a0]\n\t"
        "mov %[b1], %[b0]\n\t"
        "mov %[b2], %[b0]\n\t"
        "ldr %[x], %[cols]\n\t"
        "ldr %[xa], %[groups]\n\t"
        "lsls %[xa], %[xa], #31\n\t"     /* N: an odd group, C: two more (the groups leave the flags) */
        "bpl 2f\n\t"
        TE_NN_DOT_2X3_ASM
        "2:\n\t"
        "bcc 3f\n\t"
        TE_NN_DOT_2X3_ASM
        TE_NN_DOT_2X3_ASM
        "3:\n\t"
        "ldr %[xa], %[end]\n\t"
        "cmp %[x], %[xa]\n\t"
        "beq 5f\n\t"
        "4:\n\t"
        TE_NN_DOT_2X3_ASM
        TE_NN_DOT_2X3_ASM
        TE_NN_DOT_2X3_ASM
        TE_NN_DOT_2X3_ASM
        "ldr %[xa], %[end]\n\t"
        "cmp %[x], %[xa]\n\t"
        "bne 4b\n\t"
        "5:\n\t"                         /* x: constants, wo1: output, xb: output_depth */
        "ldr %[x], %[quant]\n\t"
        "ldrd %[we0], %[wo0], [%[x], #4]\n\t"
        "ldr %[we1], [%[x], #12]\n\t"
        "ldr %[wo1], %[out]\n\t"
        "ldr %[xb], %[depth]\n\t"
        TE_NN_REQUANT_3_ASM("a0", "[%[wo1]]")
        TE_NN_REQUANT_3_ASM("a1", "[%[wo1], %[xb]]")
        TE_NN_REQUANT_3_ASM("a2", "[%[wo1], %[xb], lsl #1]")
        "ldrd %[we0], %[wo0], [%[x], #20]\n\t"
        "ldr %[we1], [%[x], #28]\n\t"
        "add %[x], %[x], #32\n\t"
        "str %[x], %[quant]\n\t"
        "add %[wo1], %[wo1], #1\n\t"
        TE_NN_REQUANT_3_ASM("b0", "[%[wo1]]")
        TE_NN_REQUANT_3_ASM("b1", "[%[wo1], %[xb]]")
        TE_NN_REQUANT_3_ASM("b2", "[%[wo1], %[xb], lsl #1]")
        "add %[wo1], %[wo1], #1\n\t"
        "str %[wo1], %[out]\n\t"
        "ldr %[xa], %[pairs]\n\t"
        "subs %[xa], %[xa], #1\n\t"
        "str %[xa], %[pairs]\n\t"
        "bne 1b"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2),
          [we0] "=&r"(we0), [wo0] "=&r"(wo0), [we1] "=&r"(we1), [wo1] "=&r"(wo1), [xa] "=&r"(xa),
          [xb] "=&r"(xb), [x] "=&r"(x), [rows] "+r"(rows), [quant] "+m"(quant), [out] "+m"(out),
          [pairs] "+m"(pairs)
        : [cols] "m"(cols), [groups] "m"(groups), [end] "m"(end), [depth] "m"(output_depth)
        : "cc", "memory");
}
#endif /* TE_NN_ASM_BLOCKS */

#else
/* ============================================================================ plain C */

#if TE_NN_THUMB1
/*
 * Thumb-1 has no 32x32 -> 64 multiply: GCC calls __aeabi_lmul (about 45 instructions) for the
 * int64 product below. The same integers from four 16x16 products (schoolbook, Hacker's Delight
 * mulhs, each partial sum inside 32 bits), then the low word's carry of the rounding constant.
 */
static inline int32_t te_nn_smmlar2(int32_t x, int32_t multiplier, int32_t acc)
{
    const uint32_t xl = (uint32_t)x & 0xFFFFu, ml = (uint32_t)multiplier & 0xFFFFu;
    const int32_t xh = x >> 16, mh = multiplier >> 16;
    const uint32_t ll = xl * ml;
    const int32_t t = xh * (int32_t)ml + (int32_t)(ll >> 16);
    const int32_t u = (int32_t)xl * mh + (t & 0xFFFF);
    const int32_t hi = xh * mh + (t >> 16) + (u >> 16);       /* the product's high word */
    const uint32_t lo = ((uint32_t)u << 16) | (ll & 0xFFFFu); /* and its low word */
    const uint32_t rounded = lo + (1u << 30);
    return acc + (int32_t)(((uint32_t)(hi + (rounded < lo)) << 1) | (rounded >> 31));
}

/*
 * te_nn_requantize_rounding (below) on Thumb-1, 30 instructions where GCC's code for the same
 * arithmetic takes about 60 (high-register moves): the product's high word as in te_nn_smmlar2;
 * of its low word only the top two bits matter, as (lo + 2^30) >> 31 = ((lo >> 30) + 1) >> 1 and
 * they are bits 14 and 15 of the partial sum u.
 */
static inline int32_t te_nn_requantize_rounding_thumb1(int32_t acc, int32_t multiplier, int32_t rounding,
                                                       int32_t shift)
{
    int32_t t, l, p;
    __asm__(".syntax unified\n\t"
            "asrs %[t], %[a], #31\n\t"     /* rounding - 1 for a negative acc */
            "adds %[r], %[r], %[t]\n\t"
            "uxth %[l], %[a]\n\t"          /* acc = ah * 2^16 + al, multiplier = mh * 2^16 + ml */
            "asrs %[a], %[a], #16\n\t"
            "uxth %[t], %[m]\n\t"
            "asrs %[m], %[m], #16\n\t"
            "movs %[p], %[l]\n\t"          /* al * ml >> 16 */
            "muls %[p], %[t], %[p]\n\t"
            "lsrs %[p], %[p], #16\n\t"
            "muls %[t], %[a], %[t]\n\t"    /* t = ah * ml + (al * ml >> 16) */
            "adds %[t], %[t], %[p]\n\t"
            "muls %[l], %[m], %[l]\n\t"    /* u = al * mh + (t & 0xFFFF) */
            "uxth %[p], %[t]\n\t"
            "adds %[l], %[l], %[p]\n\t"
            "muls %[a], %[m], %[a]\n\t"    /* high word: ah * mh + (t >> 16) + (u >> 16) */
            "asrs %[t], %[t], #16\n\t"
            "adds %[a], %[a], %[t]\n\t"
            "asrs %[p], %[l], #16\n\t"
            "adds %[a], %[a], %[p]\n\t"
            "lsls %[l], %[l], #16\n\t"     /* the low word's top two bits, rounded: 0, 1 or 2 */
            "lsrs %[l], %[l], #30\n\t"
            "adds %[l], %[l], #1\n\t"
            "lsrs %[l], %[l], #1\n\t"
            "lsls %[a], %[a], #1\n\t"
            "adds %[a], %[a], %[l]\n\t"
            "adds %[a], %[a], %[r]\n\t"
            "asrs %[a], %[s]"
            : [a] "+l"(acc), [m] "+l"(multiplier), [r] "+l"(rounding), [t] "=&l"(t), [l] "=&l"(l), [p] "=&l"(p)
            : [s] "l"(shift)
            : "cc");
    return acc;
}
#else
static inline int32_t te_nn_smmlar2(int32_t x, int32_t multiplier, int32_t acc)
{
    return acc + (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
}
#endif

static inline int32_t te_nn_sat_s8(int32_t x) { return te_nn_clamp_i32(x, TE_INT8_MIN, TE_INT8_MAX); }

static inline void te_nn_widen_group(const int8_t *src, int16_t *dst)
{
    dst[0] = src[0], dst[1] = src[2], dst[2] = src[1], dst[3] = src[3];
}

static inline void te_nn_fill_group(int16_t *dst, int32_t value)
{
    dst[0] = dst[1] = dst[2] = dst[3] = (int16_t)value;
}

static inline void te_nn_copy_s8(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

/* One group: packed weights w0..w3 against a widened column's x0, x2, x1, x3. */
static inline int32_t te_nn_dot_group(const int8_t *w, const int16_t *x)
{
    return w[0] * x[0] + w[2] * x[1] + w[1] * x[2] + w[3] * x[3];
}

/*
 * Dot products over `groups` groups of 4 (packed weights, widened columns), added to the
 * accumulators: 2 rows x 2 columns (acc: row 0 col 0, row 0 col 1, row 1 col 0, row 1 col 1),
 * 2 rows x 1 column, 1 row x 2 columns, 1 row x 1 column.
 */
#if TE_NN_THUMB1
/*
 * Thumb-1 (Cortex-M0/M0+): LDRSB and LDRSH take only a register offset and most instructions
 * reach r0-r7 alone, where GCC's own code for the loop below spends about 9 instructions per
 * multiply-accumulate. Here: one index into the rows (i) and one into the columns (j), both
 * counting up from minus the length to 0 over base pointers at the end; the accumulators in
 * r8-r11 (a high-register ADD). One value of both rows against both columns (4 products) in 16
 * instructions; the column value in x, each weight loaded afresh for its MULS (which overwrites
 * an operand). The widened order x0, x2, x1, x3 pairs half offsets 0, 2, 4, 6 with weight bytes
 * 0, 2, 1, 3; the last step's ADDS of j sets the flags for the loop.
 */
#define TE_NN_DOT_2X2_THUMB1_STEP(di, dj)                                                       \
    "ldrsh %[x], [%[c0], %[j]]\n\t"                                                            \
    "ldrsb %[a], [%[r0], %[i]]\n\t"                                                            \
    "muls %[a], %[x], %[a]\n\t"                                                                \
    "add %[a00], %[a]\n\t"                                                                     \
    "ldrsb %[a], [%[r1], %[i]]\n\t"                                                            \
    "muls %[a], %[x], %[a]\n\t"                                                                \
    "add %[a10], %[a]\n\t"                                                                     \
    "ldrsh %[x], [%[c1], %[j]]\n\t"                                                            \
    "ldrsb %[a], [%[r0], %[i]]\n\t"                                                            \
    "muls %[a], %[x], %[a]\n\t"                                                                \
    "add %[a01], %[a]\n\t"                                                                     \
    "ldrsb %[a], [%[r1], %[i]]\n\t"                                                            \
    "muls %[a], %[x], %[a]\n\t"                                                                \
    "add %[a11], %[a]\n\t"                                                                     \
    di "\n\t" dj "\n\t"
#endif

static TE_NN_ALWAYS_INLINE void te_nn_dot_2x2(const int8_t *rows, const int16_t *cols, int32_t groups,
                                              int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if TE_NN_THUMB1
    if (groups > 0) {
        const int8_t *r0 = rows + 8 * groups, *r1 = r0 + 4;
        const int16_t *c0 = cols + 8 * groups, *c1 = c0 + 4;
        int32_t i = -8 * groups, j = -16 * groups, x, a;
        __asm__ volatile(
            ".syntax unified\n" /* GCC hands Thumb-1 inline assembly over in divided syntax */
            "1:\n\t"
            TE_NN_DOT_2X2_THUMB1_STEP("adds %[i], #2", "adds %[j], #2")
            TE_NN_DOT_2X2_THUMB1_STEP("subs %[i], #1", "adds %[j], #2")
            TE_NN_DOT_2X2_THUMB1_STEP("adds %[i], #2", "adds %[j], #2")
            TE_NN_DOT_2X2_THUMB1_STEP("adds %[i], #5", "adds %[j], #10")
            "bne 1b"
            : [a00] "+h"(a00), [a01] "+h"(a01), [a10] "+h"(a10), [a11] "+h"(a11), [i] "+l"(i), [j] "+l"(j),
              [x] "=&l"(x), [a] "=&l"(a)
            : [r0] "l"(r0), [r1] "l"(r1), [c0] "l"(c0), [c1] "l"(c1)
            : "cc", "memory");
    }
#else
    for (; groups > 0; --groups, rows += 8, cols += 8) {
        a00 += te_nn_dot_group(rows, cols);
        a01 += te_nn_dot_group(rows, cols + 4);
        a10 += te_nn_dot_group(rows + 4, cols);
        a11 += te_nn_dot_group(rows + 4, cols + 4);
    }
#endif
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
}

/* Keeps GCC from hoisting the next value's loads above this one's (more live values than registers). */
#if defined(__GNUC__)
#define TE_NN_LOAD_BARRIER __asm__ volatile("" ::: "memory")
#else
#define TE_NN_LOAD_BARRIER ((void)0)
#endif

/*
 * Two pairs of packed rows (rows0, rows1) by 2 columns, for the cores with registers to spare
 * (RV32: 8 accumulators; each value loaded once feeds 4 products, where te_nn_dot_2x2 loads one
 * for 2). acc: te_nn_dot_2x2's four for rows0, then rows1's.
 */
static inline void te_nn_dot_4x2(const int8_t *rows0, const int8_t *rows1, const int16_t *cols, int32_t groups,
                                 int32_t acc[8])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7];
    for (; groups > 0; --groups, rows0 += 8, rows1 += 8, cols += 8) {
/* widened position k holds the group's value o (x0, x2, x1, x3) */
#define TE_NN_DOT_4X2_VALUE(k, o)                                                                 \
    do {                                                                                          \
        const int32_t x0 = cols[k], x1 = cols[4 + (k)];                                           \
        const int32_t w0 = rows0[o], w1 = rows0[4 + (o)], w2 = rows1[o], w3 = rows1[4 + (o)];     \
        a0 += w0 * x0, a1 += w0 * x1, a2 += w1 * x0, a3 += w1 * x1;                               \
        a4 += w2 * x0, a5 += w2 * x1, a6 += w3 * x0, a7 += w3 * x1;                               \
        TE_NN_LOAD_BARRIER;                                                                       \
    } while (0)
        TE_NN_DOT_4X2_VALUE(0, 0);
        TE_NN_DOT_4X2_VALUE(1, 2);
        TE_NN_DOT_4X2_VALUE(2, 1);
        TE_NN_DOT_4X2_VALUE(3, 3);
#undef TE_NN_DOT_4X2_VALUE
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

static inline void te_nn_dot_2x1(const int8_t *rows, const int16_t *col, int32_t groups, int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (; groups > 0; --groups, rows += 8, col += 4) {
        a0 += te_nn_dot_group(rows, col);
        a1 += te_nn_dot_group(rows + 4, col);
    }
    acc[0] = a0, acc[1] = a1;
}

static inline void te_nn_dot_1x2(const int8_t *row, const int16_t *cols, int32_t groups, int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (; groups > 0; --groups, row += 4, cols += 8) {
        a0 += te_nn_dot_group(row, cols);
        a1 += te_nn_dot_group(row, cols + 4);
    }
    acc[0] = a0, acc[1] = a1;
}

static inline int32_t te_nn_dot_1x1(const int8_t *row, const int16_t *col, int32_t groups, int32_t acc)
{
    for (; groups > 0; --groups, row += 4, col += 4) {
        acc += te_nn_dot_group(row, col);
    }
    return acc;
}

#endif /* TE_NN_DSP */

/* ============================================================================== common */

/*
 * te_nn_requantize(acc, multiplier, -shift) + output_offset, given
 * rounding = 2^(shift - 1) + output_offset * 2^shift, for 1 <= shift <= 22 and
 * |acc| < 2^30 (the lowering proves both from the weights and biases). The rounding
 * doubling high multiply rounds halves up; subtracting 1 for a negative acc turns the
 * round-half-up of the final shift into TFLite's round-half-away-from-zero (when the high
 * multiply gives 0, the subtraction changes nothing).
 */
static inline int32_t te_nn_requantize_rounding(int32_t acc, int32_t multiplier, int32_t rounding, int32_t shift)
{
#if !TE_NN_DSP && TE_NN_THUMB1
    return te_nn_requantize_rounding_thumb1(acc, multiplier, rounding, shift);
#else
    return (te_nn_smmlar2(acc, multiplier, rounding) + (acc >> 31)) >> shift;
#endif
}

/*
 * The forms of a per-tensor output rescale in the elementwise fast kernels (te_mul_rounding_s8,
 * te_sub_table_s8, te_squared_difference_table_s8), one chosen per layer by the lowering
 * (tinyedge/ops/_binary.py output_rescale) from the multiplier, TFLite's shift and a bound on x:
 * ROUNDING  te_nn_requantize_rounding: a right shift of 1 to 22, |x| < 2^30, the offset folded
 *           into rounding = 2^(shift - 1) + offset * 2^shift;
 * LEFT      a left shift (TFLite's shift >= 0) with |x << shift| < 2^30: the reference's
 *           rounding doubling high multiply is floor((a * multiplier + 2^30) / 2^31) for every a
 *           (its nudge and truncation toward zero come to that), one SMMLAR; rounding = offset;
 * GENERAL   anything else (a right shift past 22, a left shift the bound does not allow):
 *           te_nn_requantize, the reference arithmetic; rounding = offset.
 */
#define TE_NN_RESCALE_ROUNDING 0
#define TE_NN_RESCALE_LEFT 1
#define TE_NN_RESCALE_GENERAL 2

static TE_NN_ALWAYS_INLINE int32_t te_nn_rescale(int32_t x, int32_t multiplier, int32_t rounding, int32_t shift,
                                                 int form)
{
    if (form == TE_NN_RESCALE_ROUNDING) {
        return te_nn_requantize_rounding(x, multiplier, rounding, shift);
    }
    if (form == TE_NN_RESCALE_LEFT) {
        return te_nn_smmlar2((int32_t)((uint32_t)x << shift), multiplier, rounding);
    }
    return te_nn_requantize(x, multiplier, shift) + rounding;
}

/*
 * One output value: acc requantized with the channel's (multiplier, rounding, shift) and
 * clamped to [activation_min, activation_max]; full_range (a constant at each call) says the
 * bounds are -128 and 127, a single SSAT on the DSP path.
 */
static TE_NN_ALWAYS_INLINE int8_t te_nn_output_s8(int32_t acc, const int32_t *requant, int32_t activation_min,
                                                  int32_t activation_max, int full_range)
{
    int32_t out = te_nn_requantize_rounding(acc, requant[0], requant[1], requant[2]);
    if (full_range) {
        return (int8_t)te_nn_sat_s8(out);
    }
    out = out < activation_min ? activation_min : out;
    out = out > activation_max ? activation_max : out;
    return (int8_t)out;
}

/*
 * One output value of a general channel: the reference requantization (any shift, any
 * accumulator) of requant = (multiplier, output_offset, shift), clamped. For a right shift of
 * 0 to 31 and -2^30 <= acc < 2^30 (a dead channel's tiny scale) in one SMMLAR: its high product
 * is the reference's rounding doubling high multiply v (see te_nn_rescale), 2^(shift - 1) and
 * the -1 of a negative acc round v / 2^shift half away from zero as the reference does, and
 * every sum stays below 2^31 in magnitude; the offset is added after (folded, it could overflow).
 */
static inline int8_t te_nn_output_general_s8(int32_t acc, const int32_t *requant, int32_t activation_min,
                                             int32_t activation_max)
{
    const int32_t multiplier = requant[0], output_offset = requant[1], shift = requant[2];
    int32_t out;
    if ((uint32_t)acc + (1u << 30) < (1u << 31) && shift <= 0 && shift >= -31) {
        const int32_t right = -shift;
        out = right == 0 ? te_nn_smmlar2(acc, multiplier, 0)
                         : (te_nn_smmlar2(acc, multiplier, 1 << (right - 1)) + (acc >> 31)) >> right;
    } else {
        out = te_nn_requantize(acc, multiplier, shift);
    }
    return (int8_t)te_nn_clamp_i32(out + output_offset, activation_min, activation_max);
}

/*
 * The convolutions' constants copy (constants_bytes > 0, on DSP cores): every block of pixels reads
 * the whole packed filter and its quant words, so they are moved to RAM at `copy` once per call,
 * where flash would add wait states to each read; *filter and *quant then point at the copy.
 */
static inline void te_nn_copy_constants(int8_t *copy, const int8_t **filter, const int32_t **quant,
                                        int32_t filter_bytes, int32_t constants_bytes)
{
    memcpy(copy, *filter, (size_t)filter_bytes);
    memcpy(copy + filter_bytes, *quant, (size_t)(constants_bytes - filter_bytes));
    *filter = copy;
    *quant = (const int32_t *)(const void *)(copy + filter_bytes);
}

/*
 * Widen n int8 values into groups at dst (int16), dst advancing by dst_step int16 per
 * group (4: a plain vector, 8: one column of an interleaved pair). The values past n in
 * the last group are zero.
 */
static inline void te_nn_widen_s8(const int8_t *src, int32_t n, int16_t *dst, int32_t dst_step)
{
    for (; n >= 4; n -= 4, src += 4, dst += dst_step) {
        te_nn_widen_group(src, dst);
    }
    if (n > 0) {
        int8_t tail[4] = {0, 0, 0, 0};
        te_nn_copy_s8(tail, src, n);
        te_nn_widen_group(tail, dst);
    }
}

/* `groups` groups of one int8 value (the input zero point), dst_step as above. */
static inline void te_nn_fill_s16(int16_t *dst, int32_t value, int32_t groups, int32_t dst_step)
{
    for (; groups > 0; --groups, dst += dst_step) {
        te_nn_fill_group(dst, value);
    }
}

/* n copies of one int8 value (the input zero point). */
static inline void te_nn_fill_s8(int8_t *dst, int32_t value, int32_t n)
{
    for (; n > 0; --n) {
        *dst++ = (int8_t)value;
    }
}

/*
 * A general unit of te_nn_mat_mult_s8 (see the layouts above): the channel pair at rows and
 * quant (rows_in_unit 2) or the odd last channel (1), requantized by te_nn_output_general_s8.
 * Rare, so kept out of line.
 */
static TE_NN_NOINLINE void te_nn_mat_mult_general_s8(const int8_t *rows, const int32_t *quant, int32_t activation_min,
                                      int32_t activation_max, int32_t rows_in_unit, int32_t output_depth,
                                      int32_t groups, const int16_t *cols, int32_t count, int8_t *out)
{
    int32_t acc[4] = {quant[0], quant[0], quant[0], quant[0]};
    if (rows_in_unit == 2) {
        acc[2] = acc[3] = quant[4];
        if (count == 2) {
            te_nn_dot_2x2(rows, cols, groups, acc);
        } else {
            int32_t pair[2] = {acc[0], acc[2]};
            te_nn_dot_2x1(rows, cols, groups, pair);
            acc[0] = pair[0], acc[2] = pair[1];
        }
        out[1] = te_nn_output_general_s8(acc[2], quant + 5, activation_min, activation_max);
        if (count == 2) {
            out[output_depth + 1] = te_nn_output_general_s8(acc[3], quant + 5, activation_min, activation_max);
        }
    } else if (count == 2) {
        te_nn_dot_1x2(rows, cols, groups, acc);
    } else {
        acc[0] = te_nn_dot_1x1(rows, cols, groups, acc[0]);
    }
    out[0] = te_nn_output_general_s8(acc[0], quant + 1, activation_min, activation_max);
    if (count == 2) {
        out[output_depth] = te_nn_output_general_s8(acc[1], quant + 1, activation_min, activation_max);
    }
}

/*
 * `pairs` channel pairs of te_nn_mat_mult_s8, none general, from the packed rows at rows,
 * their constants at quant and their first output at out.
 */
static TE_NN_ALWAYS_INLINE void te_nn_mat_mult_pairs_s8(const int8_t *rows, const int32_t *quant,
                                                        int32_t activation_min, int32_t activation_max,
                                                        int full_range, int32_t pairs, int32_t output_depth,
                                                        int32_t groups, const int16_t *cols, int32_t count,
                                                        int8_t *out)
{
    if (count == 2) {
#if TE_NN_DSP
        if (full_range) {
            te_nn_mat_mult_2x2_full_asm(rows, quant, pairs, groups, cols, out, output_depth);
            return;
        }
#elif !TE_NN_THUMB1
        for (; pairs >= 2; pairs -= 2, rows += 16 * groups, quant += 16, out += 4) {
            int32_t acc[8] = {quant[0], quant[0], quant[4], quant[4], quant[8], quant[8], quant[12], quant[12]};
            te_nn_dot_4x2(rows, rows + 8 * groups, cols, groups, acc);
            for (int32_t c = 0; c < 4; ++c) {
                out[c] = te_nn_output_s8(acc[2 * c], quant + 4 * c + 1, activation_min, activation_max, full_range);
                out[output_depth + c] = te_nn_output_s8(acc[2 * c + 1], quant + 4 * c + 1, activation_min,
                                                        activation_max, full_range);
            }
        }
#endif
        for (; pairs > 0; --pairs, rows += 8 * groups, quant += 8, out += 2) {
            int32_t acc[4] = {quant[0], quant[0], quant[4], quant[4]};
            te_nn_dot_2x2(rows, cols, groups, acc);
            out[0] = te_nn_output_s8(acc[0], quant + 1, activation_min, activation_max, full_range);
            out[output_depth] = te_nn_output_s8(acc[1], quant + 1, activation_min, activation_max, full_range);
            out[1] = te_nn_output_s8(acc[2], quant + 5, activation_min, activation_max, full_range);
            out[output_depth + 1] = te_nn_output_s8(acc[3], quant + 5, activation_min, activation_max, full_range);
        }
    } else {
#if TE_NN_DSP
        if (full_range) {
            te_nn_mat_mult_2x1_full_asm(rows, quant, pairs, groups, cols, out);
            return;
        }
#endif
        for (; pairs > 0; --pairs, rows += 8 * groups, quant += 8, out += 2) {
            int32_t acc[2] = {quant[0], quant[4]};
            te_nn_dot_2x1(rows, cols, groups, acc);
            out[0] = te_nn_output_s8(acc[0], quant + 1, activation_min, activation_max, full_range);
            out[1] = te_nn_output_s8(acc[1], quant + 5, activation_min, activation_max, full_range);
        }
    }
}

/* The last channel of te_nn_mat_mult_s8 when output_depth is odd (row, q, o: its row, constants, output). */
static TE_NN_ALWAYS_INLINE void te_nn_mat_mult_last_s8(const int8_t *row, const int32_t *q, int32_t activation_min,
                                                       int32_t activation_max, int full_range, int32_t output_depth,
                                                       int32_t groups, const int16_t *cols, int32_t count, int8_t *o)
{
    if (count == 2) {
        int32_t acc[2] = {q[0], q[0]};
        te_nn_dot_1x2(row, cols, groups, acc);
        o[0] = te_nn_output_s8(acc[0], q + 1, activation_min, activation_max, full_range);
        o[output_depth] = te_nn_output_s8(acc[1], q + 1, activation_min, activation_max, full_range);
    } else {
        o[0] = te_nn_output_s8(te_nn_dot_1x1(row, cols, groups, q[0]), q + 1, activation_min, activation_max,
                               full_range);
    }
}

/*
 * te_nn_mat_mult_s8 for a layer with general units (see the layouts above): the runs of
 * ordinary pairs between them on the fast path, each general unit by te_nn_mat_mult_general_s8.
 */
static TE_NN_NOINLINE void te_nn_mat_mult_mixed_s8(const int8_t *filter, const int32_t *quant,
                                                   int32_t activation_min, int32_t activation_max,
                                                   int32_t output_depth, int32_t groups, const int16_t *cols,
                                                   int32_t count, int8_t *out)
{
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;
    const int32_t paired = output_depth & ~1;
    const int32_t *general = quant + 4 * output_depth;
    int32_t channel = 0;
    for (;;) {
        const int32_t end = te_nn_min_i32(*general, paired);
        if (end > channel) {
            const int8_t *rows = filter + 4 * groups * channel;
            if (full_range) {
                te_nn_mat_mult_pairs_s8(rows, quant + 4 * channel, TE_INT8_MIN, TE_INT8_MAX, 1, (end - channel) / 2,
                                        output_depth, groups, cols, count, out + channel);
            } else {
                te_nn_mat_mult_pairs_s8(rows, quant + 4 * channel, activation_min, activation_max, 0,
                                        (end - channel) / 2, output_depth, groups, cols, count, out + channel);
            }
        }
        if (end == paired) {
            break;
        }
        te_nn_mat_mult_general_s8(filter + 4 * groups * end, quant + 4 * end, activation_min, activation_max, 2,
                                  output_depth, groups, cols, count, out + end);
        channel = end + 2;
        ++general;
    }
    if (output_depth & 1) {
        if (*general == paired) {
            te_nn_mat_mult_general_s8(filter + 4 * groups * paired, quant + 4 * paired, activation_min,
                                      activation_max, 1, output_depth, groups, cols, count, out + paired);
        } else {
            te_nn_mat_mult_last_s8(filter + 4 * groups * paired, quant + 4 * paired, activation_min, activation_max,
                                   0, output_depth, groups, cols, count, out + paired);
        }
    }
}

/*
 * out[i * output_depth + c] for the `count` (1 or 2) widened columns i at cols and every
 * output channel c: quant[4 c] (the bias) + the dot product of packed row c with column i,
 * requantized with quant[4 c + 1 .. 4 c + 3] and clamped to [activation_min, activation_max]
 * (full_range: see te_nn_output_s8). A layer with general units (the list after the constants
 * does not start with output_depth) takes te_nn_mat_mult_mixed_s8.
 */
static TE_NN_ALWAYS_INLINE void te_nn_mat_mult_s8(const int8_t *filter, const int32_t *quant,
                                                  int32_t activation_min, int32_t activation_max, int full_range,
                                                  int32_t output_depth, int32_t groups, const int16_t *cols,
                                                  int32_t count, int8_t *out)
{
    const int32_t pairs = output_depth / 2;
    if (quant[4 * output_depth] != output_depth) {
        te_nn_mat_mult_mixed_s8(filter, quant, activation_min, activation_max, output_depth, groups, cols, count,
                                out);
        return;
    }
    if (pairs > 0) {
        te_nn_mat_mult_pairs_s8(filter, quant, activation_min, activation_max, full_range, pairs, output_depth,
                                groups, cols, count, out);
    }
    if (output_depth & 1) {
        te_nn_mat_mult_last_s8(filter + 8 * groups * pairs, quant + 8 * pairs, activation_min, activation_max,
                               full_range, output_depth, groups, cols, count, out + 2 * pairs);
    }
}

/*
 * Whether the kernels take te_nn_mat_mult3_s8 for a layer: the DSP extension in an optimized
 * build (TE_NN_ASM_BLOCKS: its hand-scheduled block; other builds keep two columns, as before),
 * the whole int8 clamp (full_range), an even output_depth and no general units (the list after
 * the constants is output_depth alone).
 * Other layers, and the last pixels % 3 of every layer, take te_nn_mat_mult_s8.
 */
static inline int te_nn_mat_mult3_takes(const int32_t *quant, int32_t output_depth, int full_range)
{
#if TE_NN_DSP && TE_NN_ASM_BLOCKS
    return full_range && output_depth >= 2 && output_depth % 2 == 0 && quant[4 * output_depth] == output_depth;
#else
    (void)quant, (void)output_depth, (void)full_range;
    return 0;
#endif
}

/*
 * te_nn_mat_mult_s8 for three columns (te_nn_widen_s8 with dst_step 12) of a layer
 * te_nn_mat_mult3_takes: out[i * output_depth + c] for i = 0, 1, 2 and every channel c, the same
 * bytes as te_nn_mat_mult_s8 gives for the columns one or two at a time.
 */
static inline void te_nn_mat_mult3_s8(const int8_t *filter, const int32_t *quant, int32_t output_depth,
                                      int32_t groups, const int16_t *cols, int8_t *out)
{
#if TE_NN_DSP && TE_NN_ASM_BLOCKS
    te_nn_mat_mult_2x3_full_asm(filter, quant, output_depth / 2, groups, cols, out, output_depth);
#else
    (void)filter, (void)quant, (void)output_depth, (void)groups, (void)cols, (void)out; /* never taken */
#endif
}

#endif /* TE_NN_DSP_H */
