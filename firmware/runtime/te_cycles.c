/* Cycle counter of the board, selected by a TE_CYCLES_* define; see te_runtime.h. */
#include "te_runtime.h"

#define TE_REG(address) (*(volatile uint32_t *)(address))

#if defined(TE_CYCLES_DWT)

#define TE_DEMCR TE_REG(0xE000EDFCu)
#define TE_DWT_CTRL TE_REG(0xE0001000u)
#define TE_DWT_CYCCNT TE_REG(0xE0001004u)
#define TE_DWT_LAR TE_REG(0xE0001FB0u)

void te_cycles_init(void)
{
    TE_DEMCR |= 1u << 24;      /* TRCENA: enable the DWT */
    TE_DWT_LAR = 0xC5ACCE55u;  /* unlock; needed on Cortex-M7, ignored where there is no lock */
    TE_DWT_CYCCNT = 0u;
    TE_DWT_CTRL |= 1u;         /* CYCCNTENA */
}

uint32_t te_cycles_now(void)
{
    return TE_DWT_CYCCNT;
}

#elif defined(TE_CYCLES_SYSTICK)

#define TE_SYST_CSR TE_REG(0xE000E010u)
#define TE_SYST_RVR TE_REG(0xE000E014u)
#define TE_SYST_CVR TE_REG(0xE000E018u)
#define TE_SYST_MAX 0x00FFFFFFu

static volatile uint32_t te_systick_wraps;

/* Replaces the weak default in the vector table: counts wraps of the 24-bit down-counter. */
void SysTick_Handler(void)
{
    te_systick_wraps = te_systick_wraps + 1u;
}

void te_cycles_init(void)
{
    TE_SYST_RVR = TE_SYST_MAX;
    TE_SYST_CVR = 0u;
    TE_SYST_CSR = 0x7u;  /* ENABLE | TICKINT | CLKSOURCE = processor clock */
}

uint32_t te_cycles_now(void)
{
    uint32_t wraps;
    uint32_t count;
    do {
        wraps = te_systick_wraps;
        count = TE_SYST_CVR;
    } while (wraps != te_systick_wraps);
    return (wraps << 24) + (TE_SYST_MAX - (count & TE_SYST_MAX));
}

#elif defined(TE_CYCLES_MCYCLE)

void te_cycles_init(void)
{
}

uint32_t te_cycles_now(void)
{
    uint32_t cycles;
    __asm__ volatile("csrr %0, mcycle" : "=r"(cycles));
    return cycles;
}

#elif defined(TE_CYCLES_NONE)

void te_cycles_init(void)
{
}

uint32_t te_cycles_now(void)
{
    return 0u;
}

#else
#error "define one of TE_CYCLES_DWT, TE_CYCLES_SYSTICK, TE_CYCLES_MCYCLE, TE_CYCLES_NONE"
#endif
