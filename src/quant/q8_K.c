/* Q8_K: the activation side of the K-quant dot products, 256 int8 quants,
 * a float scale and the sums of each 16 quants. The quantizer is
 * llama.cpp's quantize_row_q8_K_ref (scale -127 / the value of largest
 * magnitude, so the quants stay in [-127, 127]); an all-zero block gets
 * d = 0 and zero quants and, here, zero bsums (llama.cpp leaves those
 * unwritten). */
#include "quant/quant_impl.h"
#include <math.h>

void herd_quantize_q8_K(const float *x, void *vy, int64_t n)
{
    herd_block_q8_K *y = vy;
    for (int64_t i = 0; i < n / HERD_QK_K; i++, x += HERD_QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < HERD_QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0.0f)
            continue;
        const float iscale = -127.f / max;
        for (int j = 0; j < HERD_QK_K; j++) {
            int v = herd_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < HERD_QK_K / 16; j++) {
            int sum = 0;
            for (int k = 0; k < 16; k++)
                sum += y[i].qs[16 * j + k];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

void herd_dequantize_q8_K(const void *vx, float *y, int64_t n)
{
    const herd_block_q8_K *x = vx;
    for (int64_t i = 0; i < n / HERD_QK_K; i++, y += HERD_QK_K)
        for (int j = 0; j < HERD_QK_K; j++)
            y[j] = x[i].d * x[i].qs[j];
}
