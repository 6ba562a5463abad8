/*
 * tinyedge QEMU TCG plugin: exact instruction counts per translated block, for the QEMU backend.
 *
 * It keeps the same records as the built-in emulator's block counter (counter.c): one te_block
 * per distinct block (start address, size in bytes) with how often it was entered (count), how
 * many of those entries followed a non-sequential PC change (taken: a taken branch, call,
 * return or exception) and how many instructions it holds, in order of first execution, plus
 * the running instruction total. QEMU counts every instruction of a block it enters, Thumb
 * instructions skipped inside an IT block included, as the built-in emulator does.
 *
 * Marks: the caller names code addresses (mark=<hex address>, repeated; the n-th one is mark
 * n). Each time the core enters a block holding a marked address, the plugin appends to the
 * output file the mark's number, the instruction total before that block, the block executed
 * just before it (for a fault handler: where the fault was taken) and what changed in the
 * histogram since the previous mark (so the caller can rebuild the histogram at each mark
 * without the plugin writing the whole table every time). Marks are the inference markers,
 * the layer call sites and the fault handlers; what they mean is the caller's business.
 *
 * Stack: with stores=<lo>:<hi> every guest store is watched and the lowest address stored to
 * in [lo, hi) is kept: the deepest stack write, when [lo, hi) is the free RAM below the
 * initial stack pointer.
 *
 * Fault handlers: fault=<hex address> is a mark too (numbered with the others, in argument
 * order) that also limits the run to grace=<n> more instructions once entered: enough for the
 * firmware's own handler to report the fault and exit, and an end to a handler that spins.
 *
 * Stops: past budget=<n> instructions, past the grace after a fault handler, on a full block
 * table, or when the core halts (a lockup after a fault inside a fault handler, or WFI), the
 * plugin records why and exits QEMU.
 * On every exit (the firmware's semihosting SYS_EXIT included) it appends the final state and
 * the block table to the output file (out=<path>); when QEMU aborts instead (its M-profile
 * lockup is fatal), the mark records written so far remain.
 *
 * Output records (little-endian, as the host writes them; the host is the reader):
 *   mark:  uint32 tag = 1, uint32 mark, uint64 total, uint64 previous (address of the block
 *          executed last, UINT64_MAX before the first), uint32 n_blocks, uint32 n_changes,
 *          then n_changes x {uint32 index, uint32 zero, uint64 count delta, uint64 taken delta}
 *   final: uint32 tag = 2, uint32 status, uint64 total, uint64 stop_address,
 *          uint64 lowest_store (UINT64_MAX: none), uint32 n_blocks, uint32 zero,
 *          then n_blocks x te_block
 *
 * Plugin API versions: QEMU loads a plugin only if the version it declares lies between the
 * oldest and newest it implements, so qemu.py asks the installed QEMU for its newest version and
 * builds this file with TE_QEMU_PLUGIN_API set to it. Every function used here exists with the
 * same arguments in versions 1 to 5 (QEMU 7.2 declares 1, QEMU 10.1 declares 5) but one: from
 * version 3 on, qemu_plugin_insn_data copies the instruction's bytes into the caller's buffer
 * instead of returning a pointer to them. (Version 2 removed functions this plugin does not use;
 * 4 and 5 only added functions.) Debian's QEMU ships no plugin header, so the few API functions
 * used are declared below, from QEMU's documented interface. One vCPU only: the callbacks share
 * plain counters.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, versions 1 to 5 (the declarations this plugin needs) ----------------- */

#ifndef TE_QEMU_PLUGIN_API
#define TE_QEMU_PLUGIN_API 1 /* the version declared to QEMU; qemu.py passes the installed QEMU's */
#endif

#define TE_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;

/* QEMU declares the last member as an anonymous union (C11); a named one has the same layout. */
typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    } target;
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum { TE_QEMU_CB_NO_REGS = 0 };      /* enum qemu_plugin_cb_flags */
enum { TE_QEMU_MEM_W = 2 };           /* enum qemu_plugin_mem_rw */

