/*
 * tinyedge: int8 3x3 DEPTHWISE_CONV_2D, stride 1 or 2, over channel-major widened rows, one
 * channel's 3x3 weights per block of output pixels (see te_depthwise_conv2d_3x3_s8.h); the
 * same bytes as te_depthwise_conv2d_s8.
 */
#include "te_depthwise_conv2d_3x3_s8.h"

#include <string.h>

#define TE_DW3_BIAS 0
#define TE_DW3_TAPS 1
#define TE_DW3_REQUANT 7
#define TE_DW3_GENERAL 10

/* The low and high int16 lanes of a word as values. */
static inline int32_t te_dw3_lo(uint32_t w) { return (int16_t)(uint16_t)w; }
static inline int32_t te_dw3_hi(uint32_t w) { return (int16_t)(uint16_t)(w >> 16); }

/* One output value of a channel (general, full_range: constants at each call). */
static TE_NN_ALWAYS_INLINE int8_t te_dw3_output(int32_t acc, const int32_t *requant, int32_t activation_min,
                                                int32_t activation_max, int full_range, int general)
{
    return general ? te_nn_output_general_s8(acc, requant, activation_min, activation_max)
                   : te_nn_output_s8(acc, requant, activation_min, activation_max, full_range);
}

#if TE_NN_DSP
#define TE_DW3_WORD(x, i) te_nn_read_u32((x) + 2 * (i))
#define TE_DW3_SMLAD(x, w, acc) __smlad((x), (w), (acc))
#define TE_DW3_SMLABT(x, w, acc) __smlabt((x), (w), (acc))
#define TE_DW3_SMLATB(x, w, acc) __smlatb((x), (w), (acc))
#else
/* The same integers in plain C: a word holds two int16 lanes, low first. */
static inline uint32_t te_dw3_word(const int16_t *x) { return (uint16_t)x[0] | (uint32_t)(uint16_t)x[1] << 16; }
#define TE_DW3_WORD(x, i) te_dw3_word((x) + 2 * (i))
#define TE_DW3_SMLAD(x, w, acc) ((acc) + te_dw3_lo(x) * te_dw3_lo(w) + te_dw3_hi(x) * te_dw3_hi(w))
#define TE_DW3_SMLABT(x, w, acc) ((acc) + te_dw3_lo(x) * te_dw3_hi(w))
#define TE_DW3_SMLATB(x, w, acc) ((acc) + te_dw3_hi(x) * te_dw3_lo(w))
#endif

/*
 * One channel's block of output pixels, n of them (4, 2 or 1; stride 2: 2 or 1), from its three
 * widened rows at the block's first window. taps: per filter row, w01 = (w0, w1) and w12 = (w1, w2).
 * With X_k the word of taps (2k, 2k + 1) of a row, stride 1:
 *   p: X0 . w01 + X1.lo * w2      p + 1: X0.hi * w0 + X1 . w12
 *   p + 2: X1 . w01 + X2.lo * w2  p + 3: X1.hi * w0 + X2 . w12
 * stride 2: p: X0 . w01 + X1.lo * w2, p + 1: X1 . w01 + X2.lo * w2.
 */
