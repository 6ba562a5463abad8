/*
 * Console on an STM32 USART or LPUART with the interrupt-status layout (F0, F3, F7, L4, L5, G4,
 * H7: CR1, BRR, ISR, TDR). The board's divisor (TE_UART_BRR) already holds the LPUART's factor
 * of 256. Clocks and pins are set up by the board set-up.
 */
#include "te_runtime.h"
#include "te_uart_config.h"

#define TE_UART(offset) (*(volatile uint32_t *)(TE_UART_BASE + (offset)))
#define TE_USART_CR1 TE_UART(0x00u)
#define TE_USART_BRR TE_UART(0x0Cu)
#define TE_USART_ISR TE_UART(0x1Cu)
#define TE_USART_TDR TE_UART(0x28u)

#define TE_USART_ISR_TXE (1u << 7)
#define TE_USART_ISR_TC (1u << 6)
#define TE_USART_CR1_UE (1u << 0)
#define TE_USART_CR1_RE (1u << 2)
#define TE_USART_CR1_TE (1u << 3)

void te_console_init(void)
{
    TE_USART_CR1 = 0u; /* BRR may only change while the UART is disabled */
    TE_USART_BRR = TE_UART_BRR;
    TE_USART_CR1 = TE_USART_CR1_UE | TE_USART_CR1_TE | TE_USART_CR1_RE; /* 8N1 */
}

void te_console_write(const char *text)
{
    for (; *text != '\0'; ++text) {
        while ((TE_USART_ISR & TE_USART_ISR_TXE) == 0u) {
        }
        TE_USART_TDR = (uint8_t)*text;
    }
    while ((TE_USART_ISR & TE_USART_ISR_TC) == 0u) {
    }
}
