/* Q4_K: super-blocks of 256 values in 8 sub-blocks of 32, each with a 6-bit
 * scale and min, x = d * sc * q - dmin * m. The quantizer is llama.cpp's
 * quantize_row_q4_K_ref (make_qkx2_quants per sub-block), bit for bit: the
 * float operations below keep its order. */
#include "quant/quant_impl.h"
#include "base/half.h"
#include <math.h>

/* Fits x ~ scale * L + min (L in 0..nmax, min <= 0) by weighted least
 * squares, trying nstep + 1 scales around the first guess; returns the
 * scale and stores -min. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *neg_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = herd_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = herd_nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0))
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            cur_error += w[i] * (diff * diff);
        }
        if (cur_error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

void herd_q4_K_scale_min(const uint8_t q[HERD_K_SCALE_SIZE], int j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Packs 8 6-bit scales and mins into 12 bytes. */
static void pack_scales(uint8_t *s, const uint8_t *ls, const uint8_t *lm)
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(ls[j] | (ls[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(lm[j] | (lm[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((ls[j + 4] & 0xf) | (lm[j + 4] & 0xf) << 4);
    }
}

static void quantize_block(const float *x, herd_block_q4_K *y)
{
    uint8_t L[HERD_QK_K], Laux[32], ls[8], lm[8];
    float w[32], scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = fit_scale_min(32, 15, x + 32 * j, w, L + 32 * j, &mins[j], Laux,
                                  -1.f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t s = (uint8_t)herd_nearest_int(inv_scale * scales[j]);
        uint8_t m = (uint8_t)herd_nearest_int(inv_min * mins[j]);
        ls[j] = s < 63 ? s : 63;
        lm[j] = m < 63 ? m : 63;
    }
    pack_scales(y->scales, ls, lm);
    y->d = herd_f32_to_f16(max_scale / 63.f);
    y->dmin = herd_f32_to_f16(max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        herd_q4_K_scale_min(y->scales, j, &sc, &m);
        const float d = herd_f16_to_f32(y->d) * sc;
        if (d == 0.0f)
            continue;
        const float dm = herd_f16_to_f32(y->dmin) * m;
        for (int i = 0; i < 32; i++) {
            int l = herd_nearest_int((x[32 * j + i] + dm) / d);
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
        }
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

void herd_quantize_q4_K(const float *x, void *vy, int64_t n)
{
    herd_block_q4_K *y = vy;
    for (int64_t i = 0; i < n / HERD_QK_K; i++)
        quantize_block(x + i * HERD_QK_K, &y[i]);
}

void herd_dequantize_q4_K(const void *vx, float *y, int64_t n)
{
    const herd_block_q4_K *x = vx;
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        const float d = herd_f16_to_f32(x[i].d), dmin = herd_f16_to_f32(x[i].dmin);
        for (int c = 0; c < 4; c++) {
            uint8_t sc, m;
            herd_q4_K_scale_min(x[i].scales, 2 * c, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            herd_q4_K_scale_min(x[i].scales, 2 * c + 1, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            const uint8_t *q = x[i].qs + 32 * c;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}