typedef void (*te_qemu_tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*te_qemu_vcpu_udata_cb)(unsigned int vcpu_index, void *userdata);
typedef void (*te_qemu_vcpu_simple_cb)(qemu_plugin_id_t id, unsigned int vcpu_index);
typedef void (*te_qemu_udata_cb)(qemu_plugin_id_t id, void *userdata);
typedef void (*te_qemu_vcpu_mem_cb)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                    void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, te_qemu_tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, te_qemu_vcpu_udata_cb cb, int flags,
                                          void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, te_qemu_vcpu_mem_cb cb, int flags, int rw,
                                      void *userdata);
void qemu_plugin_register_vcpu_idle_cb(qemu_plugin_id_t id, te_qemu_vcpu_simple_cb cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, te_qemu_udata_cb cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
#if TE_QEMU_PLUGIN_API >= 3
size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len);
#else
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
#endif
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

TE_EXPORT int qemu_plugin_version = TE_QEMU_PLUGIN_API;

/* ---- records ---------------------------------------------------------------------------- */

enum te_status {
    TE_RUNNING = 0,
    TE_BUDGET_EXCEEDED = 1,
    TE_TABLE_FULL = 2,
    TE_HALTED = 3,
    TE_OUTPUT_FAILED = 4,
    TE_FAULT_HANDLER_SPINS = 5
};

enum { TE_TAG_MARK = 1, TE_TAG_FINAL = 2 };

#define TE_CAPACITY (1u << 18)     /* distinct blocks; block_counter.DEFAULT_CAPACITY */
#define TE_SLOTS (2u * TE_CAPACITY) /* hash slots, a power of two */
#define TE_MAX_MARKS 4096u
#define TE_NO_MARK UINT32_MAX
#define TE_NEVER_A_PC (UINT64_C(1) << 63) /* next_pc before the first block */

/* One distinct block; the same layout as block_counter.BLOCK_DTYPE. */
typedef struct {
    uint64_t address;
    uint32_t size;  /* bytes */
    uint32_t insns; /* instructions */
    uint64_t count; /* entries */
    uint64_t taken; /* entries from a non-sequential PC */
} te_block;

/* One histogram change in a mark record. */
typedef struct {
    uint32_t index;
    uint32_t zero;
    uint64_t count;
    uint64_t taken;
} te_change;

typedef struct {
    /* histogram */
    te_block *blocks;   /* [TE_CAPACITY], dense, in order of first entry */
    uint32_t *mark_of;  /* [TE_CAPACITY] mark number of each block, or TE_NO_MARK */
    uint32_t *slots;    /* [TE_SLOTS] record index + 1, 0 = empty */
    uint32_t n_blocks;
    uint32_t last_block;
    uint64_t total;
    uint64_t next_pc;
    /* what the histogram was at the previous mark */
    uint64_t *marked_count; /* [TE_CAPACITY] */
    uint64_t *marked_taken; /* [TE_CAPACITY] */
    te_change *changes;     /* [TE_CAPACITY] scratch for one mark record */
    /* configuration */
    uint64_t budget;
    uint64_t marks[TE_MAX_MARKS];
    bool is_fault[TE_MAX_MARKS]; /* a fault handler's entry */
    uint32_t n_marks;
    uint64_t grace;
    bool in_fault;
    uint64_t store_low;
    uint64_t store_high;
    bool watch_stores;
    bool riscv; /* else Thumb */
    /* outcome */
    uint64_t lowest_store;
    uint64_t stop_address;
    uint32_t status;
    FILE *out;
} te_state;

static te_state te;

static uint32_t te_slot_hash(uint64_t address, uint32_t size)
{
    /* As in counter.c: code addresses are dense and 2-byte aligned. */
    return (uint32_t)(address >> 1) ^ (size << 20);
}

