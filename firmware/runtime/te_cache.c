/*
 * Cortex-M7 L1 caches (Armv7-M Architecture Reference Manual, B2.2 'Caches and branch
 * predictors'; Cortex-M7 TRM, chapter 'Level 1 Memory System'). Built with TE_L1_CACHES only
 * (boards whose [setup] sets l1_caches); otherwise te_runtime.h makes these calls empty.
 * Caches hold unknown contents at reset: each is invalidated before it is enabled. The D-cache
 * is write-back, so memory a debugger reads or writes (semihosting buffers) is cleaned and
 * invalidated around each semihosting call.
 */
#include "te_runtime.h"

#if defined(TE_L1_CACHES)

#define TE_REG(address) (*(volatile uint32_t *)(address))
#define TE_SCB_CCR TE_REG(0xE000ED14u)
#define TE_SCB_CCSIDR TE_REG(0xE000ED80u)
#define TE_SCB_CSSELR TE_REG(0xE000ED84u)
#define TE_SCB_ICIALLU TE_REG(0xE000EF50u)
#define TE_SCB_DCISW TE_REG(0xE000EF60u)
#define TE_SCB_DCCISW TE_REG(0xE000EF74u)
#define TE_CCR_DC (1u << 16)
#define TE_CCR_IC (1u << 17)

static inline void te_barriers(void)
{
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

/* Every set and way of the L1 data cache through `operation` (DCISW or DCCISW). The set/way
 * word: the way in the top log2(ways) bits, the set above the line's byte offset (B2.2.7). */
static void te_dcache_all(volatile uint32_t *operation)
{
    TE_SCB_CSSELR = 0u; /* level 1, data */
    te_barriers();
    const uint32_t ccsidr = TE_SCB_CCSIDR;
    const uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    const uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    const uint32_t set_shift = (ccsidr & 0x7u) + 4u; /* log2 of the line length in bytes */
    const uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0; set < sets; ++set) {
        for (uint32_t way = 0; way < ways; ++way) {
            *operation = (way << way_shift) | (set << set_shift);
        }
    }
    te_barriers();
}

void te_l1_caches_enable(void)
{
    te_barriers();
    TE_SCB_ICIALLU = 0u;
    te_barriers();
    TE_SCB_CCR |= TE_CCR_IC;
    te_barriers();
    te_dcache_all(&TE_SCB_DCISW);
    TE_SCB_CCR |= TE_CCR_DC;
    te_barriers();
}

void te_dcache_clean_invalidate(void)
{
    te_dcache_all(&TE_SCB_DCCISW);
}

#endif /* TE_L1_CACHES */
