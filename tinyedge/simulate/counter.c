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
 *
 * The memory model (optional, te_memory): the board's caches and flash read buffers in front of
 * its flash. Every block entry in a modelled region fetches the lines the block spans through
 * that region's instruction path, and te_memory_mmio_read (flash pages holding data only, mapped
 * as MMIO) sends every data read of them through its data path; a line not held costs the
 * cache's miss cycles, added to `stall`. Caches are set-associative with LRU replacement (each set kept most recently
 * used first, so the common case, a hit on the line used last, is one compare).
 *
 * Data reads of flash reach the model one of two ways. Trapped: the data-only pages are mapped as
 * MMIO and te_memory_mmio_read sees each read (25-30 ns a read in Unicorn 2.1). Planned (te_plans):
 * the pages stay plain memory; each block is planned on its first entry
 * (load_plan.h) and its entry loads are charged from the registers as the block is entered, its
 * hooked loads from a code hook on each (te_counter_load_hook). A block with hooked loads stops
 * the run on its first entry (TE_NEEDS_HOOKS) so that the caller can add those hooks and have
 * Unicorn translate the block again before it runs. Both ways charge the same reads, in the same
 * order, at the same addresses: the tests hold the planned way to the trapped one. Planning costs
 * every block entry with loads a few register reads, trapping costs each data read of flash: a
 * run starts trapped and, when trapped reads are dense (te_plans.switch_per_1000), stops at a
 * block entry (TE_SWITCH_TO_PLANS) for its caller to map the data pages as memory again; from
 * there on blocks are planned.
 */
#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#include "load_plan.h"

#if defined(__GNUC__)
#define TE_COLD __attribute__((noinline, cold))
#define TE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TE_COLD
#define TE_UNLIKELY(x) (x)
#endif

typedef uc_err (*te_emu_stop_fn)(uc_engine *uc);

#define TE_XPSR_IT_BITS 0x0600FC00u  /* xPSR's IT[1:0] (bits 26:25) and IT[7:2] (bits 15:10) */
typedef uc_err (*te_reg_read_fn)(uc_engine *uc, int regid, void *value);
typedef uc_err (*te_reg_write_fn)(uc_engine *uc, int regid, const void *value);

enum te_isa { TE_ISA_THUMB = 0, TE_ISA_RV32 = 1 };

enum te_status {
    TE_RUNNING = 0,
    TE_BUDGET_EXCEEDED = 1,
    TE_TABLE_FULL = 2,
    TE_CODE_UNREADABLE = 3,
    TE_NEEDS_HOOKS = 4,   /* a new block has hooked loads: add their code hooks, translate it again */
    TE_PLAN_FAILED = 5,   /* a block could not be planned: run again with the reads trapped */
    TE_SWITCH_TO_PLANS = 6  /* trapped reads are dense: map the data ranges as memory, plan from here */
};

/* One distinct block; mirrored by BLOCK_DTYPE in block_counter.py. */
typedef struct {
    uint64_t address;
    uint32_t size;   /* bytes */
    uint32_t insns;  /* instructions */
    uint64_t count;  /* entries */
    uint64_t taken;  /* entries from a non-sequential PC */
    int32_t region;  /* index of the modelled memory region holding the block, -1 for none */
    uint32_t first_load;    /* its plan: te_plans.loads[first_load, first_load + records) */
    uint16_t records;
    uint16_t hooked_loads;  /* of the records, hooked loads */
    uint32_t needs;         /* registers its entry records read (bit per register) */
    uint32_t planned;       /* 1 once planned (blocks entered before a switch to plans are not) */
    uint32_t reserved;
} te_block;

/* One cache (or a flash read buffer: one line); mirrored by CACHE_DTYPE in memory_model.py. */
typedef struct {
    uint32_t *tags;        /* [sets * ways]: line number + 1 (0 = empty), each set most recent first */
    uint32_t line_shift;   /* log2(line bytes) */
    uint32_t set_mask;     /* sets - 1 (sets a power of two) */
    uint32_t ways;
    uint32_t miss_cycles;  /* stall per line brought in */
    uint64_t accesses;     /* line look-ups */
    uint64_t misses;
} te_cache;

