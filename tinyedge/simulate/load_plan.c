/*
 * tinyedge load plans (load_plan.h says what and why): Thumb instructions decoded by capstone,
 * RV32IMC ones by the small decoder below, both into one description the walk reads.
 */
#include "load_plan.h"

#include <string.h>

#include <capstone/capstone.h>

enum te_isa_kind { TE_ISA_THUMB_KIND = 0, TE_ISA_RV32_KIND = 1 };

enum te_insn_kind {
    TE_I_OTHER = 0,          /* writes `writes`, reads no memory */
    TE_I_LOAD = 1,
    TE_I_ADD = 2,            /* rd = rn + imm */
    TE_I_CONST = 3,          /* rd = imm */
    TE_I_IT = 4,             /* Thumb IT: imm = firstcond << 4 | mask */
    TE_I_ADD_REG = 6,        /* rd = rn + (rm << shift) */
    TE_I_STORE = 7,          /* writes memory as a load reads it; rd: the register a 4-byte one stores */
    TE_I_WILD_STORE = 8,     /* writes memory somewhere the walk cannot tell */
    TE_I_UNKNOWN_ACCESS = 5  /* reads memory in a way not described here */
};

/* One instruction as the walk needs it. */
typedef struct {
    uint32_t length;
    int kind;
    uint32_t writes;   /* registers written, other than the write-back of a load's base */
    int rd, rn, rm;
    uint32_t imm;
    /* loads: reads at base + index << shift + disp (pre-indexed) or at base (post_index) */
    int base, index;
    uint32_t shift, disp;
    int post_index;
    int writeback;
    uint32_t delta;    /* base += delta after the load, when writeback */
    uint32_t size, count;
    int sign;          /* the load sign-extends (LDRSB, LDRSH, LB, LH) */
    int stores;        /* the instruction writes memory */
    int pc_unaligned;  /* a pc base reads as the instruction's address + 4 (TBB, TBH), not word-aligned */
} te_insn;

/* A register's value as far as the walk knows it: off + the sum of X(term[i]) << shift[i], where
 * X(t) is a register at entry or a value an entry load loaded (load_plan.h's terms). */
typedef struct {
    int known;
    int n;
    int term[TE_TERMS];
    uint32_t shift[TE_TERMS];
    uint32_t off;
} te_value;

static const te_value te_unknown = {0, 0, {-1, -1, -1, -1}, {0, 0, 0, 0}, 0};

typedef bool (*te_cs_disasm_iter_fn)(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
                                      cs_insn *insn);
typedef cs_insn *(*te_cs_malloc_fn)(csh handle);
typedef void (*te_cs_free_fn)(cs_insn *insn, size_t count);
typedef cs_err (*te_cs_regs_access_fn)(csh handle, const cs_insn *insn, cs_regs regs_read,
                                        uint8_t *regs_read_count, cs_regs regs_write, uint8_t *regs_write_count);

int te_condition_holds(uint32_t cond, uint32_t xpsr)
{
    uint32_t n = (xpsr >> 31) & 1u, z = (xpsr >> 30) & 1u, c = (xpsr >> 29) & 1u, v = (xpsr >> 28) & 1u;
    int holds;
    switch (cond >> 1) {
    case 0: holds = z != 0; break;                 /* EQ / NE */
    case 1: holds = c != 0; break;                 /* CS / CC */
    case 2: holds = n != 0; break;                 /* MI / PL */
    case 3: holds = v != 0; break;                 /* VS / VC */
    case 4: holds = c != 0 && z == 0; break;       /* HI / LS */
    case 5: holds = n == v; break;                 /* GE / LT */
    case 6: holds = z == 0 && n == v; break;       /* GT / LE */
    default: return 1;                             /* AL */
    }
    return (cond & 1u) ? !holds : holds;
}

/* ------------------------------------------------------------------------------------------ */
/* Thumb, through capstone */

static int te_arm_reg(int r)
{
    if (r >= ARM_REG_R0 && r <= ARM_REG_R12) {
        return r - ARM_REG_R0;
    }
    if (r == ARM_REG_SP) {
        return 13;
    }
    if (r == ARM_REG_LR) {
        return 14;
    }
    if (r == ARM_REG_PC) {
        return 15;
    }
    return -1;
}

static uint32_t te_signed_imm(const cs_arm_op *op)
{
    return op->subtracted ? (uint32_t)-op->imm : (uint32_t)op->imm;
}

/* Bytes of one register of a VLDR/VLDM/VPOP list: 4 for S registers, 8 for D registers. */
static uint32_t te_fp_size(int reg)
{
    return (reg >= ARM_REG_D0 && reg <= ARM_REG_D31) ? 8u : 4u;
}

static int te_arm_stores(unsigned id)
{
    return (id >= ARM_INS_STC && id <= ARM_INS_STRT) || id == ARM_INS_PUSH || id == ARM_INS_VPUSH
           || id == ARM_INS_VSTMDB || id == ARM_INS_VSTMIA || id == ARM_INS_VSTR;
}

