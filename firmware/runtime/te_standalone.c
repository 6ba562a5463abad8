/*
 * Exit for the UART variant: there is no debugger to return to, so the core stops here. A fault
 * or error line has already been printed; waiting for interrupts keeps the board quiet.
 */
#include "te_runtime.h"

void te_exit(int status)
{
    (void)status;
    for (;;) {
        __asm__ volatile("wfi");
    }
}
