/* Products of a weight matrix with a few activation rows (generation: 1 to
 * HERD_GEMV_MAX_TOKENS tokens), reading each weight row from memory once
 * for all of them: F32, F16, Q8_0 and Q4_0 weights.
 *
 * Q8_0 and Q4_0 activations are quantized as herd_quantize_activation
 * does (llama.cpp's Q8_0, bit for bit) but laid out for the kernels
 * (herd_gemv_prepare): per group of blocks the quants, the per-block sums
 * that take the weights' offset (+128 for Q8_0, whose quants enter
 * vpdpbusd as unsigned bytes, -8 of Q4_0's nibbles) out again, and the
 * scales spread over the lanes that need them. F32 and F16 take the
 * activations as float.
 *
 * Q8_0 and Q4_0 sum each row's blocks one after another, acc =
 * fma(float(the block's integer sum), weight scale * activation scale, acc):
 * the order of llama.cpp's kernels for such weights on AVX-512 VNNI / AMX
 * machines (its AMX buffer's single-token path, for matrices whose rows
 * and columns are multiples of 32), so that herd's products are its floats
 * (kernels/order.h says why that matters).
 *
 * Each kernel has a scalar twin (gemv_scalar.c) over the same layout; for
 * Q8_0 and Q4_0 the SIMD kernels give the twin's floats bit for bit. */
#ifndef HERD_QUANT_GEMV_H
#define HERD_QUANT_GEMV_H
#include "quant/quant.h"
#include <stddef.h>
#include <stdint.h>

#define HERD_GEMV_MAX_TOKENS 8

/* Blocks per group of the activation layout: Q4_0 4, Q8_0 2. */
#define HERD_GEMV_Q4_0_GROUP 4
#define HERD_GEMV_Q8_0_GROUP 2

/* One group of Q4_0 activation blocks (128 values; a row's last group may
 * hold fewer, the rest zero). */
typedef struct {
    int8_t lo[64];      /* elements 0..15 of each of the 4 blocks */
    int8_t hi[64];      /* elements 16..31 of each */
    int32_t corr[16];   /* lane 4k: -8 * (sum of block k's quants), others 0 */
    float d[16];        /* lanes 4k..4k+3: block k's scale */
} herd_gemv_q4_0_act;

/* One group of Q8_0 activation blocks (64 values). */
typedef struct {
    int8_t qs[64];      /* the two blocks' quants */
    int32_t corr[16];   /* lane 8k: -128 * (sum of block k's quants), others 0 */
    float d[16];        /* lanes 8k..8k+7: block k's scale */
} herd_gemv_q8_0_act;

/* Computes y[t * ystride + r] = w_r . x_t for rows [0, rows), tokens
 * [0, n) (n <= HERD_GEMV_MAX_TOKENS); w: row-major, wrow bytes a row; xa:
 * n prepared activations, xstride bytes apart. */
typedef void (*herd_gemv_kernel)(float *y, int64_t ystride, const void *w, size_t wrow,
                                 const void *xa, size_t xstride, int64_t rows, int64_t cols,
                                 int n);

/* Bytes of one prepared activation row of cols values for wtype weights; 0
 * if herd_gemv does not take that type or that length. */
size_t herd_gemv_act_bytes(herd_qtype wtype, int64_t cols);
/* Lays out one activation row for wtype weights (act_bytes must be > 0),
 * at the active SIMD level; the scalar and AVX-512 ones write the same
 * bytes. */
void herd_gemv_prepare(herd_qtype wtype, const float *x, int64_t cols, void *xa);
void herd_gemv_prepare_scalar(herd_qtype wtype, const float *x, int64_t cols, void *xa);
void herd_gemv_prepare_avx512(herd_qtype wtype, const float *x, int64_t cols,
                              void *xa); /* Q4_0: cols a multiple of 128 */
/* The kernel of a type at a SIMD level: the scalar twin at HERD_SIMD_SCALAR,
 * NULL where this level has none (herd_gemv then declines). */
herd_gemv_kernel herd_gemv_kernel_at(herd_qtype wtype, herd_simd_level l);

