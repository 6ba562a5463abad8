/*
 * tinyedge: int8 FULLY_CONNECTED, four output channels per pass over the input vector
 * (see te_fully_connected_packed_s8.h); the same bytes as te_fully_connected_s8.
 */
#include "te_fully_connected_packed_s8.h"

/*
 * The input row as the split quads read it (header: 'split weights'): per group of 4 values
 * x0..x3 two words of int16 lanes, xa = (x1 - 127, x3 - 127) and xb = (256 x0 - xa.lo,
 * 256 x2 - xa.hi). Both lanes of xb lie in [-32768, 32767]: 256 x0 in [-32768, 32512] minus
 * x1 - 127 in [-255, 0].
 */
static void te_fc_widen_split(const int8_t *x, int32_t depth, int16_t *dst)
{
    int8_t last[4] = {0, 0, 0, 0};
    for (int32_t d = 0; d < depth; d += 4, dst += 4) {
        const int8_t *v = x + d;
        if (depth - d < 4) {
            te_nn_copy_s8(last, v, depth - d);
            v = last;
        }
#if TE_NN_DSP
        const uint32_t word = te_nn_read_u32(v);
        const uint32_t xa = (uint32_t)__ssub16(te_nn_sxtb16_odd(word), 0x007F007Fu); /* no lane saturates */
        te_nn_write_u32(dst, xa);
        te_nn_write_u32(dst + 2, (uint32_t)__ssub16((word << 8) & 0xFF00FF00u, xa));
#else
        dst[0] = (int16_t)(v[1] - 127);
        dst[1] = (int16_t)(v[3] - 127);
        dst[2] = (int16_t)(256 * v[0] - dst[0]);
        dst[3] = (int16_t)(256 * v[2] - dst[1]);
#endif
    }
}

#if TE_NN_DSP
/* One group against 4 split rows: 2 + 4 LDR, 4 SXTB16, 8 SMLAD for 16 multiply-accumulates. */
#define TE_FC_SPLIT_GROUP_ASM                                                                   \
    "ldr %[xa], [%[x]], #4\n\t"                                                                \
    "ldr %[xb], [%[x]], #4\n\t"                                                                \
    "ldr %[w0], [%[rows]], #4\n\t"                                                             \
    "ldr %[w1], [%[rows]], #4\n\t"                                                             \
    "ldr %[w2], [%[rows]], #4\n\t"                                                             \
    "ldr %[w3], [%[rows]], #4\n\t"                                                             \
    "smlad %[a0], %[w0], %[xa], %[a0]\n\t"                                                     \
    "sxtb16 %[w0], %[w0]\n\t"                                                                  \
    "smlad %[a0], %[w0], %[xb], %[a0]\n\t"                                                     \
    "smlad %[a1], %[w1], %[xa], %[a1]\n\t"                                                     \
    "sxtb16 %[w1], %[w1]\n\t"                                                                  \
    "smlad %[a1], %[w1], %[xb], %[a1]\n\t"                                                     \
    "smlad %[a2], %[w2], %[xa], %[a2]\n\t"                                                     \
    "sxtb16 %[w2], %[w2]\n\t"                                                                  \
    "smlad %[a2], %[w2], %[xb], %[a2]\n\t"                                                     \
    "smlad %[a3], %[w3], %[xa], %[a3]\n\t"                                                     \
    "sxtb16 %[w3], %[w3]\n\t"                                                                  \
    "smlad %[a3], %[w3], %[xb], %[a3]\n\t"
#endif

#if !TE_NN_DSP
/* One split row word against the group's (xa, xb): h.lo xa.lo + b0 xb.lo + h.hi xa.hi + b2 xb.hi,
 * a sign-extending load per lane and byte (RISC-V, the host). */
#if defined(__GNUC__)
typedef int16_t __attribute__((may_alias)) te_fc_half_t;
#else
typedef int16_t te_fc_half_t;
#endif
static inline uint32_t te_fc_split_row(const int8_t *row, int32_t xa0, int32_t xa1, int32_t xb0, int32_t xb1)
{
    const te_fc_half_t *h = (const te_fc_half_t *)(const void *)row;
    return (uint32_t)(h[0] * xa0 + row[0] * xb0) + (uint32_t)(h[1] * xa1 + row[2] * xb1);
}
#endif

