/* Inference markers for the emulator; see te_runtime.h. */
#include "te_runtime.h"

__attribute__((noinline)) void te_inference_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void te_inference_end(void)
{
    __asm__ volatile("" ::: "memory");
}
