/*
 * tinyedge firmware runtime: the services the generated main.c uses on every board.
 *
 * Bare-metal boards implement files, console and exit with semihosting (te_semihost.c), or,
 * in the UART variant, console and exit with a UART driver and te_standalone.c (no files: its
 * samples are compiled in); the host board implements them with stdio (te_host_io.c).
 * Everything else is shared.
 */
#ifndef TE_RUNTIME_H
#define TE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Inference markers: empty functions that are never inlined. The emulator reads their
 * addresses from the ELF symbol table and counts instructions from entering
 * te_inference_begin to entering te_inference_end.
 */
void te_inference_begin(void);
void te_inference_end(void);

/*
 * Cycle counter, chosen at build time by one of TE_CYCLES_DWT (Cortex-M3 and up),
 * TE_CYCLES_SYSTICK (Cortex-M0+; 24-bit counter extended by its wrap interrupt),
 * TE_CYCLES_MCYCLE (RISC-V) or TE_CYCLES_NONE (always 0). Differences of two readings are
 * cycles modulo 2^32. Emulators without these peripherals read 0.
 */
void te_cycles_init(void);
uint32_t te_cycles_now(void);

/* CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial and final inversion). */
uint32_t te_crc32(const void *data, size_t len);

/* Files: a handle >= 0, or a negative value when the file cannot be opened. */
typedef int32_t te_file;
enum te_file_mode { TE_FILE_READ, TE_FILE_WRITE };
te_file te_file_open(const char *name, enum te_file_mode mode);
size_t te_file_read(te_file file, void *buf, size_t len);  /* bytes read; 0 at end of file */
size_t te_file_write(te_file file, const void *buf, size_t len);  /* bytes written */
void te_file_close(te_file file);

/* One line of text on the console (semihosting SYS_WRITE0, the UART, stdout on the host). */
void te_console_write(const char *text);

/* The UART variant's console (te_uart_<driver>.c): enables the UART at the board's baud rate. */
void te_console_init(void);

/*
 * Register set-up steps, applied in order by te_board_apply (te_board.c): the board file's
 * [[setup.init]] steps (clocks, flash wait states, accelerators) in every variant's start-up
 * code, and the UART variant's [[console.init]] steps (resets, peripheral clocks, pins) in
 * te_board_init (board_init.c).
 *   TE_STEP_WRITE:  *reg = value
 *   TE_STEP_MODIFY: *reg = (*reg & ~clear) | value
 *   TE_STEP_WAIT:   wait until (*reg & mask) == value, giving up after about 2^20 reads
 * te_board_apply returns the waits that gave up and adds them to te_board_timeouts (0 when
 * every awaited clock started; an emulator without the clock model makes it non-zero).
 */
enum te_step_kind { TE_STEP_WRITE, TE_STEP_MODIFY, TE_STEP_WAIT };
typedef struct {
    enum te_step_kind kind;
    uintptr_t reg;
    uint32_t clear;
    uint32_t value;
    uint32_t mask;
} te_init_step;
uint32_t te_board_apply(const te_init_step *steps, size_t count);
extern volatile uint32_t te_board_timeouts;
void te_board_init(void);

/*
 * Cortex-M7 L1 caches (te_cache.c), compiled in with TE_L1_CACHES (board [setup] l1_caches):
 * te_l1_caches_enable invalidates and enables the I- and D-cache; te_dcache_clean_invalidate
 * writes back and drops every D-cache line, around memory another master (a debugger) uses.
 */
#if defined(TE_L1_CACHES)
void te_l1_caches_enable(void);
void te_dcache_clean_invalidate(void);
#else
static inline void te_l1_caches_enable(void) {}
static inline void te_dcache_clean_invalidate(void) {}
#endif

/* Ends the program: status 0 is success (ADP_Stopped_ApplicationExit), anything else failure. */
void te_exit(int status) __attribute__((noreturn));

/* "tinyedge: sample=<n> cycles=<c> checksum=<crc32 as 8 hex digits>\n" */
void te_report_sample(uint32_t sample, uint32_t cycles, uint32_t checksum);

/* "tinyedge: error=<reason>\n", then exit with failure. */
void te_fail(const char *reason) __attribute__((noreturn));

/*
 * "tinyedge: fault=<name> pc=0x<8 hex> detail=0x<8 hex>\n", then exit with failure.
 * detail is CFSR on Armv7-M/Armv8-M (0 on Armv6-M) and mtval on RISC-V. A fault while
 * reporting a fault (semihosting without a debugger) stops in a loop instead.
 */
void te_fault(const char *name, uint32_t pc, uint32_t detail) __attribute__((noreturn));

/* Bare-metal start-up: copies .data from its load image and zeroes .bss (te_crt.c). */
void te_crt_init(void);

#endif /* TE_RUNTIME_H */
