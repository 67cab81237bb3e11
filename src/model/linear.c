/* y = x W^T for a weight W [out][in] in any type herd runs, over n rows of
 * x at once:
 *  - F32, F16, Q8_0, Q4_0 with at most 8 rows (generation), where the CPU
 *    has the kernels: quant/gemv.h, each weight row read once for all rows;
 *  - F32: BLAS sgemm (n > 1) or the threaded matvec (n = 1);
 *  - a type with a block dot product (Q4_0, Q8_0, Q4_K, Q6_K), few rows:
 *    the activations are quantized to 8 bits once and multiplied with the
 *    blocks directly, as llama.cpp does;
 *  - a prompt (more than 8 rows) on a CPU with AMX: block types through
 *    8-bit tiles with the activations quantized as above (quant/qgemm.h),
 *    F16 through bfloat16 tiles with split operands;
 *  - otherwise (BF16, or no AMX): tiles of W are widened to float32 and
 *    multiplied with sgemm, so no whole matrix is ever copied;
 *  - F16 weights marked x_f16 (model/tensor.h): x rounded to F16 first,
 *    8 rows at a time through the few-token products. */
#include "model/linear.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "quant/qgemm.h"
#include "quant/gemv.h"
#include "quant/quant.h"
#include "base/half.h"
#include <cblas.h>
#include <stdint.h>

size_t herd_linear_xq_bytes(int64_t max_in)
{
    return (size_t)max_in * sizeof(float) + 64;
}

size_t herd_linear_tile_floats(int64_t max_in)
{
    return max_in > HERD_LINEAR_TILE_FLOATS ? (size_t)max_in : HERD_LINEAR_TILE_FLOATS;
}

/* Rows r0 .. r0 + rows - 1 of w widened into tile (threaded). */
static herd_status widen_rows(const herd_tensor *w, int r0, int rows, int in, float *tile)
{
    const herd_qtraits *q = herd_qtraits_get((herd_qtype)w->type);
    size_t row = herd_row_bytes(w->type, in);
    if (!q || !row)
        return herd_fail(HERD_E_UNSUPPORTED, "no kernel for %s weights", herd_type_name(w->type));
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        q->to_float((const uint8_t *)w->data + (size_t)(r0 + r) * row, tile + (size_t)r * in,
                    in);
    return HERD_OK;
}

/* A batch of n rows that the few-token kernels (quant/gemv.h) may take,
 * with its prepared activations fitting in xq. */
static int gemv_batch(herd_qtype ty, int n, int in)
{
    return n <= HERD_LINEAR_BLOCK_ROWS && n <= HERD_GEMV_MAX_TOKENS &&
           herd_gemv_act_bytes(ty, in) <= herd_linear_xq_bytes(in);
}

static int tile_rows_for(int in)
{
    return HERD_LINEAR_TILE_FLOATS / in > 0 ? HERD_LINEAR_TILE_FLOATS / in : 1;
}

static herd_status tiled(float *y, const float *x, const herd_tensor *w, int n, int in,
                         int out, float *tile)
{
    int tile_rows = tile_rows_for(in);
    for (int r0 = 0; r0 < out; r0 += tile_rows) {
        int rows = out - r0 < tile_rows ? out - r0 : tile_rows;
        HERD_TRY(widen_rows(w, r0, rows, in, tile));
        if (n == 1)
            herd_matmul(y + r0, x, tile, 1, in, rows);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, in, 1.0f, x, in,
                        tile, in, 0.0f, y + r0, out);
    }
    return HERD_OK;
}

/* herd_linear for F16 weights marked x_f16: x rounded to F16 first (as
 * llama.cpp multiplies them), HERD_LINEAR_BLOCK_ROWS rows at a time in xq,
 * through the few-token products (llama.cpp's order) or widened tiles. */
static herd_status linear_x_f16(float *y, const float *x, const herd_tensor *w, int n, int in,
                                int out, void *xq, float *tile)
{
    float *xr = xq;  /* HERD_LINEAR_BLOCK_ROWS rows of in floats fit */
    for (int t0 = 0; t0 < n; t0 += HERD_LINEAR_BLOCK_ROWS) {
        const int m = n - t0 < HERD_LINEAR_BLOCK_ROWS ? n - t0 : HERD_LINEAR_BLOCK_ROWS;
        for (size_t i = 0; i < (size_t)m * in; i++)
            xr[i] = herd_f16_to_f32(herd_f32_to_f16(x[(size_t)t0 * in + i]));
        float *yt = y + (size_t)t0 * out;
        if (!herd_gemv(yt, w->data, HERD_QTYPE_F16, xr, out, in, m, NULL))
            HERD_TRY(tiled(yt, xr, w, m, in, out, tile));
    }
    return HERD_OK;
}

