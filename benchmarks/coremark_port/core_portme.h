/*
 * tinyedge's CoreMark port (benchmarks/validate_cycle_model.py): CoreMark's timed loop between
 * tinyedge's inference markers, so the emulator's exact instruction count and the cycle model's
 * estimate cover exactly what CoreMark times. The emulator keeps no time the firmware can read:
 * get_time() is 0, and the score is computed by the benchmark script from the estimated cycles.
 * Written from the port interface coremark.h asks for (its README, 'Porting').
 */
#ifndef CORE_PORTME_H
#define CORE_PORTME_H

#include <stddef.h>
#include <stdint.h>

#define HAS_FLOAT 0
#define HAS_TIME_H 0
#define USE_CLOCK 0
#define HAS_STDIO 0
#define HAS_PRINTF 0
#define SEED_METHOD SEED_VOLATILE
#define MEM_METHOD MEM_STATIC
#define MULTITHREAD 1
#define MAIN_HAS_NOARGC 1
#define MAIN_HAS_NORETURN 0
#define MEM_LOCATION "STATIC"
#define COMPILER_VERSION "GCC " __VERSION__
#ifndef COMPILER_FLAGS
#define COMPILER_FLAGS "tinyedge firmware flags"
#endif
#ifndef ITERATIONS
#define ITERATIONS 10
#endif

typedef int16_t ee_s16;
typedef uint16_t ee_u16;
typedef int32_t ee_s32;
typedef float ee_f32;
typedef uint8_t ee_u8;
typedef uint32_t ee_u32;
typedef uintptr_t ee_ptr_int;
typedef size_t ee_size_t;
typedef ee_u32 CORE_TICKS;

/* Round an address up to the next 4-byte boundary (the matrix blocks hold 32-bit values). */
#define align_mem(x) (void *)(4u + (((ee_ptr_int)(x) - 1u) & ~(ee_ptr_int)3u))

typedef struct CORE_PORTABLE_S {
    ee_u8 portable_id;
} core_portable;

extern ee_u32 default_num_contexts;

void portable_init(core_portable *p, int *argc, char *argv[]);
void portable_fini(core_portable *p);
int ee_printf(const char *fmt, ...);

/* CoreMark's main is called by the benchmark's own main (coremark_main.c). */
#define main te_coremark_main

#endif /* CORE_PORTME_H */
