/* tinyedge's CoreMark port: timing by inference markers, printing through the firmware console. */
#include <stdarg.h>

#include "coremark.h"
#include "te_runtime.h"

/* The performance run's seeds (CoreMark README: 0, 0, 0x66) and a fixed iteration count. */
volatile ee_s32 seed1_volatile = 0x0;
volatile ee_s32 seed2_volatile = 0x0;
volatile ee_s32 seed3_volatile = 0x66;
volatile ee_s32 seed4_volatile = ITERATIONS;
volatile ee_s32 seed5_volatile = 0;
ee_u32 default_num_contexts = 1;

void start_time(void)
{
    te_inference_begin();
}

void stop_time(void)
{
    te_inference_end();
}

CORE_TICKS get_time(void)
{
    return 0u; /* the emulator's counts are the clock; see benchmarks/validate_cycle_model.py */
}

secs_ret time_in_secs(CORE_TICKS ticks)
{
    return (secs_ret)ticks;
}

void portable_init(core_portable *p, int *argc, char *argv[])
{
    (void)argc;
    (void)argv;
    p->portable_id = 1;
}

void portable_fini(core_portable *p)
{
    p->portable_id = 0;
}

/* The formats CoreMark's report uses: %d %u %lu %s %x with a zero-padded width. */
static char *te_number(char *at, unsigned long value, unsigned base, int width, int negative)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value != 0u);
    if (negative) {
        *at++ = '-';
    }
    while (width-- > n) {
        *at++ = '0';
    }
    while (n > 0) {
        *at++ = digits[--n];
    }
    return at;
}

int ee_printf(const char *fmt, ...)
{
    char line[256];
    char *at = line;
    char *const end = line + sizeof line - 24;
    va_list args;
    va_start(args, fmt);
    for (; *fmt != '\0' && at < end; ++fmt) {
        if (*fmt != '%') {
            *at++ = *fmt;
            continue;
        }
        int width = 0;
        int is_long = 0;
        while (fmt[1] >= '0' && fmt[1] <= '9') {
            width = 10 * width + (*++fmt - '0');
        }
        if (fmt[1] == 'l') {
            is_long = 1;
            ++fmt;
        }
        switch (*++fmt) {
        case 'd': {
            const long value = is_long ? va_arg(args, long) : va_arg(args, int);
            at = te_number(at, value < 0 ? 0ul - (unsigned long)value : (unsigned long)value, 10u, width, value < 0);
            break;
        }
        case 'u':
            at = te_number(at, is_long ? va_arg(args, unsigned long) : va_arg(args, unsigned), 10u, width, 0);
            break;
        case 'x':
            at = te_number(at, is_long ? va_arg(args, unsigned long) : va_arg(args, unsigned), 16u, width, 0);
            break;
        case 's':
            for (const char *s = va_arg(args, const char *); *s != '\0' && at < end; ++s) {
                *at++ = *s;
            }
            break;
        default:
            *at++ = '?';
            break;
        }
    }
    va_end(args);
    *at = '\0';
    te_console_write(line);
    return (int)(at - line);
}
