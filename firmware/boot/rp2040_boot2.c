/*
 * tinyedge's RP2040 boot2: the second boot stage the boot ROM runs from SRAM.
 *
 * On a flash boot the RP2040 boot ROM copies the first 256 bytes of flash to the top 256 bytes
 * of SRAM (0x20041F00), checks the CRC-32 in their last 4 bytes and, if it matches, jumps here
 * in Thumb state with the exit pointer in LR (RP2040 Datasheet, section 2.8.1, flash boot).
 * This stage has to make the QSPI flash readable through the XIP window at 0x10000000 and
 * then start the application.
 *
 * It does that with the boot ROM's own flash routines, found through the ROM's function
 * table (datasheet section 2.8.3; a function's code is its two characters, c1 | c2 << 8):
 *   'IF' connect_internal_flash  route the QSPI pads to the SSI
 *   'EX' flash_exit_xip          put the SSI and the flash into plain serial mode
 *   'FC' flash_flush_cache       flush and enable the XIP cache, release chip select
 *   'CX' flash_enter_cmd_xip     XIP with standard 03h serial reads, 24-bit address
 * 03h reads work with every SPI flash but are the slowest XIP mode (one command per cache
 * miss, one data line); code that runs from the XIP cache is not slowed down.
 *
 * Then: an exit pointer of zero (the boot ROM's case) starts the application whose vector
 * table follows this stage in flash (0x10000100): VTOR <- 0x10000100, MSP <- word 0, jump to
 * word 1. A non-zero exit pointer returns to the caller instead, with XIP set up.
 *
 * Built by tinyedge/boot2.py: -Os, linked at 0x20041F00 by rp2040_boot2.ld into at most 252
 * bytes, padded with zeros to 252 and followed by the CRC-32.
 */

#include <stdint.h>

#define ROM_FUNC_TABLE_PTR 0x00000014u /* 16-bit pointer to the ROM function table */
#define ROM_TABLE_LOOKUP_PTR 0x00000018u /* 16-bit pointer to rom_table_lookup (Thumb bit set) */
#define ROM_CODE(c1, c2) ((uint32_t)(c1) | ((uint32_t)(c2) << 8))

#define APP_VECTOR_TABLE 0x10000100u /* XIP base + the 256 bytes of this stage */
#define PPB_VTOR 0xE000ED08u /* Cortex-M0+ vector table offset register */

typedef void (*te_rom_fn)(void);
typedef void *(*te_rom_table_lookup_fn)(const uint16_t *table, uint32_t code);

/* A 16-bit pointer stored in the ROM, widened. The empty asm hides the constant address from
 * GCC, which otherwise takes a read from the first page for a null-pointer access (-Warray-bounds). */
static uintptr_t te_rom_hword(uintptr_t address) {
    __asm__("" : "+r"(address));
    return *(const uint16_t *)address;
}

static te_rom_fn te_rom_func(uint32_t code) {
    te_rom_table_lookup_fn lookup = (te_rom_table_lookup_fn)te_rom_hword(ROM_TABLE_LOOKUP_PTR);
    return (te_rom_fn)lookup((const uint16_t *)te_rom_hword(ROM_FUNC_TABLE_PTR), code);
}

/* The entry point: first in the image (section .entry, placed first by rp2040_boot2.ld). */
__attribute__((section(".entry"), used)) void te_boot2_entry(void) {
    uintptr_t exit_to = (uintptr_t)__builtin_return_address(0);

    te_rom_func(ROM_CODE('I', 'F'))();
    te_rom_func(ROM_CODE('E', 'X'))();
    te_rom_func(ROM_CODE('F', 'C'))();
    te_rom_func(ROM_CODE('C', 'X'))();

    if (exit_to != 0u) {
        return;
    }
    const volatile uint32_t *vectors = (const volatile uint32_t *)APP_VECTOR_TABLE;
    *(volatile uint32_t *)PPB_VTOR = APP_VECTOR_TABLE;
    __asm__ volatile("msr msp, %0\n\tbx %1" : : "r"(vectors[0]), "r"(vectors[1]) : "memory");
    __builtin_unreachable();
}
