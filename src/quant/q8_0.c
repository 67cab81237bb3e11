/* Q8_0: blocks of 32 int8 quants and one f16 scale. The quantizer is
 * llama.cpp's quantize_row_q8_0_ref, bit for bit (roundf: half away from 0). */
#include "quant/quant_impl.h"
#include "base/half.h"
#include <math.h>

void herd_quantize_q8_0(const float *x, void *vy, int64_t n)
{
    herd_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / HERD_QK8_0; i++, x += HERD_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < HERD_QK8_0; j++) {
            const float a = fabsf(x[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = herd_f32_to_f16(d);
        for (int j = 0; j < HERD_QK8_0; j++)
            y[i].qs[j] = herd_f32_to_i8_trunc(roundf(x[j] * id));
    }
}

void herd_dequantize_q8_0(const void *vx, float *y, int64_t n)
{
    const herd_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / HERD_QK8_0; i++, y += HERD_QK8_0) {
        const float d = herd_f16_to_f32(x[i].d);
        for (int j = 0; j < HERD_QK8_0; j++)
            y[j] = x[i].qs[j] * d;
    }
}