static TE_NN_ALWAYS_INLINE void te_dw3_block(const int16_t *r0, const int16_t *r1, const int16_t *r2,
                                             const int32_t *consts, int32_t depth, int32_t activation_min,
                                             int32_t activation_max, int n, int stride2, int full_range,
                                             int general, int8_t *out)
{
    const uint32_t *taps = (const uint32_t *)(consts + TE_DW3_TAPS);
    const int16_t *rows[3] = {r0, r1, r2};
    int32_t a0 = consts[TE_DW3_BIAS], a1 = a0, a2 = a0, a3 = a0;
    for (int r = 0; r < 3; ++r) {
        const int16_t *x = rows[r];
        const uint32_t w01 = taps[2 * r], w12 = taps[2 * r + 1];
        const uint32_t x0 = TE_DW3_WORD(x, 0), x1 = TE_DW3_WORD(x, 1);
        a0 = TE_DW3_SMLABT(x1, w12, TE_DW3_SMLAD(x0, w01, a0));
        if (stride2) {
            if (n == 2) {
                const uint32_t x2 = TE_DW3_WORD(x, 2);
                a1 = TE_DW3_SMLABT(x2, w12, TE_DW3_SMLAD(x1, w01, a1));
            }
            continue;
        }
        if (n >= 2) {
            a1 = TE_DW3_SMLAD(x1, w12, TE_DW3_SMLATB(x0, w01, a1));
        }
        if (n == 4) {
            const uint32_t x2 = TE_DW3_WORD(x, 2);
            a2 = TE_DW3_SMLABT(x2, w12, TE_DW3_SMLAD(x1, w01, a2));
            a3 = TE_DW3_SMLAD(x2, w12, TE_DW3_SMLATB(x1, w01, a3));
        }
    }
    const int32_t *requant = consts + TE_DW3_REQUANT;
    out[0] = te_dw3_output(a0, requant, activation_min, activation_max, full_range, general);
    if (n >= 2) {
        out[depth] = te_dw3_output(a1, requant, activation_min, activation_max, full_range, general);
    }
    if (n == 4) {
        out[2 * depth] = te_dw3_output(a2, requant, activation_min, activation_max, full_range, general);
        out[3 * depth] = te_dw3_output(a3, requant, activation_min, activation_max, full_range, general);
    }
}

#if TE_NN_DSP
/* One filter row of a stride-1 block of 4 pixels (the formulas above): 3 loads, 8 multiplies. */
#define TE_DW3_ASM_ROW_S1(row, offset)                                                          \
    "ldrd %[x0], %[x1], [%[" row "]], #8\n\t"                                                  \
    "ldrd %[wa], %[wb], [%[w], #" offset "]\n\t"                                               \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                                                     \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                                                    \
    "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"                                                    \
    "smlad %[a1], %[x1], %[wb], %[a1]\n\t"                                                     \
    "ldr %[x0], [%[" row "]]\n\t"                                                              \
    "smlad %[a2], %[x1], %[wa], %[a2]\n\t"                                                     \
    "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"                                                    \
    "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"                                                    \
    "smlad %[a3], %[x0], %[wb], %[a3]\n\t"
/* One filter row of a stride-2 block of 4 pixels: pixel k is X_k . w01 + X_(k+1).lo * w2. */
#define TE_DW3_ASM_ROW_S2(row, offset)                                                          \
    "ldrd %[x0], %[x1], [%[" row "]], #16\n\t"                                                 \
    "ldrd %[wa], %[wb], [%[w], #" offset "]\n\t"                                               \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                                                     \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                                                    \
    "ldr %[x0], [%[" row "], #-8]\n\t"                                                         \
    "smlad %[a1], %[x1], %[wa], %[a1]\n\t"                                                     \
    "smlabt %[a1], %[x0], %[wb], %[a1]\n\t"                                                    \
    "ldr %[x1], [%[" row "], #-4]\n\t"                                                         \
    "smlad %[a2], %[x0], %[wa], %[a2]\n\t"                                                     \
    "smlabt %[a2], %[x1], %[wb], %[a2]\n\t"                                                    \
    "ldr %[x0], [%[" row "]]\n\t"                                                              \
    "smlad %[a3], %[x1], %[wa], %[a3]\n\t"                                                     \
    "smlabt %[a3], %[x0], %[wb], %[a3]\n\t"
