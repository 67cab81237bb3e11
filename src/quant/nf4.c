/* NF4 with double quantization (the format is described in nf4.h): the
 * quantizer, FP8 E4M3 for the second level, and the scalar dequantizer with
 * its run-time choice of the AVX2 twin (nf4_avx2.c). */
#include "quant/nf4.h"
#include "base/error.h"
#include "quant/quant_impl.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const float herd_nf4_code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
    0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};

float herd_e4m3_to_float(uint8_t b)
{
    uint32_t e = b >> 3 & 15, m = b & 7;
    float v;
    if (e == 15 && m == 7) {
        v = NAN;
    } else if (e == 0) {
        v = (float)m * 0x1p-9f;                  /* subnormal: m/8 * 2^-6 */
    } else {
        uint32_t bits = (e - 7 + 127) << 23 | m << 20;
        memcpy(&v, &bits, 4);
    }
    return b & 0x80 ? -v : v;
}

uint8_t herd_e4m3_from_float(float x)
{
    uint8_t sign = signbit(x) ? 0x80 : 0;
    float a = fabsf(x);
    if (isnan(a))
        return sign | 0x7f;
    if (!(a < 448.0f))
        return sign | 0x7e;
    if (a < 0x1p-6f)   /* subnormals step 2^-9; 8 of them is the least normal, 0x08 */
        return sign | (uint8_t)herd_nearest_int(a * 512.0f);
    int e;
    frexpf(a, &e);                               /* a in [2^(e-1), 2^e) */
    int k = herd_nearest_int(ldexpf(a, 4 - e));  /* 8 .. 16, exact scaling */
    int bits = (e - 1 + 7) * 8 + (k - 8);        /* k = 16 carries into the exponent */
    return sign | (uint8_t)(bits < 0x7e ? bits : 0x7e);
}

size_t herd_nf4_bytes(int64_t rows, int64_t cols)
{
    if (rows <= 0 || cols <= 0 || cols % HERD_NF4_BLOCK || rows > INT64_MAX / cols)
        return 0;
    int64_t n = rows * cols, blocks = n / HERD_NF4_BLOCK;
    int64_t groups = (blocks + HERD_NF4_GROUP - 1) / HERD_NF4_GROUP;
    return (size_t)(n / 2 + blocks + 4 * groups + 4);
}

void herd_nf4_free(herd_nf4_tensor *t)
{
    if (!t)
        return;
    free(t->qs);
    free(t->absmax_q);
    free(t->absmax_scale);
    memset(t, 0, sizeof *t);
}

/* The first level of block b: its absmax, and 64 indices into qs. Returns 0
 * if a weight is not finite. mid: the 15 midpoints of the code, exact. */
static int quantize_block(const float *w, uint8_t *qs, float *absmax, const double mid[15])
{
    float c = 0.0f;
    for (int j = 0; j < HERD_NF4_BLOCK; j++) {
        if (!isfinite(w[j]))
            return 0;
        c = fabsf(w[j]) > c ? fabsf(w[j]) : c;
    }
    uint8_t idx[HERD_NF4_BLOCK];
    for (int j = 0; j < HERD_NF4_BLOCK; j++) {
        double x = c > 0.0f ? (double)(w[j] / c) : 0.0;
        int k = 0;
        for (int m = 0; m < 15; m++)
            k += x > mid[m];                      /* a tie stays below */
        idx[j] = (uint8_t)k;
    }
    for (int j = 0; j < HERD_NF4_BLOCK / 2; j++)
        qs[j] = (uint8_t)(idx[2 * j] << 4 | idx[2 * j + 1]);
    *absmax = c;
    return 1;
}

/* The second level: mean, then per group a scale and E4M3 codes. */
static void quantize_absmax(const float *c, int64_t blocks, herd_nf4_tensor *t)
{
    double sum = 0.0;
    for (int64_t b = 0; b < blocks; b++)
        sum += c[b];
    const float mean = (float)(sum / (double)blocks);
    t->absmax_mean = mean;
    for (int64_t g0 = 0; g0 < blocks; g0 += HERD_NF4_GROUP) {
        int64_t end = g0 + HERD_NF4_GROUP < blocks ? g0 + HERD_NF4_GROUP : blocks;
        float amax = 0.0f;
        for (int64_t b = g0; b < end; b++)
            amax = fabsf(c[b] - mean) > amax ? fabsf(c[b] - mean) : amax;
        const float scale = amax / 448.0f;
        t->absmax_scale[g0 / HERD_NF4_GROUP] = scale;
        for (int64_t b = g0; b < end; b++) {
            float q = scale > 0.0f ? (c[b] - mean) / scale : 0.0f;
            q = q < -448.0f ? -448.0f : q > 448.0f ? 448.0f : q;
            t->absmax_q[b] = herd_e4m3_from_float(q);
        }
    }
}

