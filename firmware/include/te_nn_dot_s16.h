/*
 * tinyedge: the dot products of the 16x8 fast kernels (int16 activations, int8 weights).
 *
 * Activations need no widening: one 32-bit load holds a pair (x0, x1), which SMLAD multiplies
 * with a pair of weights. Weights stay int8 in flash and are widened in pairs by SXTB16, so a
 * row of K weights is stored in "quad order": K / 4 groups of four bytes [w0, w2, w1, w3]
 * (SXTB16 gives the pair (w0, w1), SXTB16 ROR 8 the pair (w2, w3), lined up with the activation
 * pairs (x0, x1) and (x2, x3)), then the K % 4 last weights as they are. te_nn_quad_order in
 * tinyedge/ops/_mac_16x8.py writes it.
 *
 * Exact for any K and any channel: sums run in 32 bits over chunks of TE_S16_CHUNK_GROUPS groups
 * (at most 256 products, each |x * w| <= 2^22, so below 2^30) and are added up in 64 bits. The
 * plain C path (no DSP extension) computes the same integers.
 */
#ifndef TE_NN_DOT_S16_H
#define TE_NN_DOT_S16_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define TE_S16_DSP 1
#else
#define TE_S16_DSP 0
#endif

#define TE_S16_CHUNK_GROUPS 64

/* 32-bit loads at any address (Cortex-M3 and up do unaligned LDR in one instruction). */
static inline uint32_t te_s16_read_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#if TE_S16_DSP
static inline uint32_t te_s16_widen_lo(uint32_t w) { return (uint32_t)__sxtb16(w); }