/* te_nn_requantize_rounding (wa multiplier, x1 rounding, wb shift), SSAT, a byte store, out += a0. */
#define TE_DW3_ASM_OUTPUT(acc)                                                                  \
    "lsl %[x0], %[" acc "], #1\n\t"                                                            \
    "smmlar %[x0], %[x0], %[wa], %[x1]\n\t"                                                    \
    "add %[x0], %[x0], %[" acc "], asr #31\n\t"                                                \
    "asr %[x0], %[x0], %[wb]\n\t"                                                              \
    "ssat %[x0], #8, %[x0]\n\t"                                                                \
    "strb %[x0], [%[out]]\n\t"                                                               \
    "add %[out], %[out], %[a0]\n\t"
#define TE_DW3_ASM_BLOCK(ROW)                                                                   \
    "1:\n\t"                                                                                   \
    "ldr %[a0], [%[w]]\n\t"                                                                    \
    "mov %[a1], %[a0]\n\t"                                                                     \
    "mov %[a2], %[a0]\n\t"                                                                     \
    "mov %[a3], %[a0]\n\t"                                                                     \
    ROW("r0", "4") ROW("r1", "12") ROW("r2", "20")                                              \
    "ldrd %[wa], %[x1], [%[w], #28]\n\t"                                                       \
    "ldr %[wb], [%[w], #36]\n\t"                                                               \
    "lsl %[x0], %[a0], #1\n\t"                                                                 \
    "smmlar %[x0], %[x0], %[wa], %[x1]\n\t"                                                    \
    "add %[x0], %[x0], %[a0], asr #31\n\t"                                                     \
    "asr %[x0], %[x0], %[wb]\n\t"                                                              \
    "ssat %[x0], #8, %[x0]\n\t"                                                                \
    "ldr %[a0], %[depth]\n\t"                                                                  \
    "strb %[x0], [%[out]]\n\t"                                                               \
    "add %[out], %[out], %[a0]\n\t"                                                          \
    TE_DW3_ASM_OUTPUT("a1") TE_DW3_ASM_OUTPUT("a2") TE_DW3_ASM_OUTPUT("a3")                    \
    "ldr %[x0], %[end]\n\t"                                                                    \
    "cmp %[r0], %[x0]\n\t"                                                                     \
    "bne 1b"

/* After a channel's blocks: the next channel's rows, output, constants and end of its first row. */
#define TE_DW3_ASM_NEXT_CHANNEL                                                                 \
    "ldr %[x0], %[skip]\n\t"                                                                   \
    "add %[r0], %[r0], %[x0]\n\t"                                                              \
    "add %[r1], %[r1], %[x0]\n\t"                                                              \
    "add %[r2], %[r2], %[x0]\n\t"                                                              \
    "ldr %[x0], %[back]\n\t"                                                                   \
    "sub %[out], %[out], %[x0]\n\t"                                                            \
    "add %[w], %[w], #44\n\t"                                                                  \
    "ldr %[x0], %[end]\n\t"                                                                    \
    "ldr %[x1], %[row_bytes]\n\t"                                                              \
    "add %[x0], %[x0], %[x1]\n\t"                                                              \
    "str %[x0], %[end]\n\t"                                                                    \
    "ldr %[x0], %[w_end]\n\t"                                                                  \
    "cmp %[w], %[x0]\n\t"                                                                      \
    "bne 1b"

/*
 * `blocks` blocks of 4 output pixels of `channels` consecutive ordinary channels, clamp to the
 * whole int8 range, in one hand-scheduled loop: 72 instructions per 36 multiply-accumulates, 14 per
 * channel. r0, r1, r2 point at the first channel's first taps in its three widened rows, w at its
 * constants, out at its first output.
 */
