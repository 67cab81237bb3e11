/* The activation layout of the few-token products (gemv.h) and the plain
 * scalar twins of their kernels, which the SIMD ones are tested against. */
#include "quant/gemv.h"
#include "quant/quant_impl.h"
#include "base/half.h"
#include "kernels/order.h"
#include <math.h>

size_t herd_gemv_act_bytes(herd_qtype wtype, int64_t cols)
{
    if (cols <= 0)
        return 0;
    switch (wtype) {
    case HERD_QTYPE_Q4_0: /* a last group of fewer blocks padded with zeros */
        if (cols % HERD_QK8_0)
            return 0;
        return (size_t)((cols + HERD_QK8_0 * HERD_GEMV_Q4_0_GROUP - 1) /
                        (HERD_QK8_0 * HERD_GEMV_Q4_0_GROUP)) * sizeof(herd_gemv_q4_0_act);
    case HERD_QTYPE_Q8_0:
        if (cols % (HERD_QK8_0 * HERD_GEMV_Q8_0_GROUP))
            return 0;
        return (size_t)(cols / (HERD_QK8_0 * HERD_GEMV_Q8_0_GROUP)) * sizeof(herd_gemv_q8_0_act);
    case HERD_QTYPE_F32:
    case HERD_QTYPE_F16:
        return (size_t)cols * sizeof(float);
    default:
        return 0;
    }
}

/* One block of 32 activations to Q8_0 as herd_quantize_activation does
 * (llama.cpp's CPU quantize_row_q8_0): its quants, scale and quant sum. */
static float q8_block(const float *x, int8_t q[HERD_QK8_0], int *sum)
{
    float amax = 0.0f;
    for (int j = 0; j < HERD_QK8_0; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int s = 0;
    for (int j = 0; j < HERD_QK8_0; j++) {
        q[j] = (int8_t)nearbyintf(x[j] * id); /* |x * id| <= 127 */
        s += q[j];
    }
    *sum = s;
    return herd_f16_to_f32(herd_f32_to_f16(amax / 127.0f));
}

static void prepare_q4_0(const float *x, int64_t cols, herd_gemv_q4_0_act *a)
{
    for (int64_t g = 0; g < (cols + 127) / 128; g++, a++) {
        memset(a, 0, sizeof *a);  /* the blocks past cols stay 0 */
        for (int k = 0; k < 4 && 128 * g + 32 * k < cols; k++) {
            int8_t q[HERD_QK8_0];
            int s;
            float d = q8_block(x + 128 * g + 32 * k, q, &s);
            memcpy(a->lo + 16 * k, q, 16);
            memcpy(a->hi + 16 * k, q + 16, 16);
            a->corr[4 * k] = -8 * s;
            for (int l = 0; l < 4; l++)
                a->d[4 * k + l] = d;
        }
    }
}

static void prepare_q8_0(const float *x, int64_t cols, herd_gemv_q8_0_act *a)
{
    for (int64_t g = 0; g < cols / 64; g++, a++) {
        memset(a, 0, sizeof *a);
        for (int k = 0; k < 2; k++) {
            int s;
            float d = q8_block(x + 64 * g + 32 * k, a->qs + 32 * k, &s);
            a->corr[8 * k] = -128 * s;
            for (int l = 0; l < 8; l++)
                a->d[8 * k + l] = d;
        }
    }
}

void herd_gemv_prepare_scalar(herd_qtype wtype, const float *x, int64_t cols, void *xa)
{
    if (wtype == HERD_QTYPE_Q4_0)
        prepare_q4_0(x, cols, xa);
    else if (wtype == HERD_QTYPE_Q8_0)
        prepare_q8_0(x, cols, xa);
    else
        memcpy(xa, x, (size_t)cols * sizeof(float));
}

/* One Q4_0 row of nb blocks . its token's prepared activations xa, in the
 * blocks order (gemv.h). */
HERD_FMA_CLONES
static float q4_0_row(const void *w, const void *xa, int64_t nb)
{
    const herd_block_q4_0 *b = w;
    const herd_gemv_q4_0_act *a = xa;
    float acc = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++) {
        const herd_gemv_q4_0_act *g = a + i / 4;
        const int k = (int)(i % 4);
        int s = g->corr[4 * k];
        for (int j = 0; j < 16; j++)
            s += (b->qs[j] & 15) * g->lo[16 * k + j] + (b->qs[j] >> 4) * g->hi[16 * k + j];
        acc = fmaf((float)s, herd_f16_to_f32(b->d) * g->d[4 * k], acc);
    }
    return acc;
}

void herd_gemv_q4_0_scalar(float *y, int64_t ys, const void *w, size_t wrow, const void *xa,
                           size_t xs, int64_t rows, int64_t cols, int n)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++)
            y[t * ys + r] = q4_0_row((const char *)w + r * wrow, (const char *)xa + t * xs,
                                     cols / 32);
}

void herd_gemv_q8_0_scalar(float *y, int64_t ys, const void *w, size_t wrow, const void *xa,
                           size_t xs, int64_t rows, int64_t cols, int n)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++) {
            const herd_block_q8_0 *b = (const herd_block_q8_0 *)((const char *)w + r * wrow);
            const herd_gemv_q8_0_act *a =
                (const herd_gemv_q8_0_act *)((const char *)xa + t * xs);
            float acc = 0.0f;
            for (int64_t i = 0; i < cols / 32; i++, b++) {
                const herd_gemv_q8_0_act *g = a + i / 2;
                const int k = (int)(i % 2);
                int s = g->corr[8 * k];
                for (int j = 0; j < 32; j++)
                    s += (b->qs[j] + 128) * g->qs[32 * k + j];
                acc = fmaf((float)s, herd_f16_to_f32(b->d) * g->d[8 * k], acc);
            }
            y[t * ys + r] = acc;
        }
}

