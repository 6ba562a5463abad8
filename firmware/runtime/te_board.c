/*
 * Applies register set-up steps: the start-up code's [setup] (clocks, flash, caches) on every
 * firmware variant, and the UART variant's [console] steps; see te_runtime.h.
 * A wait gives up after TE_WAIT_POLLS reads, as vendor start-up code times out a clock that does
 * not start: emulators without a clock model (QEMU's STM32 and MPS2 machines read 0 there) run
 * on through it, and a chip whose crystal is missing stays on its reset clock instead of hanging.
 */
#include "te_runtime.h"

/* At a 16 MHz reset clock a poll takes at least 4 cycles: 2^20 polls are over 0.25 s, far longer
 * than any crystal (about 2 ms) or PLL (well under 1 ms) takes to start. */
#define TE_WAIT_POLLS (1u << 20)

volatile uint32_t te_board_timeouts;

uint32_t te_board_apply(const te_init_step *steps, size_t count)
{
    uint32_t timeouts = 0u;
    for (size_t i = 0; i < count; ++i) {
        volatile uint32_t *reg = (volatile uint32_t *)steps[i].reg;
        switch (steps[i].kind) {
        case TE_STEP_WRITE:
            *reg = steps[i].value;
            break;
        case TE_STEP_MODIFY:
            *reg = (*reg & ~steps[i].clear) | steps[i].value;
            break;
        case TE_STEP_WAIT: {
            uint32_t polls = 0u;
            while ((*reg & steps[i].mask) != steps[i].value && ++polls < TE_WAIT_POLLS) {
            }
            timeouts += polls == TE_WAIT_POLLS;
            break;
        }
        }
    }
    te_board_timeouts += timeouts;
    return timeouts;
}