static inline uint32_t te_s16_widen_hi(uint32_t w)
{
    uint32_t r; /* ACLE has no rotating form; GCC would spend a separate ROR on it */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

static inline int32_t te_s16_smlad(uint32_t x, uint32_t w, int32_t acc) { return __smlad(x, w, acc); }
static inline int32_t te_s16_smlabb(uint32_t x, uint32_t w, int32_t acc) { return __smlabb(x, w, acc); }
static inline int32_t te_s16_smlatt(uint32_t x, uint32_t w, int32_t acc) { return __smlatt(x, w, acc); }
#else
static inline uint32_t te_s16_pair(int32_t lo, int32_t hi) { return (uint16_t)lo | ((uint32_t)(uint16_t)hi << 16); }
static inline uint32_t te_s16_widen_lo(uint32_t w) { return te_s16_pair((int8_t)w, (int8_t)(w >> 16)); }
static inline uint32_t te_s16_widen_hi(uint32_t w) { return te_s16_pair((int8_t)(w >> 8), (int8_t)(w >> 24)); }
static inline int32_t te_s16_smlabb(uint32_t x, uint32_t w, int32_t acc) { return acc + (int16_t)x * (int16_t)w; }

static inline int32_t te_s16_smlatt(uint32_t x, uint32_t w, int32_t acc)
{
    return acc + (int16_t)(x >> 16) * (int16_t)(w >> 16);
}

static inline int32_t te_s16_smlad(uint32_t x, uint32_t w, int32_t acc)
{
    return te_s16_smlatt(x, w, te_s16_smlabb(x, w, acc));
}
#endif

/*
 * acc[2 * r + p] = row r . column p: two channels of two output pixels, for k <= 4 * TE_S16_CHUNK_GROUPS
 * (one chunk: 32-bit sums). w: the two rows' block (per group, row 0's word then row 1's; then row 0's
 * and row 1's last k % 4 weights); x0, x1: the two columns, k int16 values each.
 */
static inline void te_nn_dot_s16_2x2_short(const int8_t *w, const int16_t *x0, const int16_t *x1, int32_t k,
                                           int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    for (int32_t g = k >> 2; g > 0; --g) {
        const uint32_t u = te_s16_read_u32(w), v = te_s16_read_u32(w + 4);
        const uint32_t u_lo = te_s16_widen_lo(u), u_hi = te_s16_widen_hi(u);
        const uint32_t v_lo = te_s16_widen_lo(v), v_hi = te_s16_widen_hi(v);
        uint32_t x = te_s16_read_u32(x0);
        a00 = te_s16_smlad(x, u_lo, a00);
        a10 = te_s16_smlad(x, v_lo, a10);
        x = te_s16_read_u32(x0 + 2);
        a00 = te_s16_smlad(x, u_hi, a00);
        a10 = te_s16_smlad(x, v_hi, a10);
        x = te_s16_read_u32(x1);
        a01 = te_s16_smlad(x, u_lo, a01);
        a11 = te_s16_smlad(x, v_lo, a11);
        x = te_s16_read_u32(x1 + 2);
        a01 = te_s16_smlad(x, u_hi, a01);
        a11 = te_s16_smlad(x, v_hi, a11);
        w += 8;
        x0 += 4;
        x1 += 4;
    }
    const int32_t tail = k & 3;
    for (int32_t i = 0; i < tail; ++i) {
        a00 += (int32_t)w[i] * x0[i];
        a01 += (int32_t)w[i] * x1[i];
        a10 += (int32_t)w[tail + i] * x0[i];
        a11 += (int32_t)w[tail + i] * x1[i];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* te_nn_dot_s16_2x2_short for any k: acc[] += the sums, chunk by chunk (the block holds 2 * k bytes). */
static inline void te_nn_dot_s16_2x2(const int8_t *w, const int16_t *x0, const int16_t *x1, int32_t k,
                                     int64_t acc[4])
{
    const int32_t chunk = 4 * TE_S16_CHUNK_GROUPS;
    int32_t a[4];
    for (; k > chunk; k -= chunk) { /* whole chunks: groups only, the tail comes last */
        te_nn_dot_s16_2x2_short(w, x0, x1, chunk, a);
        for (int32_t i = 0; i < 4; ++i) {
            acc[i] += a[i];
        }
        w += 2 * chunk;
        x0 += chunk;
        x1 += chunk;
    }
    te_nn_dot_s16_2x2_short(w, x0, x1, k, a);
    for (int32_t i = 0; i < 4; ++i) {
        acc[i] += a[i];
    }
}

/*
 * acc[r] += row r . x: four channels of one input vector. w: the four rows' block (per group, the
 * rows' words in order; then each row's last k % 4 weights); x: k int16 values.
 */
static inline void te_nn_dot_s16_4x1(const int8_t *w, const int16_t *x, int32_t k, int64_t acc[4])
{
    int32_t groups = k >> 2;
    while (groups > 0) {
        const int32_t chunk = groups < TE_S16_CHUNK_GROUPS ? groups : TE_S16_CHUNK_GROUPS;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int32_t g = 0; g < chunk; ++g) {
            const uint32_t x_lo = te_s16_read_u32(x), x_hi = te_s16_read_u32(x + 2);
            uint32_t u = te_s16_read_u32(w);
            a0 = te_s16_smlad(x_lo, te_s16_widen_lo(u), a0);
            a0 = te_s16_smlad(x_hi, te_s16_widen_hi(u), a0);
            u = te_s16_read_u32(w + 4);
            a1 = te_s16_smlad(x_lo, te_s16_widen_lo(u), a1);
            a1 = te_s16_smlad(x_hi, te_s16_widen_hi(u), a1);
            u = te_s16_read_u32(w + 8);
            a2 = te_s16_smlad(x_lo, te_s16_widen_lo(u), a2);
            a2 = te_s16_smlad(x_hi, te_s16_widen_hi(u), a2);
            u = te_s16_read_u32(w + 12);
            a3 = te_s16_smlad(x_lo, te_s16_widen_lo(u), a3);
            a3 = te_s16_smlad(x_hi, te_s16_widen_hi(u), a3);
            w += 16;
            x += 4;
        }
        acc[0] += a0;
        acc[1] += a1;
        acc[2] += a2;
        acc[3] += a3;
        groups -= chunk;
    }
    const int32_t tail = k & 3;
    for (int32_t i = 0; i < tail; ++i) {
        for (int32_t r = 0; r < 4; ++r) {
            acc[r] += (int32_t)w[r * tail + i] * x[i];
        }
    }
}

#endif /* TE_NN_DOT_S16_H */
