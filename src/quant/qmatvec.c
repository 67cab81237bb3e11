/* Matrix-vector and matrix-matrix products of quantized weights with
 * activations quantized once per vector, threaded with OpenMP over rows. */
#include "quant/quant_impl.h"
#include "base/error.h"
#include "base/half.h"
#include <math.h>

/* Below this many weight values a product runs on one thread. */
#define PARALLEL_MIN (1 << 16)
/* Rows per tile in herd_qmatmul: a tile of weights stays in cache while
 * every token passes over it. */
#define TILE_ROWS 16

static herd_status check(herd_qtype wtype, int64_t cols, const herd_qtraits **w,
                         const herd_qtraits **a)
{
    *w = herd_qtraits_get(wtype);
    if (!*w || !(*w)->vec_dot)
        return herd_fail(HERD_E_UNSUPPORTED, "quant: no dot product for weight type %d",
                         (int)wtype);
    *a = herd_qtraits_get((*w)->vec_dot_type);
    if (cols <= 0 || cols % (*w)->blck != 0 || cols % (*a)->blck != 0)
        return herd_fail(HERD_E_ARG, "quant: %lld columns do not fit %s blocks",
                         (long long)cols, (*w)->name);
    return HERD_OK;
}

size_t herd_activation_bytes(herd_qtype wtype, int64_t n)
{
    const herd_qtraits *w = herd_qtraits_get(wtype);
    if (!w || !w->vec_dot || n <= 0 || n % w->blck != 0)
        return 0;
    return herd_qrow_bytes(w->vec_dot_type, n);
}

/* Activations to Q8_0 as llama.cpp's CPU backend quantizes them (its x86
 * quantize_row_q8_0, not the _ref one weights are made with): scaled by
 * 127 / amax and rounded half to even, so that herd and llama.cpp feed the
 * same bytes to the same dot products. */
static void activation_q8_0(const float *x, void *vy, int64_t n)
{
    herd_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / HERD_QK8_0; i++, x += HERD_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < HERD_QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = herd_f32_to_f16(amax / 127.0f);
        for (int j = 0; j < HERD_QK8_0; j++)
            y[i].qs[j] = (int8_t)nearbyintf(x[j] * id); /* |x * id| <= 127 */
    }
}

herd_status herd_quantize_activation(herd_qtype wtype, const float *x, int64_t n, void *out)
{
    const herd_qtraits *w, *a;
    HERD_TRY(check(wtype, n, &w, &a));
    if (!x || !out)
        return herd_fail(HERD_E_ARG, "quant: NULL activation");
    if (w->vec_dot_type == HERD_QTYPE_Q8_0)
        activation_q8_0(x, out, n);
    else
        a->from_float(x, out, n);
    return HERD_OK;
}

herd_status herd_qmatvec(float *out, const void *w, herd_qtype wtype, const void *xq,
                         int64_t rows, int64_t cols)
{
    const herd_qtraits *wt, *at;
    HERD_TRY(check(wtype, cols, &wt, &at));
    if (rows < 0 || (rows > 0 && (!out || !w || !xq)))
        return herd_fail(HERD_E_ARG, "quant: bad matvec arguments");
    const size_t wb = herd_qrow_bytes(wtype, cols);
    const herd_vec_dot_fn dot = wt->vec_dot;
    const char *wp = w;
    #pragma omp parallel for schedule(dynamic, 32) if (rows * cols >= PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++)
        out[r] = dot(cols, wp + (size_t)r * wb, xq);
    return HERD_OK;
}

herd_status herd_qmatmul(float *out, const void *w, herd_qtype wtype, const void *xq,
                         int64_t rows, int64_t cols, int64_t n)
{
    const herd_qtraits *wt, *at;
    HERD_TRY(check(wtype, cols, &wt, &at));
    if (rows < 0 || n < 0 || (rows > 0 && n > 0 && (!out || !w || !xq)))
        return herd_fail(HERD_E_ARG, "quant: bad matmul arguments");
    const size_t wb = herd_qrow_bytes(wtype, cols), xb = herd_qrow_bytes(wt->vec_dot_type, cols);
    const herd_vec_dot_fn dot = wt->vec_dot;
    const char *wp = w, *xp = xq;
    const int64_t tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    #pragma omp parallel for schedule(static) if (rows * cols * n >= PARALLEL_MIN)
    for (int64_t tile = 0; tile < tiles; tile++) {
        const int64_t r0 = tile * TILE_ROWS;
        const int64_t r1 = r0 + TILE_ROWS < rows ? r0 + TILE_ROWS : rows;
        for (int64_t t = 0; t < n; t++)
            for (int64_t r = r0; r < r1; r++)
                out[t * rows + r] = dot(cols, wp + (size_t)r * wb, xp + (size_t)t * xb);
    }
    return HERD_OK;
}
