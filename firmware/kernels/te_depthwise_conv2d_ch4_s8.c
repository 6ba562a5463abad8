/*
 * tinyedge: int8 DEPTHWISE_CONV_2D over widened input rows, four channels per step
 * (see te_depthwise_conv2d_ch4_s8.h); the same bytes as te_depthwise_conv2d_s8.
 */
#include "te_depthwise_conv2d_ch4_s8.h"

#include <string.h>

/* The hand-scheduled 3x3 blocks: DSP cores, optimized builds (te_nn_dsp.h: TE_NN_ASM_BLOCKS). */
#define TE_DW_CH4_ASM (TE_NN_DSP && TE_NN_ASM_BLOCKS)

/* Words of one channel group's constants: biases, taps, requantization triples. */
#define TE_DW_CH4_BIAS_WORDS 4
#define TE_DW_CH4_REQUANT_WORDS 12

#if TE_DW_CH4_ASM
/* 3x3 taps of four channels: per tap 2 LDRD and 4 halfword multiply-accumulates. */
#define TE_DW_CH4_ASM_TAP(row, offset)                                                          \
    "ldrd %[t0], %[t1], [%[" row "], #" offset "]\n\t"                                          \
    "ldrd %[t2], %[t3], [%[w]], #8\n\t"                                                        \
    "smlabb %[a0], %[t2], %[t0], %[a0]\n\t"                                                    \
    "smlatt %[a2], %[t2], %[t0], %[a2]\n\t"                                                    \
    "smlabb %[a1], %[t3], %[t1], %[a1]\n\t"                                                    \
    "smlatt %[a3], %[t3], %[t1], %[a3]\n\t"
#define TE_DW_CH4_ASM_ROW(row) TE_DW_CH4_ASM_TAP(row, "0") TE_DW_CH4_ASM_TAP(row, "8") TE_DW_CH4_ASM_TAP(row, "16")
/* te_nn_requantize_rounding, SSAT to int8 and a byte store, for one accumulator. */
#define TE_DW_CH4_ASM_OUTPUT(acc)                                                               \
    "ldrd %[t0], %[t1], [%[w]], #8\n\t"                                                        \
    "ldr %[t2], [%[w]], #4\n\t"                                                                \
    "lsl %[t3], %[" acc "], #1\n\t"                                                            \
    "smmlar %[t3], %[t3], %[t0], %[t1]\n\t"                                                    \
    "add %[t3], %[t3], %[" acc "], asr #31\n\t"                                                \
    "asr %[t3], %[t3], %[t2]\n\t"                                                              \
    "ssat %[t3], #8, %[t3]\n\t"                                                                \
    "strb %[t3], [%[out]], #1\n\t"

/*
 * Every channel group of one output pixel, 3x3 filter, clamp to the whole int8 range:
 * x0, x1, x2 point at the window's top-left pixel in the three widened rows (group 0),
 * consecutive groups are group_bytes apart. About 95 instructions per 36 multiply-accumulates.
 */
static TE_NN_ALWAYS_INLINE void te_dw_ch4_pixel_3x3_asm(const int16_t *x0, const int16_t *x1, const int16_t *x2,
                                                        const int32_t *packed, const int32_t *packed_end,
                                                        int32_t group_bytes, int8_t *out)
{
    int32_t a0, a1, a2, a3;
    uint32_t t0, t1, t2, t3;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[a0], %[a1], [%[w]], #8\n\t"
        "ldrd %[a2], %[a3], [%[w]], #8\n\t"
        TE_DW_CH4_ASM_ROW("x0") TE_DW_CH4_ASM_ROW("x1") TE_DW_CH4_ASM_ROW("x2")
        TE_DW_CH4_ASM_OUTPUT("a0") TE_DW_CH4_ASM_OUTPUT("a1") TE_DW_CH4_ASM_OUTPUT("a2") TE_DW_CH4_ASM_OUTPUT("a3")
        "ldr %[t0], %[step]\n\t"
        "add %[x0], %[x0], %[t0]\n\t"
        "add %[x1], %[x1], %[t0]\n\t"
        "add %[x2], %[x2], %[t0]\n\t"
        "ldr %[t0], %[end]\n\t"
        "cmp %[w], %[t0]\n\t"
        "bne 1b"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [t0] "=&r"(t0), [t1] "=&r"(t1),
          [t2] "=&r"(t2), [t3] "=&r"(t3), [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [w] "+r"(packed),
          [out] "+r"(out)
        : [step] "m"(group_bytes), [end] "m"(packed_end)
        : "cc", "memory");
}

