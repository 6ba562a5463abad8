"""The semihosting call the tests' C programs make."""

# ARM's BKPT 0xAB or the RISC-V ebreak sequence: op in r0/a0, its argument block in r1/a1, the
# result back in r0/a0.
SEMIHOST_C = r"""
static int semihost(int op, const void *arg)
{
#if defined(__riscv)
    register int a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile(".option push\n.option norvc\n"
                     "slli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n"
                     ".option pop" : "+r"(a0) : "r"(a1) : "memory");
    return a0;
#else
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
#endif
}
"""


# The reset handler of the tests' C programs: .data copied, .bss zeroed, main's status given to
# SYS_EXIT_EXTENDED (it follows SEMIHOST_C and a main).
RESET_C = r"""
void reset(void)
{
    uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0;
    }
    int status = main();
    const uint32_t block[2] = {0x20026u, (uint32_t)status};
    semihost(0x20, block);  /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}
"""