/*
 * acc[0..3] = 256 * (four split rows . the split input) over `groups` groups, modulo 2^32
 * (exact: the lowering bounds each row's sum below 2^23 in magnitude); returns the rows after them.
 */
static const int8_t *te_fc_dot_split_quad(const int8_t *rows, const int16_t *x, int32_t groups, int32_t acc[4])
{
#if TE_NN_DSP
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t w0, w1, w2, w3, xa, xb;
    int32_t n = groups;
    __asm__ volatile(
        "lsrs %[n], %[n], #1\n\t" /* groups % 4 first: bit 0, then bit 1, then four per turn */
        "bcc 1f\n\t"
        TE_FC_SPLIT_GROUP_ASM
        "1:\n\t"
        "lsrs %[n], %[n], #1\n\t"
        "bcc 2f\n\t"
        TE_FC_SPLIT_GROUP_ASM
        TE_FC_SPLIT_GROUP_ASM
        "2:\n\t"
        "cmp %[n], #0\n\t"
        "beq 4f\n\t"
        "3:\n\t"
        TE_FC_SPLIT_GROUP_ASM
        TE_FC_SPLIT_GROUP_ASM
        TE_FC_SPLIT_GROUP_ASM
        TE_FC_SPLIT_GROUP_ASM
        "subs %[n], %[n], #1\n\t"
        "bne 3b\n\t"
        "4:"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [rows] "+r"(rows), [x] "+r"(x),
          [n] "+r"(n), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [xa] "=&r"(xa),
          [xb] "=&r"(xb)
        :
        : "cc", "memory");
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
#elif TE_NN_THUMB1
    /*
     * Thumb-1 (Cortex-M0/M0+: sign-extending loads with a register offset only), as te_fc_dot_quad:
     * one index i into the rows, counting up from minus their length to 0 over base pointers at the
     * end of each row's bytes (row r at 16 g + 4 r + m in group g), and the split input (8 bytes a
     * group: xa.lo, xa.hi, xb.lo, xb.hi) through a base xs that moves instead of i where the two
     * differ. Per input lane: its LDRSH, then per row an LDRSH of h (against xa) or an LDRSB of b
     * (against xb), MULS and a high-register ADD: 13 instructions for 4 multiply-accumulates. The
     * group's last ADDS of i sets the flags for the loop.
     */
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (groups > 0) {
        const int8_t *r0 = rows + 16 * groups, *r1 = r0 + 4, *r2 = r0 + 8, *r3 = r0 + 12;
        const int8_t *xs = (const int8_t *)x + 16 * groups;
        int32_t i = -16 * groups, v, w;
#define TE_FC_SPLIT_THUMB1_STEP(load, di)                                                       \
    "ldrsh %[v], [%[xs], %[i]]\n\t"                                                            \
    load " %[w], [%[r0], %[i]]\n\t"                                                           \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a0], %[w]\n\t"                                                                      \
    load " %[w], [%[r1], %[i]]\n\t"                                                           \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a1], %[w]\n\t"                                                                      \
    load " %[w], [%[r2], %[i]]\n\t"                                                           \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a2], %[w]\n\t"                                                                      \
    load " %[w], [%[r3], %[i]]\n\t"                                                           \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a3], %[w]\n\t" di "\n\t"
        __asm__ volatile(
            ".syntax unified\n" /* GCC hands Thumb-1 inline assembly over in divided syntax */
            "1:\n\t"
            TE_FC_SPLIT_THUMB1_STEP("ldrsh", "adds %[i], #2")   /* xa.lo . h.lo; then h.hi */
            TE_FC_SPLIT_THUMB1_STEP("ldrsh", "adds %[xs], #4")  /* xa.hi . h.hi; then b2 */
            TE_FC_SPLIT_THUMB1_STEP("ldrsb", "subs %[i], #2")   /* xb.hi . b2; then b0 */
            TE_FC_SPLIT_THUMB1_STEP("ldrsb", "subs %[xs], #12\n\tadds %[i], #16") /* xb.lo . b0 */
            "bne 1b"
            : [a0] "+h"(a0), [a1] "+h"(a1), [a2] "+h"(a2), [a3] "+h"(a3), [i] "+l"(i), [xs] "+l"(xs),
              [v] "=&l"(v), [w] "=&l"(w)
            : [r0] "l"(r0), [r1] "l"(r1), [r2] "l"(r2), [r3] "l"(r3)
            : "cc", "memory");