/*
 * Two output pixels (p, p + 1) of a channel group, one half of it at a time: half 0 the channels
 * c and c + 2 (lanes of the first word of a widened pixel and of a tap), half 1 c + 1 and c + 3
 * (the second words). One tap word then serves both pixels: per tap 3 LDR (pipelined) and 4
 * halfword multiply-accumulates, where one pixel alone takes 2 LDRD for 4 (stride 1: 7 LDR per
 * filter row, the input words the two pixels share loaded once).
 * Operands: w the group's constants, x0..x2 the rows at pixel p, px1 the bytes from pixel p to
 * p + 1 in a widened row (8 * stride).
 */
#define TE_DW_CH4_PAIR_TAP(row, r, h, dx, px1)                                                   \
    "ldr %[t0], [%[w], #(16 + 8 * (3 * (" #r ") + (" #dx ")) + 4 * (" #h "))]\n\t"                \
    "ldr %[t1], [%[" row "], #(8 * (" #dx ") + 4 * (" #h "))]\n\t"                              \
    "ldr %[t2], [%[" row "], #(8 * (" #dx ") + 4 * (" #h ") + (" #px1 "))]\n\t"                 \
    "smlabb %[a0], %[t0], %[t1], %[a0]\n\t"                                                    \
    "smlatt %[a1], %[t0], %[t1], %[a1]\n\t"                                                    \
    "smlabb %[a2], %[t0], %[t2], %[a2]\n\t"                                                    \
    "smlatt %[a3], %[t0], %[t2], %[a3]\n\t"
/* One filter row at stride 2: 3 taps as above. */
#define TE_DW_CH4_PAIR_ROW_16(row, r, h)                                                         \
    TE_DW_CH4_PAIR_TAP(row, r, h, 0, 16) TE_DW_CH4_PAIR_TAP(row, r, h, 1, 16)                   \
    TE_DW_CH4_PAIR_TAP(row, r, h, 2, 16)
/* Multiply-accumulates of one tap word (t0) with pixel p's input word (xa) and pixel p + 1's (xb). */
#define TE_DW_CH4_PAIR_MACS(xa, xb)                                                              \
    "smlabb %[a0], %[t0], %[" xa "], %[a0]\n\t"                                                 \
    "smlatt %[a1], %[t0], %[" xa "], %[a1]\n\t"                                                 \
    "smlabb %[a2], %[t0], %[" xb "], %[a2]\n\t"                                                 \
    "smlatt %[a3], %[t0], %[" xb "], %[a3]\n\t"
#define TE_DW_CH4_PAIR_LOAD(reg, base, offset) "ldr %[" reg "], [%[" base "], #(" offset ")]\n\t"
/*
 * One filter row at stride 1: pixel p + 1's tap k is pixel p's tap k + 1, so the row's 4 input
 * words (t1, t2 in turn) are each loaded once: 7 LDR and 12 multiply-accumulates.
 */
