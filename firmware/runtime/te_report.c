/* The text lines the firmware prints, formatted without printf. */
#include "te_runtime.h"

#define TE_LINE_MAX 160

typedef struct {
    char text[TE_LINE_MAX];
    size_t len;
} te_line;

static void te_line_str(te_line *line, const char *text)
{
    while (*text != '\0' && line->len + 1 < TE_LINE_MAX) {
        line->text[line->len++] = *text++;
    }
    line->text[line->len] = '\0';
}

static void te_line_dec(te_line *line, uint32_t value)
{
    char digits[11];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    char text[11];
    for (size_t i = 0; i < n; ++i) {
        text[i] = digits[n - 1 - i];
    }
    text[n] = '\0';
    te_line_str(line, text);
}

static void te_line_hex8(te_line *line, uint32_t value)
{
    static const char hex[] = "0123456789abcdef";
    char text[9];
    for (int i = 0; i < 8; ++i) {
        text[i] = hex[(value >> (28 - 4 * i)) & 0xFu];
    }
    text[8] = '\0';
    te_line_str(line, text);
}

void te_report_sample(uint32_t sample, uint32_t cycles, uint32_t checksum)
{
    te_line line = {.len = 0};
    te_line_str(&line, "tinyedge: sample=");
    te_line_dec(&line, sample);
    te_line_str(&line, " cycles=");
    te_line_dec(&line, cycles);
    te_line_str(&line, " checksum=");
    te_line_hex8(&line, checksum);
    te_line_str(&line, "\n");
    te_console_write(line.text);
}

void te_fail(const char *reason)
{
    te_line line = {.len = 0};
    te_line_str(&line, "tinyedge: error=");
    te_line_str(&line, reason);
    te_line_str(&line, "\n");
    te_console_write(line.text);
    te_exit(1);
}

void te_fault(const char *name, uint32_t pc, uint32_t detail)
{
    static volatile int reporting = 0;
    if (reporting) {
        for (;;) {
        }
    }
    reporting = 1;
    te_line line = {.len = 0};
    te_line_str(&line, "tinyedge: fault=");
    te_line_str(&line, name);
    te_line_str(&line, " pc=0x");
    te_line_hex8(&line, pc);
    te_line_str(&line, " detail=0x");
    te_line_hex8(&line, detail);
    te_line_str(&line, "\n");
    te_console_write(line.text);
    te_exit(1);
}