#undef TE_FC_SPLIT_THUMB1_STEP
        rows += 16 * groups;
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
#else
    /* Unsigned: the partial sums may wrap; the whole sum is exact modulo 2^32. */
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; groups > 0; --groups, rows += 16, x += 4) {
        const int32_t xa0 = x[0], xa1 = x[1], xb0 = x[2], xb1 = x[3];
        a0 += te_fc_split_row(rows, xa0, xa1, xb0, xb1);
        a1 += te_fc_split_row(rows + 4, xa0, xa1, xb0, xb1);
        a2 += te_fc_split_row(rows + 8, xa0, xa1, xb0, xb1);
        a3 += te_fc_split_row(rows + 12, xa0, xa1, xb0, xb1);
    }
    acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
#endif
    return rows;
}

#if TE_NN_DSP
/* One group of 4 input values against 4 packed rows: LDR, 2 LDRD, 10 SXTB16, 8 SMLAD. */
#define TE_FC_QUAD_GROUP_ASM                                                                    \
    "ldr %[xo], [%[x]], #4\n\t"                                                                \
    "sxtb16 %[xe], %[xo]\n\t"                                                                  \
    "sxtb16 %[xo], %[xo], ror #8\n\t"                                                          \
    "ldrd %[w0], %[w1], [%[rows]], #8\n\t"                                                     \
    "sxtb16 %[t], %[w0]\n\t"                                                                   \
    "smlad %[a0], %[t], %[xe], %[a0]\n\t"                                                      \
    "sxtb16 %[w0], %[w0], ror #8\n\t"                                                          \
    "smlad %[a0], %[w0], %[xo], %[a0]\n\t"                                                     \
    "sxtb16 %[t], %[w1]\n\t"                                                                   \
    "smlad %[a1], %[t], %[xe], %[a1]\n\t"                                                      \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                                                          \
    "smlad %[a1], %[w1], %[xo], %[a1]\n\t"                                                     \
    "ldrd %[w0], %[w1], [%[rows]], #8\n\t"                                                     \
    "sxtb16 %[t], %[w0]\n\t"                                                                   \
    "smlad %[a2], %[t], %[xe], %[a2]\n\t"                                                      \
    "sxtb16 %[w0], %[w0], ror #8\n\t"                                                          \
    "smlad %[a2], %[w0], %[xo], %[a2]\n\t"                                                     \
    "sxtb16 %[t], %[w1]\n\t"                                                                   \
    "smlad %[a3], %[t], %[xe], %[a3]\n\t"                                                      \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                                                          \
    "smlad %[a3], %[w1], %[xo], %[a3]\n\t"
#endif

