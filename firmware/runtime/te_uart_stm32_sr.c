/*
 * Console on an STM32 USART with the status-register layout (F1, F2, F4: SR, DR, BRR, CR1).
 * Clocks and pins are set up by the board set-up.
 */
#include "te_runtime.h"
#include "te_uart_config.h"

#define TE_UART(offset) (*(volatile uint32_t *)(TE_UART_BASE + (offset)))
#define TE_USART_SR TE_UART(0x00u)
#define TE_USART_DR TE_UART(0x04u)
#define TE_USART_BRR TE_UART(0x08u)
#define TE_USART_CR1 TE_UART(0x0Cu)

#define TE_USART_SR_TXE (1u << 7)
#define TE_USART_SR_TC (1u << 6)
#define TE_USART_CR1_UE (1u << 13)
#define TE_USART_CR1_TE (1u << 3)
#define TE_USART_CR1_RE (1u << 2)

void te_console_init(void)
{
    TE_USART_BRR = TE_UART_BRR;
    TE_USART_CR1 = TE_USART_CR1_UE | TE_USART_CR1_TE | TE_USART_CR1_RE; /* 8N1, oversampling by 16 */
}

void te_console_write(const char *text)
{
    for (; *text != '\0'; ++text) {
        while ((TE_USART_SR & TE_USART_SR_TXE) == 0u) {
        }
        TE_USART_DR = (uint8_t)*text;
    }
    while ((TE_USART_SR & TE_USART_SR_TC) == 0u) { /* the line is out before anything else happens */
    }
}