struct te_memory;

/* One modelled address range (a memory or an alias of one); mirrored in memory_model.py. */
typedef struct {
    uint64_t start;       /* [start, end) */
    uint64_t end;
    uint64_t physical;    /* what `start` is in the physical memory, so aliases share lines */
    int32_t fetch_cache;  /* cache on the instruction path, -1 = fetches cost nothing extra */
    int32_t data_cache;   /* cache on the data path, -1 = reads cost nothing extra */
    uint64_t reads;       /* data reads that touched the range */
    struct te_memory *memory;
} te_region;

typedef struct te_memory {
    uint64_t stall;       /* memory stall cycles so far */
    uint64_t last_fetch;  /* stall cycles the last block entry cost (its fetches, its reads charged at entry) */
    uint64_t repeat_mark; /* the fetch cache's `accesses` just after repeat_block's fetch */
    uint64_t repeat_lines;     /* cache lines repeat_block spans */
    const void *repeat_block;  /* the last block entered if its lines lie in distinct sets, else NULL */
    te_cache *caches;
    te_region *regions;
    uint32_t n_caches;
    uint32_t n_regions;
} te_memory;

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
    te_memory *memory;    /* NULL: no memory model */
    struct te_plans *plans;  /* NULL: data reads trapped, or no memory model */
} te_counter;

/* The look-up of a line that is not its set's most recent one (a miss, or a hit further down the
 * set): te_cache_access less the first compare and the access count the caller made. */
static uint32_t te_cache_refill(te_cache *k, uint32_t *set, uint32_t tag)
{
    uint32_t way;
    uint32_t cycles = 0;
    if (k->ways == 1u) {  /* a read buffer, or a direct-mapped set: the one line is replaced */
        set[0] = tag;
        k->misses += 1;
        return k->miss_cycles;
    }
    for (way = 1; way < k->ways; way++) {
        if (set[way] == tag) {
            break;
        }
    }
    if (way == k->ways) {
        way = k->ways - 1u;  /* not held: the least recently used way makes room */
        k->misses += 1;
        cycles = k->miss_cycles;
    }
    for (; way > 0; way--) {
        set[way] = set[way - 1u];
    }
    set[0] = tag;
    return cycles;
}

/* Look line `line` up in cache k; on a miss bring it in (evicting the least recently used way)
 * and return the miss cycles. */
static uint32_t te_cache_access(te_cache *k, uint32_t line)
{
    uint32_t *set = k->tags + (size_t)(line & k->set_mask) * k->ways;
    k->accesses += 1;
    if (set[0] == line + 1u) {
        return 0;
    }
    return te_cache_refill(k, set, line + 1u);
}

/* The stall of reading [address, address + size) in region r through cache k. */
static uint64_t te_lines(te_memory *m, const te_region *r, int32_t k, uint64_t address, uint64_t size)
{
    te_cache *cache = &m->caches[k];
    uint64_t physical = address - r->start + r->physical;
    uint32_t first = (uint32_t)(physical >> cache->line_shift);
    uint32_t last = (uint32_t)((physical + (size ? size : 1u) - 1u) >> cache->line_shift);
    uint64_t stall = 0;
    for (uint32_t line = first; line <= last; line++) {
        stall += te_cache_access(cache, line);
    }
    return stall;
}

static int32_t te_region_of(const te_memory *m, uint64_t address)
{
    for (uint32_t i = 0; i < m->n_regions; i++) {
        if (m->regions[i].start <= address && address < m->regions[i].end) {
            return (int32_t)i;
        }
    }
    return -1;
}

/* A range of flash that holds data only (no code), mapped as Unicorn MMIO so that its reads, and
 * only its reads, come here; RAM reads and fetches keep Unicorn's fast path. Mirrored by
 * _SpanStruct in memory_model.py. */