static TE_NN_NOINLINE void te_dw3_channels_asm(const int16_t *r0, const int16_t *r1, const int16_t *r2,
                                               const int32_t *w, int32_t channels, int32_t blocks,
                                               int32_t row_pixels, int32_t depth, int stride2, int8_t *out)
{
    int32_t a0, a1, a2, a3;
    uint32_t x0, x1, wa, wb;
    const int32_t taps = blocks * (stride2 ? 8 : 4);
    const int16_t *end = r0 + taps;
    const int32_t skip = 2 * (row_pixels - taps), back = 4 * blocks * depth - 1, row_bytes = 2 * row_pixels;
    const int32_t *w_end = w + channels * TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS;
    if (stride2) {
        __asm__ volatile(TE_DW3_ASM_BLOCK(TE_DW3_ASM_ROW_S2) "\n\t" TE_DW3_ASM_NEXT_CHANNEL
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0),
                           [x1] "=&r"(x1), [wa] "=&r"(wa), [wb] "=&r"(wb), [r0] "+r"(r0), [r1] "+r"(r1),
                           [r2] "+r"(r2), [out] "+r"(out), [w] "+r"(w), [end] "+m"(end)
                         : [depth] "m"(depth), [skip] "m"(skip), [back] "m"(back), [row_bytes] "m"(row_bytes),
                           [w_end] "m"(w_end)
                         : "cc", "memory");
    } else {
        __asm__ volatile(TE_DW3_ASM_BLOCK(TE_DW3_ASM_ROW_S1) "\n\t" TE_DW3_ASM_NEXT_CHANNEL
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0),
                           [x1] "=&r"(x1), [wa] "=&r"(wa), [wb] "=&r"(wb), [r0] "+r"(r0), [r1] "+r"(r1),
                           [r2] "+r"(r2), [out] "+r"(out), [w] "+r"(w), [end] "+m"(end)
                         : [depth] "m"(depth), [skip] "m"(skip), [back] "m"(back), [row_bytes] "m"(row_bytes),
                           [w_end] "m"(w_end)
                         : "cc", "memory");
    }
}
#endif

/*
 * One output row of one channel: r0, r1, r2 its three widened rows, consts its packed words,
 * out its first output (consecutive pixels depth bytes apart). stride2, full_range and general
 * are constants at each call.
 */
static TE_NN_ALWAYS_INLINE void te_dw3_channel_row(const int16_t *r0, const int16_t *r1, const int16_t *r2,
                                                   const int32_t *consts, int32_t output_width, int32_t depth,
                                                   int32_t activation_min, int32_t activation_max, int stride2,
                                                   int full_range, int general, int8_t *out)
{
    /* 4 widened taps from one block to the next: 4 pixels at stride 1, 2 at stride 2 */
    const int32_t block = stride2 ? 2 : 4;
    int32_t left = output_width;
    for (; left >= block; left -= block, r0 += 4, r1 += 4, r2 += 4, out += block * depth) {
        te_dw3_block(r0, r1, r2, consts, depth, activation_min, activation_max, block, stride2, full_range, general,
                     out);
    }
    if (!stride2 && left >= 2) {
        te_dw3_block(r0, r1, r2, consts, depth, activation_min, activation_max, 2, 0, full_range, general, out);
        left -= 2, r0 += 2, r1 += 2, r2 += 2, out += 2 * depth;
    }
    if (left) {
        te_dw3_block(r0, r1, r2, consts, depth, activation_min, activation_max, 1, stride2, full_range, general, out);
    }
}

