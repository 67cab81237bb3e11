/* Q6_K: super-blocks of 256 values in 16 sub-blocks of 16, each with an
 * int8 scale, x = d * scale * (q - 32), q 6 bits split into ql (low 4) and
 * qh (high 2). The quantizer is llama.cpp's quantize_row_q6_K_ref
 * (make_qx_quants, rmse_type 1, per sub-block), bit for bit. */
#include "quant/quant_impl.h"
#include "base/half.h"
#include <math.h>

#define GROUP_MAX_EPS 1e-15f

/* The error sums of L = clamp(round(iscale * x)) weighted by x^2. */
static void qx_sums(int n, int nmax, const float *x, float iscale, float *sumlx, float *suml2)
{
    float a = 0, b = 0;
    for (int i = 0; i < n; i++) {
        int l = herd_nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        float w = x[i] * x[i];
        a += w * x[i] * l;
        b += w * l * l;
    }
    *sumlx = a;
    *suml2 = b;
}

static void qx_levels(int n, int nmax, const float *x, float iscale, int8_t *L)
{
    for (int i = 0; i < n; i++) {
        int l = herd_nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
    }
}

/* Symmetric quantization to L in 0..2*nmax-1 (x ~ scale * (L - nmax)):
 * the best of 19 scales around -nmax / (the value of largest magnitude). */
static float fit_scale(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max, sumlx, suml2;
    qx_levels(n, nmax, x, iscale, L);
    qx_sums(n, nmax, x, iscale, &sumlx, &suml2);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        qx_sums(n, nmax, x, iscale, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            qx_levels(n, nmax, x, iscale, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void pack(const int8_t *L, herd_block_q6_K *y)
{
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0xf) | (Lh[l + 64] & 0xf) << 4);
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xf) | (Lh[l + 96] & 0xf) << 4);
            qh[l] = (uint8_t)(Lh[l] >> 4 | (Lh[l + 32] >> 4) << 2 |
                              (Lh[l + 64] >> 4) << 4 | (Lh[l + 96] >> 4) << 6);
        }
    }
}

static void quantize_block(const float *x, herd_block_q6_K *y)
{
    int8_t L[HERD_QK_K];
    float scales[16], max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ib++) {
        scales[ib] = fit_scale(16, 32, x + 16 * ib, L + 16 * ib);
        if (fabsf(scales[ib]) > max_abs_scale) {
            max_abs_scale = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = herd_f32_to_f16(1 / iscale);
    for (int ib = 0; ib < 16; ib++) {
        int s = herd_nearest_int(iscale * scales[ib]);
        y->scales[ib] = (int8_t)(s < 127 ? s : 127);
    }
    for (int j = 0; j < 16; j++) {
        float d = herd_f16_to_f32(y->d) * y->scales[j];
        if (d == 0.0f)
            continue;
        for (int i = 0; i < 16; i++) {
            int l = herd_nearest_int(x[16 * j + i] / d);
            L[16 * j + i] = (int8_t)((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
        }
    }
    pack(L, y);
}

void herd_quantize_q6_K(const float *x, void *vy, int64_t n)
{
    herd_block_q6_K *y = vy;
    for (int64_t i = 0; i < n / HERD_QK_K; i++)
        quantize_block(x + i * HERD_QK_K, &y[i]);
}

int herd_q6_K_get(const herd_block_q6_K *b, int i)
{
    int h = i / 128, r = i % 128, l = r % 32, part = r / 32;
    uint8_t lo = b->ql[64 * h + l + 32 * (part & 1)];
    lo = part < 2 ? lo & 0xf : lo >> 4;
    return lo | ((b->qh[32 * h + l] >> (2 * part)) & 3) << 4;
}

void herd_dequantize_q6_K(const void *vx, float *y, int64_t n)
{
    const herd_block_q6_K *x = vx;
    for (int64_t i = 0; i < n / HERD_QK_K; i++, y += HERD_QK_K) {
        const float d = herd_f16_to_f32(x[i].d);
        for (int j = 0; j < HERD_QK_K; j++)
            y[j] = d * x[i].scales[j / 16] * (herd_q6_K_get(&x[i], j) - 32);
    }
}
