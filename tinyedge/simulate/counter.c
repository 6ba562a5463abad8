/*
 * tinyedge block counter: a Unicorn UC_HOOK_BLOCK callback written in C.
 *
 * Unicorn calls te_counter_block_hook each time the guest enters a translated block. The hook
 * keeps one te_block record per distinct block (start address, size in bytes):
 *   count   how many times the block was entered
 *   taken   how many of those entries came from a non-sequential PC change
 *           (a taken branch, call or return)
 *   insns   how many instructions the block holds (decoded once, on first entry)
 * and a running total of executed instructions. Counting whole blocks also counts Thumb
 * instructions skipped inside an IT block, which the core still issues, so the totals agree
 * with QEMU and Renode.
 *
 * Records get dense indices in order of first execution, so records[0..n_blocks) is a compact
 * histogram the caller can copy at any instant. The caller owns every array (Python allocates
 * them with numpy); the hook never allocates. Unicorn functions are reached through pointers
 * the caller copies from the libunicorn it already loaded, so this object does not link a
 * second copy of the library.
 */
#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#if defined(__GNUC__)
#define TE_COLD __attribute__((noinline, cold))
#define TE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TE_COLD
#define TE_UNLIKELY(x) (x)
#endif

typedef uc_err (*te_mem_read_fn)(uc_engine *uc, uint64_t address, void *bytes, uint64_t size);
typedef uc_err (*te_emu_stop_fn)(uc_engine *uc);

enum te_isa { TE_ISA_THUMB = 0, TE_ISA_RV32 = 1 };

enum te_status {
    TE_RUNNING = 0,
    TE_BUDGET_EXCEEDED = 1,
    TE_TABLE_FULL = 2,
    TE_CODE_UNREADABLE = 3
};

/* One distinct block; mirrored by BLOCK_DTYPE in block_counter.py. */
typedef struct {
    uint64_t address;
    uint32_t size;   /* bytes */
    uint32_t insns;  /* instructions */
    uint64_t count;  /* entries */
    uint64_t taken;  /* entries from a non-sequential PC */
} te_block;

/* Field order and types are mirrored by the ctypes Structure in block_counter.py. */
typedef struct {
    uint64_t total;       /* instructions in every block entered so far */
    uint64_t budget;      /* stop the emulation once total exceeds this */
    uint64_t next_pc;     /* address just past the last block: a sequential entry lands here */
    uint64_t stop_block;  /* address of the block being entered when the hook stopped the run */
    te_block *blocks;     /* [capacity] records, dense, in order of first entry */
    uint32_t *slots;      /* [slot_mask + 1] hash slots: record index + 1, 0 = empty */
    uint32_t slot_mask;   /* number of slots - 1; slots >= 2 * capacity, a power of two */
    uint32_t capacity;    /* length of blocks */
    uint32_t n_blocks;    /* records in use */
    uint32_t last_block;  /* index of the block entered last (the one executing) */
    uint32_t last_taken;  /* 1 if that entry was non-sequential */
    uint32_t status;      /* enum te_status */
    int32_t isa;          /* enum te_isa */
    uint32_t reserved;
    te_mem_read_fn mem_read;
    te_emu_stop_fn emu_stop;
} te_counter;

static uint32_t te_slot_hash(uint64_t address, uint32_t size)
{
    /* Code addresses are dense and 2-byte aligned: the halfword index spreads well on its own;
     * the size separates the rare blocks that start at one address with different lengths. */
    return (uint32_t)(address >> 1) ^ (size << 20);
}

/* Length in bytes of the instruction whose first halfword is (lo, hi): Thumb-2 and RV32C
 * mix 16- and 32-bit encodings. */
static uint32_t te_instruction_length(int isa, uint8_t lo, uint8_t hi)
{
    if (isa == TE_ISA_THUMB) {
        /* A halfword whose top five bits are 0b11101, 0b11110 or 0b11111 starts a 32-bit one. */
        return ((uint32_t)hi >> 3) >= 0x1Du ? 4u : 2u;
    }
    /* RISC-V: low two bits 0b11 mean a 32-bit instruction, anything else a compressed one. */
    return (lo & 3u) == 3u ? 4u : 2u;
}