/* Every channel of one output row; rows[r] is the widened row under filter row r (channel 0). */
static TE_NN_ALWAYS_INLINE void te_dw3_output_row(const int16_t *const *rows, const int32_t *packed,
                                                  int32_t depth, int32_t row_pixels, int32_t output_width,
                                                  int32_t activation_min, int32_t activation_max, int stride2,
                                                  int full_range, int8_t *out)
{
#if TE_NN_DSP
    if (full_range && output_width >= 4) {
        /* Runs of ordinary channels through the hand-scheduled blocks, then their last 1-3 pixels
           and the general channels in C. */
        const int32_t blocks = output_width / 4, taps = blocks * (stride2 ? 8 : 4), left = output_width % 4;
        int32_t c = 0;
        while (c < depth) {
            const int32_t *consts = packed + c * TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS;
            const int32_t at = c * row_pixels;
            if (consts[TE_DW3_GENERAL]) {
                te_dw3_channel_row(rows[0] + at, rows[1] + at, rows[2] + at, consts, output_width, depth,
                                   TE_INT8_MIN, TE_INT8_MAX, stride2, 0, 1, out + c);
                ++c;
                continue;
            }
            int32_t run_end = c + 1;
            while (run_end < depth && !packed[run_end * TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS + TE_DW3_GENERAL]) {
                ++run_end;
            }
            te_dw3_channels_asm(rows[0] + at, rows[1] + at, rows[2] + at, consts, run_end - c, blocks, row_pixels,
                                depth, stride2, out + c);
            for (; left && c < run_end; ++c, consts += TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS) {
                const int32_t tail = c * row_pixels + taps;
                te_dw3_channel_row(rows[0] + tail, rows[1] + tail, rows[2] + tail, consts, left, depth, TE_INT8_MIN,
                                   TE_INT8_MAX, stride2, 1, 0, out + 4 * blocks * depth + c);
            }
            c = run_end;
        }
        return;
    }
#endif
    for (int32_t c = 0; c < depth; ++c, packed += TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS) {
        const int32_t at = c * row_pixels;
        if (packed[TE_DW3_GENERAL]) {
            te_dw3_channel_row(rows[0] + at, rows[1] + at, rows[2] + at, packed, output_width, depth, activation_min,
                               activation_max, stride2, 0, 1, out + c);
        } else {
            te_dw3_channel_row(rows[0] + at, rows[1] + at, rows[2] + at, packed, output_width, depth, activation_min,
                               activation_max, stride2, full_range, 0, out + c);
        }
    }
}