/* acc[0..3] += four plain packed rows . x over `groups` whole groups; returns the rows after them. */
static const int8_t *te_fc_dot_quad(const int8_t *rows, const int8_t *x, int32_t groups, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if TE_NN_DSP
    if (groups > 0) {
        uint32_t w0, w1, xe, xo, t;
        int32_t n = groups;
        __asm__ volatile(
            "lsrs %[n], %[n], #1\n\t" /* an odd group first, then two per turn */
            "bcc 1f\n\t"
            TE_FC_QUAD_GROUP_ASM
            "1:\n\t"
            "cmp %[n], #0\n\t"
            "beq 3f\n\t"
            "2:\n\t"
            TE_FC_QUAD_GROUP_ASM
            TE_FC_QUAD_GROUP_ASM
            "subs %[n], %[n], #1\n\t"
            "bne 2b\n\t"
            "3:"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [rows] "+r"(rows), [x] "+r"(x),
              [n] "+r"(n), [w0] "=&r"(w0), [w1] "=&r"(w1), [xe] "=&r"(xe), [xo] "=&r"(xo), [t] "=&r"(t)
            :
            : "cc", "memory");
    }
#elif TE_NN_THUMB1
    /*
     * Thumb-1 (Cortex-M0/M0+: LDRSB with a register offset only, most instructions on r0-r7):
     * one index i into the rows, counting up from minus their length to 0 over base pointers at
     * the end of each row's bytes (row r at 16 g + 4 r + m in group g); x, 4 bytes a group,
     * shares it through a base moved back 12 a group. Per input value: its load, then per row a
     * weight load, MULS (which overwrites the weight) and a high-register ADD: 14 instructions
     * for 4 multiply-accumulates. The group's last ADDS of i sets the flags for the loop.
     */
    if (groups > 0) {
        const int8_t *r0 = rows + 16 * groups, *r1 = r0 + 4, *r2 = r0 + 8, *r3 = r0 + 12, *xs = x + 16 * groups;
        int32_t i = -16 * groups, v, w;
#define TE_FC_QUAD_THUMB1_STEP(di)                                                              \
    "ldrsb %[v], [%[xs], %[i]]\n\t"                                                            \
    "ldrsb %[w], [%[r0], %[i]]\n\t"                                                            \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a0], %[w]\n\t"                                                                      \
    "ldrsb %[w], [%[r1], %[i]]\n\t"                                                            \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a1], %[w]\n\t"                                                                      \
    "ldrsb %[w], [%[r2], %[i]]\n\t"                                                            \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a2], %[w]\n\t"                                                                      \
    "ldrsb %[w], [%[r3], %[i]]\n\t"                                                            \
    "muls %[w], %[v], %[w]\n\t"                                                                \
    "add %[a3], %[w]\n\t" di "\n\t"
        __asm__ volatile(
            ".syntax unified\n" /* GCC hands Thumb-1 inline assembly over in divided syntax */
            "1:\n\t"
            TE_FC_QUAD_THUMB1_STEP("adds %[i], #1")
            TE_FC_QUAD_THUMB1_STEP("adds %[i], #1")
            TE_FC_QUAD_THUMB1_STEP("adds %[i], #1")
            TE_FC_QUAD_THUMB1_STEP("subs %[xs], #12\n\tadds %[i], #13")
            "bne 1b"
            : [a0] "+h"(a0), [a1] "+h"(a1), [a2] "+h"(a2), [a3] "+h"(a3), [i] "+l"(i), [xs] "+l"(xs),
              [v] "=&l"(v), [w] "=&l"(w)
            : [r0] "l"(r0), [r1] "l"(r1), [r2] "l"(r2), [r3] "l"(r3)
            : "cc", "memory");
#undef TE_FC_QUAD_THUMB1_STEP
        rows += 16 * groups;
    }
#else
    for (; groups > 0; --groups, rows += 16, x += 4) {
        a0 += rows[0] * x[0] + rows[1] * x[1] + rows[2] * x[2] + rows[3] * x[3];
        a1 += rows[4] * x[0] + rows[5] * x[1] + rows[6] * x[2] + rows[7] * x[3];
        a2 += rows[8] * x[0] + rows[9] * x[1] + rows[10] * x[2] + rows[11] * x[3];
        a3 += rows[12] * x[0] + rows[13] * x[1] + rows[14] * x[2] + rows[15] * x[3];
    }
#endif
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    return rows;
}

/* Four outputs from four accumulators and their channels' constants (full_range: a constant). */
static TE_NN_ALWAYS_INLINE void te_fc_output_quad(const int32_t acc[4], const int32_t *q, int32_t activation_min,
                                                  int32_t activation_max, int full_range, int8_t *out)
{
    out[0] = te_nn_output_s8(acc[0], q + 1, activation_min, activation_max, full_range);
    out[1] = te_nn_output_s8(acc[1], q + 5, activation_min, activation_max, full_range);
    out[2] = te_nn_output_s8(acc[2], q + 9, activation_min, activation_max, full_range);
    out[3] = te_nn_output_s8(acc[3], q + 13, activation_min, activation_max, full_range);
}

