/*
 * tinyedge: int8 MINIMUM, as TFLite-Micro's reference kernel (maximum_minimum.cc) computes it.
 * On cores with the DSP extension, runs where both inputs advance one byte at a time go four
 * values to an instruction pair (SSUB8 sets a GE flag per byte, SEL picks the smaller); the
 * same bytes as the plain loop, which does the rest and every other core.
 */
#include "te_minimum_s8.h"
#include "te_nn_dsp.h"

/* n outputs from in1[i * step1] and in2[i * step2]. */
static void minimum_run(const int8_t *in1, int32_t step1, const int8_t *in2, int32_t step2, int8_t *output, int32_t n)
{
    int32_t i = 0;
#if TE_NN_DSP
    if (step1 == 1 && step2 == 1) {
        for (; i + 4 <= n; i += 4) {
            const uint32_t a = te_nn_read_u32(in1 + i);
            const uint32_t b = te_nn_read_u32(in2 + i);
            uint32_t r; /* one asm block: the compiler must not put anything between the flags and SEL */
            __asm__("ssub8 %0, %2, %1\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
            te_nn_write_u32(output + i, r);
        }
    }
#endif
    for (; i < n; ++i) {
        const int8_t x1 = in1[i * step1];
        const int8_t x2 = in2[i * step2];
        output[i] = x1 < x2 ? x1 : x2;
    }
}

void te_minimum_s8(const te_minimum_params *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *s1 = params->input1_strides;
    const int32_t *s2 = params->input2_strides;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                minimum_run(in1, s1[3], in2, s2[3], output, shape[3]);
                output += shape[3];
            }
        }
    }
}
