#include "kernels/kernels.h"
#include "kernels/order.h"
#include <math.h>

void herd_rope_table(float *cos_t, float *sin_t, int n_pos, int half, const double *freqs)
{
    for (int i = 0; i < half; i++) {
        for (int p = 0; p < n_pos; p++) {
            double a = p * freqs[i];
            cos_t[(size_t)p * half + i] = (float)cos(a);
            sin_t[(size_t)p * half + i] = (float)sin(a);
        }
    }
}

void herd_rope_table_f32(float *cos_t, float *sin_t, int n_pos, int half, float theta,
                         const float *div, float freq_scale)
{
    const float step = powf(theta, -2.0f / (float)(2 * half));
    for (int p = 0; p < n_pos; p++) {
        float a = (float)p;
        for (int i = 0; i < half; i++) {
            const float t = freq_scale * (div ? a / div[i] : a);
            cos_t[(size_t)p * half + i] = cosf(t);
            sin_t[(size_t)p * half + i] = sinf(t);
            a *= step;
        }
    }
}

/* Rotates each pair by the angle (sign 1) or back by it (sign -1). */
HERD_FMA_CLONES
static void rotate(float *v, int n_heads, int head_dim, const float *cos_row,
                   const float *sin_row, herd_rope_layout layout, float sign)
{
    int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            int a = layout == HERD_ROPE_META ? 2 * i : i;
            int b = layout == HERD_ROPE_META ? 2 * i + 1 : i + half;
            float x0 = x[a], x1 = x[b], c = cos_row[i], s = sign * sin_row[i];
            /* as llama.cpp's build computes x0 c - x1 s and x0 s + x1 c
             * (kernels/order.h): x1 s and x1 c rounded, then one fma each */
            x[a] = fmaf(x0, c, -(x1 * s));
            x[b] = fmaf(x0, s, x1 * c);
        }
    }
}

void herd_rope(float *v, int n_heads, int head_dim, const float *cos_row,
               const float *sin_row, herd_rope_layout layout)
{
    rotate(v, n_heads, head_dim, cos_row, sin_row, layout, 1.0f);
}

void herd_rope_backward(float *v, int n_heads, int head_dim, const float *cos_row,
                        const float *sin_row, herd_rope_layout layout)
{
    rotate(v, n_heads, head_dim, cos_row, sin_row, layout, -1.0f);
}