herd_status herd_linear(float *y, const float *x, const herd_tensor *w, int n, int in, int out,
                        void *xq, float *tile)
{
    const herd_qtype ty = (herd_qtype)w->type;
    if (w->x_f16 && ty == HERD_QTYPE_F16)
        return linear_x_f16(y, x, w, n, in, out, xq, tile);
    const size_t tile_bytes = herd_linear_tile_floats(in) * sizeof(float);
    int big = n > HERD_LINEAR_BLOCK_ROWS; /* a prompt: AMX where the CPU has it */
    int amx_q = big && herd_qgemm_best() >= 0 && herd_qgemm_fits(ty, out, in) &&
                herd_qgemm_min_scratch(ty, in) + 64 <= tile_bytes;
    int amx_h = big && !amx_q && herd_hgemm_available(HERD_QGEMM_AMX) &&
                herd_hgemm_fits(ty, out, in) && herd_hgemm_min_scratch(in) + 64 <= tile_bytes;
    /* A few tokens (generation): each weight row read once for all of them. */
    if (!amx_q && !amx_h && gemv_batch(ty, n, in) &&
        herd_gemv(y, w->data, ty, x, out, in, n, xq))
        return HERD_OK;
    if (w->type == HERD_TYPE_F32) {
        herd_matmul(y, x, w->data, n, in, out);
        return HERD_OK;
    }
    if (amx_q)
        return herd_qgemm(y, x, w->data, ty, out, in, n, tile, tile_bytes,
                          (herd_qgemm_kernel)herd_qgemm_best());
    if (amx_h)
        return herd_hgemm(y, x, w->data, out, in, n, tile, tile_bytes, HERD_QGEMM_AMX);
    const herd_qtraits *q = herd_qtraits_get(ty);
    if (!q || !q->vec_dot || n > HERD_LINEAR_BLOCK_ROWS)
        return tiled(y, x, w, n, in, out, tile);
    size_t xrow = herd_activation_bytes((herd_qtype)w->type, in);
    for (int t = 0; t < n; t++)
        HERD_TRY(herd_quantize_activation((herd_qtype)w->type, x + (size_t)t * in, in,
                                          (uint8_t *)xq + (size_t)t * xrow));
    if (n == 1)
        return herd_qmatvec(y, w->data, (herd_qtype)w->type, xq, out, in);
    return herd_qmatmul(y, w->data, (herd_qtype)w->type, xq, out, in, n);
}

herd_status herd_linear_many(float *const *y, const float *x, const herd_tensor *const *w,
                             const int *out, int count, int n, int in, void *xq, float *tile)
{
    enum { MAX = 4 };
    herd_gemv_part parts[MAX];
    const herd_qtype ty = (herd_qtype)w[0]->type;
    int ok = count <= MAX && gemv_batch(ty, n, in) && !w[0]->x_f16;
    for (int i = 0; ok && i < count; i++) {
        ok = w[i]->type == w[0]->type;
        parts[i] = (herd_gemv_part){y[i], w[i]->data, out[i]};
    }
    if (ok && herd_gemv_parts(parts, count, ty, x, in, n, xq))
        return HERD_OK;
    for (int i = 0; i < count; i++)
        HERD_TRY(herd_linear(y[i], x, w[i], n, in, out[i], xq, tile));
    return HERD_OK;
}

herd_status herd_embedding_row(float *dst, const herd_tensor *emb, int id)
{
    size_t row = herd_row_bytes(emb->type, emb->cols);
    const herd_qtraits *q = herd_qtraits_get((herd_qtype)emb->type);
    if (!q || !row)
        return herd_fail(HERD_E_UNSUPPORTED, "no kernel for %s embeddings",
                         herd_type_name(emb->type));
    q->to_float((const uint8_t *)emb->data + (size_t)id * row, dst, emb->cols);
    return HERD_OK;
}

herd_status herd_linear_backward_x(float *dx, const float *dy, const herd_tensor *w, int n,
                                   int in, int out, float *tile, int accumulate)
{
    if (w->type == HERD_TYPE_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out,
                    w->data, in, accumulate ? 1.0f : 0.0f, dx, in);
        return HERD_OK;
    }
    int tile_rows = tile_rows_for(in);
    for (int r0 = 0; r0 < out; r0 += tile_rows) {
        int rows = out - r0 < tile_rows ? out - r0 : tile_rows;
        HERD_TRY(widen_rows(w, r0, rows, in, tile));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, rows, 1.0f, dy + r0, out,
                    tile, in, accumulate || r0 > 0 ? 1.0f : 0.0f, dx, in);
    }
    return HERD_OK;
}