/* Length in bytes of an instruction from its first halfword (lo, hi), as counter.c decodes it:
 * Thumb-2 and RV32C mix 16- and 32-bit encodings. */
static uint32_t te_instruction_length(uint8_t lo, uint8_t hi)
{
    if (te.riscv) {
        return (lo & 3u) == 3u ? 4u : 2u;
    }
    return ((uint32_t)hi >> 3) >= 0x1Du ? 4u : 2u;
}

/* Bytes of the block: up to the end of its last instruction. (qemu_plugin_insn_size of the last
 * Thumb instruction before a page boundary also counts the halfword QEMU read after it to see
 * whether the next instruction crosses the page.) */
static uint32_t te_block_size(const struct qemu_plugin_tb *tb, size_t n_insns, uint64_t address)
{
    const struct qemu_plugin_insn *last = qemu_plugin_tb_get_insn(tb, n_insns - 1u);
    uint32_t length = (uint32_t)qemu_plugin_insn_size(last);
    if (length >= 2u) {
        uint8_t code[2]; /* the first halfword */
#if TE_QEMU_PLUGIN_API >= 3
        if (qemu_plugin_insn_data(last, code, sizeof code) != sizeof code) {
            return (uint32_t)(qemu_plugin_insn_vaddr(last) + length - address);
        }
#else
        memcpy(code, qemu_plugin_insn_data(last), sizeof code);
#endif
        length = te_instruction_length(code[0], code[1]);
    }
    return (uint32_t)(qemu_plugin_insn_vaddr(last) + length - address);
}

static void te_write(const void *data, size_t size)
{
    if (te.out != NULL && size != 0 && fwrite(data, size, 1, te.out) != 1) {
        te.status = TE_OUTPUT_FAILED;
    }
}

/* Ends the run: the atexit callback writes the final record. */
static void te_stop(uint32_t status, uint64_t address)
{
    if (te.status == TE_RUNNING) {
        te.status = status;
    }
    te.stop_address = address;
    exit(EXIT_FAILURE);
}

static void te_emit_mark(uint32_t mark)
{
    uint32_t n_changes = 0;
    for (uint32_t i = 0; i < te.n_blocks; i++) {
        const te_block *b = &te.blocks[i];
        if (b->count != te.marked_count[i] || b->taken != te.marked_taken[i]) {
            te_change *c = &te.changes[n_changes++];
            c->index = i;
            c->zero = 0;
            c->count = b->count - te.marked_count[i];
            c->taken = b->taken - te.marked_taken[i];
            te.marked_count[i] = b->count;
            te.marked_taken[i] = b->taken;
        }
    }
    const uint32_t head[2] = {TE_TAG_MARK, mark};
    const uint64_t previous = te.n_blocks != 0 ? te.blocks[te.last_block].address : UINT64_MAX;
    const uint32_t sizes[2] = {te.n_blocks, n_changes};
    te_write(head, sizeof head);
    te_write(&te.total, sizeof te.total);
    te_write(&previous, sizeof previous);
    te_write(sizes, sizeof sizes);
    te_write(te.changes, (size_t)n_changes * sizeof *te.changes);
    if (te.out != NULL && fflush(te.out) != 0) { /* kept if QEMU aborts (a lockup) */
        te.status = TE_OUTPUT_FAILED;
    }
}

/* Runs on every entry into a block, before its instructions: marks see the histogram as it was
 * just before the block, then the entry is counted. */