/* The same for four general channels (te_nn_dsp.h): the reference requantization. */
static void te_fc_output_quad_general(const int32_t acc[4], const int32_t *q, int32_t activation_min,
                                      int32_t activation_max, int8_t *out)
{
    for (int32_t i = 0; i < 4; ++i) {
        out[i] = te_nn_output_general_s8(acc[i], q + 4 * i + 1, activation_min, activation_max);
    }
}

/* One row . x over `groups` whole groups, and the partial last group `tail` (zero-padded). */
static int32_t te_fc_dot_row(const int8_t *row, const int8_t *x, int32_t groups, const int8_t *tail, int32_t acc)
{
    for (int32_t d = 0; d < 4 * groups; ++d) {
        acc += row[d] * x[d];
    }
    if (tail != NULL) {
        row += 4 * groups;
        acc += row[0] * tail[0] + row[1] * tail[1] + row[2] * tail[2] + row[3] * tail[3];
    }
    return acc;
}

void te_fully_connected_packed_s8(const te_fully_connected_packed_params *params, const int8_t *input,
                                  const int8_t *filter, const int32_t *quant, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t rows = params->rows;
    const int32_t accum_depth = params->accum_depth;
    const int32_t output_depth = params->output_depth;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;

    const int32_t groups = accum_depth / 4;
    const int32_t padded_groups = (accum_depth + 3) / 4;
    const int32_t quads = output_depth / 4;
    /* The general list (te_nn_dsp.h), then the plain list: the first channels of the plain quads, then output_depth. */
    const int32_t *plain_list = quant + 4 * output_depth;
    while (*plain_list != output_depth) {
        ++plain_list;
    }
    int32_t split_quads = quads;
    for (const int32_t *p = ++plain_list; *p != output_depth; ++p) {
        --split_quads;
    }
    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *x = input + row * accum_depth;
        /* The values past the last whole group, zero-padded like the weights. */
        int8_t tail_values[4] = {0, 0, 0, 0};
        const int8_t *tail = accum_depth % 4 ? tail_values : NULL;
        te_nn_copy_s8(tail_values, x + 4 * groups, accum_depth % 4);
        if (split_quads > 0) {
            te_fc_widen_split(x, accum_depth, scratch);
        }
        const int8_t *packed = filter;
        const int32_t *q = quant;
        int8_t *out = output + row * output_depth;
        const int32_t *general = quant + 4 * output_depth;
        const int32_t *plain = plain_list;
        for (int32_t quad = 0; quad < quads; ++quad, q += 16, out += 4) {
            int32_t acc[4];
            if (*plain == 4 * quad) {
                acc[0] = q[0], acc[1] = q[4], acc[2] = q[8], acc[3] = q[12];
                packed = te_fc_dot_quad(packed, x, groups, acc);
                if (tail != NULL) {
                    for (int32_t i = 0; i < 4; ++i, packed += 4) {
                        acc[i] += packed[0] * tail[0] + packed[1] * tail[1] + packed[2] * tail[2]
                                  + packed[3] * tail[3];
                    }
                }
                ++plain;
            } else {
                packed = te_fc_dot_split_quad(packed, scratch, padded_groups, acc);
                /* An arithmetic shift of a multiple of 256: exact. */
                acc[0] = q[0] + (acc[0] >> 8), acc[1] = q[4] + (acc[1] >> 8);
                acc[2] = q[8] + (acc[2] >> 8), acc[3] = q[12] + (acc[3] >> 8);
            }
            if (*general == 4 * quad) {
                te_fc_output_quad_general(acc, q, activation_min, activation_max, out);
                ++general;
            } else if (full_range) {
                te_fc_output_quad(acc, q, TE_INT8_MIN, TE_INT8_MAX, 1, out);
            } else {
                te_fc_output_quad(acc, q, activation_min, activation_max, 0, out);
            }
        }
        for (int32_t c = 4 * quads; c < output_depth; ++c, q += 4, packed += 4 * padded_groups) {
            const int32_t acc = te_fc_dot_row(packed, x, groups, tail, q[0]);
            if (*general == c) {
                *out++ = te_nn_output_general_s8(acc, q + 1, activation_min, activation_max);
                ++general;
            } else {
                *out++ = te_nn_output_s8(acc, q + 1, activation_min, activation_max, 0);
            }
        }
    }
}
