/*
 * tinyedge: int8 BATCH_MATMUL on int16 operands with the zero points subtracted, two rows by two
 * columns per inner loop (see te_batch_matmul_widened_s8.h); the same bytes as te_batch_matmul_s8.
 */
#include "te_batch_matmul_widened_s8.h"

/*
 * depth values at src (stride apart, gathered into `gather` first when the stride is not 1),
 * plus offset, as a widened vector at dst: groups of 4 in the order x0, x2, x1, x3, dst
 * advancing dst_step int16 per group (8: one vector of an interleaved pair). The last group's
 * lanes past depth are 0.
 */
static void te_bmm_widen(const int8_t *src, int32_t stride, int32_t depth, int32_t offset, int16_t *dst,
                         int32_t dst_step, int8_t *gather)
{
    if (stride != 1) {
        for (int32_t k = 0; k < depth; ++k) {
            gather[k] = src[k * stride];
        }
        src = gather;
    }
    int32_t k = 0;
#if TE_NN_DSP
    const uint32_t offsets = (uint32_t)(uint16_t)(int16_t)offset * 0x00010001u;
    for (; k + 4 <= depth; k += 4, dst += dst_step) {
        const uint32_t word = te_nn_read_u32(src + k);
        te_nn_write_u32(dst, (uint32_t)__sadd16(te_nn_sxtb16_even(word), offsets));
        te_nn_write_u32(dst + 2, (uint32_t)__sadd16(te_nn_sxtb16_odd(word), offsets));
    }
#else
    for (; k + 4 <= depth; k += 4, dst += dst_step) {
        dst[0] = (int16_t)(src[k] + offset), dst[1] = (int16_t)(src[k + 2] + offset);
        dst[2] = (int16_t)(src[k + 1] + offset), dst[3] = (int16_t)(src[k + 3] + offset);
    }
#endif
    if (k < depth) {
        static const int8_t lane[4] = {0, 2, 1, 3};
        for (int32_t i = 0; i < 4; ++i) {
            dst[lane[i]] = (int16_t)(k + i < depth ? src[k + i] + offset : 0);
        }
    }
}

#if TE_NN_DSP
/* One group of the 2x2 product: 4 LDRD, 8 SMLAD for 16 multiply-accumulates. */
#define TE_BMM_2X2_GROUP_ASM                                                                    \
    "ldrd %[ya], %[yb], [%[cols]], #8\n\t"                                                     \
    "ldrd %[xa], %[xb], [%[rows]], #8\n\t"                                                     \
    "smlad %[a00], %[xa], %[ya], %[a00]\n\t"                                                   \
    "smlad %[a00], %[xb], %[yb], %[a00]\n\t"                                                   \
    "ldrd %[za], %[zb], [%[cols]], #8\n\t"                                                     \
    "smlad %[a01], %[xa], %[za], %[a01]\n\t"                                                   \
    "smlad %[a01], %[xb], %[zb], %[a01]\n\t"                                                   \
    "ldrd %[xa], %[xb], [%[rows]], #8\n\t"                                                     \
    "smlad %[a10], %[xa], %[ya], %[a10]\n\t"                                                   \
    "smlad %[a10], %[xb], %[yb], %[a10]\n\t"                                                   \
    "smlad %[a11], %[xa], %[za], %[a11]\n\t"                                                   \
    "smlad %[a11], %[xb], %[zb], %[a11]\n\t"
#endif

/*
 * acc (row 0 col 0, row 0 col 1, row 1 col 0, row 1 col 1) = the dot products of an interleaved
 * pair of widened rows with an interleaved pair of widened columns over `groups` groups.
 */
static void te_bmm_dot_2x2(const int16_t *rows, const int16_t *cols, int32_t groups, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
#if TE_NN_DSP
    if (groups > 0) {
        uint32_t xa, xb, ya, yb, za, zb;
        int32_t n = groups;
        __asm__ volatile(
            "lsrs %[n], %[n], #1\n\t" /* an odd group first, then two per turn */
            "bcc 1f\n\t"
            TE_BMM_2X2_GROUP_ASM
            "1:\n\t"
            "cmp %[n], #0\n\t"
            "beq 3f\n\t"
            "2:\n\t"
            TE_BMM_2X2_GROUP_ASM
            TE_BMM_2X2_GROUP_ASM
            "subs %[n], %[n], #1\n\t"
            "bne 2b\n\t"
            "3:"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [rows] "+r"(rows),
              [cols] "+r"(cols), [n] "+r"(n), [xa] "=&r"(xa), [xb] "=&r"(xb), [ya] "=&r"(ya), [yb] "=&r"(yb),
              [za] "=&r"(za), [zb] "=&r"(zb)
            :
            : "cc", "memory");
    }
#else
    for (; groups > 0; --groups, rows += 8, cols += 8) {
        for (int32_t i = 0; i < 4; ++i) {
            a00 += rows[i] * cols[i];
            a01 += rows[i] * cols[4 + i];
            a10 += rows[4 + i] * cols[i];
            a11 += rows[4 + i] * cols[4 + i];
        }
    }
#endif
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
}

/* How te_bmm_output requantizes: te_nn_requantize_rounding where its range holds, else te_nn_requantize. */
typedef struct {
    int32_t multiplier;
    int32_t shift;       /* te_nn_requantize's exponent */
    int32_t offset;
    int32_t rounding;    /* 2^(right_shift - 1) + offset * 2^right_shift */
    int32_t right_shift; /* 0: out of te_nn_requantize_rounding's range */
} te_bmm_requant;

/*
 * te_nn_requantize_rounding needs a right shift of 1 to 22 and |acc| < 2^30; every product is at
 * most 255 * 255 in magnitude, so a depth of at most TE_BMM_ROUNDING_MAX_DEPTH keeps |acc| below it.
 */