static void te_on_block(unsigned int vcpu_index, void *userdata)
{
    te_block *b = (te_block *)userdata;
    const uint32_t index = (uint32_t)(b - te.blocks);
    const uint64_t taken = b->address != te.next_pc;
    (void)vcpu_index;

    if (te.mark_of[index] != TE_NO_MARK) {
        te_emit_mark(te.mark_of[index]);
        if (te.is_fault[te.mark_of[index]] && !te.in_fault) {
            te.in_fault = true;
            if (te.budget - te.total > te.grace) {
                te.budget = te.total + te.grace;
            }
        }
    }
    b->count += 1;
    b->taken += taken;
    te.next_pc = b->address + b->size;
    te.last_block = index;
    te.total += b->insns;
    if (te.total > te.budget) {
        te_stop(te.in_fault ? TE_FAULT_HANDLER_SPINS : TE_BUDGET_EXCEEDED, b->address);
    }
}

static void te_on_store(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *userdata)
{
    (void)vcpu_index;
    (void)info;
    (void)userdata;
    if (vaddr >= te.store_low && vaddr < te.store_high && vaddr < te.lowest_store) {
        te.lowest_store = vaddr;
    }
}

static void te_on_idle(qemu_plugin_id_t id, unsigned int vcpu_index)
{
    (void)id;
    (void)vcpu_index;
    if (te.total != 0) { /* idle before the first instruction is QEMU starting up */
        const uint64_t pc = te.n_blocks != 0 ? te.blocks[te.last_block].address : 0;
        te_stop(TE_HALTED, pc);
    }
}

/* The mark at one of the block's instructions, TE_NO_MARK if none. A block holds at most one:
 * the marked addresses are function entries and calls, and a call ends its block. */
static uint32_t te_mark_in(const struct qemu_plugin_tb *tb, size_t n_insns)
{
    for (size_t i = 0; i < n_insns; i++) {
        const uint64_t pc = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
        for (uint32_t m = 0; m < te.n_marks; m++) {
            if (te.marks[m] == pc) {
                return m;
            }
        }
    }
    return TE_NO_MARK;
}

/* The record of (address, size), created on first translation; NULL when the table is full. */
static te_block *te_record(uint64_t address, uint32_t size, uint32_t insns)
{
    uint32_t slot = te_slot_hash(address, size) & (TE_SLOTS - 1u);
    for (;;) {
        const uint32_t entry = te.slots[slot];
        if (entry == 0) {
            if (te.n_blocks == TE_CAPACITY) {
                return NULL;
            }
            te_block *b = &te.blocks[te.n_blocks];
            b->address = address;
            b->size = size;
            b->insns = insns;
            te.mark_of[te.n_blocks] = TE_NO_MARK;
            te.n_blocks += 1;
            te.slots[slot] = te.n_blocks;
            return b;
        }
        te_block *b = &te.blocks[entry - 1u];
        if (b->address == address && b->size == size) {
            return b;
        }
        slot = (slot + 1u) & (TE_SLOTS - 1u);
    }
}

static void te_on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    const size_t n_insns = qemu_plugin_tb_n_insns(tb);
    (void)id;
    if (n_insns == 0) {
        return;
    }
    const uint64_t address = qemu_plugin_tb_vaddr(tb);
    const uint32_t size = te_block_size(tb, n_insns, address);
    te_block *b = te_record(address, size, (uint32_t)n_insns);
    if (b == NULL) {
        te_stop(TE_TABLE_FULL, address);
        return;
    }
    te.mark_of[b - te.blocks] = te_mark_in(tb, n_insns);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, te_on_block, TE_QEMU_CB_NO_REGS, b);
    if (te.watch_stores) {
        for (size_t i = 0; i < n_insns; i++) {
            qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), te_on_store, TE_QEMU_CB_NO_REGS,
                                             TE_QEMU_MEM_W, NULL);
        }
    }
}

static void te_on_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    const uint32_t head[2] = {TE_TAG_FINAL, te.status};
    const uint32_t sizes[2] = {te.n_blocks, 0u};
    te_write(head, sizeof head);
    te_write(&te.total, sizeof te.total);
    te_write(&te.stop_address, sizeof te.stop_address);
    te_write(&te.lowest_store, sizeof te.lowest_store);
    te_write(sizes, sizeof sizes);
    te_write(te.blocks, (size_t)te.n_blocks * sizeof *te.blocks);
    if (te.out != NULL && fclose(te.out) != 0) {
        fputs("tinyedge plugin: writing the output file failed\n", stderr);
    }
    te.out = NULL;
}

