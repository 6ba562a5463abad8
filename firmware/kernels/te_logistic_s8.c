/*
 * tinyedge: int8 logistic, bit-exact to TFLite-Micro's reference_integer_ops::Logistic.
 */
#include "te_logistic_s8.h"

#include "te_fixedpoint.h"
#include "te_nn_math.h"

#define TE_LOGISTIC_INPUT_INTEGER_BITS 4
#define TE_LOGISTIC_OUTPUT_INTEGER_BITS 8 /* Q0 -> units of 2^-8 */

void te_logistic_s8(const te_logistic_params *params, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_zero_point;
        if (x <= -params->input_range_radius) {
            output[i] = (int8_t)TE_INT8_MIN;
        } else if (x >= params->input_range_radius) {
            output[i] = (int8_t)TE_INT8_MAX;
        } else {
            const int32_t x_q4 = te_nn_requantize(x, params->input_multiplier, params->input_left_shift);
            const int32_t y_q0 = te_fp_logistic(x_q4, TE_LOGISTIC_INPUT_INTEGER_BITS);
            const int32_t y = te_nn_rounding_divide_by_pot(y_q0, 31 - TE_LOGISTIC_OUTPUT_INTEGER_BITS);
            output[i] = (int8_t)te_nn_clamp_i32(y + TE_INT8_MIN, TE_INT8_MIN, TE_INT8_MAX);
        }
    }
}