static int te_single_load_size(unsigned id)
{
    switch (id) {
    case ARM_INS_LDR: case ARM_INS_LDRT: case ARM_INS_LDREX: case ARM_INS_LDA: case ARM_INS_LDAEX:
        return 4;
    case ARM_INS_LDRB: case ARM_INS_LDRBT: case ARM_INS_LDRSB: case ARM_INS_LDRSBT: case ARM_INS_LDREXB:
    case ARM_INS_LDAB: case ARM_INS_LDAEXB:
        return 1;
    case ARM_INS_LDRH: case ARM_INS_LDRHT: case ARM_INS_LDRSH: case ARM_INS_LDRSHT: case ARM_INS_LDREXH:
    case ARM_INS_LDAH: case ARM_INS_LDAEXH:
        return 2;
    default:
        return 0;
    }
}

/* Fill the load fields from a MEM operand and an optional post-index operand after it. */
static int te_arm_memory_operand(const cs_arm *arm, int at, te_insn *d)
{
    const cs_arm_op *mem = &arm->operands[at];
    if (mem->type != ARM_OP_MEM || mem->subtracted) {
        return -1;
    }
    d->base = te_arm_reg(mem->mem.base);
    d->index = mem->mem.index == ARM_REG_INVALID ? -1 : te_arm_reg(mem->mem.index);
    if (d->base < 0 || (mem->mem.index != ARM_REG_INVALID && d->index < 0) || mem->mem.scale != 1) {
        return -1;
    }
    d->shift = mem->shift.type == ARM_SFT_LSL ? mem->shift.value : (uint32_t)mem->mem.lshift;
    if (mem->shift.type != ARM_SFT_INVALID && mem->shift.type != ARM_SFT_LSL) {
        return -1;
    }
    d->disp = (uint32_t)mem->mem.disp;
    d->writeback = arm->writeback;
    d->post_index = arm->writeback && arm->post_index;
    if (d->post_index) {
        if (at + 1 >= arm->op_count || arm->operands[at + 1].type != ARM_OP_IMM) {
            return -1;  /* a register post-index (ARM state only) */
        }
        d->delta = te_signed_imm(&arm->operands[at + 1]);
        d->disp = 0;
    } else {
        d->delta = d->disp;
    }
    return 0;
}

