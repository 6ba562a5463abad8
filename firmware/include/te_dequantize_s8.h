/*
 * tinyedge: DEQUANTIZE int8 -> float32, TFLite-Micro's reference_ops::Dequantize.
 *
 * output = (float)(scale * (input - zero_point))
 *
 * The reference multiplies in double and rounds the product to float. The exact product
 * of a float scale (24-bit significand) and an integer in [-255, 255] fits a double, so
 * that is one rounding of the exact product: the same float that a single-precision
 * multiply gives, which the kernel uses (no double arithmetic on FPU-less cores).
 *
 * output points at float data; it is untyped because a model's output buffer is
 * handed over as bytes.
 */
#ifndef TE_DEQUANTIZE_S8_H
#define TE_DEQUANTIZE_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;       /* number of elements */
    int32_t zero_point; /* input zero point, [-128, 127] */
    float scale;        /* input scale, > 0 */
} te_dequantize_params;

void te_dequantize_s8(const te_dequantize_params *params, const int8_t *input, void *output);

#endif /* TE_DEQUANTIZE_S8_H */
