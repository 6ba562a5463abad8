/*
 * Console on an Arm PL011 UART (RP2040 UART0/UART1). The divisor is written before LCR_H, which
 * latches it. Clocks, resets and pins are set up by the board set-up.
 */
#include "te_runtime.h"
#include "te_uart_config.h"

#define TE_UART(offset) (*(volatile uint32_t *)(TE_UART_BASE + (offset)))
#define TE_UART_DR TE_UART(0x000u)
#define TE_UART_FR TE_UART(0x018u)
#define TE_UART_IBRD_REG TE_UART(0x024u)
#define TE_UART_FBRD_REG TE_UART(0x028u)
#define TE_UART_LCR_H TE_UART(0x02Cu)
#define TE_UART_CR TE_UART(0x030u)

#define TE_UART_FR_BUSY (1u << 3)
#define TE_UART_FR_TXFF (1u << 5)
#define TE_UART_LCR_H_FEN (1u << 4)
#define TE_UART_LCR_H_WLEN_8 (3u << 5)
#define TE_UART_CR_UARTEN (1u << 0)
#define TE_UART_CR_TXE (1u << 8)
#define TE_UART_CR_RXE (1u << 9)

void te_console_init(void)
{
    TE_UART_IBRD_REG = TE_UART_IBRD;
    TE_UART_FBRD_REG = TE_UART_FBRD;
    TE_UART_LCR_H = TE_UART_LCR_H_WLEN_8 | TE_UART_LCR_H_FEN; /* 8N1, FIFOs on */
    TE_UART_CR = TE_UART_CR_UARTEN | TE_UART_CR_TXE | TE_UART_CR_RXE;
}

void te_console_write(const char *text)
{
    for (; *text != '\0'; ++text) {
        while ((TE_UART_FR & TE_UART_FR_TXFF) != 0u) {
        }
        TE_UART_DR = (uint8_t)*text;
    }
    while ((TE_UART_FR & TE_UART_FR_BUSY) != 0u) {
    }
}
