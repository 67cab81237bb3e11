/* Matrix-matrix products of quantized weights (Q8_0, Q4_0, Q4_K, Q6_K) with
 * many activation rows (a prompt), on 8-bit integers as llama.cpp does:
 * the activations are quantized once per row (Q8_0 per 32 values for
 * Q8_0/Q4_0 weights, Q8_K for the K-quants, the bytes herd_quantize_activation
 * writes), every sub-block (32 values; 16 for Q6_K) of a weight row and an
 * activation row gives an exact int32 dot, and the dots are scaled and summed
 * in float. Q8_0/Q4_0, per block b:
 *   y[t][r] += c(r,t,b) * (dx[t][b] * dw[r][b])
 * K-quants, whose activation scale dx is one per 256 values: per group g of
 * 8 sub-blocks, in = sum_b c(r,t,b) * dw[r][b], m = sum_b xs[t][b] * wm[r][b]
 * (xs: the sum of the activation quants, wm: Q4_K's mins), then
 *   y[t][r] += in * dx[t][g];  y[t][r] -= m * dx[t][g]
 * in that order, one fused multiply-add each, so that every kernel gives the
 * same bits. Kernels: a plain scalar one, and AMX-INT8 tiles (Sapphire
 * Rapids and later; Linux must grant the tile state, which herd asks for
 * once). HERD_AMX=off in the environment, or HERD_SIMD below avx512vnni,
 * turns AMX off. */
#ifndef HERD_QUANT_QGEMM_H
#define HERD_QUANT_QGEMM_H
#include "quant/quant.h"
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HERD_QGEMM_SCALAR = 0,
    HERD_QGEMM_AMX = 1
} herd_qgemm_kernel;

/* Whether kernel k runs here (scalar: always; AMX: CPU, OS and permission). */
int herd_qgemm_available(herd_qgemm_kernel k);
/* The kernel a prompt should use: AMX where available and allowed, else -1
 * (no integer kernel faster than the caller's own path). */
int herd_qgemm_best(void);
/* Whether herd_qgemm takes weights of type t with rows x cols: a known
 * type, rows a multiple of 16, cols a multiple of the type's block. */
int herd_qgemm_fits(herd_qtype t, int64_t rows, int64_t cols);
/* The smallest scratch for cols-wide products (one 16-token tile per pass
 * and every OpenMP thread's weight panel); more scratch, longer passes. */
size_t herd_qgemm_min_scratch(herd_qtype t, int64_t cols);

/* y[t * rows + r] = w[r] . x[t] for n rows x of cols floats and rows rows
 * of w (row-major in type t), with kernel k, threaded with OpenMP over
 * weight rows. scratch: herd_qgemm_min_scratch(t, cols) bytes, 64 more
 * unless it is 64-byte aligned. */
herd_status herd_qgemm(float *y, const float *x, const void *w, herd_qtype t, int64_t rows,
                       int64_t cols, int64_t n, void *scratch, size_t scratch_bytes,
                       herd_qgemm_kernel k);

/* ---- F16 weights (hgemm.c, hgemm_amx.c) ----
 * y = x W^T on AMX-BF16 tiles: each f16 weight is split exactly into two
 * bfloat16 (w = wh + wl), each activation into two (x ~ xh + xl, 16 bits),
 * and three products are summed in float: wh xh + wh xl + wl xh (the fourth
 * is below float rounding of the sum). Closer to the float product than
 * llama.cpp's, which rounds activations to f16. The scalar twin sums the same
 * products; the two agree to float rounding, not to the bit (the tile unit
 * orders its sums its own way). */

/* Whether herd_hgemm takes F16 weights rows x cols: rows a multiple of 16,
 * cols of 32. */
int herd_hgemm_fits(herd_qtype t, int64_t rows, int64_t cols);
/* Whether the AMX kernel runs here (and is allowed, as for herd_qgemm). */
int herd_hgemm_available(herd_qgemm_kernel k);
/* The smallest scratch: every thread's weight panel and one 32-token pass. */
size_t herd_hgemm_min_scratch(int64_t cols);
/* y[t * rows + r] = w[r] . x[t], w row-major F16. */
herd_status herd_hgemm(float *y, const float *x, const void *w, int64_t rows, int64_t cols,
                       int64_t n, void *scratch, size_t scratch_bytes, herd_qgemm_kernel k);

#endif