#define TE_DW_CH4_PAIR_ROW_8(row, r, h)                                                          \
    TE_DW_CH4_PAIR_LOAD("t0", "w", "16 + 24 * (" #r ") + 4 * (" #h ")")                          \
    TE_DW_CH4_PAIR_LOAD("t1", row, "4 * (" #h ")")                                               \
    TE_DW_CH4_PAIR_LOAD("t2", row, "8 + 4 * (" #h ")")                                           \
    TE_DW_CH4_PAIR_MACS("t1", "t2")                                                             \
    TE_DW_CH4_PAIR_LOAD("t0", "w", "24 + 24 * (" #r ") + 4 * (" #h ")")                          \
    TE_DW_CH4_PAIR_LOAD("t1", row, "16 + 4 * (" #h ")")                                          \
    TE_DW_CH4_PAIR_MACS("t2", "t1")                                                             \
    TE_DW_CH4_PAIR_LOAD("t0", "w", "32 + 24 * (" #r ") + 4 * (" #h ")")                          \
    TE_DW_CH4_PAIR_LOAD("t2", row, "24 + 4 * (" #h ")")                                          \
    TE_DW_CH4_PAIR_MACS("t1", "t2")
/* te_nn_requantize_rounding of channel k's accumulators of pixels p (pa) and p + 1 (pb), SSAT, stores. */
#define TE_DW_CH4_PAIR_OUTPUT(k, pa, pb)                                                         \
    "ldr %[t0], [%[w], #(88 + 12 * (" #k "))]\n\t"                                              \
    "ldr %[t1], [%[w], #(92 + 12 * (" #k "))]\n\t"                                              \
    "lsl %[t2], %[" pa "], #1\n\t"                                                             \
    "smmlar %[t2], %[t2], %[t0], %[t1]\n\t"                                                    \
    "add %[" pa "], %[t2], %[" pa "], asr #31\n\t"                                             \
    "lsl %[t2], %[" pb "], #1\n\t"                                                             \
    "smmlar %[t2], %[t2], %[t0], %[t1]\n\t"                                                    \
    "add %[" pb "], %[t2], %[" pb "], asr #31\n\t"                                             \
    "ldr %[t1], [%[w], #(96 + 12 * (" #k "))]\n\t"                                              \
    "asr %[" pa "], %[" pa "], %[t1]\n\t"                                                      \
    "ssat %[" pa "], #8, %[" pa "]\n\t"                                                        \
    "strb %[" pa "], [%[out], #" #k "]\n\t"                                                    \
    "asr %[" pb "], %[" pb "], %[t1]\n\t"                                                      \
    "ssat %[" pb "], #8, %[" pb "]\n\t"                                                        \
    "strb %[" pb "], [%[out1], #" #k "]\n\t"
/* One half: a0, a1 channel h and h + 2 of pixel p, a2, a3 the same of pixel p + 1. */
#define TE_DW_CH4_PAIR_HALF(h, px1)                                                              \
    "ldr %[a0], [%[w], #(4 * (" #h "))]\n\t"                                                    \
    "ldr %[a1], [%[w], #(4 * (" #h ") + 8)]\n\t"                                                \
    "mov %[a2], %[a0]\n\t"                                                                     \
    "mov %[a3], %[a1]\n\t"                                                                     \
    TE_DW_CH4_PAIR_ROW_##px1("x0", 0, h) TE_DW_CH4_PAIR_ROW_##px1("x1", 1, h)                   \
    TE_DW_CH4_PAIR_ROW_##px1("x2", 2, h)                                                        \
    TE_DW_CH4_PAIR_OUTPUT(h, "a0", "a2") TE_DW_CH4_PAIR_OUTPUT(h + 2, "a1", "a3")
#define TE_DW_CH4_PAIR_GROUPS(px1)                                                               \
    "1:\n\t"                                                                                   \
    TE_DW_CH4_PAIR_HALF(0, px1) TE_DW_CH4_PAIR_HALF(1, px1)                                     \
    "add %[w], %[w], #136\n\t"                                                                 \
    "add %[out], %[out], #4\n\t"                                                               \
    "add %[out1], %[out1], #4\n\t"                                                             \
    "ldr %[t0], %[step]\n\t"                                                                   \
    "add %[x0], %[x0], %[t0]\n\t"                                                              \
    "add %[x1], %[x1], %[t0]\n\t"                                                              \
    "add %[x2], %[x2], %[t0]\n\t"                                                              \
    "ldr %[t0], %[end]\n\t"                                                                    \
    "cmp %[w], %[t0]\n\t"                                                                      \
    "bne 1b"

/*
 * Every channel group of output pixels p and p + 1 (out, out + depth), 3x3 filter, stride 1 or
 * 2 (stride2), clamp to the whole int8 range; x0..x2 as te_dw_ch4_pixel_3x3_asm. About 192
 * instructions per 72 multiply-accumulates at stride 1, 204 at stride 2.
 */
static TE_NN_ALWAYS_INLINE void te_dw_ch4_pair_3x3_asm(const int16_t *x0, const int16_t *x1, const int16_t *x2,
                                                       const int32_t *packed, const int32_t *packed_end,
                                                       int32_t group_bytes, int32_t depth, int stride2, int8_t *out)
{
    int32_t a0, a1, a2, a3;
    uint32_t t0, t1, t2;
    int8_t *out1 = out + depth;
    if (stride2) {
        __asm__ volatile(TE_DW_CH4_PAIR_GROUPS(16)
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [t0] "=&r"(t0),
                           [t1] "=&r"(t1), [t2] "=&r"(t2), [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2),
                           [w] "+r"(packed), [out] "+r"(out), [out1] "+r"(out1)
                         : [step] "m"(group_bytes), [end] "m"(packed_end)
                         : "cc", "memory");
    } else {
        __asm__ volatile(TE_DW_CH4_PAIR_GROUPS(8)
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [t0] "=&r"(t0),
                           [t1] "=&r"(t1), [t2] "=&r"(t2), [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2),
                           [w] "+r"(packed), [out] "+r"(out), [out1] "+r"(out1)
                         : [step] "m"(group_bytes), [end] "m"(packed_end)
                         : "cc", "memory");
    }
}
#endif

/*
 * `channel_groups` channel groups of one output pixel, any filter and clamp: rows[ky] + offset
 * points at the window's top-left pixel in the widened row under filter row ky (first group).
 * general (a constant at each call): the groups' channels are general (te_nn_dsp.h).
 */
static TE_NN_ALWAYS_INLINE void te_dw_ch4_pixel(const int16_t *const *rows, int32_t offset, const int32_t *packed,
                                                int32_t channel_groups, int32_t group_size, int32_t filter_height,
                                                int32_t filter_width, int32_t activation_min,
                                                int32_t activation_max, int general, int8_t *out)
{
    for (int32_t group = 0; group < channel_groups; ++group, offset += group_size, out += 4) {
        int32_t acc0 = packed[0], acc1 = packed[1], acc2 = packed[2], acc3 = packed[3];
        const int32_t *taps = packed + TE_DW_CH4_BIAS_WORDS;
        for (int32_t filter_y = 0; filter_y < filter_height; ++filter_y) {
            const int16_t *x = rows[filter_y] + offset;
#if !TE_NN_DSP && TE_NN_THUMB1
            /* Thumb-1 (no sign-extending load at an immediate offset), the filter row in one block: per
               tap a word of two lanes loaded, its low lane by SXTH and its high one by ASRS into the
               MULS operands, the accumulators in high registers; 20 instructions for 4 products, 3 for
               the loop. Rows and taps are word-aligned (the scratch is 8-byte aligned, 8 bytes a pixel). */
            int32_t n = filter_width, xw, ww, xl, wl;
            __asm__(".syntax unified\n"
                    "1:\n\t"
                    "ldr %[xw], [%[x]]\n\t"
                    "ldr %[ww], [%[t]]\n\t"
                    "sxth %[xl], %[xw]\n\t"
                    "sxth %[wl], %[ww]\n\t"
                    "muls %[xl], %[wl], %[xl]\n\t"
                    "add %[a0], %[xl]\n\t"
                    "asrs %[xw], %[xw], #16\n\t"
                    "asrs %[ww], %[ww], #16\n\t"
                    "muls %[xw], %[ww], %[xw]\n\t"
                    "add %[a2], %[xw]\n\t"
                    "ldr %[xw], [%[x], #4]\n\t"
                    "ldr %[ww], [%[t], #4]\n\t"
                    "sxth %[xl], %[xw]\n\t"
                    "sxth %[wl], %[ww]\n\t"
                    "muls %[xl], %[wl], %[xl]\n\t"
                    "add %[a1], %[xl]\n\t"
                    "asrs %[xw], %[xw], #16\n\t"
                    "asrs %[ww], %[ww], #16\n\t"
                    "muls %[xw], %[ww], %[xw]\n\t"
                    "add %[a3], %[xw]\n\t"
                    "adds %[x], #8\n\t"
                    "adds %[t], #8\n\t"
                    "subs %[n], #1\n\t"
                    "bne 1b"
                    : [a0] "+h"(acc0), [a1] "+h"(acc1), [a2] "+h"(acc2), [a3] "+h"(acc3), [x] "+l"(x),
                      [t] "+l"(taps), [n] "+l"(n), [xw] "=&l"(xw), [ww] "=&l"(ww), [xl] "=&l"(xl), [wl] "=&l"(wl)
                    :
                    : "cc", "memory");
            continue;
#endif
            for (int32_t filter_x = 0; filter_x < filter_width; ++filter_x, x += 4, taps += 2) {
#if TE_NN_DSP
                const uint32_t xa = te_nn_read_u32(x), xb = te_nn_read_u32(x + 2);
                const uint32_t wa = (uint32_t)taps[0], wb = (uint32_t)taps[1];
                acc0 = __smlabb(wa, xa, acc0);
                acc2 = __smlatt(wa, xa, acc2);
                acc1 = __smlabb(wb, xb, acc1);
                acc3 = __smlatt(wb, xb, acc3);
#else
                /* each tap word: the low lane for channel c (or c + 1), the high one for c + 2 (c + 3) */
                acc0 += x[0] * (int16_t)(uint16_t)taps[0];
                acc2 += x[1] * (int16_t)(uint16_t)((uint32_t)taps[0] >> 16);
                acc1 += x[2] * (int16_t)(uint16_t)taps[1];
                acc3 += x[3] * (int16_t)(uint16_t)((uint32_t)taps[1] >> 16);
#endif
            }
        }
        const int32_t *requant = taps;
        if (general) {
            out[0] = te_nn_output_general_s8(acc0, requant, activation_min, activation_max);
            out[1] = te_nn_output_general_s8(acc1, requant + 3, activation_min, activation_max);
            out[2] = te_nn_output_general_s8(acc2, requant + 6, activation_min, activation_max);
            out[3] = te_nn_output_general_s8(acc3, requant + 9, activation_min, activation_max);
        } else {
            out[0] = te_nn_output_s8(acc0, requant, activation_min, activation_max, 0);
            out[1] = te_nn_output_s8(acc1, requant + 3, activation_min, activation_max, 0);
            out[2] = te_nn_output_s8(acc2, requant + 6, activation_min, activation_max, 0);
            out[3] = te_nn_output_s8(acc3, requant + 9, activation_min, activation_max, 0);
        }
        packed = requant + TE_DW_CH4_REQUANT_WORDS;
    }
}

/*
 * One general channel group of one output pixel (te_nn_dsp.h): the taps accumulated as for
 * the others (the hand-scheduled 3x3 taps on the DSP path), then the reference requantization.
 */
static TE_NN_NOINLINE void te_dw_ch4_general_group(const int16_t *const *rows, int32_t offset, const int32_t *packed,
                                                   int32_t group_size, int32_t filter_height, int32_t filter_width,
                                                   int32_t activation_min, int32_t activation_max, int8_t *out)
{
#if TE_DW_CH4_ASM
    if (filter_height == 3 && filter_width == 3) {
        int32_t a0 = packed[0], a1 = packed[1], a2 = packed[2], a3 = packed[3];
        uint32_t t0, t1, t2, t3;
        const int32_t *w = packed + TE_DW_CH4_BIAS_WORDS;
        const int16_t *x0 = rows[0] + offset, *x1 = rows[1] + offset, *x2 = rows[2] + offset;
        __asm__ volatile(
            TE_DW_CH4_ASM_ROW("x0") TE_DW_CH4_ASM_ROW("x1") TE_DW_CH4_ASM_ROW("x2")
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [t0] "=&r"(t0), [t1] "=&r"(t1),
              [t2] "=&r"(t2), [t3] "=&r"(t3), [w] "+r"(w)
            : [x0] "r"(x0), [x1] "r"(x1), [x2] "r"(x2)
            : "memory");
        out[0] = te_nn_output_general_s8(a0, w, activation_min, activation_max);
        out[1] = te_nn_output_general_s8(a1, w + 3, activation_min, activation_max);
        out[2] = te_nn_output_general_s8(a2, w + 6, activation_min, activation_max);
        out[3] = te_nn_output_general_s8(a3, w + 9, activation_min, activation_max);
        return;
    }
#endif
    te_dw_ch4_pixel(rows, offset, packed, 1, group_size, filter_height, filter_width, activation_min, activation_max,
                    1, out);
}

/*
 * Every channel group of one output pixel in a layer with general groups (te_nn_dsp.h): the runs
 * of ordinary groups between them as te_depthwise_conv2d_ch4_s8 runs a whole pixel, each general
 * group alone with the reference requantization.
 */
static TE_NN_NOINLINE void te_dw_ch4_pixel_mixed(const int16_t *const *rows, int32_t offset, const int32_t *packed,
                                                 const int32_t *general, int32_t channel_groups, int32_t group_words,
                                                 int32_t group_size, int32_t filter_height, int32_t filter_width,
                                                 int32_t activation_min, int32_t activation_max, int8_t *out)
{
#if TE_DW_CH4_ASM
    const int fast = filter_height == 3 && filter_width == 3 && activation_min == TE_INT8_MIN
                     && activation_max == TE_INT8_MAX;
#endif
    int32_t group = 0;
    for (;;) {
        const int32_t end = te_nn_min_i32(*general / 4, channel_groups);
        if (end > group) {
            const int32_t at = offset + group * group_size;
#if TE_DW_CH4_ASM
            if (fast) {
                te_dw_ch4_pixel_3x3_asm(rows[0] + at, rows[1] + at, rows[2] + at, packed + group * group_words,
                                        packed + end * group_words, 2 * group_size, out + 4 * group);
            } else
#endif
            {
                te_dw_ch4_pixel(rows, at, packed + group * group_words, end - group, group_size, filter_height,
                                filter_width, activation_min, activation_max, 0, out + 4 * group);
            }
        }
        if (end == channel_groups) {
            break;
        }
        te_dw_ch4_general_group(rows, offset + end * group_size, packed + end * group_words, group_size,
                                filter_height, filter_width, activation_min, activation_max, out + 4 * end);
        group = end + 1;
        ++general;
    }
}

#if TE_DW_CH4_ASM
/*
 * Every channel group of output pixels p and p + 1 (out, out + depth) in a layer with general
 * groups, 3x3 filter, stride 1 or 2, clamp to the whole int8 range: the runs of ordinary groups
 * between them by te_dw_ch4_pair_3x3_asm, each general group alone for each pixel.
 */
static TE_NN_NOINLINE void te_dw_ch4_pair_mixed(const int16_t *const *rows, int32_t offset, int32_t pixel_step,
                                                const int32_t *packed, const int32_t *general, int32_t channel_groups,
                                                int32_t group_words, int32_t group_size, int32_t depth, int stride2,
                                                int8_t *out)
{
    int32_t group = 0;
    for (;;) {
        const int32_t end = te_nn_min_i32(*general / 4, channel_groups);
        if (end > group) {
            const int32_t at = offset + group * group_size;
            te_dw_ch4_pair_3x3_asm(rows[0] + at, rows[1] + at, rows[2] + at, packed + group * group_words,
                                   packed + end * group_words, 2 * group_size, depth, stride2, out + 4 * group);
        }
        if (end == channel_groups) {
            break;
        }
        const int32_t at = offset + end * group_size;
        te_dw_ch4_general_group(rows, at, packed + end * group_words, group_size, 3, 3, TE_INT8_MIN, TE_INT8_MAX,
                                out + 4 * end);
        te_dw_ch4_general_group(rows, at + pixel_step, packed + end * group_words, group_size, 3, 3, TE_INT8_MIN,
                                TE_INT8_MAX, out + depth + 4 * end);
        group = end + 1;
        ++general;
    }
}
#endif

void te_depthwise_conv2d_ch4_s8(const te_depthwise_conv2d_ch4_params *params, const int8_t *input,
                                const int32_t *packed, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t depth = params->depth;
    const int32_t filter_height = params->filter_height;
    const int32_t filter_width = params->filter_width;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t zero_point = -params->input_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t constants_words = params->constants_words;

    const int32_t channel_groups = depth / 4;
    const int32_t span_width = (output_width - 1) * stride_width + filter_width;
    /* A widened row holds, for each channel group, span_width pixels of 4 int16 lanes. */
    const int32_t group_size = 4 * span_width;
    const int32_t row_size = group_size * channel_groups;
    const int32_t input_row_size = input_width * depth;
    const int32_t pixel_step = 4 * stride_width;
#if TE_DW_CH4_ASM
    const int fast = filter_height == 3 && filter_width == 3 && activation_min == TE_INT8_MIN
                     && activation_max == TE_INT8_MAX;
#endif
    const int32_t group_words = TE_DW_CH4_BIAS_WORDS + 2 * filter_height * filter_width + TE_DW_CH4_REQUANT_WORDS;
    if (TE_NN_DSP && constants_words > 0) {
        /* Every output pixel reads all the constants: from a RAM copy past the ring of rows. */
        int32_t *copy = (int32_t *)(void *)(scratch + filter_height * row_size);
        memcpy(copy, packed, 4 * (size_t)constants_words);
        packed = copy;
    }
    /* The first channels of the general groups (te_nn_dsp.h), then depth; it starts where the groups end. */
    const int32_t *general_groups = packed + channel_groups * group_words;
    const int mixed = *general_groups != depth;
    const int16_t *rows[TE_DEPTHWISE_CONV2D_CH4_MAX_FILTER_HEIGHT] = {0};

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int8_t *image = input + batch * input_height * input_row_size;
        int8_t *out = output + batch * output_height * output_width * depth;
        int32_t next_row = -pad_height; /* the first input row not widened yet */
        for (int32_t out_y = 0; out_y < output_height; ++out_y) {
            /* Widen the rows this output row needs and earlier ones did not; input row y
               goes to ring slot (y + pad_height) % filter_height. */
            const int32_t first_row = out_y * stride_height - pad_height;
            for (int32_t in_y = te_nn_max_i32(next_row, first_row); in_y < first_row + filter_height; ++in_y) {
                int16_t *slot = scratch + (in_y + pad_height) % filter_height * row_size;
                const int row_inside = in_y >= 0 && in_y < input_height;
                for (int32_t x = 0; x < span_width; ++x) {
                    const int32_t in_x = x - pad_width;
                    if (row_inside && in_x >= 0 && in_x < input_width) {
                        te_nn_widen_s8(image + in_y * input_row_size + in_x * depth, depth, slot + 4 * x,
                                       group_size);
                    } else {
                        te_nn_fill_s16(slot + 4 * x, zero_point, channel_groups, group_size);
                    }
                }
                next_row = in_y + 1;
            }
            for (int32_t filter_y = 0; filter_y < filter_height; ++filter_y) {
                rows[filter_y] = scratch + (first_row + filter_y + pad_height) % filter_height * row_size;
            }
            int32_t out_x = 0;
#if TE_DW_CH4_ASM
            if (fast && stride_width <= 2) {
                /* pixel pairs, the last pixel of an odd width alone (below) */
                for (; out_x + 2 <= output_width; out_x += 2, out += 2 * depth) {
                    const int32_t offset = out_x * pixel_step;
                    if (mixed) {
                        te_dw_ch4_pair_mixed(rows, offset, pixel_step, packed, general_groups, channel_groups,
                                             group_words, group_size, depth, stride_width == 2, out);
                    } else {
                        te_dw_ch4_pair_3x3_asm(rows[0] + offset, rows[1] + offset, rows[2] + offset, packed,
                                               general_groups, 2 * group_size, depth, stride_width == 2, out);
                    }
                }
            }
#endif
            if (mixed) {
                for (; out_x < output_width; ++out_x, out += depth) {
                    te_dw_ch4_pixel_mixed(rows, out_x * pixel_step, packed, general_groups, channel_groups,
                                          group_words, group_size, filter_height, filter_width, activation_min,
                                          activation_max, out);
                }
                continue;
            }
            for (; out_x < output_width; ++out_x, out += depth) {
                const int32_t offset = out_x * pixel_step;
#if TE_DW_CH4_ASM
                if (fast) {
                    te_dw_ch4_pixel_3x3_asm(rows[0] + offset, rows[1] + offset, rows[2] + offset, packed,
                                            general_groups, 2 * group_size, out);
                    continue;
                }
#endif
                te_dw_ch4_pixel(rows, offset, packed, channel_groups, group_size, filter_height, filter_width,
                                activation_min, activation_max, 0, out);
            }
        }
    }
}
