/*
 * tinyedge: int8 FULLY_CONNECTED, four output channels per pass over the input vector
 * (see te_fully_connected_packed_s8.h); the same bytes as te_fully_connected_s8.
 */
#include "te_fully_connected_packed_s8.h"

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

/* acc[0..3] += four packed rows . x over `groups` whole groups; returns the rows after them. */
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
#elif defined(__thumb__) && !defined(__thumb2__)
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
                                  const int8_t *filter, const int32_t *quant, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t rows = params->rows;
    const int32_t accum_depth = params->accum_depth;
    const int32_t output_depth = params->output_depth;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;

    const int32_t groups = accum_depth / 4;
    const int32_t quads = output_depth / 4;
    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *x = input + row * accum_depth;
        /* The values past the last whole group, zero-padded like the weights. */
        int8_t tail_values[4] = {0, 0, 0, 0};
        const int8_t *tail = accum_depth % 4 ? tail_values : NULL;
        te_nn_copy_s8(tail_values, x + 4 * groups, accum_depth % 4);
        const int8_t *packed = filter;
        const int32_t *q = quant;
        int8_t *out = output + row * output_depth;
        /* The first channels of the general quads and last channels (te_nn_dsp.h), then output_depth. */
        const int32_t *general = quant + 4 * output_depth;
        for (int32_t quad = 0; quad < quads; ++quad, q += 16, out += 4) {
            int32_t acc[4] = {q[0], q[4], q[8], q[12]};
            packed = te_fc_dot_quad(packed, x, groups, acc);
            if (tail != NULL) {
                for (int32_t i = 0; i < 4; ++i, packed += 4) {
                    acc[i] += packed[0] * tail[0] + packed[1] * tail[1] + packed[2] * tail[2] + packed[3] * tail[3];
                }
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
        for (int32_t c = 4 * quads; c < output_depth; ++c, q += 4, packed += 4 * (groups + (tail != NULL))) {
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