typedef struct {
    const uint8_t *bytes;  /* the range's contents (trapped reads only) */
    uint64_t start;        /* its address */
    uint64_t length;       /* bytes */
    te_region *region;     /* the modelled region holding it */
    te_emu_stop_fn emu_stop;
    uint64_t write_fault;  /* address + 1 of a store into the range (flash is read-only), 0 = none */
    te_cache *cache;       /* the region's data cache, NULL: its reads cost nothing extra */
    te_memory *memory;     /* the model the stall is added to */
    uint64_t physical;     /* `start` in the physical memory (aliases share cache lines) */
} te_span;

/* A guest memory mapped from host memory (uc_mem_map_ptr): loaded values are read from it. */
typedef struct {
    uint64_t start, end;
    const uint8_t *bytes;
} te_host;

/* Planned data reads (the file comment): the planner, every block's loads, the data-only flash
 * ranges they are charged against. Mirrored by _PlansStruct in block_counter.py. */
typedef struct te_plans {
    te_planner planner;
    te_load *loads;           /* [capacity]: each planned block's loads, contiguous */
    uint32_t capacity;
    uint32_t n_loads;
    uint64_t *pending;        /* [pending_capacity]: hooked loads' addresses that need a code hook */
    uint32_t pending_capacity;
    uint32_t n_pending;
    te_reg_read_fn reg_read;
    te_reg_write_fn reg_write;
    int32_t reg_ids[32];      /* Unicorn's id of each register of the ISA */
    int32_t xpsr_id;          /* Thumb: xPSR (flags for conditional loads, IT state at block entry) */
    uint32_t page_bytes;      /* Unicorn's page size: a translated block never crosses a page */
    uint32_t failure;         /* te_plan_block's result when the run stopped with TE_PLAN_FAILED */
    te_span **spans;          /* the data-only ranges, as in the trapped way */
    uint32_t n_spans;
    uint32_t n_host;
    uint64_t lo, hi;          /* the ranges' extent, a quick first test */
    const te_host *host;      /* [n_host]: the guest's memories and where their bytes are */
    te_span *last_span;       /* the range the last charged read was in */
    uint32_t tail_block;      /* the block whose entry loads from tail_next on are not charged yet */
    uint32_t tail_next;       /* (load_plan.h: they wait for a hooked load before them) */
    uint32_t has_tail;
    uint32_t reads_data;      /* one of tail_block's entry loads reads a data range */
    uint32_t active;          /* 0: reads are still trapped (TE_SWITCH_TO_PLANS decides when to plan) */
    uint32_t switch_per_1000; /* plan once the run so far trapped more reads per 1000 instructions */
    uint64_t window;          /* instructions between two looks at the trapped reads' density */
    uint64_t window_end;      /* c->total at the next look */
    uint32_t addresses[TE_MAX_RECORDS];  /* the addresses of tail_block's entry records */
    uint64_t fetch;           /* the stall tail_block's fetch cost at its entry (its reads not included) */
    uint64_t marks[TE_MAX_RECORDS];  /* memory stall just before each of tail_block's records before
                                      * tail_next was charged (te_counter_stall_before) */
} te_plans;

static inline void te_span_read(te_span *span, uint64_t offset, unsigned size);

/* Charge a data read of [address, address + size) if it lies in a data-only range. */
static void te_plans_read(te_plans *p, uint64_t address, unsigned size)
{
    te_span *span = p->last_span;  /* reads come in runs through one array */
    if (address < p->lo || address >= p->hi) {
        return;
    }
    if (span == NULL || address - span->start >= span->length) {
        span = NULL;
        for (uint32_t i = 0; i < p->n_spans; i++) {
            if (address - p->spans[i]->start < p->spans[i]->length) {
                span = p->spans[i];
                break;
            }
        }
        if (span == NULL) {
            return;
        }
        p->last_span = span;
    }
    te_span_read(span, address - span->start, size);
}

/* One aligned access of `size` bytes at `address`. Unicorn's MMIO regions take at most 4 bytes a
 * call, so QEMU's memory core hands a trapped page an 8-byte access (VLDR.64, FLD) as two 4-byte
 * reads, the lower first: charged the same. */
