/* Q4_0: blocks of 32 4-bit quants (offset 8) and one f16 scale, d = the
 * value of largest magnitude / -8. The quantizer is llama.cpp's
 * quantize_row_q4_0_ref, bit for bit. */
#include "quant/quant_impl.h"
#include "base/half.h"
#include <math.h>

static uint8_t q4(float v)
{
    int8_t q = herd_f32_to_i8_trunc(v + 8.5f);
    return (uint8_t)(q < 15 ? q : 15);
}

void herd_quantize_q4_0(const float *x, void *vy, int64_t n)
{
    herd_block_q4_0 *y = vy;
    for (int64_t i = 0; i < n / HERD_QK4_0; i++, x += HERD_QK4_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < HERD_QK4_0; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = herd_f32_to_f16(d);
        for (int j = 0; j < HERD_QK4_0 / 2; j++)
            y[i].qs[j] = (uint8_t)(q4(x[j] * id) | q4(x[j + HERD_QK4_0 / 2] * id) << 4);
    }
}

void herd_dequantize_q4_0(const void *vx, float *y, int64_t n)
{
    const herd_block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / HERD_QK4_0; i++, y += HERD_QK4_0) {
        const float d = herd_f16_to_f32(x[i].d);
        for (int j = 0; j < HERD_QK4_0 / 2; j++) {
            y[j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            y[j + HERD_QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}