static int te_arm_decode(const te_planner *p, const cs_insn *insn, te_insn *d)
{
    const cs_arm *arm = &insn->detail->arm;
    int size = te_single_load_size(insn->id);
    d->length = insn->size;
    d->stores = te_arm_stores(insn->id);
    if (size) {
        d->kind = TE_I_LOAD;
        d->size = (uint32_t)size;
        d->count = 1;
        d->sign = insn->id == ARM_INS_LDRSB || insn->id == ARM_INS_LDRSBT || insn->id == ARM_INS_LDRSH
                  || insn->id == ARM_INS_LDRSHT;
        if (arm->operands[0].type != ARM_OP_REG || te_arm_reg(arm->operands[0].reg) < 0) {
            return -1;
        }
        d->writes = 1u << te_arm_reg(arm->operands[0].reg);
        return te_arm_memory_operand(arm, 1, d);
    }
    switch (insn->id) {
    case ARM_INS_LDRD: case ARM_INS_LDREXD: case ARM_INS_LDAEXD:
        d->kind = TE_I_LOAD;
        d->size = 4;
        d->count = 2;
        if (te_arm_reg(arm->operands[0].reg) < 0 || te_arm_reg(arm->operands[1].reg) < 0) {
            return -1;
        }
        d->writes = 1u << te_arm_reg(arm->operands[0].reg) | 1u << te_arm_reg(arm->operands[1].reg);
        return te_arm_memory_operand(arm, 2, d);
    case ARM_INS_LDM: case ARM_INS_LDMDB: case ARM_INS_POP: case ARM_INS_VLDMIA: case ARM_INS_VLDMDB:
    case ARM_INS_VPOP: {
        int pop = insn->id == ARM_INS_POP || insn->id == ARM_INS_VPOP;
        int first = pop ? 0 : 1;
        int down = insn->id == ARM_INS_LDMDB || insn->id == ARM_INS_VLDMDB;
        int fp = insn->id == ARM_INS_VLDMIA || insn->id == ARM_INS_VLDMDB || insn->id == ARM_INS_VPOP;
        uint32_t bytes;
        d->kind = TE_I_LOAD;
        d->base = pop ? 13 : te_arm_reg(arm->operands[0].reg);
        d->index = -1;
        d->count = (uint32_t)(arm->op_count - first);
        d->size = fp ? te_fp_size(arm->operands[first].reg) : 4u;
        d->writes = 0;
        for (int i = first; i < arm->op_count; i++) {
            int r = te_arm_reg(arm->operands[i].reg);
            if (r >= 0) {
                d->writes |= 1u << r;
            }
        }
        bytes = d->count * d->size;
        d->disp = down ? (uint32_t)-bytes : 0u;
        d->writeback = pop || arm->writeback;
        d->delta = down ? (uint32_t)-bytes : bytes;
        return d->base < 0 || d->count == 0 ? -1 : 0;
    }
    case ARM_INS_VLDR:
        d->kind = TE_I_LOAD;
        d->size = te_fp_size(arm->operands[0].reg);
        d->count = 1;
        return te_arm_memory_operand(arm, 1, d);
    case ARM_INS_TBB: case ARM_INS_TBH:
        d->kind = TE_I_LOAD;
        d->size = insn->id == ARM_INS_TBB ? 1u : 2u;
        d->count = 1;
        d->pc_unaligned = 1;
        return te_arm_memory_operand(arm, 0, d);
    case ARM_INS_LDMDA: case ARM_INS_LDMIB: case ARM_INS_LDC: case ARM_INS_LDC2: case ARM_INS_LDC2L:
    case ARM_INS_LDCL:
        return -1;
    case ARM_INS_STM: case ARM_INS_STMDB: case ARM_INS_PUSH: case ARM_INS_VSTMIA: case ARM_INS_VSTMDB:
    case ARM_INS_VPUSH: {
        int push = insn->id == ARM_INS_PUSH || insn->id == ARM_INS_VPUSH;
        int first = push ? 0 : 1;
        int down = push || insn->id == ARM_INS_STMDB || insn->id == ARM_INS_VSTMDB;
        int fp = insn->id == ARM_INS_VSTMIA || insn->id == ARM_INS_VSTMDB || insn->id == ARM_INS_VPUSH;
        uint32_t bytes;
        d->kind = TE_I_STORE;
        d->rd = -1;
        d->base = push ? 13 : te_arm_reg(arm->operands[0].reg);
        d->index = -1;
        d->count = (uint32_t)(arm->op_count - first);
        d->size = fp ? te_fp_size(arm->operands[first].reg) : 4u;
        bytes = d->count * d->size;
        d->disp = down ? (uint32_t)-bytes : 0u;
        d->writeback = push || arm->writeback;
        d->delta = down ? (uint32_t)-bytes : bytes;
        if (d->base < 0 || d->count == 0) {
            d->kind = TE_I_WILD_STORE;
        }
        return 0;
    }
    case ARM_INS_STR: case ARM_INS_STRB: case ARM_INS_STRH: case ARM_INS_STRT: case ARM_INS_STRBT:
    case ARM_INS_STRHT: case ARM_INS_STL: case ARM_INS_STLB: case ARM_INS_STLH: case ARM_INS_VSTR: {
        int single_byte = insn->id == ARM_INS_STRB || insn->id == ARM_INS_STRBT || insn->id == ARM_INS_STLB;
        int half = insn->id == ARM_INS_STRH || insn->id == ARM_INS_STRHT || insn->id == ARM_INS_STLH;
        d->kind = TE_I_STORE;
        d->size = insn->id == ARM_INS_VSTR ? te_fp_size(arm->operands[0].reg) : single_byte ? 1u : half ? 2u : 4u;
        d->count = 1;
        d->rd = insn->id == ARM_INS_VSTR ? -1 : te_arm_reg(arm->operands[0].reg);
        if (te_arm_memory_operand(arm, 1, d) != 0) {
            d->kind = TE_I_WILD_STORE;
        }
        return 0;
    }
    case ARM_INS_STRD:
        d->kind = TE_I_STORE;
        d->size = 4;
        d->count = 2;
        d->rd = -1;
        if (te_arm_memory_operand(arm, 2, d) != 0) {
            d->kind = TE_I_WILD_STORE;
        }
        return 0;
    case ARM_INS_IT:
        d->kind = TE_I_IT;
        d->imm = (uint32_t)(insn->bytes[0] & 0xffu);  /* firstcond:mask, the IT state it starts */
        return 0;
    case ARM_INS_ADR:
        if (arm->op_count == 2 && arm->operands[1].type == ARM_OP_IMM) {
            d->kind = TE_I_CONST;
            d->rd = te_arm_reg(arm->operands[0].reg);
            d->imm = (uint32_t)((insn->address + 4u) & ~3ull) + te_signed_imm(&arm->operands[1]);
            return 0;
        }
        break;
    case ARM_INS_ADD: case ARM_INS_ADDW: case ARM_INS_SUB: case ARM_INS_SUBW: {
        int sub = insn->id == ARM_INS_SUB || insn->id == ARM_INS_SUBW;
        const cs_arm_op *ops = arm->operands;
        int three = arm->op_count == 3 && ops[1].type == ARM_OP_REG && ops[1].shift.type == ARM_SFT_INVALID;
        const cs_arm_op *imm = &ops[arm->op_count - 1];
        if (ops[0].type == ARM_OP_REG && imm->type == ARM_OP_IMM && (three || arm->op_count == 2)) {
            uint32_t value = te_signed_imm(imm);
            d->rd = te_arm_reg(ops[0].reg);
            d->rn = te_arm_reg(three ? ops[1].reg : ops[0].reg);
            d->imm = sub ? (uint32_t)-value : value;
            if (d->rn == 15) {  /* ADD rd, pc, #imm: ADR's other spelling */
                d->kind = TE_I_CONST;
                d->imm += (uint32_t)((insn->address + 4u) & ~3ull);
            } else {
                d->kind = TE_I_ADD;
            }
            if (d->rd >= 0 && d->rn >= 0) {
                return 0;
            }
        }
        if (!sub && ops[0].type == ARM_OP_REG && arm->op_count >= 2 && arm->op_count <= 3
            && arm->operands[arm->op_count - 1].type == ARM_OP_REG && (!three || arm->op_count == 3)) {
            const cs_arm_op *m = &arm->operands[arm->op_count - 1];  /* add rd, rm / add rd, rn, rm {lsl #s} */
            if (m->shift.type == ARM_SFT_INVALID || m->shift.type == ARM_SFT_LSL) {
                d->kind = TE_I_ADD_REG;
                d->rd = te_arm_reg(ops[0].reg);
                d->rn = te_arm_reg(arm->op_count == 3 ? ops[1].reg : ops[0].reg);
                d->rm = te_arm_reg(m->reg);
                d->shift = m->shift.type == ARM_SFT_LSL ? m->shift.value : 0u;
                if (d->rd >= 0 && d->rn >= 0 && d->rm >= 0 && d->rn != 15 && d->rm != 15) {
                    return 0;
                }
            }
        }
        break;
    }
    case ARM_INS_MOV: case ARM_INS_MOVS: case ARM_INS_MOVW: {
        const cs_arm_op *ops = arm->operands;
        if (arm->op_count == 2 && ops[0].type == ARM_OP_REG && te_arm_reg(ops[0].reg) >= 0) {
            d->rd = te_arm_reg(ops[0].reg);
            if (ops[1].type == ARM_OP_IMM) {
                d->kind = TE_I_CONST;
                d->imm = te_signed_imm(&ops[1]);
                return 0;
            }
            if (ops[1].type == ARM_OP_REG && ops[1].shift.type == ARM_SFT_INVALID && te_arm_reg(ops[1].reg) >= 0
                && te_arm_reg(ops[1].reg) != 15) {
                d->kind = TE_I_ADD;
                d->rn = te_arm_reg(ops[1].reg);
                d->imm = 0;
                return 0;
            }
        }
        break;
    }
    default:
        break;
    }
    /* Anything else: reads no memory unless it has a memory operand (a store, or a hint). */
    for (int i = 0; i < arm->op_count; i++) {
        if (arm->operands[i].type == ARM_OP_MEM) {
            switch (insn->id) {
            case ARM_INS_STR: case ARM_INS_STRB: case ARM_INS_STRBT: case ARM_INS_STRD: case ARM_INS_STREX:
            case ARM_INS_STREXB: case ARM_INS_STREXD: case ARM_INS_STREXH: case ARM_INS_STRH: case ARM_INS_STRHT:
            case ARM_INS_STRT: case ARM_INS_STL: case ARM_INS_STLB: case ARM_INS_STLH: case ARM_INS_STLEX:
            case ARM_INS_STLEXB: case ARM_INS_STLEXH: case ARM_INS_STLEXD: case ARM_INS_VSTR: case ARM_INS_PLD:
            case ARM_INS_PLDW: case ARM_INS_PLI:
                break;
            default:
                return -1;
            }
        }
    }
    {
        cs_regs read, written;
        uint8_t n_read = 0, n_written = 0;
        d->kind = d->stores ? TE_I_WILD_STORE : TE_I_OTHER;  /* STREX and the like */
        d->writes = 0;
        if (((te_cs_regs_access_fn)p->cs_regs_access)(p->capstone, insn, read, &n_read, written, &n_written)
            != CS_ERR_OK) {
            d->writes = 0xffffffffu;  /* not known: assume every register changed */
            return 0;
        }
        for (unsigned i = 0; i < n_written; i++) {
            int r = te_arm_reg(written[i]);
            if (r >= 0) {
                d->writes |= 1u << r;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* RV32IMC (the ESP32-C3's ISA; F and D loads too, for cores that have them) */

static uint32_t te_bits(uint32_t x, unsigned hi, unsigned lo)
{
    return (x >> lo) & ((1u << (hi - lo + 1u)) - 1u);
}

static uint32_t te_sign_extend(uint32_t x, unsigned bits)
{
    uint32_t m = 1u << (bits - 1u);
    return (x ^ m) - m;
}

static void te_rv_load(te_insn *d, int rd, int base, uint32_t disp, uint32_t size, int fp)
{
    d->kind = TE_I_LOAD;
    d->base = base;
    d->index = -1;
    d->disp = disp;
    d->size = size;
    d->count = 1;
    d->writes = (fp || rd == 0) ? 0u : 1u << rd;
}

static void te_rv_writes(te_insn *d, int rd)
{
    d->kind = TE_I_OTHER;
    d->writes = rd == 0 ? 0u : 1u << rd;
}

static void te_rv_add(te_insn *d, int rd, int rn, uint32_t imm)
{
    d->kind = TE_I_ADD;
    d->rd = rd;
    d->rn = rn;
    d->imm = imm;
}

static void te_rv_const(te_insn *d, int rd, uint32_t imm)
{
    d->kind = TE_I_CONST;
    d->rd = rd;
    d->imm = imm;
}

static int te_rv32_decode_full(uint32_t i, uint64_t pc, te_insn *d)
{
    uint32_t opcode = i & 0x7fu;
    int rd = (int)te_bits(i, 11, 7), rs1 = (int)te_bits(i, 19, 15);
    uint32_t funct3 = te_bits(i, 14, 12);
    uint32_t imm_i = te_sign_extend(i >> 20, 12);
    d->length = 4;
    switch (opcode) {
    case 0x03:  /* LB LH LW LBU LHU */
        if (funct3 == 3 || funct3 >= 6) {
            return -1;
        }
        te_rv_load(d, rd, rs1, imm_i, 1u << (funct3 & 3u), 0);
        d->sign = funct3 < 4;
        return 0;
    case 0x07:  /* FLW FLD */
        if (funct3 != 2 && funct3 != 3) {
            return -1;
        }
        te_rv_load(d, rd, rs1, imm_i, funct3 == 2 ? 4u : 8u, 1);
        return 0;
    case 0x2f:  /* A extension: LR and the AMOs read memory at rs1 (and the AMOs write it) */
        te_rv_load(d, rd, rs1, 0, 4, 0);
        d->stores = 1;  /* the walk forgets what it knows of memory after it */
        return 0;
    case 0x13:
        if (funct3 == 0) {
            te_rv_add(d, rd, rs1, imm_i);  /* ADDI (MV, NOP, LI from x0) */
        } else {
            te_rv_writes(d, rd);
        }
        return 0;
    case 0x37:
        te_rv_const(d, rd, i & 0xfffff000u);  /* LUI */
        return 0;
    case 0x17:
        te_rv_const(d, rd, (uint32_t)pc + (i & 0xfffff000u));  /* AUIPC */
        return 0;
    case 0x33:
        if (funct3 == 0 && (i >> 25) == 0) {  /* ADD */
            d->kind = TE_I_ADD_REG;
            d->rd = rd;
            d->rn = rs1;
            d->rm = (int)te_bits(i, 24, 20);
            d->shift = 0;
        } else {
            te_rv_writes(d, rd);
        }
        return 0;
    case 0x23: case 0x27: {  /* SB SH SW, FSW FSD */
        uint32_t imm_s = te_sign_extend(te_bits(i, 31, 25) << 5 | te_bits(i, 11, 7), 12);
        d->kind = TE_I_STORE;
        d->stores = 1;
        d->base = rs1;
        d->index = -1;
        d->disp = imm_s;
        d->count = 1;
        d->size = opcode == 0x23 ? 1u << (funct3 & 3u) : (funct3 == 2 ? 4u : 8u);
        d->rd = (opcode == 0x23 && funct3 == 2) ? (int)te_bits(i, 24, 20) : -1;
        if ((opcode == 0x23 && funct3 > 2) || (opcode == 0x27 && funct3 != 2 && funct3 != 3)) {
            return -1;
        }
        return 0;
    }
    case 0x63: case 0x0f:  /* branches, fences: no register written */
        d->kind = TE_I_OTHER;
        d->writes = 0;
        return 0;
    default:
        te_rv_writes(d, rd);
        return 0;
    }
}

static int te_rv32_decode_compressed(uint32_t i, te_insn *d)
{
    uint32_t quadrant = i & 3u, funct3 = te_bits(i, 15, 13);
    int rd = (int)te_bits(i, 11, 7), rs2 = (int)te_bits(i, 6, 2);
    int rdp = 8 + (int)te_bits(i, 4, 2), rs1p = 8 + (int)te_bits(i, 9, 7);
    d->length = 2;
    d->kind = TE_I_OTHER;
    d->writes = 0;
    if (quadrant == 0) {
        uint32_t lw_offset = te_bits(i, 12, 10) << 3 | te_bits(i, 6, 6) << 2 | te_bits(i, 5, 5) << 6;
        uint32_t ld_offset = te_bits(i, 12, 10) << 3 | te_bits(i, 6, 5) << 6;
        switch (funct3) {
        case 0:  /* C.ADDI4SPN */
            te_rv_add(d, rdp, 2, te_bits(i, 12, 11) << 4 | te_bits(i, 10, 7) << 6 | te_bits(i, 6, 6) << 2
                                  | te_bits(i, 5, 5) << 3);
            return 0;
        case 1: te_rv_load(d, rdp, rs1p, ld_offset, 8, 1); return 0;  /* C.FLD */
        case 2: te_rv_load(d, rdp, rs1p, lw_offset, 4, 0); return 0;  /* C.LW */
        case 3: te_rv_load(d, rdp, rs1p, lw_offset, 4, 1); return 0;  /* C.FLW */
        case 5: case 6: case 7:                                       /* C.FSD C.SW C.FSW */
            d->kind = TE_I_STORE;
            d->stores = 1;
            d->base = rs1p;
            d->index = -1;
            d->disp = funct3 == 5 ? ld_offset : lw_offset;
            d->count = 1;
            d->size = funct3 == 5 ? 8u : 4u;
            d->rd = funct3 == 6 ? rdp : -1;  /* rs2' sits where rd' does */
            return 0;
        default: return -1;
        }
    }
    if (quadrant == 1) {
        uint32_t imm6 = te_sign_extend(te_bits(i, 12, 12) << 5 | te_bits(i, 6, 2), 6);
        switch (funct3) {
        case 0: te_rv_add(d, rd, rd, imm6); return 0;       /* C.ADDI, C.NOP */
        case 1: te_rv_writes(d, 1); return 0;               /* C.JAL */
        case 2: te_rv_const(d, rd, imm6); return 0;         /* C.LI */
        case 3:
            if (rd == 2) {                                  /* C.ADDI16SP */
                te_rv_add(d, 2, 2, te_sign_extend(te_bits(i, 12, 12) << 9 | te_bits(i, 6, 6) << 4
                                                  | te_bits(i, 5, 5) << 6 | te_bits(i, 4, 3) << 7
                                                  | te_bits(i, 2, 2) << 5, 10));
            } else {                                        /* C.LUI */
                te_rv_const(d, rd, imm6 << 12);
            }
            return 0;
        case 4: te_rv_writes(d, rs1p); return 0;            /* C.SRLI C.SRAI C.ANDI C.SUB ... on rd' */
        default: return 0;                                  /* C.J C.BEQZ C.BNEZ */
        }
    }
    if (quadrant == 2) {
        switch (funct3) {
        case 0: te_rv_writes(d, rd); return 0;              /* C.SLLI */
        case 1:                                             /* C.FLDSP */
            te_rv_load(d, rd, 2, te_bits(i, 12, 12) << 5 | te_bits(i, 6, 5) << 3 | te_bits(i, 4, 2) << 6, 8, 1);
            return 0;
        case 2: case 3:                                     /* C.LWSP, C.FLWSP */
            te_rv_load(d, rd, 2, te_bits(i, 12, 12) << 5 | te_bits(i, 6, 4) << 2 | te_bits(i, 3, 2) << 6, 4,
                       funct3 == 3);
            return 0;
        case 4:
            if (te_bits(i, 12, 12) == 0) {
                if (rs2 != 0) {
                    te_rv_add(d, rd, rs2, 0);               /* C.MV */
                }                                           /* else C.JR: no register written */
            } else if (rs2 != 0) {
                d->kind = TE_I_ADD_REG;                     /* C.ADD */
                d->rd = rd;
                d->rn = rd;
                d->rm = rs2;
                d->shift = 0;
            } else if (rd != 0) {
                te_rv_writes(d, 1);                         /* C.JALR */
            }                                               /* else C.EBREAK */
            return 0;
        default:                                            /* C.FSDSP C.SWSP C.FSWSP */
            d->kind = TE_I_STORE;
            d->stores = 1;
            d->base = 2;
            d->index = -1;
            d->count = 1;
            if (funct3 == 5) {
                d->size = 8;
                d->disp = te_bits(i, 12, 10) << 3 | te_bits(i, 9, 7) << 6;
            } else {
                d->size = 4;
                d->disp = te_bits(i, 12, 9) << 2 | te_bits(i, 8, 7) << 6;
            }
            d->rd = funct3 == 6 ? rs2 : -1;
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* The walk */

/* v + (w << shift), if that still has at most TE_TERMS terms. */
static te_value te_sum(te_value v, te_value w, uint32_t shift)
{
    te_value r = v;
    if (!v.known || !w.known || v.n + w.n > TE_TERMS) {
        return te_unknown;
    }
    r.off = v.off + (w.off << shift);
    for (int i = 0; i < w.n; i++) {
        if (w.shift[i] + shift > 31) {
            return te_unknown;
        }
        r.term[r.n] = w.term[i];
        r.shift[r.n] = w.shift[i] + shift;
        r.n++;
    }
    return r;
}

static int te_same_terms(te_value v, te_value w)
{
    if (v.n != w.n) {
        return 0;
    }
    for (int i = 0; i < v.n; i++) {
        if (v.term[i] != w.term[i] || v.shift[i] != w.shift[i]) {
            return 0;
        }
    }
    return 1;
}

static te_value te_constant(uint32_t value)
{
    te_value v = te_unknown;
    v.known = 1;
    v.off = value;
    return v;
}

static te_value te_register(int r)
{
    te_value v = te_constant(0);
    v.n = 1;
    v.term[0] = r;
    return v;
}

/* Write value v as record l's formula; marks the loads whose values it names as kept and returns
 * the registers it reads at entry. */
static uint32_t te_formula(te_load *l, te_value v, te_load *block_loads)
{
    uint32_t needs = 0;
    for (int i = 0; i < TE_TERMS; i++) {
        int t = i < v.n ? v.term[i] : -1;
        l->term[i] = (int8_t)t;
        l->shift[i] = (uint8_t)(i < v.n ? v.shift[i] : 0u);
        if (t >= TE_LOADED && block_loads[t - TE_LOADED].keep == 0) {
            block_loads[t - TE_LOADED].keep = (uint8_t)block_loads[t - TE_LOADED].size;
        } else if (t >= 0 && t < TE_LOADED) {
            needs |= 1u << t;
        }
    }
    l->offset = v.off;
    return needs;
}

static int te_in_constant_ranges(const te_planner *p, uint64_t address, uint32_t size)
{
    for (uint32_t i = 0; i < p->n_constant_ranges; i++) {
        if (p->constant_ranges[2 * i] <= address && address + size <= p->constant_ranges[2 * i + 1]) {
            return 1;
        }
    }
    return 0;
}

int te_plan_block(const te_planner *p, uc_engine *uc, uint64_t address, uint32_t size, uint32_t itstate,
                  int conservative, te_load *loads, uint32_t capacity, te_plan_summary *out)
{
    uint8_t code[4096];
    te_value v[32];
    int thumb = p->isa == TE_ISA_THUMB_KIND;
    int n_regs = thumb ? 16 : 32;
    uint32_t n = 0, n_hooked = 0, needs = 0;
    /* The block's stores so far whose address is known (a store record in `loads` each) and
     * whether one was not (wild): a value loaded after a store is read from memory at entry only
     * if no store before it can have changed it (conservative), or if none did (the entry checks
     * it against the store records). */
    struct {
        te_value address;
        uint32_t bytes;
        te_value value;  /* a 4-byte store's register, else unknown */
    } stores[TE_MAX_STORES];
    uint32_t n_stores = 0;
    int wild = 0;
    uint32_t it = itstate & 0xffu;
    int it_memory = 0;  /* the IT block under way has a conditional memory access */
    cs_insn *insn = NULL;
    int result = TE_PLAN_OK;

    if (size > sizeof code || p->mem_read(uc, address, code, size) != UC_ERR_OK) {
        return TE_PLAN_UNREADABLE;
    }
    for (int r = 0; r < 32; r++) {
        v[r] = r < n_regs ? te_register(r) : te_unknown;
    }
    if (!thumb) {
        v[0] = te_constant(0);
    }
    if (thumb) {
        insn = ((te_cs_malloc_fn)p->cs_malloc)(p->capstone);
        if (insn == NULL) {
            return TE_PLAN_UNREADABLE;
        }
    }
    for (uint32_t at = 0; at < size;) {
        te_insn d;
        uint64_t pc = address + at;
        uint32_t cond = TE_COND_ALWAYS;
        memset(&d, 0, sizeof d);
        d.index = -1;
        if (thumb) {
            const uint8_t *cursor = code + at;
            size_t left = size - at;
            uint64_t cursor_pc = pc;
            if (!((te_cs_disasm_iter_fn)p->cs_disasm_iter)(p->capstone, &cursor, &left, &cursor_pc, insn)) {
                result = TE_PLAN_UNREADABLE;
                break;
            }
            if (te_arm_decode(p, insn, &d) != 0) {
                result = TE_PLAN_UNKNOWN_ACCESS;
                break;
            }
            if ((it & 0xfu) != 0) {  /* inside an IT block: this instruction's condition, then advance */
                cond = it >> 4;
                it = (it & 7u) == 0 ? 0u : (it & 0xe0u) | ((it << 1) & 0x1fu);
            }
        } else {
            uint32_t word = (uint32_t)code[at] | (uint32_t)code[at + 1] << 8;
            int ok;
            if ((word & 3u) == 3u) {
                if (at + 4 > size) {
                    result = TE_PLAN_UNREADABLE;
                    break;
                }
                word |= (uint32_t)code[at + 2] << 16 | (uint32_t)code[at + 3] << 24;
                ok = te_rv32_decode_full(word, pc, &d);
            } else {
                ok = te_rv32_decode_compressed(word, &d);
            }
            if (ok != 0) {
                result = TE_PLAN_UNKNOWN_ACCESS;
                break;
            }
        }
        at += d.length;
        if (thumb && cond != TE_COND_ALWAYS && (d.kind == TE_I_LOAD || d.kind == TE_I_STORE || d.stores)) {
            it_memory = 1;  /* QEMU writes the IT state to xPSR before a conditional memory access */
        }
        if (thumb && it_memory && (it & 0xfu) == 0 && at < size) {
            /* The IT block ended before the block does: Unicorn leaves its IT bits in xPSR, and a
             * block looked up from here on (after Unicorn dropped its translations: a switch to
             * plans, new hooks) would be taken for one inside an IT block. Hook the next
             * instruction to clear them. */
            te_load *l;
            if (n == capacity) {
                result = TE_PLAN_FULL;
                break;
            }
            l = &loads[n++];
            memset(l, 0, sizeof *l);
            l->pc = address + at;
            l->kind = TE_RECORD_CLEAR_IT;
            l->term[0] = l->term[1] = l->term[2] = l->term[3] = -1;
            n_hooked++;
            it_memory = 0;
        }

        if (d.kind == TE_I_IT) {
            it = d.imm;
            it_memory = 0;
        } else if (d.kind == TE_I_LOAD) {
            te_load *l;
            int pc_base = thumb && d.base == 15;
            uint32_t pc_value = (uint32_t)(d.pc_unaligned ? pc + 4u : (pc + 4u) & ~3ull);
            te_value base = pc_base ? te_constant(pc_value) : v[d.base];
            te_value address_value = te_sum(base, d.index < 0 ? te_constant(0) : v[d.index], d.shift);
            uint32_t disp = d.post_index ? 0u : d.disp;
            if (n == capacity) {
                result = TE_PLAN_FULL;
                break;
            }
            l = &loads[n++];
            memset(l, 0, sizeof *l);
            l->pc = pc;
            l->size = (uint16_t)d.size;
            l->count = (uint16_t)d.count;
            l->cond = (uint8_t)cond;
            int entry = cond == TE_COND_ALWAYS && address_value.known;
            if (entry) {
                te_value at = address_value;
                at.off += disp;
                needs |= te_formula(l, at, loads);
                l->sign = (uint8_t)d.sign;
            } else {
                /* from the registers as the load runs: base + index << shift + disp */
                l->kind = TE_RECORD_HOOKED;
                n_hooked++;
                l->term[0] = (int8_t)(pc_base ? -1 : d.base);
                l->term[1] = (int8_t)d.index;
                l->term[2] = l->term[3] = -1;
                l->shift[1] = (uint8_t)d.shift;
                l->offset = (pc_base ? pc_value : 0u) + disp;
            }
            if (d.writeback) {
                if (cond == TE_COND_ALWAYS && v[d.base].known) {
                    v[d.base].off += d.delta;
                } else {
                    v[d.base] = te_unknown;
                }
            }
            for (int r = 0; r < n_regs; r++) {
                if (d.writes & (1u << r)) {
                    v[r] = te_unknown;
                }
            }
            /* The value a single entry load brings into one register: the value a store of this
             * block put there, or memory's at entry (read then if a later load's address needs it,
             * and checked then against the block's earlier stores). */
            if (entry && d.count == 1 && d.size <= 4 && d.writes != 0 && (d.writes & (d.writes - 1u)) == 0
                && !(thumb && d.writes == 1u << 15)) {
                int rt = __builtin_ctz(d.writes);
                te_value loaded = te_unknown;
                int from_memory = !wild && conservative < TE_PLAN_NO_LOADED;
                int crossed = 0;  /* passed a store that may alias, which only the entry check rules out */
                te_value at = address_value;
                at.off += disp;
                for (uint32_t k = n_stores; k-- > 0 && from_memory;) {
                    uint32_t distance = at.off - stores[k].address.off;  /* modulo 2^32 */
                    if (!te_same_terms(stores[k].address, at)) {
                        crossed = 1;
                        from_memory = conservative == TE_PLAN_CHECKED;
                        continue;
                    }
                    if (distance >= stores[k].bytes && (uint32_t)(stores[k].address.off - at.off) >= d.size) {
                        continue;  /* same terms, bytes apart */
                    }
                    from_memory = 0;
                    if (!crossed && distance == 0 && stores[k].bytes == 4 && d.size == 4) {
                        loaded = stores[k].value;  /* what the store put there */
                    }
                }
                if (from_memory && n - 1 <= TE_MAX_LOADED) {
                    loaded = te_register(TE_LOADED + (int)(n - 1));
                }
                v[rt] = loaded;
            }
            /* A word loaded from a literal in flash (read-only) is a constant: it is often the
             * address of an array the following loads read. */
            if (pc_base && cond == TE_COND_ALWAYS && d.index < 0 && d.size == 4 && d.count == 1) {
                uint64_t literal = (uint64_t)(pc_value + disp);
                uint8_t word[4];
                if (d.writes != 0 && (d.writes & (d.writes - 1u)) == 0 && d.writes != 1u << 15
                    && te_in_constant_ranges(p, literal, 4) && p->mem_read(uc, literal, word, 4) == UC_ERR_OK) {
                    v[__builtin_ctz(d.writes)] = te_constant((uint32_t)word[0] | (uint32_t)word[1] << 8
                                                             | (uint32_t)word[2] << 16 | (uint32_t)word[3] << 24);
                }
            }
        } else if (d.kind == TE_I_ADD) {
            if (cond == TE_COND_ALWAYS && v[d.rn].known) {
                v[d.rd] = v[d.rn];
                v[d.rd].off += d.imm;
            } else {
                v[d.rd] = te_unknown;
            }
        } else if (d.kind == TE_I_ADD_REG) {
            v[d.rd] = cond == TE_COND_ALWAYS ? te_sum(v[d.rn], v[d.rm], d.shift) : te_unknown;
        } else if (d.kind == TE_I_CONST) {
            v[d.rd] = cond == TE_COND_ALWAYS ? te_constant(d.imm) : te_unknown;
        } else {
            for (int r = 0; r < n_regs; r++) {
                if (d.writes & (1u << r)) {
                    v[r] = te_unknown;
                }
            }
        }
        if (d.kind == TE_I_STORE) {
            te_value base = v[d.base];
            te_value at = te_sum(base, d.index < 0 ? te_constant(0) : v[d.index], d.shift);
            at.off += d.post_index ? 0u : d.disp;
            if (cond == TE_COND_ALWAYS && at.known && n_stores < TE_MAX_STORES && n < capacity) {
                te_load *l = &loads[n++];
                memset(l, 0, sizeof *l);
                l->pc = pc;
                l->kind = TE_RECORD_STORE;
                needs |= te_formula(l, at, loads);
                l->size = (uint16_t)d.size;
                l->count = (uint16_t)d.count;
                l->cond = TE_COND_ALWAYS;
                stores[n_stores].address = at;
                stores[n_stores].bytes = d.size * d.count;
                stores[n_stores].value = (d.size == 4 && d.count == 1 && d.rd >= 0) ? v[d.rd] : te_unknown;
                n_stores++;
            } else {
                wild = 1;
            }
            if (d.writeback) {
                if (cond == TE_COND_ALWAYS && base.known) {
                    v[d.base].off += d.delta;
                } else {
                    v[d.base] = te_unknown;
                }
            }
        } else if (d.kind == TE_I_WILD_STORE || d.stores) {
            wild = 1;
            if (d.kind == TE_I_WILD_STORE) {
                for (int r = 0; r < n_regs; r++) {
                    if (d.writes & (1u << r)) {
                        v[r] = te_unknown;
                    }
                }
            }
        }
        if (!thumb) {
            v[0] = te_constant(0);  /* x0 reads as zero whatever was written to it */
        }
    }
    if (insn != NULL) {
        ((te_cs_free_fn)p->cs_free)(insn, 1);
    }
    out->n_records = n;
    out->n_hooked = n_hooked;
    out->needs = needs;
    return result;
}