static void te_plans_access(te_plans *p, uint32_t address, uint32_t size)
{
    if (TE_UNLIKELY(size > 4u)) {
        for (uint32_t at = 0; at < size; at += 4u) {
            te_plans_read(p, address + at, 4u);
        }
    } else {
        te_plans_read(p, address, size);
    }
}

/* The reads of `count` accesses of `size` bytes from `address`, `size` apart. An unaligned access
 * is two aligned ones of its size, as Unicorn reads a trapped page (QEMU's load helper splits an
 * unaligned access to I/O into the two aligned accesses around it). */
static void te_plans_reads(te_plans *p, uint32_t address, const te_load *l)
{
    for (uint32_t i = 0; i < l->count; i++) {
        uint32_t at = (uint32_t)(address + i * l->size);
        uint32_t misaligned = at & (l->size - 1u);
        if (TE_UNLIKELY(misaligned != 0)) {
            te_plans_access(p, at - misaligned, l->size);
            te_plans_access(p, (uint32_t)(at - misaligned + l->size), l->size);
        } else {
            te_plans_access(p, at, l->size);
        }
    }
}

/* Unicorn MMIO read callback: the bytes, little-endian, after running the read through the
 * region's data path. It runs for every data read of weights in flash, so it is kept short: a read
 * within one line that is its set's most recent is counted with one compare, anything else takes
 * te_cache_refill (a miss) or te_lines (a read across lines). Same look-ups, in the same order, as
 * te_lines on every read. */
static inline void te_span_read(te_span *span, uint64_t offset, unsigned size)
{
    te_cache *k = span->cache;
    span->region->reads += 1;
    if (k != NULL) {
        uint64_t physical = span->physical + offset;
        uint32_t first = (uint32_t)(physical >> k->line_shift);
        uint32_t last = (uint32_t)((physical + (size ? size : 1u) - 1u) >> k->line_shift);
        if (TE_UNLIKELY(first != last)) {
            span->memory->stall += te_lines(span->memory, span->region, span->region->data_cache,
                                            span->start + offset, size);
        } else {
            uint32_t *set = k->tags + (size_t)(first & k->set_mask) * k->ways;
            k->accesses += 1;
            if (set[0] != first + 1u) {
                span->memory->stall += te_cache_refill(k, set, first + 1u);
            }
        }
    }
}

uint64_t te_memory_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user_data)
{
    te_span *span = (te_span *)user_data;
    const uint8_t *p = span->bytes + offset;
    uint64_t value = 0;
    (void)uc;
    if (size == 4u) {
        value = (uint64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    } else {
        for (unsigned i = size; i > 0; i--) {
            value = (value << 8) | p[i - 1u];
        }
    }
    te_span_read(span, offset, size);
    return value;
}

/* Unicorn MMIO write callback: a store into flash stops the run, as the read-only mapping would. */
void te_memory_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user_data)
{
    te_span *span = (te_span *)user_data;
    (void)size;
    (void)value;
    if (span->write_fault == 0) {
        span->write_fault = span->start + offset + 1u;
    }
    span->emu_stop(uc);
}

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

/* Plan block b's loads (load_plan.h); non-zero when the run must stop before the block runs:
 * TE_NEEDS_HOOKS (its hooked loads' addresses are in plans->pending) or TE_PLAN_FAILED. */
