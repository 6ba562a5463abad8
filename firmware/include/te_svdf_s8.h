/*
 * tinyedge: int8 SVDF (TFLite SVDF) with int16 state and time weights, the arithmetic of
 * TFLite-Micro's EvalIntegerSvdfReference.
 *
 * Layouts (row-major):
 *   input           [batches, input_size]                     int8
 *   weights_feature [filters, input_size]                     int8, symmetric
 *   weights_time    [filters, memory_size]                    int16
 *   bias            [units] int32 (units = filters / rank)
 *   state           [batches, filters * memory_size]          int16, kept between calls
 *   scratch         [batches * filters + batches * units]     int32
 *   output          [batches, units]                          int8
 *
 * Per call: every filter's memory shifts one step left (the oldest value drops), then
 *   state[b, f, memory_size - 1] = (int16_t)(clamp_int16(requantize(sum_i weights_feature[f, i] *
 *                                  (input[b, i] + input_offset), multiplier_1, shift_1)) + state_zero_point)
 * (the zero point added after the clamp, wrapping to int16, as the installed tflite_micro does; newer
 * TFLite-Micro sources add it before the clamp: the two agree for the zero point 0 converters write)
 *   acc[b, u] = bias[u] + sum over the rank filters f of u, and m, of
 *               weights_time[f, m] * (state[b, f, m] - state_zero_point)
 *   output[b, u] = clamp_int8(requantize(acc[b, u], multiplier_2, shift_2) + output_offset)
 * No activation: TFLite-Micro's integer SVDF applies none.
 */
#ifndef TE_SVDF_S8_H
#define TE_SVDF_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t batches;
    int32_t input_size;
    int32_t filters;            /* units * rank */
    int32_t units;              /* output values per batch */
    int32_t rank;               /* filters summed into one unit */
    int32_t memory_size;        /* time steps each filter remembers */
    int32_t input_offset;       /* -input zero point, [-127, 128] */
    int32_t state_zero_point;   /* int16 state's zero point (0 as converters write it) */
    int32_t multiplier_1;       /* input * feature -> state: Q31 significand */
    int32_t shift_1;            /* and exponent, [-31, 30] */
    int32_t multiplier_2;       /* state * time -> output */
    int32_t shift_2;
    int32_t output_offset;      /* output zero point, [-128, 127] */
} te_svdf_params;

/* int32 values of scratch the kernel needs; the planner reserves the same. */
static inline int32_t te_svdf_s8_scratch_size(int32_t batches, int32_t filters, int32_t units) {
    return batches * filters + batches * units;
}

void te_svdf_s8(const te_svdf_params *params, const int8_t *input, const int8_t *weights_feature,
                const int16_t *weights_time, const int32_t *bias, int16_t *state, int32_t *scratch,
                int8_t *output);

#endif /* TE_SVDF_S8_H */
