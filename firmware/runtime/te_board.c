/* Applies the UART variant's board set-up steps; see te_runtime.h. */
#include "te_runtime.h"

void te_board_apply(const te_init_step *steps, size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        volatile uint32_t *reg = (volatile uint32_t *)steps[i].reg;
        switch (steps[i].kind) {
        case TE_STEP_WRITE:
            *reg = steps[i].value;
            break;
        case TE_STEP_MODIFY:
            *reg = (*reg & ~steps[i].clear) | steps[i].value;
            break;
        case TE_STEP_WAIT:
            while ((*reg & steps[i].mask) != steps[i].value) {
            }
            break;
        }
    }
}