TE_COLD static int te_plan(te_counter *c, uc_engine *uc, te_block *b, int conservative)
{
    te_plans *p = c->plans;
    te_plan_summary summary = {0, 0, 0};
    uint32_t itstate = 0;
    int result;
    /* A block starts inside an IT block only where Unicorn split the IT block at a page boundary;
     * elsewhere the IT bits Unicorn leaves in xPSR after a conditional load are stale. */
    if (c->isa == TE_ISA_THUMB && (b->address & (p->page_bytes - 1u)) == 0) {
        uint32_t xpsr = 0;
        if (p->reg_read(uc, p->xpsr_id, &xpsr) != UC_ERR_OK) {
            result = TE_PLAN_UNREADABLE;
            goto failed;
        }
        itstate = ((xpsr >> 25) & 3u) | ((xpsr >> 8) & 0xfcu);  /* IT[1:0] in bits 26:25, IT[7:2] in 15:10 */
    }
    {
        uint32_t room = p->capacity - p->n_loads;
        result = te_plan_block(&p->planner, uc, b->address, b->size, itstate, conservative, p->loads + p->n_loads,
                               room < TE_MAX_RECORDS ? room : TE_MAX_RECORDS, &summary);
    }
    if (result != TE_PLAN_OK) {
        goto failed;
    }
    b->planned = 1;
    b->first_load = p->n_loads;
    b->records = (uint16_t)summary.n_records;
    b->hooked_loads = (uint16_t)summary.n_hooked;
    b->needs = summary.needs;
    p->n_loads += summary.n_records;
    if (summary.n_hooked == 0) {
        return 0;
    }
    if (p->n_pending + summary.n_hooked > p->pending_capacity) {
        result = TE_PLAN_FULL;
        goto failed;
    }
    for (uint32_t i = 0; i < summary.n_records; i++) {
        if (p->loads[b->first_load + i].kind == TE_RECORD_HOOKED
            || p->loads[b->first_load + i].kind == TE_RECORD_CLEAR_IT) {
            p->pending[p->n_pending++] = p->loads[b->first_load + i].pc;
        }
    }
    te_stop(c, uc, b->address, TE_NEEDS_HOOKS);
    return 1;
failed:
    p->failure = (uint32_t)result;
    te_stop(c, uc, b->address, TE_PLAN_FAILED);
    return 1;
}

/* The value a load of `size` bytes at `address` reads, from the host memory behind the guest's;
 * *found 0 where there is none (a peripheral's MMIO register, or nothing mapped). */