/* ---- arguments -------------------------------------------------------------------------- */

static bool te_parse_u64(const char *text, uint64_t *value)
{
    char *end = NULL;
    if (*text == '\0') {
        return false;
    }
    *value = strtoull(text, &end, 0);
    return *end == '\0';
}

static bool te_parse_range(const char *text, uint64_t *low, uint64_t *high)
{
    char *end = NULL;
    *low = strtoull(text, &end, 0);
    if (end == text || *end != ':') {
        return false;
    }
    return te_parse_u64(end + 1, high) && *low < *high;
}

static int te_fail(const char *argument)
{
    fprintf(stderr, "tinyedge plugin: bad argument '%s'\n", argument);
    return -1;
}

static int te_parse(int argc, char **argv, const char **out_path)
{
    te.budget = UINT64_MAX;
    te.grace = 1000000u;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "out=", 4) == 0 && arg[4] != '\0') {
            *out_path = arg + 4;
        } else if (strncmp(arg, "budget=", 7) == 0) {
            if (!te_parse_u64(arg + 7, &te.budget)) {
                return te_fail(arg);
            }
        } else if (strncmp(arg, "mark=", 5) == 0 || strncmp(arg, "fault=", 6) == 0) {
            const bool fault = arg[0] == 'f';
            if (te.n_marks == TE_MAX_MARKS || !te_parse_u64(strchr(arg, '=') + 1, &te.marks[te.n_marks])) {
                return te_fail(arg);
            }
            te.is_fault[te.n_marks] = fault;
            te.n_marks += 1;
        } else if (strncmp(arg, "grace=", 6) == 0) {
            if (!te_parse_u64(arg + 6, &te.grace)) {
                return te_fail(arg);
            }
        } else if (strncmp(arg, "stores=", 7) == 0) {
            if (!te_parse_range(arg + 7, &te.store_low, &te.store_high)) {
                return te_fail(arg);
            }
            te.watch_stores = true;
        } else {
            return te_fail(arg);
        }
    }
    if (*out_path == NULL) {
        fputs("tinyedge plugin: needs out=<path>\n", stderr);
        return -1;
    }
    return 0;
}

TE_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *out_path = NULL;
    te.riscv = strncmp(info->target_name, "riscv", 5) == 0;
    if (te_parse(argc, argv, &out_path) != 0) {
        return -1;
    }
    te.blocks = calloc(TE_CAPACITY, sizeof *te.blocks);
    te.mark_of = calloc(TE_CAPACITY, sizeof *te.mark_of);
    te.slots = calloc(TE_SLOTS, sizeof *te.slots);
    te.marked_count = calloc(TE_CAPACITY, sizeof *te.marked_count);
    te.marked_taken = calloc(TE_CAPACITY, sizeof *te.marked_taken);
    te.changes = calloc(TE_CAPACITY, sizeof *te.changes);
    te.out = fopen(out_path, "wb");
    if (te.blocks == NULL || te.mark_of == NULL || te.slots == NULL || te.marked_count == NULL ||
        te.marked_taken == NULL || te.changes == NULL || te.out == NULL) {
        fputs("tinyedge plugin: out of memory, or cannot create the output file\n", stderr);
        return -1;
    }
    te.next_pc = TE_NEVER_A_PC;
    te.lowest_store = UINT64_MAX;
    qemu_plugin_register_vcpu_tb_trans_cb(id, te_on_translate);
    qemu_plugin_register_vcpu_idle_cb(id, te_on_idle);
    qemu_plugin_register_atexit_cb(id, te_on_exit, NULL);
    return 0;
}