/* llama.cpp's vec_dot sum of 8 lanes (hsum_float_8): (0+4 + 2+6) + (1+5 + 3+7). */
static float hsum8(const float *a)
{
    const float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];
    return (r0 + r2) + (r1 + r3);
}

/* The lanes order's 8 sums (before hsum8) of one Q4_0 row of nb blocks,
 * added to acc. */
HERD_FMA_CLONES
static void q4_0_lanes_row(float acc[8], const void *w, const void *xa, int64_t nb)
{
    const herd_block_q4_0 *b = w;
    const herd_gemv_q4_0_act *a = xa;
    for (int64_t i = 0; i < nb; i++, b++) {
        const herd_gemv_q4_0_act *g = a + i / 4;
        const int k = (int)(i % 4);
        const float d = herd_f16_to_f32(b->d) * g->d[4 * k];
        for (int l = 0; l < 8; l++) {
            int s = 0;
            for (int j = 4 * (l % 4); j < 4 * (l % 4) + 4; j++)
                s += l < 4 ? ((b->qs[j] & 15) - 8) * g->lo[16 * k + j]
                           : ((b->qs[j] >> 4) - 8) * g->hi[16 * k + j];
            acc[l] = fmaf(d, (float)s, acc[l]);
        }
    }
}

/* The lanes order (gemv.h): lane k of a row's 8 takes the products of
 * elements 4k .. 4k + 3 of every block, acc[k] = fma(dw * dx, float(their
 * sum), acc[k]), block after block; then hsum8. */
void herd_gemv_q4_0_lanes_scalar(float *y, int64_t ys, const void *w, size_t wrow,
                                 const void *xa, size_t xs, int64_t rows, int64_t cols, int n)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++) {
            float acc[8] = {0};
            q4_0_lanes_row(acc, (const char *)w + r * wrow, (const char *)xa + t * xs,
                           cols / 32);
            y[t * ys + r] = hsum8(acc);
        }
}

void herd_gemv_q8_0_lanes_scalar(float *y, int64_t ys, const void *w, size_t wrow,
                                 const void *xa, size_t xs, int64_t rows, int64_t cols, int n)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++) {
            const herd_block_q8_0 *b = (const herd_block_q8_0 *)((const char *)w + r * wrow);
            const herd_gemv_q8_0_act *a =
                (const herd_gemv_q8_0_act *)((const char *)xa + t * xs);
            float acc[8] = {0};
            for (int64_t i = 0; i < cols / 32; i++, b++) {
                const herd_gemv_q8_0_act *g = a + i / 2;
                const int k = (int)(i % 2);
                const float d = herd_f16_to_f32(b->d) * g->d[8 * k];
                for (int l = 0; l < 8; l++) {
                    int s = 0;
                    for (int j = 4 * l; j < 4 * l + 4; j++)
                        s += b->qs[j] * g->qs[32 * k + j];
                    acc[l] = fmaf(d, (float)s, acc[l]);
                }
            }
            y[t * ys + r] = hsum8(acc);
        }
}

/* One F16 row . x in llama.cpp's order for the row's width (gemv.h). */
HERD_FMA_CLONES
static float f16_dot(const uint16_t *w, const float *x, int64_t cols)
{
    if (cols % 16 == 0) { /* tinyBLAS: lane i % 16 by FMA, then herd_sum16 */
        float s[16] = {0};
        for (int64_t i = 0; i < cols; i += 16)
            for (int l = 0; l < 16; l++)
                s[l] = fmaf(herd_f16_to_f32(w[i + l]), x[i + l], s[l]);
        return herd_sum16(s);
    }
    /* ggml_vec_dot_f16: herd_dot64's lanes, their sum and the rest in double */
    const int64_t np = cols & ~(int64_t)63;
    float s[64] = {0};
    for (int64_t i = 0; i < np; i += 64)
        for (int l = 0; l < 64; l++)
            s[l] = fmaf(herd_f16_to_f32(w[i + l]), x[i + l], s[l]);
    double sum = herd_sum64(s);
    for (int64_t i = np; i < cols; i++)
        sum += (double)(herd_f16_to_f32(w[i]) * x[i]);
    return (float)sum;
}

void herd_gemv_f16_scalar(float *y, int64_t ys, const void *w, size_t wrow, const void *xa,
                          size_t xs, int64_t rows, int64_t cols, int n)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++)
            y[t * ys + r] = f16_dot((const uint16_t *)((const char *)w + r * wrow),
                                    (const float *)((const char *)xa + t * xs), cols);
}

void herd_gemv_f32_scalar(float *y, int64_t ys, const void *w, size_t wrow, const void *xa,
                          size_t xs, int64_t rows, int64_t cols, int n)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++) {
            const float *wr = (const float *)((const char *)w + r * wrow);
            const float *x = (const float *)((const char *)xa + t * xs);
            float acc = 0.0f;
            for (int64_t i = 0; i < cols; i++)
                acc += wr[i] * x[i];
            y[t * ys + r] = acc;
        }
}