#if TE_NN_DSP
/* (lo.low, hi.low) and (lo.high, hi.high) of two words: PKHBT and PKHTB. */
static inline uint32_t te_dw3_pack_low(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
static inline uint32_t te_dw3_pack_high(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* n pixels (input pixels depth bytes apart) of 4 channels into their 4 channel rows at dst. */
static void te_dw3_widen_group(const int8_t *src, int32_t depth, int32_t n, int32_t row_pixels, int16_t *dst)
{
    int16_t *d1 = dst + row_pixels, *d2 = d1 + row_pixels, *d3 = d2 + row_pixels;
    for (; n >= 2; n -= 2, src += 2 * depth, dst += 2, d1 += 2, d2 += 2, d3 += 2) {
        const uint32_t a = te_nn_read_u32(src), b = te_nn_read_u32(src + depth);
        const uint32_t ae = te_nn_sxtb16_even(a), ao = te_nn_sxtb16_odd(a);
        const uint32_t be = te_nn_sxtb16_even(b), bo = te_nn_sxtb16_odd(b);
        /* channel c: (ae.lo, be.lo), c + 1: (ao.lo, bo.lo), c + 2: (ae.hi, be.hi), c + 3: (ao.hi, bo.hi) */
        te_nn_write_u32(dst, te_dw3_pack_low(ae, be));
        te_nn_write_u32(d1, te_dw3_pack_low(ao, bo));
        te_nn_write_u32(d2, te_dw3_pack_high(ae, be));
        te_nn_write_u32(d3, te_dw3_pack_high(ao, bo));
    }
    if (n) {
        dst[0] = src[0], d1[0] = src[1], d2[0] = src[2], d3[0] = src[3];
    }
}
#endif

/*
 * One input row (its pixels at src; inside: the row lies in the input) into the channel-major
 * slot: slot[c * row_pixels + x] = the input at column x - pad_width, or zero_point outside.
 */
static void te_dw3_widen_row(const int8_t *src, int inside, int32_t input_width, int32_t depth, int32_t pad_width,
                             int32_t zero_point, int32_t row_pixels, int16_t *slot)
{
    /* columns [first, last) hold input pixels, the others the zero point */
    const int32_t first = inside ? te_nn_min_i32(pad_width, row_pixels) : row_pixels;
    const int32_t last = inside ? te_nn_min_i32(pad_width + input_width, row_pixels) : row_pixels;
    for (int32_t c = 0; c < depth; ++c) {
        int16_t *row = slot + c * row_pixels;
        for (int32_t x = 0; x < first; ++x) {
            row[x] = (int16_t)zero_point;
        }
        for (int32_t x = last; x < row_pixels; ++x) {
            row[x] = (int16_t)zero_point;
        }
    }
    if (last <= first) {
        return;
    }
    const int8_t *pixels = src + (first - pad_width) * depth;
    int32_t c = 0;
#if TE_NN_DSP
    for (; c + 4 <= depth; c += 4) {
        te_dw3_widen_group(pixels + c, depth, last - first, row_pixels, slot + c * row_pixels + first);
    }
#endif
    for (; c < depth; ++c) {
        int16_t *row = slot + c * row_pixels;
        for (int32_t x = first; x < last; ++x) {
            row[x] = pixels[(x - first) * depth + c];
        }
    }
}

void te_depthwise_conv2d_3x3_s8(const te_depthwise_conv2d_3x3_params *params, const int8_t *input,
                                const int32_t *packed, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t depth = params->depth;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t zero_point = -params->input_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;

    const int32_t row_pixels = TE_DEPTHWISE_CONV2D_3X3_ROW_PIXELS(output_width, stride_width);
    const int32_t slot_size = depth * row_pixels;
    const int32_t input_row_size = input_width * depth;
    const int16_t *rows[3];
    if (TE_NN_DSP && params->constants_words > 0) {
        /* Every block of output pixels reads its channel's constants: from a RAM copy past the ring. */
        int32_t *copy = (int32_t *)(void *)(scratch + 3 * slot_size);
        memcpy(copy, packed, 4 * (size_t)params->constants_words);
        packed = copy;
    }

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int8_t *image = input + batch * input_height * input_row_size;
        int8_t *out = output + batch * output_height * output_width * depth;
        int32_t next_row = -pad_height; /* the first input row not widened yet */
        for (int32_t out_y = 0; out_y < output_height; ++out_y, out += output_width * depth) {
            /* Widen the rows this output row needs and earlier ones did not; input row y goes to
               ring slot (y + pad_height) % 3. */
            const int32_t first_row = out_y * stride_height - pad_height;
            for (int32_t in_y = te_nn_max_i32(next_row, first_row); in_y < first_row + 3; ++in_y) {
                const int inside = in_y >= 0 && in_y < input_height;
                te_dw3_widen_row(image + (inside ? in_y : 0) * input_row_size, inside, input_width, depth, pad_width,
                                 zero_point, row_pixels, scratch + (in_y + pad_height) % 3 * slot_size);
                next_row = in_y + 1;
            }
            for (int32_t filter_y = 0; filter_y < 3; ++filter_y) {
                rows[filter_y] = scratch + (first_row + filter_y + pad_height) % 3 * slot_size;
            }
            /* stride and clamp as constants: one specialised copy of the channel loop each */
            if (stride_width == 1 && full_range) {
                te_dw3_output_row(rows, packed, depth, row_pixels, output_width, TE_INT8_MIN, TE_INT8_MAX, 0, 1, out);
            } else if (stride_width == 1) {
                te_dw3_output_row(rows, packed, depth, row_pixels, output_width, activation_min, activation_max, 0,
                                  0, out);
            } else if (full_range) {
                te_dw3_output_row(rows, packed, depth, row_pixels, output_width, TE_INT8_MIN, TE_INT8_MAX, 1, 1, out);
            } else {
                te_dw3_output_row(rows, packed, depth, row_pixels, output_width, activation_min, activation_max, 1,
                                  0, out);
            }
        }
    }
}
