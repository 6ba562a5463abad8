/*
 * Console on a Nordic nRF52 UART (legacy, non-DMA): one byte at a time through TXD, waiting for
 * the TXDRDY event after each. Pins are connected by the board set-up (PSEL.TXD, PSEL.RXD).
 */
#include "te_runtime.h"
#include "te_uart_config.h"

#define TE_UART(offset) (*(volatile uint32_t *)(TE_UART_BASE + (offset)))
#define TE_UART_TASKS_STARTTX TE_UART(0x008u)
#define TE_UART_EVENTS_TXDRDY TE_UART(0x11Cu)
#define TE_UART_ENABLE TE_UART(0x500u)
#define TE_UART_TXD TE_UART(0x51Cu)
#define TE_UART_BAUDRATE_REG TE_UART(0x524u)
#define TE_UART_CONFIG TE_UART(0x56Cu)

#define TE_UART_ENABLE_UART 4u

void te_console_init(void)
{
    TE_UART_BAUDRATE_REG = TE_UART_BAUDRATE;
    TE_UART_CONFIG = 0u; /* 8N1, no flow control */
    TE_UART_ENABLE = TE_UART_ENABLE_UART;
    TE_UART_TASKS_STARTTX = 1u;
}

void te_console_write(const char *text)
{
    for (; *text != '\0'; ++text) {
        TE_UART_EVENTS_TXDRDY = 0u;
        TE_UART_TXD = (uint8_t)*text;
        while (TE_UART_EVENTS_TXDRDY == 0u) {
        }
    }
}