herd_status herd_nf4_quantize(const float *w, int64_t rows, int64_t cols, herd_nf4_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (!herd_nf4_bytes(rows, cols))
        return herd_fail(HERD_E_ARG, "nf4: a %lld x %lld matrix (rows must be positive, "
                         "cols a multiple of %d)", (long long)rows, (long long)cols,
                         HERD_NF4_BLOCK);
    const int64_t n = rows * cols, blocks = n / HERD_NF4_BLOCK;
    const int64_t groups = (blocks + HERD_NF4_GROUP - 1) / HERD_NF4_GROUP;
    out->rows = rows;
    out->cols = cols;
    out->qs = malloc((size_t)n / 2);
    out->absmax_q = malloc((size_t)blocks);
    out->absmax_scale = malloc((size_t)groups * sizeof(float));
    float *c = malloc((size_t)blocks * sizeof(float));
    if (!out->qs || !out->absmax_q || !out->absmax_scale || !c) {
        free(c);
        herd_nf4_free(out);
        return herd_fail(HERD_E_NOMEM, "nf4: out of memory for %lld weights", (long long)n);
    }
    double mid[15];
    for (int m = 0; m < 15; m++)
        mid[m] = ((double)herd_nf4_code[m] + herd_nf4_code[m + 1]) * 0.5;
    int64_t bad = -1;
    #pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; b++)
        if (!quantize_block(w + b * HERD_NF4_BLOCK, out->qs + b * (HERD_NF4_BLOCK / 2), c + b,
                            mid)) {
            #pragma omp atomic write
            bad = b;
        }
    if (bad >= 0) {
        free(c);
        herd_nf4_free(out);
        return herd_fail(HERD_E_ARG, "nf4: a weight in block %lld is not finite", (long long)bad);
    }
    quantize_absmax(c, blocks, out);
    free(c);
    return HERD_OK;
}

float herd_nf4_absmax(const herd_nf4_tensor *t, int64_t b)
{
    return herd_e4m3_to_float(t->absmax_q[b]) * t->absmax_scale[b / HERD_NF4_GROUP] +
           t->absmax_mean;
}

/* Row r: per block the 16 products code * c', then one lookup per weight. */
static void dequant_row_scalar(const herd_nf4_tensor *t, int64_t r, float *y)
{
    const int64_t per_row = t->cols / HERD_NF4_BLOCK;
    const uint8_t *q = t->qs + r * (t->cols / 2);
    for (int64_t b = 0; b < per_row; b++, q += HERD_NF4_BLOCK / 2, y += HERD_NF4_BLOCK) {
        const float c = herd_nf4_absmax(t, r * per_row + b);
        float v[16];
        for (int k = 0; k < 16; k++)
            v[k] = herd_nf4_code[k] * c;
        for (int j = 0; j < HERD_NF4_BLOCK / 2; j++) {
            y[2 * j] = v[q[j] >> 4];
            y[2 * j + 1] = v[q[j] & 15];
        }
    }
}

herd_status herd_nf4_dequant_rows_at(const herd_nf4_tensor *t, int64_t row0, int64_t n_rows,
                                     float *out, herd_simd_level level)
{
    if (row0 < 0 || n_rows < 0 || row0 > t->rows - n_rows)
        return herd_fail(HERD_E_RANGE, "nf4: rows %lld + %lld of %lld", (long long)row0,
                         (long long)n_rows, (long long)t->rows);
    void (*row)(const herd_nf4_tensor *, int64_t, float *) = dequant_row_scalar;
#if defined(__x86_64__) || defined(__i386__)
    if (level >= HERD_SIMD_AVX2 && herd_simd_supported() >= HERD_SIMD_AVX2)
        row = herd_nf4_dequant_row_avx2;
#else
    (void)level;
#endif
    for (int64_t r = 0; r < n_rows; r++)
        row(t, row0 + r, out + r * t->cols);
    return HERD_OK;
}

herd_status herd_nf4_dequant_rows(const herd_nf4_tensor *t, int64_t row0, int64_t n_rows,
                                  float *out)
{
    return herd_nf4_dequant_rows_at(t, row0, n_rows, out, herd_simd_active());
}
