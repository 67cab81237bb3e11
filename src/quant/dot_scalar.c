/* Scalar dot products: the reference the SIMD kernels are tested against.
 * Quantized ones sum each block in integers, then scale it in float. */
#include "quant/quant_impl.h"
#include "base/half.h"

float herd_dot_q8_0_scalar(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q8_0 *w = vw, *x = vx;
    float sum = 0;
    for (int64_t i = 0; i < n / HERD_QK8_0; i++) {
        int32_t s = 0;
        for (int j = 0; j < HERD_QK8_0; j++)
            s += w[i].qs[j] * x[i].qs[j];
        sum += (float)s * (herd_f16_table[w[i].d] * herd_f16_table[x[i].d]);
    }
    return sum;
}

float herd_dot_q4_0_scalar(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q4_0 *w = vw;
    const herd_block_q8_0 *x = vx;
    float sum = 0;
    for (int64_t i = 0; i < n / HERD_QK8_0; i++) {
        int32_t s = 0;
        for (int j = 0; j < HERD_QK4_0 / 2; j++) {
            s += ((w[i].qs[j] & 0xf) - 8) * x[i].qs[j];
            s += ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + HERD_QK4_0 / 2];
        }
        sum += (float)s * (herd_f16_table[w[i].d] * herd_f16_table[x[i].d]);
    }
    return sum;
}

/* sum_j sc_j * (q . x over sub-block j) - and the mins' part, m_j times
 * the sum of x over sub-block j (from bsums). */
float herd_dot_q4_K_scalar(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q4_K *w = vw;
    const herd_block_q8_K *x = vx;
    float sum = 0;
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        int32_t isum = 0, imin = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            herd_q4_K_scale_min(w[i].scales, j, &sc, &m);
            const uint8_t *q = w[i].qs + 32 * (j / 2);
            const int8_t *y = x[i].qs + 32 * j;
            const int shift = 4 * (j & 1);
            int32_t s = 0;
            for (int l = 0; l < 32; l++)
                s += ((q[l] >> shift) & 0xf) * y[l];
            isum += sc * s;
            imin += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        sum += herd_f16_to_f32(w[i].d) * x[i].d * (float)isum
             - herd_f16_to_f32(w[i].dmin) * x[i].d * (float)imin;
    }
    return sum;
}

/* The 256 quants of a Q6_K block, minus 32, in element order. */
static void q6_K_unpack(const herd_block_q6_K *b, int8_t q[256])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int8_t *o = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (int8_t)(((ql[l] & 0xf) | (qh[l] & 3) << 4) - 32);
            o[l + 32] = (int8_t)(((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32);
            o[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

float herd_dot_q6_K_scalar(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q6_K *w = vw;
    const herd_block_q8_K *x = vx;
    float sum = 0;
    int8_t q[256];
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        q6_K_unpack(&w[i], q);
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {
            int32_t s = 0;
            for (int l = 16 * j; l < 16 * j + 16; l++)
                s += q[l] * x[i].qs[l];
            isum += w[i].scales[j] * s;
        }
        sum += herd_f16_to_f32(w[i].d) * x[i].d * (float)isum;
    }
    return sum;
}

/* Float weights: accumulated in double, a reference for the SIMD ones. */
float herd_dot_f32_scalar(int64_t n, const void *vw, const void *vx)
{
    const float *w = vw, *x = vx;
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)w[i] * x[i];
    return (float)s;
}

float herd_dot_f16_scalar(int64_t n, const void *vw, const void *vx)
{
    const uint16_t *w = vw;
    const float *x = vx;
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)herd_f16_table[w[i]] * x[i];
    return (float)s;
}

float herd_dot_bf16_scalar(int64_t n, const void *vw, const void *vx)
{
    const uint16_t *w = vw;
    const float *x = vx;
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)herd_bf16_to_f32(w[i]) * x[i];
    return (float)s;
}
