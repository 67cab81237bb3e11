/* Matrix products with a frozen NF4 weight W [out][in], as QLoRA trains
 * through them: W is widened to float32 a tile of rows at a time (threaded
 * over rows) and each tile goes through one sgemm, so no whole float copy
 * of W ever exists (the tile approach of model/linear.c). A weight whose
 * rows were padded with zeros to a whole number of blocks (cols = in
 * rounded up to 64) is multiplied over its first in columns. */
#include "quant/nf4.h"
#include "base/error.h"
#include <cblas.h>

size_t herd_nf4_tile_floats(int64_t in)
{
    return in > HERD_NF4_TILE_FLOATS ? (size_t)in : HERD_NF4_TILE_FLOATS;
}

static herd_status check(const herd_nf4_tensor *w, int n, int in, int out, size_t tile_floats)
{
    int padded = w && w->cols > in && w->cols - in < HERD_NF4_BLOCK;
    if (!w || !w->qs || w->rows != out || (w->cols != in && !padded) || n < 0)
        return herd_fail(HERD_E_ARG, "nf4 matmul: a %lld x %lld weight for %d x %d (n %d)",
                         w ? (long long)w->rows : 0LL, w ? (long long)w->cols : 0LL, out, in, n);
    if (tile_floats < (size_t)w->cols)
        return herd_fail(HERD_E_ARG, "nf4 matmul: a tile of %zu floats for rows of %d",
                         tile_floats, in);
    return HERD_OK;
}

/* Rows r0 .. r0 + rows - 1 of w into tile. */
static void widen(const herd_nf4_tensor *w, int r0, int rows, float *tile)
{
    const herd_simd_level level = herd_simd_active();
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        herd_nf4_dequant_rows_at(w, r0 + r, 1, tile + (size_t)r * w->cols, level);
}

herd_status herd_nf4_matmul_tiled(float *y, const float *x, const herd_nf4_tensor *w, int n,
                                  int in, int out, float *tile, size_t tile_floats)
{
    HERD_TRY(check(w, n, in, out, tile_floats));
    const int ld = (int)w->cols;
    const int tile_rows = tile_floats / ld < (size_t)out ? (int)(tile_floats / ld) : out;
    for (int r0 = 0; r0 < out && n > 0; r0 += tile_rows) {
        const int rows = out - r0 < tile_rows ? out - r0 : tile_rows;
        widen(w, r0, rows, tile);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, in, 1.0f, x, in, tile, ld,
                    0.0f, y + r0, out);
    }
    return HERD_OK;
}

herd_status herd_nf4_matmul_backward_x_tiled(float *dx, const float *dy,
                                             const herd_nf4_tensor *w, int n, int in, int out,
                                             float *tile, size_t tile_floats, int accumulate)
{
    HERD_TRY(check(w, n, in, out, tile_floats));
    const int ld = (int)w->cols;
    const int tile_rows = tile_floats / ld < (size_t)out ? (int)(tile_floats / ld) : out;
    for (int r0 = 0; r0 < out && n > 0; r0 += tile_rows) {
        const int rows = out - r0 < tile_rows ? out - r0 : tile_rows;
        widen(w, r0, rows, tile);
        /* dx += dy[:, r0 : r0 + rows] . W[r0 : r0 + rows, :] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, rows, 1.0f, dy + r0, out,
                    tile, ld, accumulate || r0 > 0 ? 1.0f : 0.0f, dx, in);
    }
    return HERD_OK;
}

herd_status herd_nf4_matmul(float *y, const float *x, const herd_nf4_tensor *w, int n, int in,
                            int out, float *tile)
{
    return herd_nf4_matmul_tiled(y, x, w, n, in, out, tile,
                                 herd_nf4_tile_floats(w ? w->cols : in));
}

herd_status herd_nf4_matmul_backward_x(float *dx, const float *dy, const herd_nf4_tensor *w,
                                       int n, int in, int out, float *tile, int accumulate)
{
    return herd_nf4_matmul_backward_x_tiled(dx, dy, w, n, in, out, tile,
                                            herd_nf4_tile_floats(w ? w->cols : in), accumulate);
}