static uint32_t te_loaded_value(const te_plans *p, uint32_t address, uint32_t size, int sign, int *found)
{
    for (uint32_t i = 0; i < p->n_host; i++) {
        const te_host *h = &p->host[i];
        if (h->start <= address && (uint64_t)address + size <= h->end) {
            const uint8_t *q = h->bytes + (address - h->start);
            uint32_t value = q[0];
            if (size >= 2) {
                value |= (uint32_t)q[1] << 8;
            }
            if (size == 4) {
                value |= (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
            }
            if (sign && size < 4) {
                uint32_t m = 1u << (8 * size - 1);
                value = (value ^ m) - m;
            }
            *found = 1;
            return value;
        }
    }
    *found = 0;
    return 0;
}

/* The addresses of block b's entry records, from the registers it is entered with and the
 * values its earlier entry loads read (where a formula names them), into plans->addresses; 0, or
 * the conservative level to plan the block again with: TE_PLAN_NO_ALIAS if a kept value's bytes
 * overlap an earlier store record of the block (the plan assumed they would not),
 * TE_PLAN_NO_LOADED if no host memory holds them (the load reads a peripheral's register, whose
 * value only the load itself sees). */
static int te_entry_addresses(te_counter *c, uc_engine *uc, const te_block *b)
{
    te_plans *p = c->plans;
    uint32_t *addresses = p->addresses;
    uint32_t r[TE_LOADED + TE_MAX_LOADED + 1];
    uint32_t needs = b->needs;
    const te_load *records = p->loads + b->first_load;
    while (needs) {
        int i = __builtin_ctz(needs);
        uint64_t value = 0;
        p->reg_read(uc, p->reg_ids[i], &value);
        r[i] = (uint32_t)value;
        needs &= needs - 1u;
    }
    uint32_t stores[TE_MAX_STORES];
    uint32_t n_stores = 0;
    int reads_data = 0;
    int found = 1;
    for (uint32_t i = 0; i < b->records; i++) {
        const te_load *l = &records[i];
        uint32_t address = l->offset;
        if (l->kind == TE_RECORD_HOOKED || l->kind == TE_RECORD_CLEAR_IT) {
            continue;
        }
        for (int t = 0; t < TE_TERMS && l->term[t] >= 0; t++) {
            address += r[l->term[t]] << l->shift[t];
        }
        addresses[i] = address;
        if (l->kind == TE_RECORD_STORE) {
            stores[n_stores++] = i;
            continue;
        }
        /* Most loads read RAM: one compare against the data ranges' extent settles them. */
        reads_data |= (uint64_t)address + (uint64_t)l->count * l->size > p->lo && address < p->hi;
        if (l->keep) {
            for (uint32_t k = 0; k < n_stores; k++) {
                const te_load *store = &records[stores[k]];
                if ((uint32_t)(address - addresses[stores[k]]) < (uint32_t)store->size * store->count
                    || (uint32_t)(addresses[stores[k]] - address) < l->keep) {
                    return TE_PLAN_NO_ALIAS;
                }
            }
            r[TE_LOADED + i] = te_loaded_value(p, address, l->keep, l->sign, &found);
            if (!found) {
                return TE_PLAN_NO_LOADED;
            }
        }
    }
    p->reads_data = (uint32_t)reads_data;
    return 0;
}

/* Pass the tail block's hooked load at tail_next without charging it (it did not run). */
static void te_pass_hooked(te_counter *c, const te_block *b)
{
    te_plans *p = c->plans;
    p->marks[p->tail_next] = c->memory->stall;
    p->tail_next++;
    p->has_tail = p->tail_next < b->records;
}

/* Charge the entry loads of the tail block from tail_next up to its next hooked load (or its
 * end), and move tail_next there. */
static void te_charge_until_hooked(te_counter *c, const te_block *b)
{
    te_plans *p = c->plans;
    const te_load *records = p->loads + b->first_load;
    uint32_t i = p->tail_next;
    if (!p->reads_data && b->hooked_loads == 0) {
        p->has_tail = 0;  /* the common case: none of the block's entry loads reads a data range */
        return;           /* (tail_next stays 0: no read of the block is charged) */
    }
    for (; i < b->records && records[i].kind != TE_RECORD_HOOKED; i++) {
        uint32_t address = p->addresses[i];
        const te_load *l = &records[i];
        p->marks[i] = c->memory->stall;
        if (p->reads_data && l->kind == TE_RECORD_LOAD
            && (uint64_t)address + (uint64_t)l->count * l->size > p->lo && address < p->hi) {
            te_plans_reads(p, address, l);
        }
    }
    p->tail_next = i;
    p->has_tail = i < b->records;
}

/* Charge what the block entered last left: its entry loads after a hooked load that did not run
 * (a condition failed) or before the block's end. Called on the next entry and before the
 * counter is read. */
void te_counter_settle(te_counter *c)
{
    te_plans *p = c->plans;
    if (p != NULL && p->has_tail) {
        const te_block *b = &c->blocks[p->tail_block];
        const te_load *records = p->loads + b->first_load;
        while (p->has_tail) {
            if (records[p->tail_next].kind == TE_RECORD_HOOKED) {
                te_pass_hooked(c, b);  /* it did not run */
            } else {
                te_charge_until_hooked(c, b);
            }
        }
    }
}

/* The memory stall as of the instruction at `pc` of the block entered last, less that block's
 * fetch: what a code hook on `pc` sees of the run (a sample's or a layer's edge). Trapped, each
 * read of the block before pc has been charged and none at or after it. Planned, the entry loads
 * after a hooked load that did not run are charged here if they lie before pc (they ran), and
 * what the block's reads at or after pc cost is left out (charged at entry or with a hooked load
 * before pc, they have not run yet): the block's first instruction (te_inference_begin/end) sees
 * none of its reads, a call at its end (a layer's call site) all of them. */
uint64_t te_counter_stall_before(te_counter *c, uint64_t pc)
{
    te_memory *m = c->memory;
    te_plans *p = c->plans;
    const te_block *b;
    const te_load *records;
    uint32_t j = 0;
    if (m == NULL) {
        return 0;
    }
    if (p == NULL || !p->active || c->n_blocks == 0 || p->tail_block != c->last_block
        || c->blocks[c->last_block].records == 0) {
        return m->stall - m->last_fetch;  /* no read of the block charged ahead: last_fetch is its fetch */
    }
    b = &c->blocks[c->last_block];
    records = p->loads + b->first_load;
    while (p->has_tail && records[p->tail_next].pc < pc) {
        if (records[p->tail_next].kind == TE_RECORD_HOOKED) {
            te_pass_hooked(c, b);  /* before pc, and its hook did not fire: it did not run */
        } else {
            te_charge_until_hooked(c, b);
        }
    }
    while (j < p->tail_next && records[j].pc < pc) {
        j++;
    }
    return m->stall - p->fetch - (j < p->tail_next ? m->stall - p->marks[j] : 0u);
}

/* Unicorn UC_HOOK_CODE callback on a hooked load, which runs: charge the entry loads before it not
 * charged yet, its own reads from the registers as they are now, and the entry loads after it up
 * to the next hooked load. The same instruction may be an entry load of the executing block: then
 * there is nothing to do. */
void te_counter_load_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user_data)
{
    te_counter *c = (te_counter *)user_data;
    te_plans *p = c->plans;
    const te_block *b = &c->blocks[c->last_block];
    const te_load *records = p->loads + b->first_load;
    (void)size;
    for (uint32_t i = 0; i < b->records; i++) {
        if (records[i].kind == TE_RECORD_CLEAR_IT && records[i].pc == address) {
            /* past the IT block: the IT bits Unicorn left in xPSR are stale */
            uint64_t xpsr = 0;
            p->reg_read(uc, p->xpsr_id, &xpsr);
            if (xpsr & TE_XPSR_IT_BITS) {
                xpsr &= ~(uint64_t)TE_XPSR_IT_BITS;
                p->reg_write(uc, p->xpsr_id, &xpsr);
            }
            break;
        }
    }
    if (!p->has_tail || p->tail_block != c->last_block) {
        return;
    }
    for (uint32_t i = p->tail_next; i < b->records; i++) {
        const te_load *l = &records[i];
        if (l->kind == TE_RECORD_HOOKED && l->pc == address) {
            uint32_t at = l->offset;
            uint64_t value;
            int holds = 1;
            /* what runs before it: the entry loads up to it, past hooked loads that did not run */
            while (p->tail_next < i) {
                if (records[p->tail_next].kind == TE_RECORD_HOOKED) {
                    te_pass_hooked(c, b);
                } else {
                    te_charge_until_hooked(c, b);
                }
            }
            if (l->cond != TE_COND_ALWAYS) {
                uint64_t xpsr = 0;
                p->reg_read(uc, p->xpsr_id, &xpsr);
                holds = te_condition_holds(l->cond, (uint32_t)xpsr);
            }
            p->marks[i] = c->memory->stall;
            if (holds) {
                for (int t = 0; t < 2; t++) {  /* base, index << shift */
                    if (l->term[t] >= 0) {
                        value = 0;
                        p->reg_read(uc, p->reg_ids[l->term[t]], &value);
                        at += (uint32_t)value << l->shift[t];
                    }
                }
                te_plans_reads(p, at, l);
            }
            p->tail_next = i + 1;
            te_charge_until_hooked(c, b);
            return;
        }
    }
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
            b->region = c->memory != NULL ? te_region_of(c->memory, address) : -1;
            b->first_load = 0;
            b->records = 0;
            b->hooked_loads = 0;
            b->planned = 0;
            b->needs = 0;
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
    uint64_t stall_before = 0;
    if (c->plans != NULL && !c->plans->active && TE_UNLIKELY(c->total >= c->plans->window_end)) {
        te_plans *p = c->plans;
        uint64_t reads = 0;
        for (uint32_t i = 0; i < c->memory->n_regions; i++) {
            reads += c->memory->regions[i].reads;
        }
        p->window_end = c->total + p->window;
        if (reads * 1000u > c->total * p->switch_per_1000) {
            te_stop(c, uc, address, TE_SWITCH_TO_PLANS);  /* before the block runs: not counted */
            return;
        }
    }
    if (c->plans != NULL && c->plans->active) {
        if (TE_UNLIKELY(!b->planned)) {
            if (te_plan(c, uc, b, 0) != 0) {
                return;  /* stopped before the block runs: not counted */
            }
        }
        te_counter_settle(c);  /* the previous block ran to its end */
        if (b->records != 0) {
            int level = te_entry_addresses(c, uc, b);
            if (TE_UNLIKELY(level != 0)) {
                /* A store of this block hits a value the plan reads from memory at entry, or no
                 * memory holds that value: plan the block again without that assumption, before
                 * it runs (this entry is not counted); without loaded values it cannot fail. */
                if (te_plan(c, uc, b, level) != 0) {
                    return;  /* stopped: hooks to add first, or failed */
                }
                level = te_entry_addresses(c, uc, b);
                if (level != 0 && (te_plan(c, uc, b, TE_PLAN_NO_LOADED) != 0 || te_entry_addresses(c, uc, b) != 0)) {
                    if (c->status == TE_RUNNING) {
                        c->plans->failure = TE_PLAN_UNKNOWN_ACCESS;
                        te_stop(c, uc, address, TE_PLAN_FAILED);
                    }
                    return;
                }
            }
        }
    }
    if (c->memory != NULL) {
        stall_before = c->memory->stall;
    }
    b->count += 1;
    b->taken += taken;
    c->next_pc = address + size;
    c->last_block = (uint32_t)(b - c->blocks);
    c->last_taken = taken;
    c->total += b->insns;
    if (b->region >= 0) {
        te_memory *m = c->memory;
        const te_region *r = &m->regions[b->region];
        m->last_fetch = 0;
        if (r->fetch_cache < 0) {
            m->repeat_block = NULL;
        } else if (b == m->repeat_block && m->caches[r->fetch_cache].accesses == m->repeat_mark) {
            /* The block entered again with no look-up in its fetch cache since its own fetch: each
             * of its lines is still the most recently used of its set (they lie in distinct sets),
             * so each is a hit that changes nothing. Counted, not searched. Data reads through
             * another cache (nrf52840's read buffer) leave this path open. */
            te_cache *k = &m->caches[r->fetch_cache];
            k->accesses += m->repeat_lines;
            m->repeat_mark = k->accesses;
        } else {
            const te_cache *k = &m->caches[r->fetch_cache];
            uint64_t physical = address - r->start + r->physical;
            uint64_t lines = ((physical + (size ? size : 1u) - 1u) >> k->line_shift) - (physical >> k->line_shift) + 1u;
            m->last_fetch = te_lines(m, r, r->fetch_cache, address, size);
            m->stall += m->last_fetch;
            m->repeat_mark = k->accesses;
            m->repeat_lines = lines;
            m->repeat_block = lines <= (uint64_t)k->set_mask + 1u ? b : NULL;
        }
    } else if (c->memory != NULL) {
        c->memory->last_fetch = 0;
    }
    if (TE_UNLIKELY(c->total > c->budget)) {
        te_stop(c, uc, address, TE_BUDGET_EXCEEDED);
    } else if (b->records != 0) {
        te_plans *p = c->plans;
        p->tail_block = c->last_block;
        p->tail_next = 0;
        p->fetch = c->memory->stall - stall_before;
        te_charge_until_hooked(c, b);
        c->memory->last_fetch = c->memory->stall - stall_before;
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

size_t te_memory_struct_size(void)
{
    return sizeof(te_memory);
}

size_t te_memory_cache_size(void)
{
    return sizeof(te_cache);
}

size_t te_memory_region_size(void)
{
    return sizeof(te_region);
}

size_t te_memory_span_size(void)
{
    return sizeof(te_span);
}

size_t te_plans_struct_size(void)
{
    return sizeof(te_plans);
}

size_t te_plans_load_size(void)
{
    return sizeof(te_load);
}
