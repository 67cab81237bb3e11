/* herd_linear on F16 weights marked x_f16 (model/tensor.h): the activations
 * are rounded to F16 before the product, as llama.cpp multiplies F16
 * weights. Against double sums: the activations are F16 values u times
 * (1 + 1e-4), less than half an F16 step from u, so rounding gives u back
 * and every product moves by 1e-4 of itself (weights and u positive):
 *  - marked: within float rounding (2e-6) of sum(w * u), and more than
 *    5e-5 from sum(w * x), for 1 and 3 rows (the few-token products) and 20
 *    (a prompt: three chunks of 8, 8 and 4 rows), widths 172 (llama.cpp's
 *    ggml_vec_dot_f16 order) and 256 (tinyBLAS's);
 *  - unmarked: within 2e-6 of sum(w * x);
 *  - the input rows are left as they were. */
#include "herd.h"
#include "test.h"
#include "base/half.h"
#include "model/linear.h"

#define ROWS 40
#define MAXN 20

static uint32_t seed = 12345;

/* A positive F16 value in [0.25, 1). */
static uint16_t rand_f16(void)
{
    seed = seed * 1664525u + 1013904223u;
    return herd_f32_to_f16(0.25f + 0.75f * (float)(seed >> 8) / 16777216.0f);
}

static void run(int in, int n, int marked)
{
    uint16_t *w = malloc(sizeof *w * ROWS * in);
    float *x = malloc(sizeof *x * MAXN * in), *keep = malloc(sizeof *x * MAXN * in);
    float *y = malloc(sizeof *y * MAXN * ROWS);
    void *xq = malloc(HERD_LINEAR_BLOCK_ROWS * herd_linear_xq_bytes(in));
    float *tile = malloc(herd_linear_tile_floats(in) * sizeof *tile);
    double *u = malloc(sizeof *u * MAXN * in);
    for (int i = 0; i < ROWS * in; i++)
        w[i] = rand_f16();
    for (int i = 0; i < n * in; i++) {
        u[i] = herd_f16_to_f32(rand_f16());
        keep[i] = x[i] = (float)(u[i] * (1 + 1e-4));
        CHECK(herd_f16_to_f32(herd_f32_to_f16(x[i])) == (float)u[i]);
    }
    herd_tensor t = {.data = w, .type = HERD_TYPE_F16, .rows = ROWS, .cols = in,
                     .x_f16 = marked};
    CHECK_OK(herd_linear(y, x, &t, n, in, ROWS, xq, tile));
    int near_u = 0, near_x = 0, far_x = 0;
    for (int k = 0; k < n; k++)
        for (int r = 0; r < ROWS; r++) {
            double su = 0, sx = 0;
            for (int i = 0; i < in; i++) {
                su += herd_f16_to_f32(w[r * in + i]) * u[k * in + i];
                sx += herd_f16_to_f32(w[r * in + i]) * (double)x[k * in + i];
            }
            const double v = y[k * ROWS + r];
            near_u += fabs(v - su) <= 2e-6 * su;
            near_x += fabs(v - sx) <= 2e-6 * sx;
            far_x += fabs(v - sx) > 5e-5 * sx;
        }
    const int all = n * ROWS;
    if (marked)
        CHECK_MSG(near_u == all && far_x == all, "in %d n %d: %d of %d rounded, %d apart", in,
                  n, near_u, all, far_x);
    else
        CHECK_MSG(near_x == all, "in %d n %d unmarked: %d of %d", in, n, near_x, all);
    CHECK(!memcmp(x, keep, sizeof *x * n * in));
    free(w); free(x); free(keep); free(y); free(xq); free(tile); free(u);
}

int main(void)
{
    const int widths[] = {172, 256}, ns[] = {1, 3, MAXN};
    for (int wi = 0; wi < 2; wi++)
        for (int ni = 0; ni < 3; ni++)
            for (int marked = 0; marked < 2; marked++)
                run(widths[wi], ns[ni], marked);
    TEST_END();
}