#define TE_BMM_ROUNDING_MAX_DEPTH ((1 << 30) / (255 * 255))

static te_bmm_requant te_bmm_requant_for(const te_batch_matmul_params *params)
{
    te_bmm_requant r = {params->output_multiplier, params->output_shift, params->output_offset, 0, 0};
    if (-params->output_shift >= 1 && -params->output_shift <= 22 && params->depth <= TE_BMM_ROUNDING_MAX_DEPTH) {
        r.right_shift = -params->output_shift;
        r.rounding = (1 << (r.right_shift - 1)) + params->output_offset * (1 << r.right_shift);
    }
    return r;
}

static TE_NN_ALWAYS_INLINE int8_t te_bmm_output(int32_t acc, const te_bmm_requant *r)
{
    if (r->right_shift != 0) {
        return (int8_t)te_nn_sat_s8(te_nn_requantize_rounding(acc, r->multiplier, r->rounding, r->right_shift));
    }
    return (int8_t)te_nn_clamp_i32(te_nn_requantize(acc, r->multiplier, r->shift) + r->offset, TE_INT8_MIN,
                                   TE_INT8_MAX);
}

void te_batch_matmul_widened_s8(const te_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                                const int16_t *rhs_widened, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t batches0 = params->batches0;
    const int32_t batches1 = params->batches1;
    const int32_t batches2 = params->batches2;
    const int32_t rows = params->rows;
    const int32_t cols = params->cols;
    const int32_t depth = params->depth;
    const int32_t lhs_row_stride = params->lhs_row_stride;
    const int32_t lhs_depth_stride = params->lhs_depth_stride;
    const int32_t rhs_depth_stride = params->rhs_depth_stride;
    const int32_t rhs_col_stride = params->rhs_col_stride;
    const int32_t lhs_offset = params->lhs_offset;
    const int32_t rhs_offset = params->rhs_offset;
    const te_bmm_requant requant = te_bmm_requant_for(params);

    const int32_t groups = (depth + 3) / 4;
    const int32_t widened_matrix = (cols + 1) / 2 * 8 * groups; /* int16 values of one widened rhs matrix */
    /* An activation rhs is widened into the scratch block_cols columns at a time, before the lhs rows;
     * a constant one comes widened whole. */
    const int32_t block_cols = rhs_widened != NULL || cols <= TE_BATCH_MATMUL_WIDENED_BLOCK_COLS
                                   ? cols : TE_BATCH_MATMUL_WIDENED_BLOCK_COLS;
    int16_t *widened_lhs = scratch + (rhs_widened == NULL ? (block_cols + 1) / 2 * 8 * groups : 0);
    int8_t *gather = (int8_t *)(widened_lhs + 8 * groups);
    int32_t widened_from = -1; /* the element offset of the rhs matrix whole in the scratch */

    int8_t *out = output;
    for (int32_t b0 = 0; b0 < batches0; ++b0) {
        for (int32_t b1 = 0; b1 < batches1; ++b1) {
            for (int32_t b2 = 0; b2 < batches2; ++b2) {
                const int8_t *lhs_matrix = lhs + b0 * params->lhs_batch_stride0 + b1 * params->lhs_batch_stride1
                                           + b2 * params->lhs_batch_stride2;
                const int32_t rhs_at = b0 * params->rhs_batch_stride0 + b1 * params->rhs_batch_stride1
                                       + b2 * params->rhs_batch_stride2;
                for (int32_t first = 0; first < cols; first += block_cols) {
                    const int32_t block = cols - first < block_cols ? cols - first : block_cols;
                    const int16_t *widened_rhs = scratch;
                    if (rhs_widened != NULL) {
                        widened_rhs = rhs_widened + rhs_at / (depth * cols) * widened_matrix;
                    } else if (rhs_at != widened_from || block_cols < cols) {
                        for (int32_t c = 0; c < block; ++c) {
                            te_bmm_widen(rhs + rhs_at + (first + c) * rhs_col_stride, rhs_depth_stride, depth,
                                         rhs_offset, scratch + (c / 2) * 8 * groups + 4 * (c % 2), 8, gather);
                        }
                        widened_from = rhs_at;
                    }
                    for (int32_t r = 0; r < rows; r += 2) {
                        const int two_rows = r + 1 < rows;
                        te_bmm_widen(lhs_matrix + r * lhs_row_stride, lhs_depth_stride, depth, lhs_offset,
                                     widened_lhs, 8, gather);
                        /* A lone last row is multiplied twice; the second copy's results are dropped. */
                        te_bmm_widen(lhs_matrix + (r + two_rows) * lhs_row_stride, lhs_depth_stride, depth,
                                     lhs_offset, widened_lhs + 4, 8, gather);
                        int8_t *out0 = out + r * cols + first;
                        int8_t *out1 = out0 + cols;
                        const int16_t *pair = widened_rhs + (rhs_widened != NULL ? first / 2 * 8 * groups : 0);
                        for (int32_t c = 0; c < block; c += 2, pair += 8 * groups) {
                            int32_t acc[4];
                            /* An odd last column pairs with whatever the scratch holds; its results are dropped. */
                            te_bmm_dot_2x2(widened_lhs, pair, groups, acc);
                            out0[c] = te_bmm_output(acc[0], &requant);
                            if (c + 1 < block) {
                                out0[c + 1] = te_bmm_output(acc[1], &requant);
                            }
                            if (two_rows) {
                                out1[c] = te_bmm_output(acc[2], &requant);
                                if (c + 1 < block) {
                                    out1[c + 1] = te_bmm_output(acc[3], &requant);
                                }
                            }
                        }
                    }
                }
                out += rows * cols;
            }
        }
    }
}
