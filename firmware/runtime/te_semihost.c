/*
 * Semihosting client: files, console and exit for bare-metal boards.
 *
 * Arm: operation in r0, argument block address in r1, BKPT 0xAB, result in r0.
 * RISC-V: the same operations in a0/a1, trapped by the uncompressed sequence
 * slli x0, x0, 0x1f; ebreak; srai x0, x0, 7 (16-byte aligned so it never crosses a page).
 * SYS_EXIT takes the reason code itself (32-bit convention): ADP_Stopped_ApplicationExit
 * for success, ADP_Stopped_RunTimeErrorUnknown for failure.
 */
#include "te_runtime.h"

enum {
    TE_SYS_OPEN = 0x01,
    TE_SYS_CLOSE = 0x02,
    TE_SYS_WRITE0 = 0x04,
    TE_SYS_WRITE = 0x05,
    TE_SYS_READ = 0x06,
    TE_SYS_EXIT = 0x18,
};

#define TE_ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define TE_ADP_STOPPED_RUNTIME_ERROR_UNKNOWN 0x20023u
#define TE_OPEN_MODE_RB 1u /* fopen mode "rb" */
#define TE_OPEN_MODE_WB 5u /* fopen mode "wb" */

__attribute__((noinline)) static uintptr_t te_semihost(uintptr_t operation, uintptr_t argument)
{
#if defined(__arm__)
    te_dcache_clean_invalidate(); /* the debugger reads the argument block and buffers from memory */
    register uintptr_t r0 __asm__("r0") = operation;
    register uintptr_t r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    const uintptr_t result = r0;
    te_dcache_clean_invalidate(); /* and may have written a buffer behind the cache (SYS_READ) */
    return result;
#elif defined(__riscv)
    register uintptr_t a0 __asm__("a0") = operation;
    register uintptr_t a1 __asm__("a1") = argument;
    __asm__ volatile(
        ".option push\n\t"
        ".option norvc\n\t"
        ".balign 16\n\t"
        "slli x0, x0, 0x1f\n\t"
        "ebreak\n\t"
        "srai x0, x0, 7\n\t"
        ".option pop"
        : "+r"(a0)
        : "r"(a1)
        : "memory");
    return a0;
#else
#error "semihosting needs an Arm or RISC-V target"
#endif
}

static size_t te_strlen(const char *text)
{
    size_t len = 0;
    while (text[len] != '\0') {
        ++len;
    }
    return len;
}

te_file te_file_open(const char *name, enum te_file_mode mode)
{
    const uintptr_t block[3] = {
        (uintptr_t)name,
        mode == TE_FILE_READ ? TE_OPEN_MODE_RB : TE_OPEN_MODE_WB,
        te_strlen(name),
    };
    return (te_file)te_semihost(TE_SYS_OPEN, (uintptr_t)block);
}

size_t te_file_read(te_file file, void *buf, size_t len)
{
    const uintptr_t block[3] = {(uintptr_t)file, (uintptr_t)buf, len};
    const uintptr_t not_read = te_semihost(TE_SYS_READ, (uintptr_t)block);
    return not_read > len ? 0u : len - not_read;
}

size_t te_file_write(te_file file, const void *buf, size_t len)
{
    const uintptr_t block[3] = {(uintptr_t)file, (uintptr_t)buf, len};
    const uintptr_t not_written = te_semihost(TE_SYS_WRITE, (uintptr_t)block);
    return not_written > len ? 0u : len - not_written;
}

void te_file_close(te_file file)
{
    const uintptr_t block[1] = {(uintptr_t)file};
    te_semihost(TE_SYS_CLOSE, (uintptr_t)block);
}

void te_console_write(const char *text)
{
    te_semihost(TE_SYS_WRITE0, (uintptr_t)text);
}

void te_exit(int status)
{
    te_semihost(TE_SYS_EXIT, status == 0 ? TE_ADP_STOPPED_APPLICATION_EXIT : TE_ADP_STOPPED_RUNTIME_ERROR_UNKNOWN);
    for (;;) {
    }
}