/* The kernel herd_gemv runs for a whole matrix of rows rows, following
 * llama.cpp's choice for such a matrix on AVX-512 machines (kernels/order.h):
 *  - Q8_0 with rows a multiple of 32, Q4_0 with rows a multiple of 8: the
 *    blocks order above (llama.cpp's AMX and repacked kernels);
 *  - other Q8_0 / Q4_0 matrices: the lanes order (its vec_dot): lane k of 8
 *    takes elements 4k .. 4k + 3 of every block, acc[k] = fma(dw * dx,
 *    float(their integer sum), acc[k]) block after block, then the 8 lanes
 *    added as (0 + 4 + 2 + 6) + (1 + 5 + 3 + 7);
 *  - F16: llama.cpp's tinyBLAS order where cols is a multiple of 16 (lane
 *    i % 16 by FMA, then herd_sum16), else its ggml_vec_dot_f16 (herd_dot64's
 *    lanes over cols & ~63, the rest added in double);
 *  - Q4_0 rows whose last group has fewer than 4 blocks (cols % 128): the
 *    scalar twin of the order (only toy shapes have them);
 *  - otherwise herd_gemv_kernel_at's.
 * (llama.cpp also rounds the activations of F16 weights to F16: herd does
 * that in models of block types only, model/linear.c.) */
herd_gemv_kernel herd_gemv_kernel_for(herd_qtype wtype, herd_simd_level l, int64_t rows,
                                      int64_t cols);

/* y[t][rows] = x[t][cols] . w^T for n tokens, threaded over contiguous row
 * ranges; scratch: n * herd_gemv_act_bytes(wtype, cols) bytes (unused for
 * F32/F16). Returns 0 (and computes nothing) where the type, length or
 * SIMD level has no kernel here, 1 when done. */
int herd_gemv(float *y, const void *w, herd_qtype wtype, const float *x, int64_t rows,
              int64_t cols, int n, void *scratch);

/* One matrix of a herd_gemv_parts call: y[t * rows + r] = w_r . x_t. */
typedef struct {
    float *y;
    const void *w;
    int64_t rows;
} herd_gemv_part;

/* herd_gemv for np matrices of one type and width over the same
 * activations (a layer's q, k and v, or its gate and up): the activations
 * prepared once and all the rows in one parallel region. */
int herd_gemv_parts(const herd_gemv_part *parts, int np, herd_qtype wtype, const float *x,
                    int64_t cols, int n, void *scratch);

/* Kernels (gemv_scalar.c, gemv_avx512.c). */
void herd_gemv_q4_0_scalar(float *, int64_t, const void *, size_t, const void *, size_t,
                           int64_t, int64_t, int);
void herd_gemv_q8_0_scalar(float *, int64_t, const void *, size_t, const void *, size_t,
                           int64_t, int64_t, int);
void herd_gemv_f16_scalar(float *, int64_t, const void *, size_t, const void *, size_t,
                          int64_t, int64_t, int);
/* The lanes order (herd_gemv_kernel_for). */
void herd_gemv_q4_0_lanes_scalar(float *, int64_t, const void *, size_t, const void *, size_t,
                                 int64_t, int64_t, int);
void herd_gemv_q8_0_lanes_scalar(float *, int64_t, const void *, size_t, const void *, size_t,
                                 int64_t, int64_t, int);
void herd_gemv_q4_0_lanes_avx512vnni(float *, int64_t, const void *, size_t, const void *,
                                     size_t, int64_t, int64_t, int);
void herd_gemv_q8_0_lanes_avx512vnni(float *, int64_t, const void *, size_t, const void *,
                                     size_t, int64_t, int64_t, int);

void herd_gemv_f32_scalar(float *, int64_t, const void *, size_t, const void *, size_t,
                          int64_t, int64_t, int);
void herd_gemv_q4_0_avx512vnni(float *, int64_t, const void *, size_t, const void *, size_t,
                               int64_t, int64_t, int);
void herd_gemv_q8_0_avx512vnni(float *, int64_t, const void *, size_t, const void *, size_t,
                               int64_t, int64_t, int);
/* The same with the byte permutes of AVX-512 VBMI (Ice Lake, Zen 4 and
 * later): herd_gemv_kernel_at picks them where the CPU has VBMI. */
void herd_gemv_q4_0_avx512vbmi(float *, int64_t, const void *, size_t, const void *, size_t,
                               int64_t, int64_t, int);
void herd_gemv_q8_0_avx512vbmi(float *, int64_t, const void *, size_t, const void *, size_t,
                               int64_t, int64_t, int);
void herd_gemv_f16_avx512(float *, int64_t, const void *, size_t, const void *, size_t,
                          int64_t, int64_t, int);
void herd_gemv_f32_avx512(float *, int64_t, const void *, size_t, const void *, size_t,
                          int64_t, int64_t, int);

#endif
