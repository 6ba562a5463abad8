/*
 * tinyedge load plans: where a translated block's loads read, worked out once per block.
 *
 * The memory model charges each data read of flash by the address it touches. Trapping every
 * such read (Unicorn MMIO) costs 25-30 ns a read; most loads, though, read at an address that
 * follows from the registers the block was entered with: a base register moved by adds and the
 * loads' own write-back, an index untouched before the load or loaded earlier in the block, a
 * constant from a literal in flash. load_plan.c walks a block's instructions once, on its first
 * entry, keeping each register as a constant plus at most TE_TERMS shifted terms (a register at
 * entry, or a value an earlier load of the block read), or unknown, and gives each load a
 * formula:
 *
 *   address = offset + sum of X(term[i]) << shift[i]
 *
 * Entry loads' formulas use registers at block entry (and TE_LOADED values), so counter.c works
 * out their addresses when the block is entered; hooked loads (conditional ones, and those whose
 * registers the block computed in a way the walk does not follow) use base + index << shift as
 * the registers are at the load: counter.c charges each from a code hook on its address, which
 * Unicorn calls only if the load runs. Reads are charged in program order: the entry loads up to
 * the block's first hooked load at entry, each hooked load and the entry loads after it, up to
 * the next, from its hook, and whatever a skipped hooked load left when the next block is
 * entered (or the counter is read). Every read is charged once, in program order, at the address
 * it really touches.
 *
 * Registers are numbered per ISA: Thumb r0-r15 (13 sp, 14 lr, 15 pc), RV32 x0-x31.
 */
#ifndef TE_LOAD_PLAN_H
#define TE_LOAD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#define TE_COND_ALWAYS 14u

#define TE_TERMS 4

/* One record of a block's plan; for a load, its reads: `count` accesses of `size` bytes, `size`
 * apart, from the formula's address. Mirrored by LOAD_DTYPE in block_counter.py. */
typedef struct {
    uint64_t pc;      /* the instruction's address: where a hooked load's hook fires */
    int8_t term[TE_TERMS];    /* what is added, each shifted left by shift[i]; -1: nothing */
    uint8_t shift[TE_TERMS];
    uint32_t offset;  /* constant added, modulo 2^32 */
    uint16_t size;    /* bytes per access */
    uint16_t count;   /* accesses */
    uint8_t keep;     /* entry loads: bytes of the value loaded that a later load's formula uses */
    uint8_t sign;     /* that value is sign-extended */
    uint8_t kind;     /* TE_RECORD_LOAD, _STORE (a store the entry checks kept values against), _HOOKED */
    uint8_t cond;     /* Thumb condition a hooked load executes under; TE_COND_ALWAYS: unconditional */
    uint32_t reserved;
} te_load;

#define TE_RECORD_LOAD 0    /* an entry load */
#define TE_RECORD_STORE 1   /* a store with a known address: kept values are checked against it */
#define TE_RECORD_HOOKED 2  /* a hooked load */
#define TE_RECORD_CLEAR_IT 3  /* the instruction after an IT block with a conditional memory access:
                               * its hook clears the IT bits Unicorn leaves behind in xPSR (counter.c) */
#define TE_MAX_RECORDS 256  /* records of one block (a block with more is not planned) */
#define TE_MAX_STORES 32

/* In an entry record's formula, a term names a register at entry (0-31) or the value an earlier
 * entry load of the same block loaded (TE_LOADED + its index in the block): a pointer spilled to
 * the stack, an index byte of a table look-up. Its bytes are read at entry: a store of the
 * block before the load either has the same terms and is placed (its value forwarded, or the
 * loaded value unknown), or has a known address the entry checks does not overlap (else the
 * block is planned again without that assumption), or makes later loaded values unknown. */
#define TE_LOADED 32
#define TE_MAX_LOADED 95

typedef uc_err (*te_mem_read_fn)(uc_engine *uc, uint64_t address, void *bytes, uint64_t size);

/* What the planner needs besides the code: Unicorn's uc_mem_read, and for Thumb capstone's
 * handle and functions (the library the capstone Python package loaded, as void pointers so
 * this header needs no capstone header). */
typedef struct {
    int32_t isa;            /* counter.c's enum te_isa */
    uint32_t reserved;
    te_mem_read_fn mem_read;
    size_t capstone;        /* csh, Thumb only */
    void *cs_malloc;
    void *cs_free;
    void *cs_disasm_iter;
    void *cs_regs_access;
    /* read-only memory whose words may be folded as constants (flash): [start, end) pairs */
    const uint64_t *constant_ranges;
    uint32_t n_constant_ranges;
    uint32_t reserved2;
} te_planner;

/* A block's plan: n_records records in program order, n_hooked of them hooked loads; `needs` has
 * bit r set when an entry record's formula reads R[r] at entry. */
typedef struct {
    uint32_t n_records;
    uint32_t n_hooked;
    uint32_t needs;
} te_plan_summary;

enum te_plan_result { TE_PLAN_OK = 0, TE_PLAN_FULL = 1, TE_PLAN_UNREADABLE = 2, TE_PLAN_UNKNOWN_ACCESS = 3 };

/* te_plan_block's `conservative`: how far loaded values are followed. */
#define TE_PLAN_CHECKED 0    /* read at entry; the entry checks them against the block's store records */
#define TE_PLAN_NO_ALIAS 1   /* after such a check failed: only those no store before them may change */
#define TE_PLAN_NO_LOADED 2  /* after one had no bytes behind it (a peripheral register's): none */

/* Plan the block [address, address + size) entered with Thumb IT state `itstate` (0 outside an
 * IT block); writes at most `capacity` records. A loaded value that a store before it in the
 * block may have changed is taken from memory at entry, the entry checking that no store record
 * before it overlapped it, unless `conservative` (above) says otherwise: then it is unknown.
 * TE_PLAN_UNKNOWN_ACCESS: an instruction reads memory in a way the planner does not describe
 * (the caller falls back to trapping reads). */
int te_plan_block(const te_planner *p, uc_engine *uc, uint64_t address, uint32_t size, uint32_t itstate,
                  int conservative, te_load *loads, uint32_t capacity, te_plan_summary *out);

/* Whether Thumb condition `cond` holds for the flags in xPSR bits 31-28 (N Z C V). */
int te_condition_holds(uint32_t cond, uint32_t xpsr);

#endif