/* Count the instructions of the block [address, address + size). */
static int te_decode_block(const te_counter *c, uc_engine *uc, uint64_t address, uint32_t size,
                           uint32_t *insns)
{
    uint8_t code[4096];
    uint32_t n = 0;
    uint32_t at = 0;
    if (size <= sizeof code) {
        if (c->mem_read(uc, address, code, size) != UC_ERR_OK) {
            return -1;
        }
        while (at + 2 <= size) {
            at += te_instruction_length(c->isa, code[at], code[at + 1]);
            n += 1;
        }
    } else {
        /* Unicorn's blocks are far smaller than the buffer; stay correct anyway. */
        while (at + 2 <= size) {
            if (c->mem_read(uc, address + at, code, 2) != UC_ERR_OK) {
                return -1;
            }
            at += te_instruction_length(c->isa, code[0], code[1]);
            n += 1;
        }
    }
    *insns = n;
    return 0;
}

TE_COLD static void te_stop(te_counter *c, uc_engine *uc, uint64_t address, uint32_t status)
{
    c->status = status;
    c->stop_block = address;
    c->emu_stop(uc);
}

/* Find the record of (address, size), creating it on first entry; NULL when the run must stop. */
TE_COLD static te_block *te_find_slow(te_counter *c, uc_engine *uc, uint64_t address, uint32_t size)
{
    uint32_t slot = te_slot_hash(address, size) & c->slot_mask;
    for (;;) {
        uint32_t entry = c->slots[slot];
        if (entry == 0) {
            uint32_t insns = 0;
            te_block *b;
            if (c->n_blocks == c->capacity) {
                te_stop(c, uc, address, TE_TABLE_FULL);
                return NULL;
            }
            if (te_decode_block(c, uc, address, size, &insns) != 0) {
                te_stop(c, uc, address, TE_CODE_UNREADABLE);
                return NULL;
            }
            b = &c->blocks[c->n_blocks];
            b->address = address;
            b->size = size;
            b->insns = insns;
            b->count = 0;
            b->taken = 0;
            c->n_blocks += 1;
            c->slots[slot] = c->n_blocks;
            return b;
        }
        if (c->blocks[entry - 1].address == address && c->blocks[entry - 1].size == size) {
            return &c->blocks[entry - 1];
        }
        slot = (slot + 1) & c->slot_mask;
    }
}

/* Count one entry into block b; stops the run when the budget is exceeded. */
static void te_account(te_counter *c, uc_engine *uc, te_block *b, uint64_t address, uint32_t size)
{
    uint32_t taken = address != c->next_pc;
    b->count += 1;
    b->taken += taken;
    c->next_pc = address + size;
    c->last_block = (uint32_t)(b - c->blocks);
    c->last_taken = taken;
    c->total += b->insns;
    if (TE_UNLIKELY(c->total > c->budget)) {
        te_stop(c, uc, address, TE_BUDGET_EXCEEDED);
    }
}

TE_COLD static void te_block_hook_first_entry(te_counter *c, uc_engine *uc, uint64_t address, uint32_t size)
{
    te_block *b = te_find_slow(c, uc, address, size);
    if (b != NULL) {
        te_account(c, uc, b, address, size);
    }
}

void te_counter_block_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user_data)
{
    te_counter *c = (te_counter *)user_data;
    uint32_t entry = c->slots[te_slot_hash(address, size) & c->slot_mask];
    te_block *b;

    /* Fast path: the hashed slot holds this block. Otherwise (an empty slot, or a collision)
     * search further or create the record. */
    if (TE_UNLIKELY(entry == 0)) {
        te_block_hook_first_entry(c, uc, address, size);
        return;
    }
    b = &c->blocks[entry - 1u];
    if (TE_UNLIKELY(b->address != address || b->size != size)) {
        te_block_hook_first_entry(c, uc, address, size);
        return;
    }
    te_account(c, uc, b, address, size);
}

/* Sizes of te_counter and te_block, so the Python mirror can check its layout at load time. */
size_t te_counter_struct_size(void)
{
    return sizeof(te_counter);
}

size_t te_counter_block_size(void)
{
    return sizeof(te_block);
}
