/*
 * The part of MicroPython's native-module ABI the tinyedge glue uses, written from MicroPython's
 * py/nativeglue.h (mp_fun_table's order), py/obj.h (mp_buffer_info_t, builtin function objects)
 * and py/persistentcode.c (how a native .mpy's entry is called), MicroPython v1.23 and later
 * (.mpy 6.3). No MicroPython header is needed: every entry's index is checked below.
 *
 * mp_fun_table, mp_native_qstr_table and mp_native_obj_table are provided by the loader: the code
 * reaches them through GOT entries that tinyedge's linker marks for relocation.
 */
#ifndef TE_MP_ABI_H
#define TE_MP_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef void *mp_obj_t;

typedef struct {
    void *buf;
    size_t len; /* in bytes */
    int typecode;
} te_mp_buffer_t;

/* A builtin function of 1 or 2 positional arguments: its type, then its C function. */
typedef struct {
    const void *type;
    const void *fun;
} te_mp_builtin_t;

#define TE_MP_BUFFER_READ 1
#define TE_MP_BUFFER_WRITE 2
#define TE_MP_BUFFER_RAISE_IF_UNSUPPORTED 4

/* mp_fun_table, entries 0-79 (pointer-sized each); the ones the glue does not call are padding. */
typedef struct {
    const void *const_none;                                                  /* 0 */
    const void *unused_1_4[4];                                               /* 1-4 */
    void *(*swap_globals)(void *globals);                                    /* 5 */
    const void *unused_6;                                                    /* 6 */
    mp_obj_t (*load_global)(size_t qst);                                     /* 7 */
    const void *unused_8_12[5];                                              /* 8-12 */
    void (*store_global)(size_t qst, mp_obj_t value);                        /* 13 */
    const void *unused_14_26[13];                                            /* 14-26 */
    mp_obj_t (*call_function_n_kw)(mp_obj_t fun, size_t n_args_kw, const mp_obj_t *args); /* 27 */
    const void *unused_28_33[6];                                             /* 28-33 */
    void (*raise)(mp_obj_t exception);                                       /* 34 */
    const void *unused_35_56[22];                                            /* 35-56 */
    mp_obj_t (*obj_new_str)(const char *data, size_t len);                   /* 57 */
    mp_obj_t (*obj_new_bytes)(const uint8_t *data, size_t len);              /* 58 */
    const void *unused_59_64[6];                                             /* 59-64 */
    int (*get_buffer)(mp_obj_t obj, te_mp_buffer_t *info, size_t flags);     /* 65 (returns bool) */
    const void *unused_66_77[12];                                            /* 66-77 */
    const void *type_fun_builtin_1;                                          /* 78 */
    const void *type_fun_builtin_2;                                          /* 79 */
} te_mp_fun_table_t;

#define TE_MP_CHECK(name, cond) typedef char name[(cond) ? 1 : -1]
TE_MP_CHECK(te_mp_check_load_global, offsetof(te_mp_fun_table_t, load_global) == 7 * sizeof(void *));
TE_MP_CHECK(te_mp_check_store_global, offsetof(te_mp_fun_table_t, store_global) == 13 * sizeof(void *));
TE_MP_CHECK(te_mp_check_call, offsetof(te_mp_fun_table_t, call_function_n_kw) == 27 * sizeof(void *));
TE_MP_CHECK(te_mp_check_raise, offsetof(te_mp_fun_table_t, raise) == 34 * sizeof(void *));
TE_MP_CHECK(te_mp_check_new_str, offsetof(te_mp_fun_table_t, obj_new_str) == 57 * sizeof(void *));
TE_MP_CHECK(te_mp_check_get_buffer, offsetof(te_mp_fun_table_t, get_buffer) == 65 * sizeof(void *));
TE_MP_CHECK(te_mp_check_builtin_1, offsetof(te_mp_fun_table_t, type_fun_builtin_1) == 78 * sizeof(void *));

extern const te_mp_fun_table_t mp_fun_table;
extern const uint16_t mp_native_qstr_table[]; /* [0] is the source name, the module's names follow */
extern mp_obj_t mp_native_obj_table[];

/* The entry's first argument, a function object: its second word is the module context, whose
 * second word is the module's globals dict (mp_obj_fun_bc_t, mp_module_context_t). */
static inline void *te_mp_module_globals(void *self)
{
    void *const *context = ((void *const *const *)self)[1];
    return context[1];
}

#endif /* TE_MP_ABI_H */
