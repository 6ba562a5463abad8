/* Bare-metal C run-time set-up: .data from its load image in flash, .bss to zero. */
#include "te_runtime.h"

/* Defined by the linker script, all word aligned. */
extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];

void te_crt_init(void)
{
    const uint32_t *source = __data_load;
    for (uint32_t *word = __data_start; word < __data_end; ++word) {
        *word = *source++;
    }
    for (uint32_t *word = __bss_start; word < __bss_end; ++word) {
        *word = 0u;
    }
}
